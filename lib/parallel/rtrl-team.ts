// The coordinator's side of threaded RTRL (the RtrlTeam that Rtrl({ threads }) drives). The calling
// thread is shard 0 and keeps its own block; worker i holds block i, the model rebuilt from its
// spec over the shared parameters, and its S block in its own memory. Per step the coordinator
// writes theta, x_t and the loss's cotangents into shared memory, starts the phase (a sync channel,
// lib/parallel/sync-channel.ts, plus one small message per worker), runs its own block, and blocks
// in wait() until every worker has settled; each worker writes its gradient increment into its own
// columns of a shared vector, which the coordinator adds into grad. Disjoint columns, and each
// column computed exactly as one thread computes it: every thread count gives the same bits.
//
// A worker that failed or died fails the step with a WorkerError naming it (and its columns); no
// gradient is added then, and the learner refuses to step until reset(), which replaces a dead
// worker. The coordinator, blocked in wait(), cannot see a worker's exit event (its own event loop
// is stopped); a worker that exits running JavaScript settles its phase 'dead' itself (its exit
// hook), and one that cannot (it failed to load, or was killed outright) is caught by a timeout:
// a stream's start may take START_TIMEOUT_MS, a step STEP_TIMEOUT_FACTOR times the coordinator's
// own block of the same cost, and at least START_TIMEOUT_MS.
// Browser-safe: the platform supplies RtrlHost (Node: node/rtrl-threads.ts).
import type { Mat } from '../mat/mat.js';
import { ConfigError } from '../mat/errors.js';
import type { RecurrentModel } from '../rnn/model.js';
import { type ColumnRange, columnBlocks } from '../rnn/rtrl-columns.js';
import type { RtrlTeam, RtrlTeamRequest } from '../rnn/rtrl-threads.js';
import { modelFromSpec, specOf, type ModelSpec } from './model-spec.js';
import { WorkerError } from './pool.js';
import { type RtrlToWorker, stepLayout } from './rtrl-shard.js';
import { type PhaseOutcome, SyncChannel } from './sync-channel.js';

/** One RTRL worker as the coordinator sees it. */
export interface RtrlPort {
  /** For errors: "thread 7". */
  readonly name: string;
  post(message: RtrlToWorker): void;
  /** cause, at most once, when the worker stops (an exit, an uncaught error, a termination). */
  onExit(listener: (cause: string) => void): void;
  terminate(): Promise<unknown> | void;
}

/** A platform's workers for RTRL: how to start one, and the cores. */
export interface RtrlHost {
  spawn(index: number): RtrlPort;
  readonly cores: number;
}

/** ms a worker may take to start a stream (its start-up included) before it counts as hung. */
export const START_TIMEOUT_MS = 60_000;
/** A worker's step may take this many times the coordinator's own (equal-cost) block before it counts as hung. */
export const STEP_TIMEOUT_FACTOR = 50;

interface Slot {
  port: RtrlPort;
  /** Why it died, or null while it lives. */
  dead: string | null;
}

const OP = 'rtrl';

/** The spec (given, or the model's own) checked to rebuild a model shaped like `model` (parameters, input, output, state). */
function checkSpec(model: RecurrentModel, given: unknown, threads: number): ModelSpec {
  const spec = given ?? specOf(model);
  if (spec === null) {
    throw new ConfigError(OP, `threads: ${threads} needs the model as data for the workers: a model made by modelFromSpec, or the spec option`, { option: 'threads', value: threads });
  }
  const built = modelFromSpec(spec as ModelSpec);
  const a = model.cell, b = built.cell;
  const same = built.params.theta.length === model.params.theta.length && a.inputSize === b.inputSize && a.outputSize === b.outputSize
    && a.stateSizes.length === b.stateSizes.length && a.stateSizes.every((s, i) => s === b.stateSizes[i])
    && built.params.mats.every((m, i) => m.rows === model.params.mats[i]?.rows && m.cols === model.params.mats[i]?.cols);
  if (!same) {
    throw new ConfigError(OP, `spec describes a ${b.kind} model with ${built.params.theta.length} parameters (input ${b.inputSize}, output ${b.outputSize}), but the model is a ${a.kind} with ${model.params.theta.length} (input ${a.inputSize}, output ${a.outputSize})`, { specParams: built.params.theta.length, params: model.params.theta.length });
  }
  return spec as ModelSpec;
}

export class RtrlWorkers implements RtrlTeam {
  readonly ranges: readonly ColumnRange[];
  private readonly host: RtrlHost;
  private readonly model: RecurrentModel;
  private readonly spec: ModelSpec;
  private readonly maxBytes: number;
  private readonly slots: Slot[] = [];
  private readonly channel: SyncChannel;
  private readonly theta: Float64Array;
  private readonly increment: Float64Array;
  private data: Float64Array | null = null;
  private views: Float64Array[] = [];
  private batch = 0;
  private running = -1;
  private startedAt = 0;
  private closed = false;

  constructor(host: RtrlHost, request: RtrlTeamRequest) {
    const { model, threads } = request;
    if (!Number.isInteger(threads) || threads < 1 || threads > host.cores) {
      throw new ConfigError(OP, `threads must be an integer from 1 to ${host.cores} (the cores of this machine), got ${String(threads)}`, { threads, cores: host.cores });
    }
    if (typeof SharedArrayBuffer !== 'function') throw new ConfigError(OP, 'threads need SharedArrayBuffer (browsers: a cross-origin-isolated page)');
    this.spec = checkSpec(model, request.spec, threads);
    this.host = host;
    this.model = model;
    this.maxBytes = request.maxBytes;
    const P = model.params.theta.length;
    this.ranges = columnBlocks(P, threads);
    const workers = this.ranges.length - 1;
    this.channel = SyncChannel.create(workers);
    this.theta = new Float64Array(new SharedArrayBuffer(8 * P));
    this.increment = new Float64Array(new SharedArrayBuffer(8 * P));
    for (let w = 0; w < workers; w++) this.slots.push(this.spawn(w));
  }

  private spawn(w: number): Slot {
    const port = this.host.spawn(w);
    const slot: Slot = { port, dead: null };
    port.onExit((cause) => {
      if (slot.dead !== null) return;
      slot.dead = cause;
      // A phase it was running settles 'dead' (when the coordinator is not blocked to see this,
      // the worker's own exit hook has done it already; a second settlement is ignored).
      if (!this.closed) this.channel.markDead(w, cause);
    });
    port.post({
      type: 'init', control: this.channel.buffer, index: w, spec: this.spec,
      theta: this.theta.buffer as SharedArrayBuffer, increment: this.increment.buffer as SharedArrayBuffer,
      columns: this.ranges[w + 1], maxBytes: this.maxBytes,
    });
    return slot;
  }

  private describe(w: number): string {
    const r = this.ranges[w + 1];
    return `worker ${w + 1} (${this.slots[w].port.name}, columns ${r.start}..${r.end - 1})`;
  }

  private checkOpen(): void {
    if (this.closed) throw new WorkerError(OP, 'the threads were closed');
  }

  begin(batch: number, lengths: readonly number[] | null, initial: readonly Mat[] | null): void {
    this.checkOpen();
    // A new stream replaces dead workers: the new ones start with it.
    for (let w = 0; w < this.slots.length; w++) if (this.slots[w].dead !== null) { this.slots[w].port.terminate(); this.slots[w] = this.spawn(w); }
    const { cell } = this.model;
    const layout = stepLayout(batch, cell.inputSize, cell.outputSize, cell.stateSizes);
    if (this.data === null || batch !== this.batch) {
      this.data = new Float64Array(new SharedArrayBuffer(8 * layout.length));
      this.batch = batch;
    }
    const data = this.data;
    this.views = layout.shapes.map(([r, c], i) => data.subarray(layout.offsets[i], layout.offsets[i] + r * c));
    const seq = this.channel.begin();
    for (const slot of this.slots) {
      slot.port.post({
        type: 'begin', seq, data: data.buffer as SharedArrayBuffer, batch, lengths: lengths === null ? null : Array.from(lengths),
        initial: initial === null ? null : initial.map((m) => m.data.slice(m.offset, m.offset + m.rows * m.cols)),
      });
    }
    this.settle(this.channel.wait(seq, { timeoutMs: START_TIMEOUT_MS }), 'starting a stream');
  }

  start(theta: Float64Array, x: Mat, cotangents: readonly (Mat | null)[]): void {
    this.checkOpen();
    for (let w = 0; w < this.slots.length; w++) {
      const dead = this.slots[w].dead;
      if (dead !== null) throw new WorkerError(OP, `${this.describe(w)} died: ${dead}; the step is not taken (reset() starts a new stream on a new worker)`, { worker: w + 1, died: true });
    }
    this.theta.set(theta);
    const views = this.views;
    views[0].set(x.data.subarray(x.offset, x.offset + x.rows * x.cols));
    const present: boolean[] = [];
    for (let i = 0; i < cotangents.length; i++) {
      const c = cotangents[i];
      present.push(c !== null);
      if (c !== null) views[i + 1].set(c.data.subarray(c.offset, c.offset + c.rows * c.cols));
    }
    const seq = this.channel.begin();
    this.running = seq;
    for (const slot of this.slots) slot.port.post({ type: 'step', seq, present });
    this.startedAt = Date.now();
  }

  finish(grad: Float64Array): void {
    const seq = this.running;
    this.running = -1;
    if (seq < 0) throw new WorkerError(OP, 'finish() without a step started');
    const own = Date.now() - this.startedAt;
    this.settle(this.channel.wait(seq, { timeoutMs: Math.max(START_TIMEOUT_MS, STEP_TIMEOUT_FACTOR * own) }), 'the step');
    const inc = this.increment;
    for (let s = 1; s < this.ranges.length; s++) {
      const { start, end } = this.ranges[s];
      for (let k = start; k < end; k++) grad[k] += inc[k];
    }
  }

  // Throws for the first worker (by index) that did not finish the phase, naming it.
  private settle(outcomes: readonly PhaseOutcome[], what: string): void {
    const bad: string[] = [];
    let first = -1, died = false;
    outcomes.forEach((o, w) => {
      if (o.status === 'done' || o.status === 'idle') return;
      if (first < 0) { first = w; died = o.status === 'dead'; }
      const verb = o.status === 'dead' ? 'died' : o.status === 'timeout' ? 'did not answer' : 'failed';
      bad.push(`${this.describe(w)} ${verb} in ${what}: ${o.message}`);
    });
    if (first < 0) return;
    if (died) { const slot = this.slots[first]; if (slot.dead === null) slot.dead = outcomes[first].status === 'dead' ? (outcomes[first] as { message: string }).message : 'dead'; }
    throw new WorkerError(OP, `${bad.join('; ')}; no gradient is added (reset() starts a new stream)`, { worker: first + 1, died });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) slot.port.terminate();
  }

  /** The workers' names, worker 1 first (for messages and tests). */
  get workerNames(): string[] {
    return this.slots.map((s) => s.port.name);
  }

  /** Ends worker w (>= 1) as a crash would (tests: a killed worker fails the next step, naming it). */
  kill(w: number): Promise<unknown> | void {
    return this.slots[w - 1].port.terminate();
  }
}
