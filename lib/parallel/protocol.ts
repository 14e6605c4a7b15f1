// What the main thread and a worker say to each other, and what a platform must provide to run
// workers. Browser-safe: the Node adapter (node/) and a Web Worker adapter implement WorkerHost;
// the pool (pool.ts) and the worker's side (shard-worker.ts) are the same everywhere.
import type { MaskState } from '../cells/cell.js';
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

// Threaded gradient methods (threaded-bptt.ts): the coordinator blocks in a SyncChannel, so
// workers answer through shared memory only, never by message.

/** Worker `index` of the channel learns the model of a lease (one threaded method) and its shared buffers. */
export interface SyncInitMessage {
  type: 'sync-init';
  channel: SharedArrayBuffer;
  index: number;
  lease: number;
  spec: ModelSpec;
  /** The parameters, shared: the coordinator writes them before every run. */
  theta: Float64Array;
  /** This worker's gradient slot, shared: P numbers, then the bytes its tape held. */
  grad: Float64Array;
}

/** A lease ended: the worker drops its model. */
export interface SyncReleaseMessage {
  type: 'sync-release';
  lease: number;
}

/** Phase 1 (BpttShard.forward): this worker's rows, and the shared region the values go to. */
export interface SyncForwardMessage {
  type: 'sync-forward';
  seq: number;
  lease: number;
  xs: MatData;
  batch: number;
  /** Lengths counted from step 0 of the whole sequence; xs starts at global step `start`. */
  lengths: number[] | null;
  start: number;
  initial: MatData[] | null;
  region: Float64Array;
  /** A model with random masks: the whole batch's streams and this shard's first row of `total` (BpttShard's ShardForward.masks). */
  masks: { state: MaskState; start: number; total: number } | null;
}

/** Phase 2 (BpttShard.backward): the cotangents are in the region of the last forward phase. */
export interface SyncBackwardMessage {
  type: 'sync-backward';
  seq: number;
  lease: number;
  /** Per block of the region (BpttShard's layout): 1 where a cotangent was written, 0 where none flows. */
  seeds: Uint8Array;
}

export type SyncToWorker = SyncInitMessage | SyncReleaseMessage | SyncForwardMessage | SyncBackwardMessage;

/**
 * The workers of one SyncChannel, as a platform runs them. The platform watches their lives from
 * a thread that is never blocked (the coordinator may be, in SyncChannel.wait): when worker i dies
 * for any reason it calls SyncChannel.over(channel).markDead(i, cause) and starts a fresh worker i,
 * which learns its leases again from the next sync-init.
 */
export interface SyncWorkerGroup {
  post(index: number, message: SyncToWorker, transfer?: ArrayBuffer[]): void;
  /** For error messages: "worker 1 (thread 7)". */
  name(index: number): string;
  /** Ends worker i abruptly, as a crash would (it is then marked dead and restarted). */
  kill(index: number): void;
  /** Stops every worker for good. */
  close(): Promise<void> | void;
}

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
  /**
   * Starts `workers` workers that take SyncToWorker messages (SyncShardWorker, sync-worker.ts)
   * over a SyncChannel's buffer; absent: this platform offers no threads to the synchronous
   * gradient methods (the async WorkerPool still works).
   */
  startSync?(workers: number, channel: SharedArrayBuffer): SyncWorkerGroup;
}
