// Training loops. One loop, three ways a method hands out gradients (lib/rnn/methods.ts):
//   sequence  one update per mini-batch (bptt: full backpropagation through time);
//   windows   one update at every window boundary (tbptt: truncated BPTT(k1, k2), every k1 steps);
//   online    one update at every step that has a loss term (rtrl: real-time recurrent learning).
// Around the gradient: L1/L2 penalties (one full penalty per sequence batch
// whatever the method: an update carries the share of the steps it covers,
// see applyPenaltyShare), clipping (by value, then by global
// norm), the optimiser step, periodic held-out evaluation, early stopping, a
// progress callback, and a guard that stops on a NaN or infinite loss,
// gradient or parameter, puts back the last parameters whose loss and
// gradient were finite, and says what happened.
import type { Mat } from '../mat/mat.js';
import type { RecurrentModel } from '../rnn/model.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import type { TbpttRunOptions } from '../rnn/tbptt.js';
import type { Rtrl } from '../rnn/rtrl.js';
import type { GradientMethod, RunResult } from '../rnn/unroll.js';
import { type MethodSpec, THREADED_METHODS, checkMethod, createMethod, formatMethod, methodDrive, takesThreads } from '../rnn/methods.js';
import { checkThreadsOption } from '../rnn/threads.js';
import type { Optimizer } from '../optim/optimizer.js';
import { BoundedCurve } from './curve.js';
import { type Penalty, allFinite, applyPenalty, checkPenalty, clipGlobalNorm, clipValue, globalNorm } from '../optim/clip.js';
import { checkKeys, keysOf } from '../mat/options.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** One mini-batch: time-major inputs and the loss over them. */
export interface TrainBatch {
  xs: Mat;
  batch: number;
  loss: SequenceLoss;
  /** Length of each sequence (variable-length batch); absent: every sequence runs every step. */
  lengths?: ArrayLike<number> | null;
}

export interface Progress {
  /** Batches done (1-based). */
  iteration: number;
  iterations: number;
  /** Optimiser updates so far. */
  updates: number;
  /** Training loss of this batch (without penalties). */
  loss: number;
  /** Global norm of the last gradient, before clipping. */
  gradNorm: number;
  /** Learning rate of the last update. */
  lr: number;
  /** Held-out metric, when it was evaluated at this iteration. */
  heldOut?: number;
  elapsedMs: number;
}

export interface GuardReport {
  /** Batch (1-based) in which the problem appeared. */
  iteration: number;
  /** Updates made before it. */
  update: number;
  what: 'loss' | 'gradient' | 'parameters';
  /** The offending value (the loss, the gradient norm, or the first bad parameter). */
  value: number;
  /** A sentence for the user. */
  message: string;
}

export type StopReason = 'completed' | 'target' | 'early-stopping' | 'callback' | 'guard';

export interface EarlyStopping {
  /** Evaluations without an improvement before stopping. */
  patience: number;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Put back the parameters of the best evaluation when stopping (default true). */
  restoreBest?: boolean;
}

export interface TrainOptions {
  /** The gradient method (parseMethod reads its text form). */
  method: MethodSpec;
  optimizer: Optimizer;
  /** Number of batches to train on. */
  iterations: number;
  /** The batch for iteration i (0-based). */
  next: (iteration: number) => TrainBatch;
  /** Clip the gradient's global norm to this (> 0). */
  clipNorm?: number;
  /** Clip every gradient entry to ±this (> 0). */
  clipValue?: number;
  /**
   * L1/L2 penalties added to the loss, once per batch of sequences for every
   * method: bptt adds the whole penalty gradient to its one update; tbptt and
   * rtrl add, at each update, the fraction (steps covered)/T of it, so the
   * updates of one sequence of T steps add up to one penalty.
   */
  penalty?: Penalty;
  /** The held-out metric of the current parameters. */
  evaluate?: () => number;
  /** Evaluate every this many iterations (default: 20 times per run) and after the last. */
  evalEvery?: number;
  /** Whether a larger held-out metric is better (default false: an error). */
  higherIsBetter?: boolean;
  /** Stop once the held-out metric reaches this value. */
  target?: number;
  earlyStopping?: EarlyStopping;
  /** Called after every iteration; return 'stop' to end training. */
  onProgress?: (progress: Progress) => void | 'stop';
  /** Stop on non-finite loss, gradient or parameters and restore the last good ones (default true). */
  guard?: boolean;
  /** Memory limit of the gradient method (RTRL's maxBytes; default its own). */
  maxBytes?: number;
  /**
   * Threads the gradient is computed on (default 1): bptt and tbptt split each batch over them
   * (lib/parallel/threaded-bptt.ts, threaded-tbptt.ts); rtrl and snapN (N >= 2) split the columns
   * of S over them (lib/parallel/rtrl-team.ts); the other online methods refuse threads > 1.
   */
  threads?: number;
  /**
   * Iterations done before this call (a resumed run): next() gets, and the curve and progress
   * report, the run's own iteration numbers; `iterations` more are done. Default 0.
   */
  startIteration?: number;
  /** Most points the learning curve holds (default 2048; see BoundedCurve). */
  curveCap?: number;
  /**
   * The guard also stops a run whose batch loss passes this many times the first batch's
   * (the untrained model's) loss: divergence, as with a far too large learning rate. Default
   * 1e4; Infinity switches it off.
   */
  divergenceFactor?: number;
}

export interface TrainResult {
  /**
   * Training loss per iteration; past curveCap points, adjacent points are merged into
   * means (each with the last iteration it covers), so the curve stays bounded.
   */
  curve: { step: number; loss: number }[];
  /** Held-out metric per evaluation (bounded like the curve: past curveCap, merged into means). */
  evaluations: { step: number; value: number }[];
  iterations: number;
  updates: number;
  stop: { reason: StopReason; message: string };
  guard: GuardReport | null;
  best: { step: number; value: number } | null;
  elapsedMs: number;
}

class GuardTripped extends Error {}

/** What the loop uses of a method whose drive is 'windows' (Tbptt) or 'online' (Rtrl). */
type WindowedMethod = { run(xs: Mat, loss: SequenceLoss, options: TbpttRunOptions): RunResult };
type OnlineMethod = Pick<Rtrl, 'reset' | 'step' | 'grad' | 'loss' | 'zeroGrad'>;

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new ConfigError('train', `${name} must be a positive number, got ${value}`, { option: name, value });
  }
}

export function train(model: RecurrentModel, options: TrainOptions): TrainResult {
  checkKeys('train', options, keysOf<TrainOptions>({ method: true, optimizer: true, iterations: true, next: true, clipNorm: true, clipValue: true, penalty: true, evaluate: true, evalEvery: true, higherIsBetter: true, target: true, earlyStopping: true, onProgress: true, guard: true, maxBytes: true, threads: true, startIteration: true, curveCap: true, divergenceFactor: true }));
  const { optimizer } = options;
  const method = checkMethod('train', options.method);
  const drive = methodDrive(method);
  const threads = options.threads === undefined ? undefined : checkThreadsOption('train', options.threads);
  if (threads !== undefined && threads > 1 && !takesThreads(method)) {
    throw new ConfigError('train', `threads: ${threads} is available for the ${THREADED_METHODS} methods only; ${formatMethod(method)} runs on one thread`, { option: 'threads', value: threads });
  }
  if (!Number.isInteger(options.iterations) || options.iterations < 0) {
    throw new ConfigError('train', `iterations must be an integer >= 0, got ${options.iterations}`, { option: 'iterations' });
  }
  checkPositive('clipNorm', options.clipNorm);
  checkPositive('clipValue', options.clipValue);
  if (options.penalty) checkPenalty(options.penalty);
  const evalEvery = options.evalEvery ?? Math.max(1, Math.ceil(options.iterations / 20));
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new ConfigError('train', `evalEvery must be an integer >= 1, got ${evalEvery}`, { option: 'evalEvery' });
  const early = options.earlyStopping;
  if (early !== undefined) {
    if (!Number.isInteger(early.patience) || early.patience < 1) throw new ConfigError('train', `earlyStopping.patience must be an integer >= 1, got ${early.patience}`, { option: 'earlyStopping' });
    if (early.minDelta !== undefined && !(early.minDelta >= 0)) throw new ConfigError('train', `earlyStopping.minDelta must be >= 0, got ${early.minDelta}`, { option: 'earlyStopping' });
    if (options.evaluate === undefined) throw new ConfigError('train', 'earlyStopping needs an evaluate function', { option: 'earlyStopping' });
  }
  if (options.target !== undefined && options.evaluate === undefined) throw new ConfigError('train', 'target needs an evaluate function', { option: 'target' });
  const base = options.startIteration ?? 0;
  if (!Number.isSafeInteger(base) || base < 0) throw new ConfigError('train', `startIteration must be an integer >= 0, got ${base}`, { option: 'startIteration' });
  const guardOn = options.guard ?? true;
  const divergenceFactor = options.divergenceFactor ?? 1e4;
  if (!(divergenceFactor > 1)) throw new ConfigError('train', `divergenceFactor must be a number > 1, got ${divergenceFactor}`, { option: 'divergenceFactor' });
  let initialLoss = 0;
  // The parameters at the start of this batch and of the previous one (for the divergence guard).
  const batchStart = guardOn && divergenceFactor !== Infinity ? model.params.theta.slice() : new Float64Array(0);
  const previousStart = batchStart.slice();
  const higher = options.higherIsBetter ?? false;

  const theta = model.params.theta;
  const lastGood = theta.slice();
  let bestTheta: Float64Array | null = null;
  const started = Date.now();
  const curve = new BoundedCurve(options.curveCap);
  const evaluations = new BoundedCurve(options.curveCap);
  let updates = 0, gradNorm = 0, lr = optimizer.learningRate();
  let guard: GuardReport | null = null;
  let best: TrainResult['best'] = null;
  let sinceBest = 0;
  let iteration = 0;

  const trip = (what: GuardReport['what'], value: number, detail: string, restore: Float64Array = lastGood, restored = 'the last ones with a finite loss and gradient'): never => {
    theta.set(restore);
    const message = `training stopped in batch ${iteration + 1} (after ${updates} updates): ${detail}; `
      + `parameters restored to ${restored}`
      + (what === 'parameters' ? ' (the optimiser state saw the bad step and was not restored)' : '');
    guard = { iteration: iteration + 1, update: updates, what, value, message };
    throw new GuardTripped(message);
  };

  // Penalty not applied yet, in sequences' worth: the share of steps after the
  // last update of a batch (steps without a loss term) goes to the next update.
  let penaltyDue = 0;
  const penaltyGrad = options.penalty ? new Float64Array(theta.length) : null;
  const applyPenaltyShare = (grad: Float64Array, share: number): void => {
    const weight = penaltyDue + share;
    penaltyDue = 0;
    if (weight === 1) { applyPenalty(theta, grad, options.penalty!); return; }
    penaltyGrad!.fill(0);
    applyPenalty(theta, penaltyGrad!, options.penalty!);
    for (let i = 0; i < grad.length; i++) grad[i] += weight * penaltyGrad![i];
  };

  /** One optimiser update with the gradient of `loss`; `share` is the fraction of the batch's steps it covers. */
  const update = (grad: Float64Array, loss: number, share = 1): void => {
    if (guardOn && !Number.isFinite(loss)) trip('loss', loss, `the loss is ${loss}`);
    if (options.penalty) applyPenaltyShare(grad, share);
    gradNorm = globalNorm(grad);
    if (guardOn && !Number.isFinite(gradNorm)) trip('gradient', gradNorm, `the gradient norm is ${gradNorm}`);
    if (options.clipValue !== undefined) clipValue(grad, options.clipValue);
    if (options.clipNorm !== undefined) clipGlobalNorm(grad, options.clipNorm);
    if (guardOn) lastGood.set(theta);
    lr = optimizer.learningRate();
    optimizer.step(theta, grad);
    updates++;
    if (guardOn && !allFinite(theta)) {
      let bad = 0;
      while (Number.isFinite(theta[bad])) bad++;
      trip('parameters', theta[bad], `parameter ${bad} became ${theta[bad]} after the update`);
    }
  };

  // Gradient engines, made once per batch size and reused.
  const engines = new Map<number, GradientMethod>();
  const engineFor = <E>(batch: number): E => {
    let engine = engines.get(batch);
    if (engine === undefined) {
      engine = createMethod(model, method, { maxBytes: options.maxBytes, ...(threads === undefined ? {} : { threads }) });
      engines.set(batch, engine);
    }
    return engine as unknown as E;
  };

  const runBatch = (b: TrainBatch): number => {
    const steps = b.xs.rows / b.batch;
    if (!Number.isInteger(steps)) throw new ShapeError('train', `input has ${b.xs.rows} rows, not a multiple of batch ${b.batch}`, { rows: b.xs.rows, batch: b.batch });
    if (steps === 0) throw new ShapeError('train', `batch ${iteration + 1} is empty (input ${b.xs.rows}x${b.xs.cols}, 0 steps)`, { iteration: iteration + 1, input: [b.xs.rows, b.xs.cols] });
    switch (drive) {
      case 'sequence': {
        const r = engineFor<GradientMethod>(b.batch).run(b.xs, b.loss, { batch: b.batch, lengths: b.lengths });
        update(r.grad, r.loss);
        return r.loss;
      }
      case 'windows': {
        return engineFor<WindowedMethod>(b.batch).run(b.xs, b.loss, {
          batch: b.batch,
          lengths: b.lengths,
          onWindow: (w) => {
            // The window's loss steps [lossStart, end): windows partition the sequence.
            const share = (w.end - w.lossStart) / steps;
            if (w.hasLoss) update(w.grad, w.loss, share);
            else penaltyDue += share;
          },
        }).loss;
      }
      case 'online': {
        const engine = engineFor<OnlineMethod>(b.batch);
        let produced = false;
        const inner = b.loss;
        const loss: SequenceLoss = {
          step: inner.step === undefined ? undefined : (g, t, output, state) => {
            const term = inner.step!(g, t, output, state);
            if (term !== null) produced = true;
            return term;
          },
          final: inner.final === undefined ? undefined : (g, state) => {
            const term = inner.final!(g, state);
            if (term !== null) produced = true;
            return term;
          },
        };
        engine.reset({ batch: b.batch, lengths: b.lengths });
        let total = 0;
        // Steps since the last update: that update's share of the penalty is since / steps.
        let since = 0;
        const width = b.batch * b.xs.cols;
        for (let t = 0; t < steps; t++) {
          produced = false;
          engine.step({ rows: b.batch, cols: b.xs.cols, data: b.xs.data, offset: b.xs.offset + t * width }, loss, t === steps - 1);
          since++;
          if (produced) {
            total += engine.loss;
            update(engine.grad, engine.loss, since / steps);
            engine.zeroGrad();
            since = 0;
          }
        }
        penaltyDue += since / steps;
        return total;
      }
    }
  };

  let stop: TrainResult['stop'] = { reason: 'completed', message: `completed ${options.iterations} iterations` };
  try {
    for (iteration = 0; iteration < options.iterations; iteration++) {
      if (guardOn && divergenceFactor !== Infinity) {
        previousStart.set(batchStart);
        batchStart.set(theta);
      }
      const b = options.next(base + iteration);
      let loss: number;
      try {
        loss = runBatch(b);
        if (guardOn && initialLoss > 0 && loss > divergenceFactor * initialLoss) {
          // This batch's loss came from the previous batch's updates: go back to before them.
          trip('loss', loss, `the loss ${loss.toPrecision(3)} is over ${divergenceFactor.toPrecision(1)} times the first batch's ${initialLoss.toPrecision(3)}: training diverged (a smaller learning rate or clipping may help)`,
            previousStart, `those before batch ${iteration} (the optimiser state saw the diverging steps and was not restored)`);
        }
        if (initialLoss === 0 && loss > 0 && Number.isFinite(loss)) initialLoss = loss;
      } catch (e) {
        if (e instanceof GuardTripped) { stop = { reason: 'guard', message: e.message }; break; }
        throw e;
      }
      curve.add(base + iteration + 1, loss);
      let heldOut: number | undefined;
      if (options.evaluate && ((iteration + 1) % evalEvery === 0 || iteration + 1 === options.iterations)) {
        heldOut = options.evaluate();
        evaluations.add(base + iteration + 1, heldOut);
        const minDelta = early?.minDelta ?? 0;
        const improved = best === null || (higher ? heldOut > best.value + minDelta : heldOut < best.value - minDelta);
        if (improved) {
          best = { step: base + iteration + 1, value: heldOut };
          sinceBest = 0;
          if (early && (early.restoreBest ?? true)) bestTheta = theta.slice();
        } else {
          sinceBest++;
        }
      }
      const verdict = options.onProgress?.({
        iteration: base + iteration + 1, iterations: base + options.iterations, updates, loss, gradNorm, lr, heldOut, elapsedMs: Date.now() - started,
      });
      if (heldOut !== undefined && options.target !== undefined && (higher ? heldOut >= options.target : heldOut <= options.target)) {
        stop = { reason: 'target', message: `held-out metric ${heldOut} reached the target ${options.target} after ${iteration + 1} iterations` };
        iteration++;
        break;
      }
      if (early && sinceBest >= early.patience) {
        if (bestTheta !== null) theta.set(bestTheta);
        stop = {
          reason: 'early-stopping',
          message: `no improvement in ${early.patience} evaluations; best ${best!.value} after ${best!.step} iterations${bestTheta !== null ? ' (parameters restored)' : ''}`,
        };
        iteration++;
        break;
      }
      if (verdict === 'stop') {
        stop = { reason: 'callback', message: `stopped by the progress callback after ${iteration + 1} iterations` };
        iteration++;
        break;
      }
    }
  } finally {
    // A threaded method holds workers of the shared pool: give them back.
    for (const e of engines.values()) (e as { close?: () => void }).close?.();
  }
  return { curve: curve.toArray(), evaluations: evaluations.toArray().map((p) => ({ step: p.step, value: p.loss })), iterations: Math.min(iteration, options.iterations), updates, stop, guard, best, elapsedMs: Date.now() - started };
}
