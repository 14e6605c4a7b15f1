// loopgrad's public API. Exports only; importing this file has no side effects.

// Matrices and kernels
export { type Mat, mat, matFrom, matOf, rowsView, reshape, values, clone, copyInto, fill, get, set, shapeOf, toArray } from './mat/mat.js';
export { gemm, gemv, flopCounter } from './mat/gemm.js';
export * as kernels from './mat/elementwise.js';
export { Rng } from './mat/rng.js';
export * as init from './mat/init.js';

// Autodiff
export { Graph, type Var, type Mode, type LeafOptions } from './ad/graph.js';
export { type Tangent, denseTangent, seedTangent } from './ad/tangent.js';
export { primitives, type PrimName, type PrimAttrs, type Rules } from './ad/primitives.js';
export { valueAndGrad, vjp, jvp, gradCheck, type Differentiable, type GradCheckOptions, type GradCheckReport } from './ad/api.js';

// Cells
export { type Cell, type StepResult, type Activation } from './cells/cell.js';
export { type Params, type ParamSpec, createParams, param, cloneParams } from './cells/params.js';
export { elman, type ElmanOptions } from './cells/elman.js';
export { jordan, type JordanOptions } from './cells/jordan.js';
export { lstm, type LstmOptions } from './cells/lstm.js';
export { gru, type GruOptions } from './cells/gru.js';

// Sequences: one model, two modes
export { createModel, type RecurrentModel, type ModelOptions, type InitialState } from './rnn/model.js';
export { type SequenceLoss } from './rnn/loss-spec.js';
export { Bptt, bptt, type BpttOptions, type BpttResult } from './rnn/bptt.js';
export { Rtrl, type RtrlOptions } from './rnn/rtrl.js';

// Losses and decoding
export { ctcLoss, ctcLossFromLogits, ctcLossGradLogProbs, ctcLossGradLogits, type CtcOptions, type CtcReduction } from './loss/ctc.js';
export { ctcGreedyDecode, ctcPrefixBeamSearch, type CtcScorer } from './loss/ctc-decode.js';
export { editDistance, labelErrorRate } from './loss/edit-distance.js';

// Files
export { readSafetensors, writeSafetensors, tensorToMat, matToTensor, type Tensor, type DType } from './io/safetensors.js';
export { loadPytorchParams, pytorchStateDict, pytorchName, type PytorchNaming } from './io/pytorch.js';
