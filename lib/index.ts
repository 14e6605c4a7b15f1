// loopgrad's core face: matrices, the autodiff graph, the cells, one model and the gradient
// methods over it, the losses. The floors above the core have faces of their own:
// loopgrad/arch, loopgrad/train, loopgrad/tasks and loopgrad/io. Exports only; no side effects.

// Errors: one base class and four kinds, each with the operation and the values at fault
export { LoopgradError, ShapeError, ConfigError, FormatError, ResourceError, type ErrorDetails } from './errors.js';

// Matrices and kernels
export { type Mat, mat, matFrom, matOf, rowsView, reshape, values, clone, copyInto, fill, get, set, shapeOf, toArray } from './mat/mat.js';
export { gemm, gemv, flopCounter } from './mat/gemm.js';
export { Rng } from './mat/rng.js';
/** Portable elementary functions: the same bits in every JavaScript engine. */
export * as math from './mat/math.js';

// Autodiff
export { Graph, type Var, type Mode, type LeafOptions } from './ad/graph.js';
export { type FusedRule } from './ad/primitives.js';
export { valueAndGrad, vjp, jvp, gradCheck, type Differentiable, type GradCheckOptions, type GradCheckReport } from './ad/api.js';

// Cells: one step() each
export { type Cell, type StepResult, type StepMasks, type ScanResult, type Activation } from './cells/cell.js';
export { type Params, type ParamSpec, param } from './cells/params.js';
export { elman, type ElmanOptions } from './cells/elman.js';
export { jordan, type JordanOptions } from './cells/jordan.js';
export { lstm, type LstmOptions } from './cells/lstm.js';
export { gru, type GruOptions } from './cells/gru.js';
export { indrnn, type IndrnnOptions } from './cells/indrnn.js';
export { dense, type DenseOptions } from './cells/dense.js';
export { tdnn, type TdnnOptions } from './cells/tdnn.js';
export { narx, teacherInputs, narxState, runClosedLoop, type NarxCell, type NarxOptions } from './cells/narx.js';
export { createCell, isCellKind, CELL_KINDS, type CellKind, type CellOptions, type CellOptionsByKind } from './cells/registry.js';

// One model, every mode: the gradient methods under one contract
export { createModel, type RecurrentModel, type ModelOptions, type InitialState } from './rnn/model.js';
export { type SequenceLoss } from './rnn/loss-spec.js';
export { type GradientMethod, type RunOptions, type RunResult } from './rnn/unroll.js';
export { Bptt, type BpttOptions, type BpttMethodOptions, type BpttResult } from './rnn/bptt.js';
export { modelFromSpec, specOf, type ModelSpec } from './parallel/model-spec.js';
export { Tbptt, type TbpttOptions, type TbpttRunOptions, type TbpttWindow, type TbpttCallback } from './rnn/tbptt.js';
export { Rtrl, estimateRtrlBytes, type RtrlOptions } from './rnn/rtrl.js';
export { Snap, type SnapOptions } from './rnn/snap.js';
export { Uoro, type UoroOptions } from './rnn/uoro.js';
export { KfRtrl, type KfRtrlOptions } from './rnn/kf-rtrl.js';
export { Forward, type ForwardOptions, type ForwardResult } from './rnn/forward.js';
export { parseMethod, formatMethod, createMethod, METHOD_KINDS, type MethodSpec, type MethodKind, type MethodLimits } from './rnn/methods.js';
export { gradientFlow, spectralRadius, spectralNorm, recurrentSpectrum, type GradientFlowOptions, type GradientFlowReport, type BlockSpectrum } from './rnn/diagnose.js';

// Losses and decoding
export { mseLoss, softmaxCrossEntropy, binaryCrossEntropy, stepLoss, sequenceLoss, lossValue, LOSS_KINDS, type LossKind, type StepLossOptions, type SequenceTargets } from './loss/losses.js';
export { ctcLoss, ctcLossFromLogits, ctcLossGradLogProbs, ctcLossGradLogits, type CtcOptions, type CtcReduction } from './loss/ctc.js';
export { ctcLossVar } from './loss/ctc-rule.js';
export { ctcGreedyDecode, ctcPrefixBeamSearch, type CtcScorer } from './loss/ctc-decode.js';
export { editDistance, labelErrorRate } from './loss/edit-distance.js';
