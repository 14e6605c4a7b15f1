// The `threads` option of the gradient methods, without lib/rnn depending on lib/parallel (which
// sits above it): lib/parallel installs its engines here when a platform registers its workers
// (setWorkerHost in lib/parallel/host.ts; importing loopgrad under Node does it). threads = 1 (the
// default) never needs an engine.
import type { Mat } from '../mat/mat.js';
import { ConfigError } from '../mat/errors.js';
import type { SequenceLoss } from './loss-spec.js';
import type { RecurrentModel } from './model.js';
import type { RunOptions, RunResult } from './unroll.js';

/** What a threaded Bptt returns: Bptt's result but d loss / d xs (refused with threads). */
export interface ThreadedBpttResult extends RunResult {
  outputs: Mat;
  initialStateGrad: Mat[] | null;
  tapeBytes: number;
}

export interface ThreadedBpttEngine {
  run(xs: Mat, loss: SequenceLoss, options: RunOptions): ThreadedBpttResult;
  /** Releases the engine's hold on the workers (the pool itself stays for the next method). */
  close(): void;
}

/** One threaded pass over steps [start, start + xs.rows / batch) of a sequence (a run, or a window of Tbptt). */
export interface PassSpec {
  xs: Mat;
  batch: number;
  /** Sequence lengths counted from global step 0 (null: every row runs every step). */
  lengths: ArrayLike<number> | null;
  /** The global index of xs's first step. */
  start: number;
  /** The state entering xs's first step (rows or one shared row), or null for the model's rule. */
  initial: readonly Mat[] | null;
  /** Local steps before this one have no loss term here. */
  lossFrom: number;
  /** Whether the loss's final term counts. */
  final: boolean;
  /** Local steps whose whole-batch state (after the step) the result keeps. */
  keep: readonly number[];
}

/** What a window of Tbptt reads back from its pass. */
export interface WindowResult {
  loss: number;
  /** Whether any loss term was present (false: the gradient is zero). */
  hasLoss: boolean;
  grad: Float64Array;
  /** The states asked for by keep, by local step. */
  kept: Map<number, Mat[]>;
  tapeBytes: number;
}

export interface ThreadedTbpttEngine {
  /** One window as one threaded pass; Tbptt keeps the stream (its rings, its windows). */
  window(loss: SequenceLoss, spec: PassSpec): WindowResult;
  close(): void;
}

export interface ThreadEngines {
  /** Threaded BPTT of model over `threads` threads (the calling thread and threads - 1 workers). */
  bptt(model: RecurrentModel, threads: number, options: { maxBytes: number; timeoutMs?: number }): ThreadedBpttEngine;
  /** Threaded windows for truncated BPTT (runs and streams alike). */
  tbptt(model: RecurrentModel, threads: number, options: { maxBytes: number; timeoutMs?: number }): ThreadedTbpttEngine;
}

let engines: ThreadEngines | null = null;

/** Installs (or, with null, removes) the threaded engines; lib/parallel/host.ts calls it. */
export function installThreadEngines(e: ThreadEngines | null): void {
  engines = e;
}

/** Checks the threads option's form (an integer >= 1; the engine checks it against the cores). */
export function checkThreadsOption(op: string, threads: unknown): number {
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
    throw new ConfigError(op, `threads must be an integer >= 1 (and at most the machine's cores), got ${String(threads)}`, { option: 'threads', value: threads });
  }
  return threads;
}

/**
 * The timeoutMs option of a threaded method: how long the calling thread waits for a worker to
 * finish a phase before stopping it and failing the call (undefined: wait; a dead worker is noticed
 * anyway). A positive number, and only with threads > 1: one thread has no worker to wait for.
 */
export function checkTimeoutOption(op: string, timeoutMs: unknown, threads: number): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new ConfigError(op, `timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`, { option: 'timeoutMs', value: timeoutMs });
  }
  if (threads === 1) throw new ConfigError(op, `timeoutMs bounds the wait for worker threads, and threads: 1 has none (give threads > 1, or leave timeoutMs out)`, { option: 'timeoutMs', value: timeoutMs });
  return timeoutMs;
}

/** The installed engines, or an error saying how to get them. */
export function threadEngines(op: string, threads: number): ThreadEngines {
  if (engines === null) {
    throw new ConfigError(op, `threads: ${threads} needs workers, and no worker host is registered (under Node, import 'loopgrad' or 'loopgrad/node', which register worker_threads; in a browser, await loopgrad.parallel.enableWebThreads() in a Web Worker; elsewhere call setWorkerHost(host))`, { option: 'threads', value: threads });
  }
  return engines;
}
