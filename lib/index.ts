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

// Architectures: deep, bidirectional, variable-length, delay lines, grids, subsampling
export { dense, type DenseOptions } from './cells/dense.js';
export { stacked, SequenceBptt, sequenceBptt, runStacked, isStacked, layerParamName, type StackedCell, type StackedOptions, type SequenceBpttOptions } from './rnn/stacked.js';
export { bidirectional, runBidirectional, isBidirectional, type BidirectionalLayer } from './rnn/bidirectional.js';
export { LengthMasks, checkLengths, scanCell, type ScanResult } from './rnn/packed.js';
export { tdnn, type TdnnOptions } from './cells/tdnn.js';
export { narx, teacherInputs, narxState, runClosedLoop, type NarxCell, type NarxOptions } from './cells/narx.js';
export { mdTanh, mdLstm, mdScan, mdFourWay, gridStack, scanGrid, gridBptt, gridForward, gridLeaves, createLayerParams, CORNERS, type MdCell, type Grid, type GridLayer, type Corner } from './rnn/mdrnn.js';
export { subsample, gridSubsample, hierarchy, recurrentLayer, sequenceLayerBptt, type SequenceLayer } from './rnn/subsampling.js';
export { pytorchRnn, loadPytorchNetwork, pytorchNetworkStateDict, pytorchNetworkNames, fromPytorchStates, pytorchStates } from './io/pytorch-multilayer.js';

// Portable elementary functions (the same bits in every engine)
export * as math from './mat/math.js';

// CTC end to end
export { speechTask, type SpeechTask, type SpeechTaskOptions, type SpeechBatch } from './tasks/speech.js';
export { trainCtc, ctcNetwork, ctcSequenceLoss, ctcLogProbs, ctcEvaluate, type CtcTrainConfig, type CtcTrainReport } from './train/ctc.js';
