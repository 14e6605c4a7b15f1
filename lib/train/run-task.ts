// Training a model on one of the classic tasks from a plain config: what
// `loopgrad train` runs and what the documented results can be rerun with.
// Everything is seeded: --seed fixes the initialisation and the training
// batches; the held-out set comes from its own fixed seed, so runs with
// different seeds are scored on the same sequences.
import type { Cell } from '../cells/cell.js';
import { CELL_KINDS, type CellKind, type CellOptions, type CellOptionsByKind, createCell, isCellKind } from '../cells/registry.js';
import { modelFromSpec } from '../parallel/model-spec.js';
import { Rng, type RngState } from '../mat/rng.js';
import { checkKeys, keysOf } from '../mat/options.js';
import type { RecurrentModel } from '../rnn/model.js';
import { sequenceLoss } from '../loss/losses.js';
import { OPTIMIZER_KINDS, type OptimizerConfig, type OptimizerKind, Optimizer, normalizeOptimizerConfig } from '../optim/optimizer.js';
import { ConfigError } from '../mat/errors.js';
import { type Schedule, parseSchedule } from '../optim/schedule.js';
import { weightMask } from '../optim/clip.js';
import { type Task, type TaskBatch, isSolved } from '../tasks/task.js';
import { createTask } from '../tasks/registry.js';
import { type InitScheme, applyInit, formatInit, parseInit } from './init.js';
import { withReadout } from '../arch/readout.js';
import { Forward } from '../rnn/forward.js';
import { type MethodSpec, formatMethod, parseMethod } from '../rnn/methods.js';
import { type Progress, type TrainResult, train } from './trainer.js';

export interface TaskRunConfig {
  task: string;
  /** Sequence length (copy: the delay); default per task. */
  steps?: number;
  cell: CellKind;
  hidden: number;
  /** Elman's non-linearity (default tanh; identity init defaults it to relu). */
  activation?: 'tanh' | 'relu' | 'sigmoid';
  /** Recurrent-weight initialisation (see init.ts), default "default". */
  init?: string;
  /** LSTM forget-gate bias at initialisation (default 1). */
  forgetBias?: number;
  /** Learn the initial state (default false: zero). */
  learnInitialState?: boolean;
  /** bptt, tbptt:K, tbptt:K1:K2 or rtrl (default bptt). */
  method?: string;
  optimizer?: OptimizerKind;
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  /** AdamW's decoupled weight decay. */
  weightDecay?: number;
  /** CLI form of a schedule (see schedule.ts). */
  schedule?: string;
  /** L1 / L2 penalties on the weights (biases spared). */
  l1?: number;
  l2?: number;
  /** Clip the gradient's global norm. */
  clip?: number;
  /** Clip each gradient entry. */
  clipValue?: number;
  /** Sequences per batch. */
  batch: number;
  /** Batches to train on (fresh ones each time unless trainSize is set). */
  iterations?: number;
  /** A fixed training set of this many sequences, visited `epochs` times in shuffled batches. */
  trainSize?: number;
  epochs?: number;
  seed?: number;
  /** Held-out sequences (default 1000). */
  heldOut?: number;
  /** Seed of the held-out set (default 20240601, independent of seed). */
  heldOutSeed?: number;
  /** Evaluate every this many iterations (default 20 times per run). */
  evalEvery?: number;
  /** Stop once the held-out metric reaches the task's solved level (default false). */
  stopWhenSolved?: boolean;
  /** Early stopping after this many evaluations without improvement. */
  patience?: number;
}

export interface TaskRunReport {
  config: Record<string, unknown>;
  curve: { step: number; loss: number }[];
  heldOut: { metric: string; value: number };
  extra: Record<string, number>;
  evaluations: { step: number; value: number }[];
  solved: boolean;
  baseline: number;
  parameters: number;
  result: TrainResult;
  model: RecurrentModel;
  optimizer: Optimizer;
}

/** A bad option: a ConfigError naming it (details.option is the config's key, for the CLI to name its flag). */
function fail(option: string, message: string): never {
  throw new ConfigError('trainTask', `${option} ${message}`, { option });
}

function positiveInt(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(option, `must be an integer >= 1, got ${JSON.stringify(value)}`);
  return value as number;
}

function nonNegative(option: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) fail(option, `must be a number >= 0, got ${value}`);
}

/** A config checked once, with its defaults filled in and its text forms parsed; what everything after normalizeRunConfig reads. */
export interface NormalizedRunConfig extends Omit<TaskRunConfig, 'method' | 'init' | 'schedule'> {
  optimizer: OptimizerKind;
  seed: number;
  heldOut: number;
  /** The gradient method, parsed. */
  method: MethodSpec;
  /** The recurrent-weight initialisation, parsed. */
  init: InitScheme;
  /** The learning-rate schedule, parsed (null: constant). */
  schedule: Schedule | null;
  /** The cell's own options beside its sizes, defaults filled in (Elman's activation, the LSTM's forget bias). */
  cellOptions: { [K in CellKind]: Omit<CellOptionsByKind[K], 'inputSize' | 'hiddenSize'> }[CellKind];
}

/** The cell a normalized config asks for, with a linear readout sized for the task. */
export function buildCell(config: NormalizedRunConfig, task: Task): Cell {
  return withReadout(createCell(config.cell, { inputSize: task.inputSize, hiddenSize: config.hidden, ...config.cellOptions }), task.outputSize);
}

/** A text form parsed, its error prefixed like every other bad option's (the parsers name the option). */
function parsed<T>(option: string, parse: (text: string) => T, text: string): T {
  try {
    return parse(text);
  } catch (e) {
    throw new ConfigError('trainTask', (e as Error).message, { option, value: text });
  }
}

/** Validates a config, fills in the defaults and parses its text forms, once; throws an Error naming the bad option. */
export function normalizeRunConfig(config: TaskRunConfig): NormalizedRunConfig {
  checkKeys('trainTask', config, keysOf<TaskRunConfig>({ task: true, steps: true, cell: true, hidden: true, activation: true, init: true, forgetBias: true, learnInitialState: true, method: true, optimizer: true, lr: true, momentum: true, nesterov: true, weightDecay: true, schedule: true, l1: true, l2: true, clip: true, clipValue: true, batch: true, iterations: true, trainSize: true, epochs: true, seed: true, heldOut: true, heldOutSeed: true, evalEvery: true, stopWhenSolved: true, patience: true }));
  if (!isCellKind(config.cell)) fail('cell', `${JSON.stringify(config.cell)} is not one of ${CELL_KINDS.join(', ')}`);
  const cell: CellKind = config.cell;
  const hidden = positiveInt('hidden', config.hidden);
  if (config.activation !== undefined) {
    if (cell !== 'elman') fail('activation', `applies to elman only, not ${cell}`);
    if (!['tanh', 'relu', 'sigmoid'].includes(config.activation)) fail('activation', `${JSON.stringify(config.activation)} is not one of tanh, relu, sigmoid`);
  }
  if (config.forgetBias !== undefined) {
    if (cell !== 'lstm') fail('forgetBias', `applies to lstm only, not ${cell}`);
    if (!Number.isFinite(config.forgetBias)) fail('forgetBias', `must be a finite number, got ${config.forgetBias}`);
  }
  if (!(Number.isFinite(config.lr) && config.lr >= 0)) fail('lr', `must be a number >= 0, got ${config.lr}`);
  positiveInt('batch', config.batch);
  if (config.clip !== undefined && !(Number.isFinite(config.clip) && config.clip > 0)) fail('clip', `must be a positive number, got ${config.clip}`);
  if (config.clipValue !== undefined && !(Number.isFinite(config.clipValue) && config.clipValue > 0)) fail('clipValue', `must be a positive number, got ${config.clipValue}`);
  nonNegative('l1', config.l1);
  nonNegative('l2', config.l2);
  nonNegative('weightDecay', config.weightDecay);
  const optimizer = config.optimizer ?? 'adam';
  if (!OPTIMIZER_KINDS.includes(optimizer)) fail('optimizer', `${JSON.stringify(optimizer)} is not one of ${OPTIMIZER_KINDS.join(', ')}`);
  if (config.trainSize !== undefined) {
    positiveInt('trainSize', config.trainSize);
    positiveInt('epochs', config.epochs ?? 1);
    if (config.iterations !== undefined) fail('iterations', 'cannot be combined with trainSize/epochs (those set the number of batches)');
  } else {
    if (config.epochs !== undefined) fail('epochs', 'needs trainSize (a fixed training set to make epochs over)');
    positiveInt('iterations', config.iterations);
  }
  if (config.steps !== undefined) positiveInt('steps', config.steps);
  const heldOut = config.heldOut ?? 1000;
  positiveInt('heldOut', heldOut);
  if (config.evalEvery !== undefined) positiveInt('evalEvery', config.evalEvery);
  if (config.patience !== undefined) positiveInt('patience', config.patience);
  const seed = config.seed ?? 0;
  if (!Number.isSafeInteger(seed)) fail('seed', `must be an integer, got ${seed}`);
  const method = parsed('method', parseMethod, config.method ?? 'bptt');
  const init = parsed('init', parseInit, config.init ?? 'default');
  const schedule = config.schedule === undefined ? null : parsed('schedule', parseSchedule, config.schedule);
  const cellOptions: NormalizedRunConfig['cellOptions'] =
    cell === 'elman' ? { activation: config.activation ?? (init.kind === 'identity' ? 'relu' : 'tanh') }
    : cell === 'lstm' ? { forgetBias: config.forgetBias ?? 1 }
    : {};
  // The cell's own checks, and whether the scheme has recurrent weights to set, on a probe of one input.
  const probe = createCell(cell, { inputSize: 1, hiddenSize: hidden, ...cellOptions });
  if (init.kind !== 'default' && !probe.paramSpecs.some((s) => s.name === 'weight_hh')) {
    fail('init', `${formatInit(init)} sets weight_hh, which ${cell} has not (its parameters: ${probe.paramSpecs.map((s) => s.name).join(', ')}); use default`);
  }
  const normalized: NormalizedRunConfig = { ...config, cell, method, optimizer, seed, heldOut, init, schedule, cellOptions };
  // The optimiser's own checks now, not after the model is built: momentum with Adam, weightDecay
  // with anything but AdamW, nesterov without momentum. Its ConfigError names the option as the config does.
  normalizeOptimizerConfig(optimizerConfig(normalized));
  return normalized;
}

/** The optimiser a normalized config asks for: only the options it was given. */
function optimizerConfig(c: NormalizedRunConfig): OptimizerConfig {
  const config: OptimizerConfig = { kind: c.optimizer, lr: c.lr };
  if (c.momentum !== undefined) config.momentum = c.momentum;
  if (c.nesterov !== undefined) config.nesterov = c.nesterov;
  if (c.weightDecay !== undefined) config.weightDecay = c.weightDecay;
  if (c.schedule !== null) config.schedule = c.schedule;
  return config;
}

/** The held-out batch of a task (one batch of `size` sequences from a fixed seed). */
export function heldOutBatch(task: Task, size: number, seed = 20240601): TaskBatch {
  return task.batch(new Rng(seed), size);
}

export interface TaskRunHooks {
  /** Runs once the model and optimiser exist, before training (e.g. to load a checkpoint into them). */
  prepare?: (model: RecurrentModel, optimizer: Optimizer) => void;
  /** After every iteration; return 'stop' to end training. */
  onProgress?: (progress: Progress, model: RecurrentModel, optimizer: Optimizer) => void | 'stop';
  /** Memory limit handed to the gradient method (RTRL's maxBytes). */
  maxBytes?: number;
  /** Threads of the gradient method (train's threads option: bptt, tbptt, rtrl and snapN with N >= 2). */
  threads?: number;
  /**
   * Continue a run: `iteration` batches were done, and the training data's generator was in
   * `dataRng` (Rng.state()) after them. The fixed training set's shuffles are replayed instead.
   */
  resume?: { iteration: number; dataRng?: RngState };
  /** Receives the training data's generator once it exists (to save its state with a checkpoint). */
  onDataRng?: (rng: Rng) => void;
}

export function trainTask(config: TaskRunConfig, hooks: TaskRunHooks = {}): TaskRunReport {
  const c = normalizeRunConfig(config);
  const task = createTask(c.task, c.steps);
  // Made from a spec (the same cell as buildCell), so that it can cross to workers (threads).
  const model = modelFromSpec({
    cell: { kind: c.cell, options: { inputSize: task.inputSize, hiddenSize: c.hidden, ...c.cellOptions } as CellOptions },
    readout: task.outputSize,
    initialState: c.learnInitialState ? 'learned' : 'zero',
  }, { seed: c.seed });
  const init = c.init;
  // modelFromSpec (createModel) drew the cell's default init from Rng(seed); the scheme and the data get their own streams.
  const root = new Rng(c.seed);
  const initRng = root.fork(), dataRng = root.fork();
  applyInit(model.params, init, initRng);
  const method = c.method;
  const optimizer = new Optimizer(optimizerConfig(c));
  const mask = weightMask(model.params);
  if (c.optimizer === 'adamw') optimizer.decayMask = mask;

  // Training data: fresh batches, or a fixed pool visited in shuffled epochs.
  let iterations: number;
  let nextBatch: (i: number) => TaskBatch;
  if (c.trainSize !== undefined) {
    const perEpoch = Math.ceil(c.trainSize / c.batch);
    const pool: TaskBatch[] = [];
    for (let i = 0; i < perEpoch; i++) pool.push(task.batch(dataRng, Math.min(c.batch, c.trainSize - i * c.batch)));
    const order = pool.map((_, i) => i);
    iterations = perEpoch * (c.epochs ?? 1);
    nextBatch = (i) => {
      if (i % perEpoch === 0) dataRng.shuffle(order);
      return pool[order[i % perEpoch]];
    };
  } else {
    iterations = c.iterations!;
    nextBatch = () => task.batch(data, c.batch);
  }

  hooks.prepare?.(model, optimizer);
  // A resumed run: the data continue where they stopped.
  const start = hooks.resume?.iteration ?? 0;
  if (!Number.isSafeInteger(start) || start < 0) fail('resume.iteration', `must be an integer >= 0, got ${start}`);
  let data = dataRng;
  if (start > 0 && c.trainSize !== undefined) {
    for (let i = 0; i < start; i++) if (i % Math.ceil(c.trainSize / c.batch) === 0) nextBatch(i);
    iterations = Math.max(0, iterations - start); // the epochs asked for, not as many again
  } else if (start > 0) {
    if (hooks.resume?.dataRng === undefined) fail('resume.dataRng', 'is needed to continue fresh batches');
    data = Rng.fromState(hooks.resume.dataRng);
  }
  hooks.onDataRng?.(data);
  const held = heldOutBatch(task, c.heldOut, c.heldOutSeed);
  const forward = new Forward(model);
  const evaluate = (): number => task.score(held, forward.run(held.xs, { batch: held.batch }).outputs);

  const result = train(model, {
    method,
    optimizer,
    iterations,
    next: (i) => {
      const b = nextBatch(i);
      return { xs: b.xs, batch: b.batch, loss: sequenceLoss(b) };
    },
    clipNorm: c.clip,
    clipValue: c.clipValue,
    penalty: c.l1 || c.l2 ? { l1: c.l1, l2: c.l2, mask } : undefined,
    evaluate,
    startIteration: start,
    evalEvery: c.evalEvery,
    higherIsBetter: task.metric.higherIsBetter,
    target: c.stopWhenSolved ? task.metric.solved : undefined,
    earlyStopping: c.patience !== undefined ? { patience: c.patience } : undefined,
    maxBytes: hooks.maxBytes,
    ...(hooks.threads === undefined ? {} : { threads: hooks.threads }),
    onProgress: hooks.onProgress === undefined ? undefined : (p) => hooks.onProgress!(p, model, optimizer),
  });

  const outputs = forward.run(held.xs, { batch: held.batch }).outputs;
  const value = task.score(held, outputs);
  const extra = task.extraScores?.(held, outputs) ?? {};
  const reportConfig: Record<string, unknown> = {
    task: task.name, ...task.options, cell: c.cell, hidden: c.hidden,
    ...c.cellOptions,
    init: formatInit(init), initialState: c.learnInitialState ? 'learned' : 'zero',
    method: formatMethod(method), optimizer: c.optimizer, lr: c.lr,
    ...(c.momentum !== undefined ? { momentum: c.momentum } : {}),
    ...(c.nesterov ? { nesterov: true } : {}),
    ...(c.weightDecay !== undefined ? { weightDecay: c.weightDecay } : {}),
    ...(config.schedule !== undefined ? { schedule: config.schedule } : {}),
    ...(c.l1 ? { l1: c.l1 } : {}), ...(c.l2 ? { l2: c.l2 } : {}),
    ...(c.clip !== undefined ? { clip: c.clip } : {}), ...(c.clipValue !== undefined ? { clipValue: c.clipValue } : {}),
    batch: c.batch, iterations,
    ...(c.trainSize !== undefined ? { trainSize: c.trainSize, epochs: c.epochs ?? 1 } : {}),
    seed: c.seed, heldOut: c.heldOut, parameters: model.params.theta.length,
  };
  return {
    config: reportConfig,
    curve: result.curve,
    heldOut: { metric: task.metric.name, value },
    extra,
    evaluations: result.evaluations,
    solved: isSolved(task.metric, value),
    baseline: task.metric.baseline,
    parameters: model.params.theta.length,
    result,
    model,
    optimizer,
  };
}
