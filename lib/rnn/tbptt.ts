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
// "chunked" BPTT; k1 = k2 = T over one sequence of length T is full BPTT.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat, matFrom, shapeOf } from '../mat/mat.js';
import { type RecurrentModel, initialStateVars } from './model.js';
import type { SequenceLoss } from './loss-spec.js';

export interface TbpttOptions {
  /** Steps between updates (the loss of these steps is backpropagated). */
  k1: number;
  /** Steps the gradient flows back (>= k1; default k1). */
  k2?: number;
  /** Sequences advanced together (default 1). Inputs are time-major: step t is rows [t·batch, (t+1)·batch). */
  batch?: number;
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

export type TbpttCallback = (window: TbpttWindow) => void;

export class Tbptt {
  readonly model: RecurrentModel;
  readonly k1: number;
  readonly k2: number;
  readonly batch: number;
  /** Steps fed since the last reset. */
  steps = 0;
  private readonly graph = new Graph('reverse');
  private readonly grad: Float64Array;
  /** Ring of the last k2 inputs (slot s mod (k2+1)) and of the states entering those steps. */
  private readonly inputRing: Mat[];
  private readonly stateRing: Mat[][];
  private readonly ringSize: number;
  /** Steps fed since the last window boundary. */
  private pending = 0;
  private fixedInitial: readonly Mat[] | null = null;
  private lastTapeBytes = 0;

  constructor(model: RecurrentModel, options: TbpttOptions) {
    const k1 = options.k1, k2 = options.k2 ?? options.k1, batch = options.batch ?? 1;
    if (!Number.isInteger(k1) || k1 < 1) throw new Error(`tbptt: k1 must be an integer >= 1, got ${k1}`);
    if (!Number.isInteger(k2) || k2 < k1) throw new Error(`tbptt: k2 must be an integer >= k1 = ${k1}, got ${k2}`);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`tbptt: batch must be a positive integer, got ${batch}`);
    this.model = model;
    this.k1 = k1;
    this.k2 = k2;
    this.batch = batch;
    this.grad = new Float64Array(model.params.theta.length);
    this.ringSize = k2 + 1;
    const { cell } = model;
    const inputData = new Float64Array(this.ringSize * batch * cell.inputSize);
    this.inputRing = [];
    this.stateRing = [];
    for (let s = 0; s < this.ringSize; s++) {
      this.inputRing.push(matFrom(batch, cell.inputSize, inputData, s * batch * cell.inputSize));
      this.stateRing.push(cell.stateSizes.map((size) => mat(batch, size)));
    }
  }

  /** Starts a new stream: state from the model's rule (or initialState), step count 0. */
  reset(initialState?: readonly Mat[]): void {
    this.fixedInitial = initialState ?? null;
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
    const slot = this.stateRing[this.steps % this.ringSize];
    return slot.map((m) => ({ ...m, data: m.data.slice() }));
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
    const { batch, model } = this;
    const cols = model.cell.inputSize;
    if (xs.cols !== cols) throw new Error(`tbptt: input is ${shapeOf(xs)} but the cell takes ${cols} features per step`);
    if (xs.rows % batch !== 0) throw new Error(`tbptt: input has ${xs.rows} rows, not a multiple of batch ${batch}`);
    const count = xs.rows / batch;
    const width = batch * cols;
    if (end && count === 0 && this.steps + this.pending === 0) {
      throw new Error(`tbptt: the sequence is empty (input ${shapeOf(xs)}, no step fed since the reset)`);
    }
    for (let t = 0; t < count; t++) {
      const slot = this.inputRing[(this.steps + this.pending) % this.ringSize];
      slot.data.set(xs.data.subarray(xs.offset + t * width, xs.offset + (t + 1) * width), slot.offset);
      this.pending++;
      if (this.pending === this.k1) this.window(loss, onWindow, end && t === count - 1);
    }
    if (end && this.pending > 0) this.window(loss, onWindow, true);
  }

  /** A whole sequence from a reset: feed with end = true. An empty sequence (0 steps) is an Error. */
  run(xs: Mat, loss: SequenceLoss, onWindow: TbpttCallback, initialState?: readonly Mat[]): void {
    if (xs.rows === 0) throw new Error(`tbptt: the sequence is empty (input ${shapeOf(xs)})`);
    this.reset(initialState);
    this.feed(xs, loss, onWindow, true);
  }

  private window(loss: SequenceLoss, onWindow: TbpttCallback, last: boolean): void {
    const { model, graph: g, batch, ringSize } = this;
    const { cell, params } = model;
    const end = this.steps + this.pending;
    const lossStart = this.steps;
    // History without loss terms: k2 - k1 steps before the loss region (fewer near the start).
    const start = Math.max(0, lossStart - (this.k2 - this.k1));
    g.reset();
    const paramVars = params.mats.map((m) => g.leaf(m, { requiresGrad: true }));
    const cellParams = paramVars.slice(0, model.cellParamCount);
    let state: Var[] = start === 0
      ? initialStateVars(g, model, batch, paramVars, this.fixedInitial, false)
      : this.stateRing[start % ringSize].map((m) => g.constant(m));
    const terms: Var[] = [];
    for (let s = start; s < end; s++) {
      if (s >= lossStart && s > start) {
        // Record the state entering step s for later windows (k2 > k1 rewinds into it).
        this.storeState(s, state);
      }
      const result = cell.step(g, cellParams, state, g.leaf(this.inputRing[s % ringSize]));
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
    this.storeState(end, state);
    const grad = this.grad;
    grad.fill(0);
    let value = 0;
    if (terms.length > 0) {
      let total = terms[0];
      for (let i = 1; i < terms.length; i++) total = g.add(total, terms[i]);
      if (total.value.rows !== 1 || total.value.cols !== 1) throw new Error(`tbptt: a loss term must be 1x1, got ${shapeOf(total.value)}`);
      value = total.value.data[total.value.offset];
      this.lastTapeBytes = g.recordedBytes();
      g.backward(total);
      paramVars.forEach((v, i) => {
        if (v.grad !== null) grad.set(v.grad.data.subarray(0, v.grad.rows * v.grad.cols), params.offsets[i]);
      });
    } else {
      this.lastTapeBytes = g.recordedBytes();
    }
    this.steps = end;
    this.pending = 0;
    onWindow({ start, end, lossStart, loss: value, grad, hasLoss: terms.length > 0 });
  }

  private storeState(step: number, state: readonly Var[]): void {
    const slot = this.stateRing[step % this.ringSize];
    for (let i = 0; i < slot.length; i++) {
      const v = state[i].value, n = v.rows * v.cols;
      if (n !== slot[i].rows * slot[i].cols) {
        throw new Error(`tbptt: state ${this.model.cell.stateNames[i]} is ${shapeOf(v)}, expected ${shapeOf(slot[i])}`);
      }
      slot[i].data.set(v.data.subarray(v.offset, v.offset + n));
    }
  }
}
