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
// gradient is added then, and the learner refuses to step until reset(), whose new stream starts on
// the fresh worker the platform put in the dead one's place. The coordinator, blocked in wait(),
// cannot see a worker's exit event; the platform's watcher (a thread never blocked) marks the death
// in the channel, which wakes it. Should a worker neither answer nor die, a timeout fails the
// phase: START_TIMEOUT_MS for a stream's start, STEP_TIMEOUT_FACTOR times the coordinator's own
// block (of the same cost) for a step, and never less than START_TIMEOUT_MS.
// Browser-safe: the platform supplies RtrlHost (Node: node/rtrl-threads.ts, node/supervisor.ts).
import type { MaskState } from '../cells/cell.js';
import type { Mat } from '../mat/mat.js';
import { ConfigError } from '../mat/errors.js';
import type { RecurrentModel } from '../rnn/model.js';
import { type ColumnRange, columnBlocks } from '../rnn/rtrl-columns.js';
import type { RtrlTeam, RtrlTeamRequest, TeamMethod } from '../rnn/rtrl-threads.js';
import { modelFromSpec, specOf, type ModelSpec } from './model-spec.js';
import { WorkerError, checkThreads } from './pool.js';
import { type RtrlToWorker, stepLayout } from './rtrl-shard.js';
import { type PhaseOutcome, SyncChannel, WATCHER_STALE_MS } from './sync-channel.js';

/**
 * A platform's RTRL workers over one sync channel. The platform watches their lives from a thread
 * that is never blocked: when worker i dies it marks the death in the channel (markDead: a phase
 * it was running settles 'dead', and channel.deaths(i) counts it), tells onDeath listeners, and
 * starts a fresh worker i, which knows nothing until its next init.
 */
export interface RtrlGroup {
  post(index: number, message: RtrlToWorker): void;
  onDeath(listener: (index: number, cause: string) => void): void;
  /** Ends worker i abruptly after afterMs, as a crash would (tests); resolves once its death is known. */
  kill(index: number, afterMs?: number): Promise<void> | void;
  close(): void;
}

/** A platform's workers for RTRL: how to start a group over a channel, and the cores. */
export interface RtrlHost {
  start(workers: number, channel: SharedArrayBuffer): RtrlGroup;
  readonly cores: number;
}

/** ms a worker may take to start a stream (its start-up included) before it counts as hung. */
export const START_TIMEOUT_MS = 60_000;
/** A worker's step may take this many times the coordinator's own (equal-cost) block before it counts as hung. */
export const STEP_TIMEOUT_FACTOR = 50;

interface Slot {
  /** Why it died (its block is lost until a new stream), or null. */
  dead: string | null;
  /** channel.deaths(i) when it was last initialised. */
  deaths: number;
}


/** The spec (given, or the model's own) checked to rebuild a model shaped like `model` (parameters, input, output, state). */
function checkSpec(op: string, model: RecurrentModel, given: unknown, threads: number): ModelSpec {
  const spec = given ?? specOf(model);
  if (spec === null) {
    throw new ConfigError(op, `threads: ${threads} needs the model as data for the workers: a model made by modelFromSpec, or the spec option`, { option: 'threads', value: threads });
  }
  const built = modelFromSpec(spec as ModelSpec);
  const a = model.cell, b = built.cell;
  const same = built.params.theta.length === model.params.theta.length && a.inputSize === b.inputSize && a.outputSize === b.outputSize
    && a.stateSizes.length === b.stateSizes.length && a.stateSizes.every((s, i) => s === b.stateSizes[i])
    && built.params.mats.every((m, i) => m.rows === model.params.mats[i]?.rows && m.cols === model.params.mats[i]?.cols);
  const masksA = a.masks?.state() ?? null, masksB = b.masks?.state() ?? null;
  if ((masksA === null) !== (masksB === null) || (masksA !== null && masksA.p !== masksB!.p)) {
    const say = (m: typeof masksA) => (m === null ? 'no dropout' : `dropout ${m.p}`);
    throw new ConfigError(op, `spec describes a model with ${say(masksB)}, but the model has ${say(masksA)}: the workers would draw other masks`, { option: 'spec' });
  }
  if (!same) {
    throw new ConfigError(op, `spec describes a ${b.kind} model with ${built.params.theta.length} parameters (input ${b.inputSize}, output ${b.outputSize}), but the model is a ${a.kind} with ${model.params.theta.length} (input ${a.inputSize}, output ${a.outputSize})`, { specParams: built.params.theta.length, params: model.params.theta.length });
  }
  return spec as ModelSpec;
}

export class RtrlWorkers implements RtrlTeam {
  readonly ranges: readonly ColumnRange[];
  private readonly group: RtrlGroup;
  private readonly model: RecurrentModel;
  private readonly spec: ModelSpec;
  private readonly maxBytes: number;
  private readonly method: TeamMethod;
  /** The method's name in errors: 'rtrl' or 'snap'. */
  private readonly op: string;
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
    this.method = request.method ?? { kind: 'rtrl' };
    this.op = this.method.kind;
    checkThreads(threads, host.cores, this.op);
    if (typeof SharedArrayBuffer !== 'function') throw new ConfigError(this.op, 'threads need SharedArrayBuffer (browsers: a cross-origin-isolated page)');
    this.spec = checkSpec(this.op, model, request.spec, threads);
    this.model = model;
    this.maxBytes = request.maxBytes;
    const P = model.params.theta.length;
    // RTRL's blocks are wide enough for every tangent product to sum as the whole width does (bit
    // for bit); SnAp's columns are updated one by one, so any split will do: even blocks.
    this.ranges = this.method.kind === 'snap' ? columnBlocks(P, threads, 1) : columnBlocks(P, threads);
    const workers = this.ranges.length - 1;
    this.channel = SyncChannel.create(workers);
    this.theta = new Float64Array(new SharedArrayBuffer(8 * P));
    this.increment = new Float64Array(new SharedArrayBuffer(8 * P));
    this.group = host.start(workers, this.channel.buffer);
    this.group.onDeath((w, cause) => { if (!this.closed) this.slots[w].dead = cause; });
    for (let w = 0; w < workers; w++) {
      this.slots.push({ dead: null, deaths: 0 });
      this.init(w);
    }
  }

  private init(w: number): void {
    this.slots[w].deaths = this.channel.deaths(w);
    this.slots[w].dead = null;
    this.group.post(w, {
      type: 'init', control: this.channel.buffer, index: w, spec: this.spec,
      theta: this.theta.buffer as SharedArrayBuffer, increment: this.increment.buffer as SharedArrayBuffer,
      columns: this.ranges[w + 1], maxBytes: this.maxBytes, method: this.method,
    });
  }

  // Worker w has died since it was initialised (its death is counted in the channel at once,
  // even while its message to this thread waits): the cause, or null.
  private deathOf(w: number): string | null {
    const slot = this.slots[w];
    if (slot.dead !== null) return slot.dead;
    return this.channel.deaths(w) !== slot.deaths ? 'it died' : null;
  }

  private describe(w: number): string {
    const r = this.ranges[w + 1];
    return `worker ${w + 1} (columns ${r.start}..${r.end - 1})`;
  }

  private checkOpen(): void {
    if (this.closed) throw new WorkerError(this.op, 'the threads were closed');
  }

  begin(batch: number, lengths: readonly number[] | null, initial: readonly Mat[] | null): void {
    this.checkOpen();
    // A new stream on the fresh workers that replaced dead ones: they learn their block first.
    for (let w = 0; w < this.slots.length; w++) if (this.deathOf(w) !== null) this.init(w);
    const { cell } = this.model;
    const layout = stepLayout(batch, cell.inputSize, cell.outputSize, cell.stateSizes, this.method);
    if (this.data === null || batch !== this.batch) {
      this.data = new Float64Array(new SharedArrayBuffer(8 * layout.length));
      this.batch = batch;
    }
    const data = this.data;
    this.views = layout.shapes.map(([r, c], i) => data.subarray(layout.offsets[i], layout.offsets[i] + r * c));
    const seq = this.channel.begin();
    for (let w = 0; w < this.slots.length; w++) {
      this.group.post(w, {
        type: 'begin', seq, data: data.buffer as SharedArrayBuffer, batch, lengths: lengths === null ? null : Array.from(lengths),
        initial: initial === null ? null : initial.map((m) => m.data.slice(m.offset, m.offset + m.rows * m.cols)),
      });
    }
    this.afterBegin();
    this.settle(this.channel.wait(seq, { timeoutMs: START_TIMEOUT_MS, staleMs: WATCHER_STALE_MS }), 'starting a stream');
  }

  start(theta: Float64Array, x: Mat, cotangents: readonly (Mat | null)[], masks: MaskState | null): void {
    this.checkOpen();
    for (let w = 0; w < this.slots.length; w++) {
      const dead = this.deathOf(w);
      if (dead !== null) throw new WorkerError(this.op, `${this.describe(w)} died: ${dead}; the step is not taken (reset() starts a new stream on a new worker)`, { worker: w + 1, died: true });
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
    for (let w = 0; w < this.slots.length; w++) this.group.post(w, { type: 'step', seq, present, masks });
    this.afterBegin();
    this.startedAt = Date.now();
  }

  finish(grad: Float64Array): void {
    const seq = this.running;
    this.running = -1;
    if (seq < 0) throw new WorkerError(this.op, 'finish() without a step started');
    const own = Date.now() - this.startedAt;
    this.settle(this.channel.wait(seq, { timeoutMs: Math.max(START_TIMEOUT_MS, STEP_TIMEOUT_FACTOR * own), staleMs: WATCHER_STALE_MS }), 'the step');
    const inc = this.increment;
    for (let s = 1; s < this.ranges.length; s++) {
      const { start, end } = this.ranges[s];
      for (let k = start; k < end; k++) grad[k] += inc[k];
    }
  }

  // A worker that died just before the phase began was marked dead while it was not running it,
  // so nobody would settle its part: settle it 'dead' here (a no-op when it was settled already).
  private afterBegin(): void {
    for (let w = 0; w < this.slots.length; w++) if (this.channel.deaths(w) !== this.slots[w].deaths) this.channel.markDead(w, this.slots[w].dead ?? 'it died');
  }

  // Throws for the first worker (by index) that did not finish the phase, naming it.
  private settle(outcomes: readonly PhaseOutcome[], what: string): void {
    const bad: string[] = [];
    let first = -1, died = false;
    outcomes.forEach((o, w) => {
      if (o.status === 'done' || o.status === 'idle') return;
      if (first < 0) { first = w; died = o.status === 'dead'; }
      const verb = o.status === 'dead' ? 'died' : o.status === 'timeout' ? 'did not answer' : o.status === 'lost' ? 'was lost' : 'failed';
      bad.push(`${this.describe(w)} ${verb} in ${what}: ${o.message}`);
    });
    if (first < 0) return;
    outcomes.forEach((o, w) => { if (o.status === 'dead' && this.slots[w].dead === null) this.slots[w].dead = o.message; });
    throw new WorkerError(this.op, `${bad.join('; ')}; no gradient is added (reset() starts a new stream)`, { worker: first + 1, died });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.group.close();
  }

  /** Ends worker w (>= 1) after afterMs, as a crash would (tests: a killed worker fails the step, naming it). */
  kill(w: number, afterMs = 0): Promise<void> | void {
    return this.group.kill(w - 1, afterMs);
  }
}
