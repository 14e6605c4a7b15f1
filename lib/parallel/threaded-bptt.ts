// BPTT data-parallel over the batch, synchronous (the GradientMethod contract), for ANY
// SequenceLoss. threads = N splits the batch into N contiguous shards (shard.ts): shard 0 runs on
// the calling thread, shards 1.. on N - 1 workers, which the caller waits for in a SyncChannel.
//
//   phase 1  every shard runs the forward unroll of its rows and keeps its tape (BpttShard);
//            the workers' per-step outputs and states come back through shared memory;
//   loss     the calling thread puts them together as leaves of one small graph (whole-batch
//            matrices) and runs the user's loss over the whole batch there, so a loss that mixes
//            rows (a mean over the batch, a batch norm of outputs) is exactly the loss Bptt sees;
//            walking that graph back gives d loss / d every output and state;
//   phase 2  every shard seeds its tape with its rows of those cotangents and walks it back;
//            the shards' gradients are added in shard order (reduceInOrder), so a thread count
//            repeats bit for bit, and equals Bptt up to the order of the sums over rows.
//
// A worker that fails or dies fails the call with a WorkerError naming it (never a partial
// gradient); a dead worker is restarted by the platform and learns the model again next call.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, clone, mat, rowsView } from '../mat/mat.js';
import { ConfigError, ResourceError } from '../mat/errors.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import type { RecurrentModel } from '../rnn/model.js';
import type { PassSpec, ThreadedBpttEngine, ThreadedBpttResult, WindowResult } from '../rnn/threads.js';
import { type RunOptions, RUN_OPTIONS, Unroll, estimateStepBytes, sumTerms } from '../rnn/unroll.js';
import { BpttShard, regionLength, stateWidth } from './bptt-shard.js';
import { specOf } from './model-spec.js';
import { WorkerError, checkThreads, toData } from './pool.js';
import type { MatData, WorkerHost } from './protocol.js';
import { type ShardRange, reduceInOrder, shardRanges, shardRows } from './shard.js';
import { type PhaseOutcome, WATCHER_STALE_MS, canBlock } from './sync-channel.js';
import { type PoolLease, syncPool } from './sync-pool.js';

const OP = 'bptt';
const REQUIRES_GRAD = { requiresGrad: true };

export interface PassResult extends WindowResult {
  finalState: Mat[];
  outputs: Mat;
  initialStateGrad: Mat[] | null;
}

export interface ThreadedBpttOptions {
  /** Tape limit per shard, as Bptt's maxBytes. */
  maxBytes: number;
  /** Give up on a worker that has not answered after this long (default: wait; a dead worker is always noticed). */
  timeoutMs?: number;
}

/** The rows [start, end) of an explicit initial state (a shared 1 x size row stays whole). */
function initialRows(m: Mat, batch: number, r: ShardRange): Mat {
  return m.rows === batch ? rowsView(m, r.start, r.end - r.start) : m;
}

export class ThreadedBptt implements ThreadedBpttEngine {
  readonly model: RecurrentModel;
  readonly threads: number;
  private readonly unroll: Unroll;
  private readonly lease: PoolLease;
  private readonly main: BpttShard;
  private readonly lossGraph = new Graph('reverse');
  private readonly maxBytes: number;
  private readonly timeoutMs: number | undefined;
  private mainRegion = new Float64Array(0);
  private lastFinal: Mat[] | null = null;
  private closed = false;
  private probed = { batch: 0, bytes: 0 };

  /** The method's name, for errors: 'bptt', or 'tbptt' under a ThreadedTbptt. */
  readonly op: string;

  constructor(model: RecurrentModel, threads: number, host: WorkerHost, options: ThreadedBpttOptions, op = OP) {
    this.op = op;
    checkThreadsFor(host, threads, op);
    const spec = specOf(model);
    if (spec === null) {
      throw new ConfigError(this.op, `threads: ${threads} needs a model that can cross to a worker as data: one made by modelFromSpec (cells of the registry, stacked with or without dropout, bidirectional or over an embedding, with a readout, a seq2seq pair without dropout, initial state 'zero' or 'learned'), as the CLI's task models and fit's networks are (but a seq2seq one with dropout); this model is not`, { option: 'threads', value: threads });
    }
    if (!canBlock()) {
      throw new ConfigError(this.op, `threads: ${threads} blocks the calling thread while the workers run, and this thread may not block (a browser's main thread): run the method in a worker, or use the async WorkerPool.bptt(spec, theta, xs, loss, options), which never blocks`, { option: 'threads', value: threads });
    }
    this.model = model;
    this.threads = threads;
    this.maxBytes = options.maxBytes;
    this.timeoutMs = options.timeoutMs;
    this.unroll = new Unroll(model, this.op, () => this.lastFinal?.map(clone) ?? null);
    this.main = new BpttShard(model, this.op);
    this.lease = syncPool(host, threads - 1).lease(spec, model.params.theta.length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lease.release();
  }

  run(xs: Mat, loss: SequenceLoss, options: RunOptions = {}): ThreadedBpttResult {
    const seq = this.unroll.sequence(xs, options, RUN_OPTIONS);
    const r = this.pass(loss, { xs, batch: seq.batch, lengths: options.lengths ?? null, start: 0, initial: seq.initial, lossFrom: 0, final: true, keep: [] });
    this.lastFinal = r.finalState.map(clone);
    return { loss: r.loss, grad: r.grad, finalState: r.finalState, outputs: r.outputs, initialStateGrad: r.initialStateGrad, tapeBytes: r.tapeBytes };
  }

  /**
   * One threaded pass: the unroll of spec.xs over every shard, the loss terms of local steps
   * >= lossFrom (called with the global step start + t) and the final term when asked, and the
   * gradient. Also the whole batch's state after the local steps listed in keep.
   */
  pass(loss: SequenceLoss, spec: PassSpec): PassResult {
    if (this.closed) throw new ConfigError(this.op, 'this threaded method was closed (close()); make a new one');
    if (this.lease.pool.isClosed) throw new WorkerError(this.op, 'the thread pool was closed (closeThreadPools(), or its watcher was lost); make a new method');
    const { model } = this;
    const { xs, batch, lengths, start, initial } = spec;
    const steps = xs.rows / batch;
    const ranges = shardRanges(batch, this.threads);
    const widest = ranges.reduce((w, r) => Math.max(w, r.end - r.start), 0);
    if (this.probed.batch !== widest) this.probed = { batch: widest, bytes: estimateStepBytes(model, widest) };
    const bytes = 2 * steps * this.probed.bytes;
    if (bytes > this.maxBytes) {
      throw new ResourceError(this.op, `${steps} steps of a shard of ${widest} sequences keep about ${(bytes / 2 ** 20).toFixed(1)} MiB on each tape, over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes, shorten the sequence, or use Tbptt or Rtrl)`, { bytes, limit: this.maxBytes, steps, batch: widest });
    }
    const P = model.params.theta.length;
    const { pool } = this.lease;
    const workers = ranges.length - 1; // worker i runs shard i + 1
    const used = Array.from({ length: workers }, (_, i) => i);
    const regions: Float64Array[] = [];
    this.lease.theta.set(model.params.theta);
    for (let i = 0; i < workers; i++) {
      this.lease.ensure(i);
      regions.push(this.lease.region(i, regionLength(model, steps, ranges[i + 1].end - ranges[i + 1].start)));
    }
    const mainRows = ranges[0].end - ranges[0].start;
    const mainLength = regionLength(model, steps, mainRows);
    if (this.mainRegion.length < mainLength) this.mainRegion = new Float64Array(mainLength);
    const mainRegion = this.mainRegion.subarray(0, mainLength);
    const shardRegions = [mainRegion, ...regions];
    const lengthsOf = (r: ShardRange) => (lengths === null ? null : Array.from(lengths).slice(r.start, r.end).map(Number));

    // Phase 1: the forward unrolls. A model with masks: every shard starts from the streams as they
    // stand now and draws the whole batch's masks, keeping its rows (this thread's model ends where
    // one thread's would).
    const maskState = model.cell.masks?.state() ?? null;
    const masksFor = (r: ShardRange) => (maskState === null ? null : { state: maskState, start: r.start, total: batch });
    let phase = workers > 0 ? pool.channel.begin(used) : 0;
    for (let i = 0; i < workers; i++) {
      const r = ranges[i + 1];
      const rows = shardRows(xs, batch, r); // a fresh matrix: its buffer can be transferred as is
      const part: MatData = { rows: rows.rows, cols: rows.cols, data: rows.data };
      pool.post(i, {
        type: 'sync-forward', seq: phase, lease: this.lease.id, xs: part, batch: r.end - r.start,
        lengths: lengthsOf(r), start,
        initial: initial === null ? null : initial.map((m) => toData(initialRows(m, batch, r))),
        region: regions[i], masks: masksFor(r),
      }, [part.data.buffer as ArrayBuffer]);
    }
    const r0 = ranges[0];
    this.onMain(workers, phase, () => this.main.forward({
      xs: ranges.length === 1 ? xs : shardRows(xs, batch, r0), batch: mainRows, lengths: lengthsOf(r0), start,
      initial: initial === null ? null : initial.map((m) => initialRows(m, batch, r0)), masks: masksFor(r0),
    }, mainRegion), 'forward');
    // The streams end where one thread's would: one mask per step on which some row of the whole
    // batch is active (this thread's shard drew none once its own rows had all finished).
    if (maskState !== null) {
      const active = lengths === null ? steps : Math.min(steps, Math.max(0, Math.max(...Array.from(lengths, Number)) - start));
      model.cell.masks!.set(model.cell.masks!.after(maskState, active), null);
    }

    // The loss over the whole batch, on the shards' values.
    const g = this.lossGraph;
    g.reset();
    const O = model.cell.outputSize, sizes = model.cell.stateSizes, S = stateWidth(model), m = sizes.length;
    const stateAt = (t: number) => sizes.map((n, k) => gather(shardRegions, ranges, t * (O + S) + O + offsetOf(sizes, k), n, batch));
    const kept = new Map<number, Mat[]>();
    for (const t of spec.keep) kept.set(t, stateAt(t));
    const outLeaves: (Var | undefined)[] = new Array<Var | undefined>(steps), stateLeaves: (Var | undefined)[][] = [];
    const terms: Var[] = [];
    const outputs = mat(steps * batch, O);
    for (let t = 0; t < steps; t++) {
      const value = gather(shardRegions, ranges, t * (O + S), O, batch);
      outputs.data.set(value.data, t * batch * O);
      const made: (Var | undefined)[] = new Array<Var | undefined>(m);
      stateLeaves.push(made);
      if (t < spec.lossFrom || loss.step === undefined) continue;
      const out = g.leaf(value, REQUIRES_GRAD);
      outLeaves[t] = out;
      const term = loss.step(g, start + t, out, lazyLeaves(g, made, (k) => gather(shardRegions, ranges, t * (O + S) + O + offsetOf(sizes, k), sizes[k], batch))) ?? null;
      if (term !== null) terms.push(term);
    }
    // The final state is always needed (it is returned), so its leaves are made at once.
    const finalLeaves = sizes.map((n, k) => g.leaf(gather(shardRegions, ranges, steps * (O + S) + offsetOf(sizes, k), n, batch), REQUIRES_GRAD));
    const finalTerm = spec.final ? loss.final?.(g, finalLeaves) ?? null : null;
    if (finalTerm !== null) terms.push(finalTerm);
    const total = sumTerms(g, this.op, terms);
    const finalState = finalLeaves.map((v) => clone(v.value));
    const grad = new Float64Array(P);
    // This shard's step tape and the loss terms' (taped here, as Bptt tapes them after its steps); the workers' are added below.
    let tapeBytes = this.main.tapeBytes() + g.recordedBytes();
    if (total === null) {
      return { loss: 0, hasLoss: false, grad, finalState, outputs, initialStateGrad: null, tapeBytes, kept };
    }
    g.backward(total);
    // The cotangents go where the values were; seeds[block] says which blocks hold one (a value
    // the loss never read, or one it does not depend on, seeds nothing).
    const seeds = new Uint8Array(steps * (1 + m) + m);
    for (let t = 0; t < steps; t++) {
      const out = outLeaves[t];
      if (out !== undefined) seeds[t * (1 + m)] = scatter(out, shardRegions, ranges, t * (O + S), O);
      for (let k = 0; k < m; k++) {
        const leaf = stateLeaves[t][k];
        if (leaf !== undefined) seeds[t * (1 + m) + 1 + k] = scatter(leaf, shardRegions, ranges, t * (O + S) + O + offsetOf(sizes, k), sizes[k]);
      }
    }
    for (let k = 0; k < m; k++) seeds[steps * (1 + m) + k] = scatter(finalLeaves[k], shardRegions, ranges, steps * (O + S) + offsetOf(sizes, k), sizes[k]);

    // Phase 2: the backward walks, then the gradients added in shard order.
    phase = workers > 0 ? pool.channel.begin(used) : 0;
    for (let i = 0; i < workers; i++) pool.post(i, { type: 'sync-backward', seq: phase, lease: this.lease.id, seeds });
    const mainGrad = new Float64Array(P);
    this.onMain(workers, phase, () => this.main.backward(mainRegion, seeds, mainGrad), 'backward');
    const parts: Float64Array[] = [mainGrad];
    for (let i = 0; i < workers; i++) {
      parts.push(this.lease.grads[i].subarray(0, P));
      tapeBytes += this.lease.grads[i][P];
    }
    reduceInOrder(parts, grad);
    let initialStateGrad: Mat[] | null = null;
    if (initial !== null) {
      const at = (steps + 1) * (O + S) - O; // the initial block follows the final one
      initialStateGrad = sizes.map((n, k) => {
        if (initial[k].rows === batch) return gather(shardRegions, ranges, at + offsetOf(sizes, k), n, batch);
        // A row shared by the batch: its gradient is the sum over the shards (each summed its rows).
        const sum = mat(1, n);
        for (let s = 0; s < ranges.length; s++) {
          const rows = ranges[s].end - ranges[s].start, from = rows * (at + offsetOf(sizes, k));
          for (let c = 0; c < n; c++) sum.data[c] += shardRegions[s][from + c];
        }
        return sum;
      });
    }
    const value = total.value.data[total.value.offset];
    return { loss: value, hasLoss: true, grad, finalState, outputs, initialStateGrad, tapeBytes, kept };
  }

  // Runs this thread's shard while the workers run theirs, then waits for them; any failure, the
  // workers' first (in shard order), is thrown only after every worker has settled.
  private onMain(workers: number, phase: number, work: () => void, what: string): void {
    let mine: unknown = null;
    try {
      work();
    } catch (e) {
      mine = e;
    }
    if (workers > 0) {
      const outcomes = this.lease.pool.channel.wait(phase, this.timeoutMs === undefined ? { staleMs: WATCHER_STALE_MS } : { timeoutMs: this.timeoutMs, staleMs: WATCHER_STALE_MS });
      this.check(outcomes, workers, what);
    }
    if (mine !== null) throw mine;
  }

  private check(outcomes: readonly PhaseOutcome[], workers: number, what: string): void {
    const { pool } = this.lease;
    const bad: string[] = [];
    let first = -1;
    for (let i = 0; i < workers; i++) {
      const o = outcomes[i];
      if (o.status === 'done') continue;
      if (first < 0) first = i;
      const name = pool.group.name(i);
      if (o.status === 'idle') bad.push(`${name} never started the ${what} phase`);
      else if (o.status === 'dead') bad.push(`${name} died during the ${what} phase: ${o.message}`);
      else if (o.status === 'lost') {
        bad.push(`${name} was lost during the ${what} phase: ${o.message}; the pool is closed (a new method starts a new one)`);
        void pool.close();
      }
      else if (o.status === 'timeout') {
        bad.push(`${name} did not finish the ${what} phase within ${this.timeoutMs} ms and was stopped`);
        killAndWait(pool, i);
      } else bad.push(`${name} failed in the ${what} phase: ${o.message}`);
    }
    if (bad.length > 0) {
      throw new WorkerError(this.op, `${bad.join('; ')}; no gradient is returned (the pool replaces a dead worker: the next call can run)`, { worker: first, threads: this.threads });
    }
  }
}

// A stuck worker is ended; wait (up to 5 s) until the platform has recorded its death, so the next
// call re-initialises the fresh worker instead of talking to the old one.
function killAndWait(pool: PoolLease['pool'], i: number): void {
  const before = pool.channel.deaths(i);
  pool.group.kill(i);
  const until = Date.now() + 5000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (pool.channel.deaths(i) === before && Date.now() < until) Atomics.wait(nap, 0, 0, 5);
}

/** Checks threads against the host's cores (and that it has synchronous workers). */
export function checkThreadsFor(host: WorkerHost, threads: number, op = OP): void {
  checkThreads(threads, host.cores, op);
  if (threads > 1 && host.startSync === undefined) {
    throw new ConfigError(op, `threads: ${threads}: this platform's worker host has no synchronous workers; use the async WorkerPool.bptt`, { option: 'threads', value: threads });
  }
}

function offsetOf(sizes: readonly number[], k: number): number {
  let at = 0;
  for (let i = 0; i < k; i++) at += sizes[i];
  return at;
}

// The whole batch's `cols`-wide block that sits `at` numbers per row into each shard's region
// (a shard of R rows keeps R·at numbers before it), in batch order.
function gather(regions: readonly Float64Array[], ranges: readonly ShardRange[], at: number, cols: number, batch: number): Mat {
  const out = mat(batch, cols);
  for (let s = 0; s < ranges.length; s++) {
    const rows = ranges[s].end - ranges[s].start, from = rows * at;
    out.data.set(regions[s].subarray(from, from + rows * cols), ranges[s].start * cols);
  }
  return out;
}

// The leaf's gradient back into each shard's region, where gather read it: 1, or 0 (nothing
// written) when the leaf has none or it is all zeros.
function scatter(leaf: Var, regions: readonly Float64Array[], ranges: readonly ShardRange[], at: number, cols: number): 0 | 1 {
  const gr = leaf.grad;
  if (gr === null) return 0;
  const n = gr.rows * gr.cols;
  let zero = true;
  for (let i = gr.offset; i < gr.offset + n; i++) if (gr.data[i] !== 0) { zero = false; break; }
  if (zero) return 0;
  for (let s = 0; s < ranges.length; s++) {
    const rows = ranges[s].end - ranges[s].start, from = rows * at;
    regions[s].set(gr.data.subarray(gr.offset + ranges[s].start * cols, gr.offset + (ranges[s].start + rows) * cols), from);
  }
  return 1;
}

/**
 * The state at one step as the loss sees it: an array whose k-th leaf is made when the loss first
 * reads it. Most losses read only the outputs; an unread state then costs no copy, no leaf, no
 * gradient buffer and no cotangent.
 */
function lazyLeaves(g: Graph, made: (Var | undefined)[], value: (k: number) => Mat): readonly Var[] {
  const view: Var[] = new Array<Var>(made.length);
  for (let k = 0; k < made.length; k++) {
    Object.defineProperty(view, k, {
      enumerable: true,
      get: () => (made[k] ??= g.leaf(value(k), REQUIRES_GRAD)),
    });
  }
  return view;
}
