// What the main thread and a worker say to each other, and what a platform must provide to run
// workers. Browser-safe: the Node adapter (node/) and a Web Worker adapter implement WorkerHost;
// the pool (pool.ts) and the worker's side (shard-worker.ts) are the same everywhere.
import type { LossKind } from '../loss/losses.js';
import type { ModelSpec } from './model-spec.js';

/** A matrix as it crosses a thread boundary (a structured-clonable plain object). */
export interface MatData {
  rows: number;
  cols: number;
  data: Float64Array;
}

/**
 * Builds (or rebuilds) a worker's model. theta over a SharedArrayBuffer: the worker reads the
 * parameters there at every run and writes its gradient into grad (its own slot of a shared
 * buffer). Without shared memory: theta is a copy, grad is null, and every run carries theta and
 * every reply carries the gradient.
 */
export interface InitMessage {
  type: 'init';
  generation: number;
  spec: ModelSpec;
  theta: Float64Array;
  grad: Float64Array | null;
}

/** One shard's BPTT: its sequences (time-major), targets and mask, and the whole batch's loss scale. */
export interface RunMessage {
  type: 'run';
  id: number;
  generation: number;
  /** The parameters, when they are not shared. */
  theta: Float64Array | null;
  xs: MatData;
  kind: LossKind;
  targets: MatData;
  mask: MatData | null;
  batch: number;
  lengths: number[] | null;
  scale: number;
  checkFinite: boolean;
}

export type ToWorker = InitMessage | RunMessage;

export type FromWorker =
  | { type: 'done'; id: number; loss: number; grad: Float64Array | null }
  | { type: 'error'; id: number; name: string; message: string };

/** One worker, as the pool sees it. */
export interface WorkerPort {
  /** For error messages: "thread 7". */
  readonly name: string;
  post(message: ToWorker, transfer?: ArrayBuffer[]): void;
  /**
   * onReply for every message the worker sends; onDeath at most once, with the cause, when the
   * worker stops other than by a message (an uncaught error, an exit, a termination).
   */
  listen(onReply: (message: FromWorker) => void, onDeath: (cause: string) => void): void;
  /** Whether this worker keeps the host process alive (Node: ref / unref); only while a call waits. */
  keepAlive(on: boolean): void;
  terminate(): Promise<unknown> | void;
}

/** A platform's workers: how to start one, how many cores, whether memory can be shared. */
export interface WorkerHost {
  spawn(index: number): WorkerPort;
  /** Cores the platform reports (Node: os.availableParallelism(); browsers: navigator.hardwareConcurrency). */
  readonly cores: number;
  /** SharedArrayBuffer usable (Node: yes; browsers: only when crossOriginIsolated). */
  readonly shared: boolean;
}
