// The copy task with a curriculum, as Menick et al. (2021) train their online methods: one model
// and one optimiser keep learning while the task grows harder; the delay between the string and
// its recall starts short and grows by one each time the current delay is solved on held-out
// sequences. What a method reaches within a fixed budget (of data or of wall time) measures how
// well its gradient carries information across time, at the price it pays per step.
import { type CellKind, createCell, isCellKind, CELL_KINDS } from '../cells/registry.js';
import { withReadout } from '../arch/readout.js';
import { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { createModel, type RecurrentModel } from '../rnn/model.js';
import { Forward } from '../rnn/forward.js';
import { type MethodSpec, formatMethod, parseMethod } from '../rnn/methods.js';
import { sequenceLoss } from '../loss/losses.js';
import { OPTIMIZER_KINDS, type OptimizerKind, Optimizer } from '../optim/optimizer.js';
import { copyTask } from '../tasks/copy.js';
import { ConfigError } from '../mat/errors.js';
import { train } from './trainer.js';

export interface CurriculumConfig {
  cell: CellKind;
  hidden: number;
  /** A gradient method's text form: bptt, tbptt:K, rtrl, or any online method of the table. */
  method: string;
  optimizer?: OptimizerKind;
  lr: number;
  /** Clip the gradient's global norm (default none). */
  clip?: number;
  /** Sequences per batch (default 8). */
  batch?: number;
  /** Symbols in the string to recall (default 3). */
  length?: number;
  /** Alphabet size (default 4). */
  symbols?: number;
  /** The first delay (default 1). */
  startDelay?: number;
  /** Stop once this delay is solved (default 1000). */
  maxDelay?: number;
  /** Held-out recall accuracy at which a delay counts as solved (default 0.95). */
  solved?: number;
  /** Batches between held-out checks (default 10). */
  checkEvery?: number;
  /** Held-out sequences per check (default 100). */
  heldOut?: number;
  /** Stop after this many milliseconds of training (default: no limit). */
  budgetMs?: number;
  /** Stop after this many batches (default 2000, or no limit when budgetMs is given). */
  maxIterations?: number;
  seed?: number;
}

const CURRICULUM_KEYS = keysOf<CurriculumConfig>({
  cell: true, hidden: true, method: true, optimizer: true, lr: true, clip: true, batch: true, length: true, symbols: true,
  startDelay: true, maxDelay: true, solved: true, checkEvery: true, heldOut: true, budgetMs: true, maxIterations: true, seed: true,
});

/** One held-out check. */
export interface CurriculumPoint {
  /** Batches trained on so far. */
  iteration: number;
  /** Input steps seen so far (every sequence's every step): the data a method has had. */
  steps: number;
  elapsedMs: number;
  /** The delay being trained on. */
  delay: number;
  /** Mean training loss of the batches since the previous check. */
  loss: number;
  /** Held-out recall accuracy at this delay. */
  accuracy: number;
}

export interface CurriculumReport {
  config: Record<string, unknown>;
  points: CurriculumPoint[];
  /** When each delay was solved. */
  solved: { delay: number; iteration: number; steps: number; elapsedMs: number }[];
  /** The longest delay solved (startDelay - 1 when none was). */
  reached: number;
  stop: 'budget' | 'iterations' | 'max-delay' | 'diverged' | 'callback';
  model: RecurrentModel;
}

/** An integer option >= min, `fallback` when absent. */
function positiveInt(name: string, value: unknown, fallback: number, min = 1): number {
  return checkInt('curriculum', name, value === undefined ? fallback : value, min);
}

function positiveNumber(name: string, value: unknown, fallback: number | undefined): number | undefined {
  const v = value === undefined ? fallback : value;
  if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
    throw new ConfigError('curriculum', `${name} must be a positive number, got ${JSON.stringify(value)}`, { option: name, value });
  }
  return v;
}

/** Trains one model on the copy task, the delay growing by one each time it is solved, within a budget. */
export interface CurriculumHooks {
  /** After every held-out check, with whether it solved the delay it was at; 'stop' ends the run there. */
  onCheck?: (point: CurriculumPoint, solved: boolean) => void | 'stop';
}

export function trainCopyCurriculum(config: CurriculumConfig, hooks: CurriculumHooks = {}): CurriculumReport {
  checkKeys('curriculum', config, CURRICULUM_KEYS);
  if (!isCellKind(config.cell)) throw new ConfigError('curriculum', `cell ${JSON.stringify(config.cell)} is not one of ${CELL_KINDS.join(', ')}`, { option: 'cell', value: config.cell });
  const optimizerKind = config.optimizer ?? 'adam';
  if (!OPTIMIZER_KINDS.includes(optimizerKind)) throw new ConfigError('curriculum', `optimizer ${JSON.stringify(optimizerKind)} is not one of ${OPTIMIZER_KINDS.join(', ')}`, { option: 'optimizer', value: optimizerKind });
  let method: MethodSpec;
  try {
    method = parseMethod(config.method);
  } catch (e) {
    throw new ConfigError('curriculum', (e as Error).message, { option: 'method', value: config.method });
  }
  const hidden = positiveInt('hidden', config.hidden, 0);
  const batch = positiveInt('batch', config.batch, 8);
  const length = positiveInt('length', config.length, 3);
  const symbols = positiveInt('symbols', config.symbols, 4, 2);
  const startDelay = positiveInt('startDelay', config.startDelay, 1);
  const maxDelay = positiveInt('maxDelay', config.maxDelay, 1000);
  const checkEvery = positiveInt('checkEvery', config.checkEvery, 10);
  const heldOut = positiveInt('heldOut', config.heldOut, 100);
  const maxIterations = positiveInt('maxIterations', config.maxIterations, config.budgetMs === undefined ? 2000 : Number.MAX_SAFE_INTEGER);
  const seed = positiveInt('seed', config.seed, 0, 0);
  const lr = positiveNumber('lr', config.lr, undefined)!;
  const clip = positiveNumber('clip', config.clip, undefined);
  const budgetMs = positiveNumber('budgetMs', config.budgetMs, undefined) ?? Infinity;
  const solvedAt = positiveNumber('solved', config.solved, 0.95)!;
  if (solvedAt > 1) throw new ConfigError('curriculum', `solved is an accuracy in (0, 1], got ${solvedAt}`, { option: 'solved', value: solvedAt });
  if (maxDelay < startDelay) throw new ConfigError('curriculum', `maxDelay ${maxDelay} is below startDelay ${startDelay}`, { option: 'maxDelay', value: maxDelay });

  // The copy task's input and output sizes do not depend on the delay: one model serves every stage.
  const first = copyTask({ delay: startDelay, length, symbols });
  const cell = withReadout(createCell(config.cell, { inputSize: first.inputSize, hiddenSize: hidden }), first.outputSize);
  const model = createModel(cell, { seed });
  const optimizer = new Optimizer({ kind: optimizerKind, lr });
  const dataRng = new Rng(seed).fork();
  const forward = new Forward(model);

  const points: CurriculumPoint[] = [];
  const solved: CurriculumReport['solved'] = [];
  const started = Date.now();
  let stepsSeen = 0, delay = startDelay;
  let stop: CurriculumReport['stop'] = 'iterations';
  let task = first;
  let held = task.batch(new Rng(20240601 + delay), heldOut);
  let lossSum = 0, lossCount = 0;

  // One training run: the gradient method is made once (SnAp's pattern probe, UORO's streams), the
  // held-out check is the trainer's evaluation every checkEvery batches, and the task it draws
  // from grows when a check solves it.
  const result = train(model, {
    method, optimizer, iterations: maxIterations, clipNorm: clip, evalEvery: checkEvery,
    evaluate: () => task.score(held, forward.run(held.xs, { batch: held.batch }).outputs),
    next: () => {
      const b = task.batch(dataRng, batch);
      stepsSeen += batch * task.steps;
      return { xs: b.xs, batch: b.batch, loss: sequenceLoss(b) };
    },
    onProgress: (p) => {
      lossSum += p.loss;
      lossCount++;
      if (p.heldOut !== undefined) {
        const accuracy = p.heldOut;
        const point: CurriculumPoint = { iteration: p.iteration, steps: stepsSeen, elapsedMs: Date.now() - started, delay, loss: lossSum / lossCount, accuracy };
        points.push(point);
        lossSum = 0;
        lossCount = 0;
        const stopHere = hooks.onCheck?.(point, accuracy >= solvedAt) === 'stop';
        if (accuracy >= solvedAt) {
          solved.push({ delay, iteration: p.iteration, steps: stepsSeen, elapsedMs: point.elapsedMs });
          if (delay >= maxDelay) { stop = 'max-delay'; return 'stop'; }
          delay++;
          task = copyTask({ delay, length, symbols });
          held = task.batch(new Rng(20240601 + delay), heldOut);
        }
        if (stopHere) { stop = 'callback'; return 'stop'; }
      }
      if (Date.now() - started >= budgetMs) { stop = 'budget'; return 'stop'; }
      return undefined;
    },
  });
  if (result.stop.reason === 'guard') stop = 'diverged';
  return {
    config: {
      task: 'copy-curriculum', cell: config.cell, hidden, method: formatMethod(method), optimizer: optimizerKind, lr,
      ...(clip !== undefined ? { clip } : {}), batch, length, symbols, startDelay, maxDelay, solved: solvedAt, checkEvery, heldOut,
      ...(Number.isFinite(budgetMs) ? { budgetMs } : {}), maxIterations, seed, parameters: model.params.theta.length,
    },
    points,
    solved,
    reached: solved.length > 0 ? solved[solved.length - 1].delay : startDelay - 1,
    stop,
    model,
  };
}
