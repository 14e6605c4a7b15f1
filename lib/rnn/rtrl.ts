// Real-time recurrent learning: the same cell run in forward mode with P
// tangent directions (P = number of parameters). The state carries its
// sensitivity S_t = d state_t / d theta ((batch·size) x P per state vector):
//   S_t = (d step / d state) · S_{t-1} + (d step / d theta)
// The first term is the step's JVP applied to S_{t-1} (one gemm of the
// recurrent Jacobian with S_{t-1}); the second comes from parameter leaves
// with seed tangents, scattered in O(n·P). After each step the gradient of the
// loss so far is exact, and memory does not grow with the sequence length.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { seedTangent, denseTangent } from '../ad/tangent.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';
import { type RecurrentModel, initialStateVars } from './model.js';
import type { SequenceLoss } from './loss-spec.js';

export interface RtrlOptions {
  /** Independent sequences advanced together (default 1). */
  batch?: number;
  /**
   * Refuse a model whose forward-mode memory would take more bytes than this: the two sets of
   * sensitivities ((batch·state) x P numbers each: the current S and the next) plus a tangent of
   * P numbers for every number a step computes. Default 2 GiB.
   */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 2 ** 31;

/**
 * Bytes RTRL needs for a model and batch: two sets of sensitivities ((batch·state) x P each) and
 * a P-wide tangent for every number one step computes (counted by running a step for values).
 */
export function estimateRtrlBytes(model: RecurrentModel, batch = 1): number {
  const g = new Graph('eval');
  const paramVars = model.params.mats.map((m) => g.leaf(m));
  const state = initialStateVars(g, model, batch, paramVars, null, false);
  // A stack with dropout would draw masks: switch it off for this probe, so its streams stay put.
  const switchable = model.cell as { training?: boolean };
  const training = switchable.training;
  if (training !== undefined) switchable.training = false;
  try {
    model.cell.step(g, paramVars.slice(0, model.cellParamCount), state, g.leaf(mat(batch, model.cell.inputSize)));
  } finally {
    if (training !== undefined) switchable.training = training;
  }
  const stepNumbers = g.recordedBytes() / 8;
  const stateNumbers = batch * model.cell.stateSizes.reduce((a, b) => a + b, 0);
  return 8 * model.params.theta.length * (2 * stateNumbers + stepNumbers);
}

export class Rtrl {
  readonly model: RecurrentModel;
  readonly batch: number;
  /** P, the number of tangent directions (parameters). */
  readonly directions: number;
  /** d (loss so far) / d theta, laid out like model.params.theta. */
  readonly grad: Float64Array;
  /** Loss accumulated since the last reset. */
  loss = 0;
  /** Steps taken since the last reset. */
  steps = 0;
  private readonly graph: Graph;
  // Two sets of state and sensitivity buffers: a step reads one and writes the other, so a
  // cell whose new state is (a view of) an old state vector is carried over correctly.
  private readonly states: [Mat[], Mat[]];
  private readonly sensitivities: [Mat[], Mat[]];
  private current = 0;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  private started = false;
  private fixedInitial: readonly Mat[] | null = null;
  // Leaf options made once: parameter seeds, and the tangents of each buffer set's state.
  private readonly paramLeaves: LeafOptions[];
  private readonly stateLeaves: [LeafOptions[], LeafOptions[]];
  private readonly output: Mat;

  constructor(model: RecurrentModel, options: RtrlOptions = {}) {
    const batch = options.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`rtrl: batch must be a positive integer, got ${batch}`);
    if (model.cell.causal === false) {
      throw new Error(`rtrl: the ${model.cell.kind} model reads the future of the sequence (a bidirectional layer), so it cannot be trained online; use Bptt`);
    }
    this.model = model;
    this.batch = batch;
    this.directions = model.params.theta.length;
    this.graph = new Graph('forward', this.directions);
    this.grad = new Float64Array(this.directions);
    const limit = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) throw new Error(`rtrl: maxBytes must be a positive number, got ${String(limit)}`);
    const stateNumbers = batch * model.cell.stateSizes.reduce((a, b) => a + b, 0);
    const P = this.directions;
    const bytes = estimateRtrlBytes(model, batch);
    if (bytes > limit) {
      throw new Error(`rtrl: ${batch} x ${stateNumbers / batch} state numbers and one step's values, each with P = ${P} tangent directions, need ${(bytes / 2 ** 20).toFixed(1)} MiB, over the limit of ${(limit / 2 ** 20).toFixed(1)} MiB (raise maxBytes, or use BPTT)`);
    }
    const makeStates = () => model.cell.stateSizes.map((size) => mat(batch, size));
    const makeSensitivities = () => model.cell.stateSizes.map((size) => mat(batch * size, this.directions));
    this.states = [makeStates(), makeStates()];
    this.sensitivities = [makeSensitivities(), makeSensitivities()];
    this.paramLeaves = model.params.offsets.map((offset) => ({ tangent: seedTangent(offset) }));
    this.stateLeaves = [0, 1].map((set) => this.sensitivities[set].map((S) => ({ tangent: denseTangent(S.data) }))) as [LeafOptions[], LeafOptions[]];
    this.output = mat(batch, model.cell.outputSize);
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  get state(): readonly Mat[] {
    return this.states[this.current];
  }

  /** The sensitivities S_t, one (batch·size) x P matrix per state vector (overwritten by the step after next). */
  get sensitivity(): readonly Mat[] {
    return this.sensitivities[this.current];
  }

  /** Bytes of the sensitivity matrices S_t: what RTRL keeps alive for its gradient. */
  sensitivityBytes(): number {
    return this.sensitivity.reduce((bytes, s) => bytes + 8 * s.rows * s.cols, 0);
  }

  /** Bytes of every buffer this learner holds, scratch of the step included. */
  totalBytes(): number {
    return 2 * this.sensitivityBytes() + this.graph.arenaBytes() + 8 * this.grad.length;
  }

  /** Starts a new sequence: the state from the model's rule (or `initialState`), S_0 from it, loss and gradient zero. */
  reset(initialState?: readonly Mat[]): void {
    this.fixedInitial = initialState ?? null;
    this.started = false;
    this.grad.fill(0);
    this.loss = 0;
    this.steps = 0;
  }

  /** Zeroes the accumulated gradient and loss but keeps the state and S (online learning). */
  zeroGrad(): void {
    this.grad.fill(0);
    this.loss = 0;
  }

  /**
   * Advances one step on input x (batch x inputSize); adds the step's loss term
   * (and, with `last`, the final-state term) to loss and its gradient to grad.
   * Returns the step's output (a buffer reused by the next step).
   */
  step(x: Mat, loss: SequenceLoss = {}, last = false): Mat {
    const { model, graph: g, batch } = this;
    const { cell, params } = model;
    if (x.rows !== batch || x.cols !== cell.inputSize) {
      throw new Error(`rtrl: input is ${shapeOf(x)}, needs batch ${batch} x ${cell.inputSize}`);
    }
    g.reset();
    const paramVars = this.paramVars, stateVars = this.stateVars;
    paramVars.length = 0;
    for (let i = 0; i < params.mats.length; i++) paramVars.push(g.leaf(params.mats[i], this.paramLeaves[i]));
    const cellParams = paramVars.length === model.cellParamCount ? paramVars : paramVars.slice(0, model.cellParamCount);
    const from = this.current, to = 1 - from;
    stateVars.length = 0;
    if (this.started) {
      for (let i = 0; i < this.states[from].length; i++) {
        stateVars.push(g.leaf(this.states[from][i], this.stateLeaves[from][i]));
      }
    } else {
      for (const v of initialStateVars(g, model, batch, paramVars, this.fixedInitial, false)) stateVars.push(v);
    }
    const result = cell.step(g, cellParams, stateVars, g.leaf(x));
    const term = loss.step?.(g, this.steps, result.output, result.state) ?? null;
    if (term !== null) this.accumulate(term);
    if (last) {
      const finalTerm = loss.final?.(g, result.state) ?? null;
      if (finalTerm !== null) this.accumulate(finalTerm);
    }
    // Carry the new state and its sensitivity out of the arena (which the next step reuses)
    // into the other buffer set: a new state may be, or view, an old one, which stays intact.
    const P = this.directions;
    for (let i = 0; i < result.state.length; i++) {
      const v = result.state[i], n = v.value.rows * v.value.cols;
      this.states[to][i].data.set(v.value.data.subarray(v.value.offset, v.value.offset + n));
      const S = this.sensitivities[to][i].data, t = v.tangent;
      if (t === null) S.fill(0);
      else if (t.kind === 'dense') S.set(t.data.subarray(t.offset, t.offset + n * P));
      else { S.fill(0); for (let e = 0; e < n; e++) S[e * P + t.start + e] = 1; }
    }
    this.current = to;
    const out = result.output.value;
    this.output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));
    this.started = true;
    this.steps++;
    return this.output;
  }

  private accumulate(term: Var): void {
    if (term.value.rows !== 1 || term.value.cols !== 1) throw new Error(`rtrl: a loss term must be 1x1, got ${shapeOf(term.value)}`);
    this.loss += term.value.data[term.value.offset];
    const t = term.tangent;
    if (t === null) return;
    const P = this.directions;
    if (t.kind === 'seed') { this.grad[t.start] += 1; return; }
    for (let k = 0; k < P; k++) this.grad[k] += t.data[t.offset + k];
  }

  /** Runs a whole sequence (time-major rows) from a reset and returns the loss; the gradient is in grad. */
  run(xs: Mat, loss: SequenceLoss, initialState?: readonly Mat[]): number {
    if (xs.rows % this.batch !== 0) throw new Error(`rtrl: input has ${xs.rows} rows, not a multiple of batch ${this.batch}`);
    const steps = xs.rows / this.batch;
    if (steps === 0) throw new Error(`rtrl: the sequence is empty (input ${shapeOf(xs)})`);
    this.reset(initialState);
    for (let t = 0; t < steps; t++) {
      this.step({ rows: this.batch, cols: xs.cols, data: xs.data, offset: xs.offset + t * this.batch * xs.cols }, loss, t === steps - 1);
    }
    return this.loss;
  }
}
