// loopgrad/train: optimisers, schedules, clipping and penalties, initialisation schemes, the
// trainer and the task runner, CTC training; the network (createNetwork, loadNetwork, Vocabulary) in
// its four shapes, sequence to sequence with greedy and beam-search decoding.
export { Optimizer, OPTIMIZER_KINDS, type OptimizerKind, type OptimizerConfig, type OptimizerState } from '../optim/optimizer.js';
export { type Schedule, scheduledRate, parseSchedule } from '../optim/schedule.js';
export { clipGlobalNorm, clipValue, globalNorm, allFinite, applyPenalty, weightMask, type Penalty } from '../optim/clip.js';
export { uniformInit, normalInit, xavierUniform, xavierNormal, heNormal, heUniform, pytorchRnnUniform, identityInit, orthogonal } from '../mat/init.js';
export { applyInit, parseInit, formatInit, recurrentBlocks, INIT_KINDS, type InitScheme } from './init.js';
export { train, type TrainBatch, type TrainOptions, type TrainResult, type Progress, type GuardReport, type StopReason, type EarlyStopping } from './trainer.js';
export { trainTask, heldOutBatch, type TaskRunConfig, type TaskRunReport, type TaskRunHooks } from './run-task.js';
export { trainCtc, ctcNetwork, ctcSequenceLoss, ctcLogProbs, ctcEvaluate, type CtcTrainConfig, type CtcTrainReport } from './ctc.js';
export { createNetwork, loadNetwork, nextSymbolData, Network, type FitOptions, type FitProgress, type FitHistory, type EpochRecord, type Metrics, type PredictOptions, type GenerateOptions, type DecodeOptions } from './network.js';
export { beamSearch, type BeamOptions, type Decoded, type DecoderStepper } from './beam.js';
export { type NetworkDescription, type FullDescription, type NetworkLoss, type NetworkShape, type OutputActivation, NETWORK_LOSSES, NETWORK_SHAPES } from './network-description.js';
export { type NetworkData, type SequenceInputs, type SequenceTargetsInput, type FlatArray } from './network-data.js';
export { Vocabulary } from './vocabulary.js';
export { trainCopyCurriculum, type CurriculumConfig, type CurriculumPoint, type CurriculumReport } from './curriculum.js';
export { BigramModel, BIGRAM_SMOOTHINGS, unigramBits, type BigramSmoothing } from './bigram.js';
