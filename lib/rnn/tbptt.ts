// Truncated backpropagation through time, TBPTT(k1, k2) (Williams & Peng):
// walk a stream one step at a time; every k1 steps, backpropagate the loss of
// those last k1 steps through the last k2 >= k1 steps, and hand the gradient
// to the caller (who usually updates the parameters at once). State is carried
// across windows but gradients are not: the state entering a window is a
// constant. Memory is O(k2·n), whatever the length of the stream.
//
// How a window is computed: inputs and states of the last k2 steps sit in a
// ring. At a boundary t, the cell is rerun on a fresh tape from the stored
// state at t-k2 (with the current parameters), the loss terms of steps
// [t-k1, t) are summed, and the tape is walked back. k1 = k2 = k is the usual
// "chunked" BPTT; k1 = k2 = T over one sequence of length T is full BPTT. The steps are the
// unroll's (lib/rnn/unroll.ts), so lengths and initial states mean what they mean in every mode.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, clone, mat, matFrom, shapeOf } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import { checkKeys } from '../mat/options.js';
import type { SequenceLoss } from './loss-spec.js';
import { type GradientMethod, type RunOptions, type RunResult, type Sequence, RUN_OPTIONS, Unroll, checkFiniteInputs, copyState, sumTerms } from './unroll.js';
import { ConfigError, ShapeError } from '../mat/errors.js';
import { type ThreadedTbpttEngine, checkThreadsOption, checkTimeoutOption, threadEngines } from './threads.js';

export interface TbpttOptions {
  /** Steps between updates (the loss of these steps is backpropagated). */
  k1: number;
  /** Steps the gradient flows back (>= k1; default k1). */
  k2?: number;
  /**
   * Threads the batch is split over (default 1; lib/parallel/threaded-tbptt.ts): every window,
   * of a run or of a stream (reset, feed), is one threaded pass, as Bptt's threads option.
   * close() frees the workers.
   */
  threads?: number;
  /** With threads > 1: stop a worker that has not finished a window's phase within this many ms (as Bptt's). */
  timeoutMs?: number;
}

/** What one truncated backward pass computed. Valid during the callback only (buffers are reused). */
export interface TbpttWindow {
  /** First step the gradient reached (global step index since reset). */
  start: number;
  /** One past the last step. */
  end: number;
  /** First step whose loss term is in this window (end - k1, or fewer at the end of a run). */
  lossStart: number;
  /** Sum of the loss terms of steps [lossStart, end) (and the final term at the end of a run). */
  loss: number;
  /** Gradient of that loss with respect to theta, truncated to [start, end). */
  grad: Float64Array;
  /** Whether any loss term was present (false: grad is zero). */
  hasLoss: boolean;
}

export interface TbpttRunOptions extends RunOptions {
  /** Called after every window (to update the parameters at once, as a trainer does). */
  onWindow?: TbpttCallback;
}


export type TbpttCallback = (window: TbpttWindow) => void;

const REQUIRES_GRAD = { requiresGrad: true };
const TBPTT_RUN_OPTIONS = [...RUN_OPTIONS, 'onWindow'];

/** The rings of one batch size: the last k2 inputs and the states entering them. */
interface Rings {
  readonly batch: number;
  readonly inputs: Mat[];
  readonly states: Mat[][];
  /** With threads: a window's inputs end to end (k2 · batch x inputSize), for its threaded pass. */
  readonly window: Float64Array;
}

export class Tbptt implements GradientMethod {
  readonly model: RecurrentModel;
  readonly k1: number;
  readonly k2: number;
  /** Steps fed since the last reset. */
  steps = 0;
  private readonly graph = new Graph('reverse');
  private readonly unroll: Unroll;
  private readonly grad: Float64Array;
  private readonly ringSize: number;
  private rings: Rings | null = null;
  private seq: Sequence;
  /** The stream's lengths (a threaded window hands them to its shards). */
  private lengths: ArrayLike<number> | null = null;
  /** Steps fed since the last window boundary. */
  private pending = 0;
  private lastTapeBytes = 0;
  private readonly paramVars: Var[] = [];

  constructor(model: RecurrentModel, options: TbpttOptions) {
    checkKeys('tbptt', options, ['k1', 'k2', 'threads', 'timeoutMs']);
    const k1 = options.k1, k2 = options.k2 ?? options.k1;
    if (!Number.isInteger(k1) || k1 < 1) throw new ConfigError('tbptt', `k1 must be an integer >= 1, got ${k1}`, { option: 'k1', value: k1 });
    if (!Number.isInteger(k2) || k2 < k1) throw new ConfigError('tbptt', `k2 must be an integer >= k1 = ${k1}, got ${k2}`, { option: 'k2', value: k2, k1 });
    this.model = model;
    this.k1 = k1;
    this.k2 = k2;
    this.unroll = new Unroll(model, 'tbptt', () => (this.steps > 0 ? this.state() : null));
    this.grad = new Float64Array(model.params.theta.length);
    this.ringSize = k2 + 1;
    this.seq = this.unroll.stream({});
    this.threads = checkThreadsOption('tbptt', options.threads ?? 1);
    const timeoutMs = checkTimeoutOption('tbptt', options.timeoutMs, this.threads);
    this.engine = this.threads === 1 ? null : threadEngines('tbptt', this.threads).tbptt(model, this.threads, { maxBytes: 2 ** 31, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  /** Threads this method's windows use. */
  readonly threads: number;
  private readonly engine: ThreadedTbpttEngine | null;

  /** Releases the workers of a threaded method (a no-op with one thread). */
  close(): void {
    this.engine?.close();
  }

  /** Sequences advanced together since the last reset. */
  get batch(): number {
    return this.seq.batch;
  }

  private ringsFor(batch: number): Rings {
    if (this.rings !== null && this.rings.batch === batch) return this.rings;
    const { cell } = this.model;
    const inputData = new Float64Array(this.ringSize * batch * cell.inputSize);
    const inputs: Mat[] = [], states: Mat[][] = [];
    for (let s = 0; s < this.ringSize; s++) {
      inputs.push(matFrom(batch, cell.inputSize, inputData, s * batch * cell.inputSize));
      states.push(cell.stateSizes.map((size) => mat(batch, size)));
    }
    this.rings = { batch, inputs, states, window: new Float64Array(this.engine === null ? 0 : this.k2 * batch * cell.inputSize) };
    return this.rings;
  }

  /**
   * Starts a new stream: batch, lengths (a sequence is frozen after its last step), the initial
   * state (explicit, 'carry' for the state the last window ended in, or the model's rule); step count 0.
   */
  reset(options: RunOptions = {}): void {
    this.begin(this.unroll.stream(options), options.lengths ?? null);
  }

  private begin(seq: Sequence, lengths: ArrayLike<number> | null): void {
    this.ringsFor(seq.batch);
    this.seq = seq;
    this.lengths = lengths;
    this.steps = 0;
    this.pending = 0;
  }

  /**
   * Bytes of activations the tape of the latest window kept for its backward
   * pass (0 before the first window): O(k2·n), whatever the stream's length.
   * Valid in the callback and after it.
   */
  tapeBytes(): number {
    return this.lastTapeBytes;
  }

  /** The state after the last window (batch x size each; a copy). Only valid right after a window. */
  state(): Mat[] {
    return this.ringsFor(this.seq.batch).states[this.steps % this.ringSize].map(clone);
  }

  /**
   * Feeds the steps of xs (time-major) to the stream. Every k1 steps,
   * onWindow receives the truncated gradient of the last k1 loss terms. Loss
   * terms are indexed by the global step (since reset). With `end`, the steps
   * left over after the last boundary also get a window, which includes the
   * loss's final term. With `end`, a stream that has no step at all since
   * the reset is an Error.
   */
  feed(xs: Mat, loss: SequenceLoss, onWindow: TbpttCallback, end = false): void {
    const { batch } = this.seq;
    const cols = this.model.cell.inputSize;
    if (xs.cols !== cols) throw new ShapeError('tbptt', `input is ${shapeOf(xs)} but the cell takes ${cols} features per step`, { xs: [xs.rows, xs.cols], inputSize: cols });
    if (xs.rows % batch !== 0) throw new ShapeError('tbptt', `input has ${xs.rows} rows, not a multiple of batch ${batch}`, { xs: [xs.rows, xs.cols], batch });
    const count = xs.rows / batch;
    if (end && count === 0 && this.steps + this.pending === 0) {
      throw new ShapeError('tbptt', `the sequence is empty (input ${shapeOf(xs)}, no step fed since the reset)`, { xs: [xs.rows, xs.cols] });
    }
    if (this.seq.checkFinite) checkFiniteInputs('tbptt', xs, batch, this.steps + this.pending, this.seq.masks);
    this.push(xs, loss, onWindow, end);
  }

  // The steps of checked inputs into the ring, a window every k1 of them.
  private push(xs: Mat, loss: SequenceLoss, onWindow: TbpttCallback, end: boolean): void {
    const rings = this.ringsFor(this.seq.batch);
    const width = this.seq.batch * xs.cols, count = xs.rows / this.seq.batch;
    for (let t = 0; t < count; t++) {
      const slot = rings.inputs[(this.steps + this.pending) % this.ringSize];
      slot.data.set(xs.data.subarray(xs.offset + t * width, xs.offset + (t + 1) * width), slot.offset);
      this.pending++;
      if (this.pending === this.k1) this.window(loss, onWindow, end && t === count - 1);
    }
    if (end && this.pending > 0) this.window(loss, onWindow, true);
  }

  /**
   * A whole sequence from a reset, under the contract of every gradient method: the loss of
   * every step, the sum of the windows' truncated gradients (BPTT's gradient when k2 >= the
   * sequence's length), and the final state. onWindow, if given, sees each window as it ends.
   */
  run(xs: Mat, loss: SequenceLoss, options: TbpttRunOptions = {}): RunResult {
    this.begin(this.unroll.sequence(xs, options, TBPTT_RUN_OPTIONS), options.lengths ?? null); // checks every input once
    const grad = new Float64Array(this.grad.length);
    let total = 0;
    const onWindow = options.onWindow;
    this.push(xs, loss, (w) => {
      total += w.loss;
      for (let i = 0; i < grad.length; i++) grad[i] += w.grad[i];
      onWindow?.(w);
    }, true);
    return { loss: total, grad, finalState: this.state() };
  }

  private window(loss: SequenceLoss, onWindow: TbpttCallback, last: boolean): void {
    if (this.engine !== null) {
      this.threadedWindow(this.engine, loss, onWindow, last);
      return;
    }
    const { graph: g, ringSize, unroll, seq } = this;
    const rings = this.ringsFor(seq.batch);
    const end = this.steps + this.pending;
    const lossStart = this.steps;
    // The gradient flows back k2 steps from the window's end (fewer near the start): k2 - k1 steps
    // of history before a full loss region, more before the shorter tail of a run.
    const start = Math.max(0, end - this.k2);
    g.reset();
    const paramVars = unroll.leaves(g, REQUIRES_GRAD, this.paramVars);
    const cellParams = unroll.cellParams(paramVars);
    let state: readonly Var[] = start === 0
      ? unroll.initialState(g, seq.batch, paramVars, seq.initial)
      : rings.states[start % ringSize].map((m) => g.constant(m));
    const terms: Var[] = [];
    for (let s = start; s < end; s++) {
      // Record the state entering step s for later windows (k2 > k1 rewinds into it).
      if (s >= lossStart && s > start) copyState('tbptt', this.model.cell, state, rings.states[s % ringSize]);
      const result = unroll.step(g, cellParams, state, g.leaf(rings.inputs[s % ringSize]), s, seq.masks);
      state = result.state;
      if (s >= lossStart) {
        const term = loss.step?.(g, s, result.output, state) ?? null;
        if (term !== null) terms.push(term);
      }
    }
    if (last) {
      const finalTerm = loss.final?.(g, state) ?? null;
      if (finalTerm !== null) terms.push(finalTerm);
    }
    copyState('tbptt', this.model.cell, state, rings.states[end % ringSize]);
    const total = sumTerms(g, 'tbptt', terms);
    this.lastTapeBytes = g.recordedBytes();
    if (total !== null) {
      g.backward(total);
      unroll.scatter(paramVars, this.grad);
    } else {
      this.grad.fill(0);
    }
    this.steps = end;
    this.pending = 0;
    onWindow({ start, end, lossStart, loss: total === null ? 0 : total.value.data[total.value.offset], grad: this.grad, hasLoss: total !== null });
  }

  // The same window as one threaded pass (lib/parallel/threaded-tbptt.ts): its inputs gathered from
  // the ring, and back from the shards the whole batch's states the single-thread window records.
  private threadedWindow(engine: ThreadedTbpttEngine, loss: SequenceLoss, onWindow: TbpttCallback, last: boolean): void {
    const { ringSize, seq } = this;
    const rings = this.ringsFor(seq.batch);
    const end = this.steps + this.pending, lossStart = this.steps, start = Math.max(0, end - this.k2);
    const cols = this.model.cell.inputSize, width = seq.batch * cols;
    for (let s = start; s < end; s++) {
      const from = rings.inputs[s % ringSize], at = (s - start) * width;
      for (let e = 0; e < width; e++) rings.window[at + e] = from.data[from.offset + e];
    }
    // The states entering steps [max(lossStart, start + 1), end]: after local step s - 1 - start.
    const keep: number[] = [];
    for (let s = Math.max(lossStart, start + 1); s <= end; s++) keep.push(s - 1 - start);
    const r = engine.window(loss, {
      xs: matFrom((end - start) * seq.batch, cols, rings.window, 0), batch: seq.batch, lengths: this.lengths, start,
      initial: start === 0 ? seq.initial : rings.states[start % ringSize], lossFrom: lossStart - start, final: last, keep,
    });
    for (const [t, state] of r.kept) {
      const into = rings.states[(start + t + 1) % ringSize];
      state.forEach((m, i) => into[i].data.set(m.data.subarray(m.offset, m.offset + m.rows * m.cols), into[i].offset));
    }
    this.grad.set(r.grad);
    this.lastTapeBytes = r.tapeBytes;
    this.steps = end;
    this.pending = 0;
    onWindow({ start, end, lossStart, loss: r.loss, grad: this.grad, hasLoss: r.hasLoss });
  }
}
