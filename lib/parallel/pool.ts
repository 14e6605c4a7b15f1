// A pool of workers for data-parallel BPTT. Made once and reused: each worker keeps its model
// between calls, and the parameters and gradients live in SharedArrayBuffers where the platform
// has them (one theta read by every worker, one gradient slot per worker), copies otherwise.
//
// A call splits the batch into contiguous shards (one per worker, at most one per sequence),
// runs Bptt on each with the whole batch's loss scale, and adds the shards' losses and gradients
// in shard order, so the result for a given thread count repeats bit for bit and equals one
// thread's (and Bptt's) to rounding. Calls are queued: one runs at a time.
//
// A worker that dies during a call fails the call (naming the worker and the cause) once every
// other shard has answered; it is replaced at once, so the next call runs on a full pool. No
// partial gradient is ever returned. Workers keep the process alive only while a call waits.
//
// The loss crosses the thread boundary as data: a built-in loss kind with its targets and mask
// (sequenceLoss of lib/loss/losses.ts), not a SequenceLoss closure.
import { ConfigError, LoopgradError, ShapeError } from '../mat/errors.js';
import { type LossKind, LOSS_KINDS, targetCount } from '../loss/losses.js';
import { type Mat, shapeOf } from '../mat/mat.js';
import { checkKeys } from '../mat/options.js';
import { type ModelSpec, modelFromSpec } from './model-spec.js';
import type { FromWorker, MatData, RunMessage, WorkerHost, WorkerPort } from './protocol.js';
import { type ShardRange, reduceInOrder, shardRanges, shardRows } from './shard.js';

/** A worker died or failed during a call, or the pool is closed. */
export class WorkerError extends LoopgradError {
  static override readonly errorName = 'WorkerError';
}

export interface WorkerPoolOptions {
  /** Workers: an integer from 1 to the host's cores (refused otherwise; default: the cores). */
  threads?: number;
  /** Share parameters and gradients through SharedArrayBuffer (default: when the host can). */
  shared?: boolean;
}

/** The loss as data: sequenceLoss({ kind, targets, mask, batch }) over the whole batch. */
export interface ParallelLoss {
  kind: LossKind;
  /** (steps·batch) x outputs, time-major like xs. */
  targets: Mat;
  /** (steps·batch) x 1 weights, or null / absent: every target counts. */
  mask?: Mat | null;
}

export interface ParallelRunOptions {
  batch?: number;
  lengths?: ArrayLike<number> | null;
  checkFinite?: boolean;
}

export interface ParallelBpttResult {
  /** The whole batch's loss: the mean over every target present. */
  loss: number;
  /** d loss / d theta, laid out like theta. */
  grad: Float64Array;
  /** Shards the batch was split into (min(threads, batch)). */
  shards: number;
}

interface Slot {
  port: WorkerPort;
  /** The model generation this worker was initialised with (-1: none). */
  generation: number;
}

interface Pending {
  id: number;
  waiting: Set<number>;
  results: (FromWorker & { type: 'done' })[];
  errors: { index: number; name: string; cause: string; died: boolean }[];
  settle: () => void;
}

const OP = 'parallel bptt';

/** Checks a thread count against the cores: an integer from 1 to cores, or a ConfigError. */
export function checkThreads(threads: unknown, cores: number, op = 'workerPool'): number {
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > cores) {
    throw new ConfigError(op, `threads must be an integer from 1 to ${cores} (the cores of this machine), got ${String(threads)}`, { option: 'threads', value: threads, threads, cores });
  }
  return threads;
}

/** A matrix's numbers as a compact copy that can cross a thread boundary. */
export function toData(m: Mat): MatData {
  return { rows: m.rows, cols: m.cols, data: m.data.slice(m.offset, m.offset + m.rows * m.cols) };
}

export class WorkerPool {
  readonly threads: number;
  readonly shared: boolean;
  private readonly host: WorkerHost;
  private readonly slots: Slot[] = [];
  private closed = false;
  private nextId = 0;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  // The current model: its spec (as JSON), generation, parameter count, and the shared buffers.
  private specKey = '';
  private generation = 0;
  private paramCount = 0;
  private inputSize = 0;
  private outputSize = 0;
  private sharedTheta: Float64Array | null = null;
  private sharedGrads: Float64Array[] = [];
  private spec: ModelSpec | null = null;

  constructor(host: WorkerHost, options: WorkerPoolOptions = {}) {
    checkKeys('workerPool', options, ['threads', 'shared']);
    this.host = host;
    this.threads = checkThreads(options.threads ?? host.cores, host.cores);
    if (options.shared === true && !host.shared) throw new ConfigError('workerPool', 'shared: true, but this platform has no usable SharedArrayBuffer (browsers need cross-origin isolation)');
    this.shared = options.shared ?? host.shared;
    for (let i = 0; i < this.threads; i++) this.slots.push(this.start(i));
  }

  private start(index: number): Slot {
    const port = this.host.spawn(index);
    const slot: Slot = { port, generation: -1 };
    port.keepAlive(false);
    port.listen((m) => this.onReply(index, slot, m), (cause) => this.onDeath(index, slot, cause));
    return slot;
  }

  private onReply(index: number, slot: Slot, m: FromWorker): void {
    const p = this.pending;
    if (this.slots[index] !== slot || p === null || m.id !== p.id || !p.waiting.has(index)) return;
    p.waiting.delete(index);
    if (m.type === 'done') p.results[index] = m;
    else p.errors.push({ index, name: m.name, cause: m.message, died: false });
    if (p.waiting.size === 0) p.settle();
  }

  private onDeath(index: number, slot: Slot, cause: string): void {
    if (this.closed || this.slots[index] !== slot) return;
    // Replace it now: the next call finds a full pool (the new worker is initialised on demand).
    this.slots[index] = this.start(index);
    const p = this.pending;
    if (p !== null && p.waiting.has(index)) {
      p.waiting.delete(index);
      p.errors.push({ index, name: 'WorkerError', cause: `worker ${index} (${slot.port.name}) died: ${cause}`, died: true });
      if (p.waiting.size === 0) p.settle();
    }
  }

  /**
   * BPTT of the model `spec` describes, at parameters theta, over xs ((steps·batch) x inputs,
   * time-major) against the loss, the batch split across the workers. Resolves to the whole
   * batch's loss and gradient, or rejects (a WorkerError for a worker that failed or died).
   */
  bptt(spec: ModelSpec, theta: Float64Array, xs: Mat, loss: ParallelLoss, options: ParallelRunOptions = {}): Promise<ParallelBpttResult> {
    const run = this.queue.then(() => this.runBptt(spec, theta, xs, loss, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runBptt(spec: ModelSpec, theta: Float64Array, xs: Mat, loss: ParallelLoss, options: ParallelRunOptions): Promise<ParallelBpttResult> {
    if (this.closed) throw new WorkerError(OP, 'the pool is closed');
    checkKeys(OP, options, ['batch', 'lengths', 'checkFinite']);
    checkKeys(`${OP} loss`, loss, ['kind', 'targets', 'mask']);
    this.useModel(spec);
    if (!(theta instanceof Float64Array) || theta.length !== this.paramCount) {
      throw new ShapeError(OP, `theta has ${theta?.length} numbers, the model needs ${this.paramCount}`, { theta: theta?.length, params: this.paramCount });
    }
    const batch = options.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) throw new ConfigError(OP, `batch must be an integer >= 1, got ${String(batch)}`, { batch });
    if (xs.rows % batch !== 0 || xs.rows === 0) throw new ShapeError(OP, `input ${shapeOf(xs)} is not steps·batch rows for batch ${batch}`, { xs: [xs.rows, xs.cols], batch });
    if (xs.cols !== this.inputSize) throw new ShapeError(OP, `input is ${shapeOf(xs)} but the model takes ${this.inputSize} features per step`, { xs: [xs.rows, xs.cols], inputSize: this.inputSize });
    if (!LOSS_KINDS.includes(loss.kind)) throw new ConfigError(OP, `unknown loss kind ${JSON.stringify(loss.kind)} (${LOSS_KINDS.join(', ')})`, { kind: loss.kind });
    const { targets } = loss;
    const mask = loss.mask ?? null;
    if (targets.rows !== xs.rows || targets.cols !== this.outputSize) {
      throw new ShapeError(OP, `targets are ${shapeOf(targets)}, need ${xs.rows}x${this.outputSize} (the input's rows, the model's outputs)`, { targets: [targets.rows, targets.cols] });
    }
    if (mask !== null && (mask.rows !== xs.rows || mask.cols !== 1)) throw new ShapeError(OP, `mask is ${shapeOf(mask)}, needs ${xs.rows}x1`, { mask: [mask.rows, mask.cols] });
    const lengths = options.lengths ?? null;
    if (lengths !== null && lengths.length !== batch) throw new ShapeError(OP, `${lengths.length} lengths for a batch of ${batch} sequences`, { lengths: lengths.length, batch });
    const count = targetCount({ kind: loss.kind, targets, mask, batch });
    const scale = count === 0 ? 0 : 1 / count;

    const ranges = shardRanges(batch, this.threads);
    const id = this.nextId++;
    if (this.sharedTheta !== null) this.sharedTheta.set(theta);
    const messages = ranges.map((r) => this.runMessage(id, r, theta, xs, loss.kind, targets, mask, batch, lengths, scale, options.checkFinite !== false));
    const pending = await new Promise<Pending>((resolve) => {
      const p: Pending = { id, waiting: new Set(ranges.map((_, s) => s)), results: [], errors: [], settle: () => resolve(p) };
      this.pending = p;
      ranges.forEach((_, s) => {
        const slot = this.slots[s];
        slot.port.keepAlive(true);
        this.initIfNeeded(slot, s);
        const m = messages[s];
        const transfer = [m.xs.data.buffer, m.targets.data.buffer] as ArrayBuffer[];
        if (m.mask !== null) transfer.push(m.mask.data.buffer as ArrayBuffer);
        slot.port.post(m, transfer);
      });
    }).finally(() => {
      this.pending = null;
      for (const slot of this.slots) if (!this.closed) slot.port.keepAlive(false);
    });
    if (pending.errors.length > 0) {
      pending.errors.sort((a, b) => a.index - b.index);
      const e = pending.errors[0];
      const more = pending.errors.length > 1 ? ` (and ${pending.errors.length - 1} more shard${pending.errors.length > 2 ? 's' : ''} failed)` : '';
      const text = e.died ? `${e.cause}; no gradient is returned${more}` : `worker ${e.index} failed on sequences ${ranges[e.index].start}..${ranges[e.index].end - 1}: ${e.name}: ${e.cause}${more}`;
      throw new WorkerError(OP, text, { worker: e.index, died: e.died });
    }
    const parts = ranges.map((_, s) => pending.results[s].grad ?? this.sharedGrads[s]);
    const grad = reduceInOrder(parts, new Float64Array(this.paramCount));
    let total = 0;
    for (let s = 0; s < ranges.length; s++) total += pending.results[s].loss;
    return { loss: total, grad, shards: ranges.length };
  }

  private runMessage(id: number, r: ShardRange, theta: Float64Array, xs: Mat, kind: LossKind, targets: Mat, mask: Mat | null, batch: number, lengths: ArrayLike<number> | null, scale: number, checkFinite: boolean): RunMessage {
    const whole = r.start === 0 && r.end === batch;
    return {
      type: 'run', id, generation: this.generation,
      theta: this.sharedTheta === null ? theta.slice() : null,
      xs: toData(whole ? xs : shardRows(xs, batch, r)),
      kind,
      targets: toData(whole ? targets : shardRows(targets, batch, r)),
      mask: mask === null ? null : toData(whole ? mask : shardRows(mask, batch, r)),
      batch: r.end - r.start,
      lengths: lengths === null ? null : Array.from(lengths).slice(r.start, r.end).map(Number),
      scale, checkFinite,
    };
  }

  // A new spec: check it here (so a bad spec is an error from this call, not from a worker),
  // then new shared buffers and a new generation; workers are initialised when next used.
  private useModel(spec: ModelSpec): void {
    const key = JSON.stringify(spec);
    if (key === this.specKey) return;
    const model = modelFromSpec(spec);
    this.spec = spec;
    this.specKey = key;
    this.generation++;
    this.paramCount = model.params.theta.length;
    this.inputSize = model.cell.inputSize;
    this.outputSize = model.cell.outputSize;
    if (this.shared) {
      const P = this.paramCount;
      this.sharedTheta = new Float64Array(new SharedArrayBuffer(8 * P));
      const grads = new SharedArrayBuffer(8 * P * this.threads);
      this.sharedGrads = this.slots.map((_, i) => new Float64Array(grads, 8 * P * i, P));
    }
  }

  private initIfNeeded(slot: Slot, index: number): void {
    if (slot.generation === this.generation) return;
    slot.generation = this.generation;
    const theta = this.sharedTheta ?? new Float64Array(this.paramCount);
    slot.port.post({ type: 'init', generation: this.generation, spec: this.spec!, theta, grad: this.sharedTheta === null ? null : this.sharedGrads[index] });
  }

  /** Stops every worker; later calls are refused. Waits for the workers to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const p = this.pending;
    if (p !== null) {
      for (const index of p.waiting) p.errors.push({ index, name: 'WorkerError', cause: `worker ${index} was stopped: the pool was closed during the call`, died: true });
      p.waiting.clear();
      p.settle();
    }
    await Promise.all(this.slots.map((s) => s.port.terminate()));
  }
}
