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
export { primitives, type PrimName, type PrimAttrs, type Rules, type FusedRule } from './ad/primitives.js';
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
export { Rtrl, estimateRtrlBytes, type RtrlOptions } from './rnn/rtrl.js';

// Losses and decoding
export { ctcLoss, ctcLossFromLogits, ctcLossGradLogProbs, ctcLossGradLogits, type CtcOptions, type CtcReduction } from './loss/ctc.js';
export { ctcRule, ctcLossVar } from './loss/ctc-rule.js';
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

// Training: losses, optimisers, schedules, clipping, truncated BPTT, loops, diagnosis
export { mseLoss, softmaxCrossEntropy, binaryCrossEntropy, stepLoss, sequenceLoss, lossValue, targetCount, LOSS_KINDS, type LossKind, type StepLossOptions, type SequenceTargets } from './loss/losses.js';
export { Optimizer, createOptimizer, normalizeOptimizerConfig, OPTIMIZER_KINDS, type OptimizerKind, type OptimizerConfig, type OptimizerState } from './optim/optimizer.js';
export { type Schedule, scheduledRate, parseSchedule, checkSchedule } from './optim/schedule.js';
export { clipGlobalNorm, clipValue, globalNorm, allFinite, applyPenalty, checkPenalty, weightMask, type Penalty } from './optim/clip.js';
export { Tbptt, type TbpttOptions, type TbpttWindow, type TbpttCallback } from './rnn/tbptt.js';
export { gradientFlow, spectralRadius, spectralNorm, recurrentSpectrum, type GradientFlowOptions, type GradientFlowReport, type BlockSpectrum } from './rnn/diagnose.js';
export { withReadout, type ReadoutCell } from './train/readout.js';
export { applyInit, parseInit, formatInit, recurrentBlocks, INIT_KINDS, type InitScheme } from './train/init.js';
export { Forward, forward } from './train/forward.js';
export { train, parseMethod, formatMethod, type TrainMethod, type TrainBatch, type TrainOptions, type TrainResult, type Progress, type GuardReport, type StopReason, type EarlyStopping } from './train/trainer.js';
export { trainTask, buildCell, normalizeRunConfig, heldOutBatch, CELL_KINDS, type TaskRunConfig, type TaskRunReport, type TaskRunHooks, type CellKind } from './train/run-task.js';

// The classic tasks (generated, seeded)
export { type Task, type TaskBatch, type TaskMetric, isSolved } from './tasks/task.js';
export { addingTask, type AddingOptions } from './tasks/adding.js';
export { copyTask, type CopyOptions } from './tasks/copy.js';
export { reberTask, reberString, reberText, REBER_SYMBOLS, type ReberOptions, type ReberString } from './tasks/reber.js';
export { temporalOrderTask, temporalOrderWindows, TEMPORAL_ORDER_SYMBOLS, TEMPORAL_ORDER_CLASSES, type TemporalOrderOptions } from './tasks/temporal-order.js';
export { parityTask, type ParityOptions } from './tasks/parity.js';
export { createTask, TASK_NAMES, DEFAULT_STEPS, type TaskName } from './tasks/registry.js';
