// Real-time recurrent learning: the unroll (lib/rnn/unroll.ts) run in forward mode with P
// tangent directions (P = number of parameters). The state carries its sensitivity
// S_t = d state_t / d theta ((batch·size) x P per state vector):
//   S_t = (d step / d state) · S_{t-1} + (d step / d theta)
// The first term is the step's JVP applied to S_{t-1} (one gemm of the recurrent Jacobian with
// S_{t-1}); the second comes from parameter leaves with seed tangents, scattered in O(n·P). After
// each step the gradient of the loss so far is exact, and memory does not grow with the sequence.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { seedTangent, denseTangent } from '../ad/tangent.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import { checkKeys } from '../mat/options.js';
import type { SequenceLoss } from './loss-spec.js';
import { copyState, estimateStepBytes } from './unroll.js';
import { OnlineMethod } from './online.js';
import { ConfigError, ResourceError, ShapeError } from '../mat/errors.js';

export interface RtrlOptions {
  /**
   * Refuse a batch whose forward-mode memory would take more bytes than this: the two sets of
   * sensitivities ((batch·state) x P numbers each: the current S and the next) plus a tangent of
   * P numbers for every number a step computes. Default 2 GiB.
   */
  maxBytes?: number;
}

export const DEFAULT_RTRL_MAX_BYTES = 2 ** 31;

/**
 * Bytes RTRL needs for a model and batch: two sets of sensitivities ((batch·state) x P each) and
 * a P-wide tangent for every number one step computes (counted by running a step for values).
 */
export function estimateRtrlBytes(model: RecurrentModel, batch = 1): number {
  const stepNumbers = estimateStepBytes(model, batch) / 8;
  const stateNumbers = batch * model.cell.stateSizes.reduce((a, b) => a + b, 0);
  return 8 * model.params.theta.length * (2 * stateNumbers + stepNumbers);
}

/** The buffers of one batch size: two sets of state and sensitivities (a step reads one, writes the other). */
interface Buffers {
  readonly batch: number;
  readonly states: [Mat[], Mat[]];
  readonly sensitivities: [Mat[], Mat[]];
  readonly stateLeaves: [LeafOptions[], LeafOptions[]];
  readonly output: Mat;
}

/**
 * Exact RTRL. Online: reset({ batch, lengths, initialState }), then step(x, loss) per step, the
 * gradient of the loss so far in grad after each; the state and S carry across steps and calls
 * (a new stream starts S_0 from its initial state: 0 for an explicit or carried one). run(xs,
 * loss, options) does a whole sequence under the contract every gradient method has; the shell
 * (reset, step, run, zeroGrad) is OnlineMethod's (lib/rnn/online.ts).
 */
export class Rtrl extends OnlineMethod {
  /** P, the number of tangent directions (parameters). */
  readonly directions: number;
  private readonly graph: Graph;
  private readonly maxBytes: number;
  private buffers: Buffers | null = null;
  private current = 0;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  // Leaf options made once: parameter seeds.
  private readonly paramLeaves: LeafOptions[];

  constructor(model: RecurrentModel, options: RtrlOptions = {}) {
    checkKeys('rtrl', options, ['maxBytes']);
    if (model.cell.causal === false) {
      throw new ConfigError('rtrl', `the ${model.cell.kind} model reads the future of the sequence (a bidirectional layer), so it cannot be trained online; use Bptt`, { cell: model.cell.kind });
    }
    const limit = options.maxBytes ?? DEFAULT_RTRL_MAX_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError('rtrl', `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
    super(model, 'rtrl');
    this.maxBytes = limit;
    this.directions = model.params.theta.length;
    this.graph = new Graph('forward', this.directions);
    this.paramLeaves = model.params.offsets.map((offset) => ({ tangent: seedTangent(offset) }));
    this.allocate(1);
  }

  protected override allocate(batch: number): Buffers {
    if (this.buffers !== null && this.buffers.batch === batch) return this.buffers;
    const { model, directions: P } = this;
    const bytes = estimateRtrlBytes(model, batch);
    if (bytes > this.maxBytes) {
      const stateNumbers = model.cell.stateSizes.reduce((a, b) => a + b, 0);
      throw new ResourceError('rtrl', `${batch} x ${stateNumbers} state numbers and one step's values, each with P = ${P} tangent directions, need ${(bytes / 2 ** 20).toFixed(1)} MiB, over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes, or use BPTT)`, { bytes, limit: this.maxBytes, batch, stateNumbers, P });
    }
    const makeStates = () => model.cell.stateSizes.map((size) => mat(batch, size));
    const makeSensitivities = () => model.cell.stateSizes.map((size) => mat(batch * size, P));
    const sensitivities: [Mat[], Mat[]] = [makeSensitivities(), makeSensitivities()];
    this.buffers = {
      batch,
      states: [makeStates(), makeStates()],
      sensitivities,
      stateLeaves: [0, 1].map((set) => sensitivities[set].map((S) => ({ tangent: denseTangent(S.data) }))) as [LeafOptions[], LeafOptions[]],
      output: mat(batch, model.cell.outputSize),
    };
    return this.buffers;
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  override get state(): readonly Mat[] {
    return this.buffers!.states[this.current];
  }

  /** The sensitivities S_t, one (batch·size) x P matrix per state vector (overwritten by the step after next). */
  get sensitivity(): readonly Mat[] {
    return this.buffers!.sensitivities[this.current];
  }

  /** Bytes of the sensitivity matrices S_t: what RTRL keeps alive between steps for its gradient (every online method has stateBytes). */
  stateBytes(): number {
    return this.sensitivity.reduce((bytes, s) => bytes + 8 * s.rows * s.cols, 0);
  }

  /** Bytes of every buffer this learner holds, scratch of the step included. */
  totalBytes(): number {
    return 2 * this.stateBytes() + this.graph.arenaBytes() + 8 * this.grad.length;
  }

  protected override inputDetails(x: Mat): Record<string, unknown> {
    return { x: [x.rows, x.cols], expected: [this.seq.batch, this.model.cell.inputSize] };
  }

  // One step on a checked input.
  protected override advance(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    const { model, graph: g, unroll, seq } = this;
    const buffers = this.buffers!;
    const { cell } = model;
    g.reset();
    const paramVars = unroll.leaves(g, this.paramLeaves, this.paramVars);
    const stateVars = this.stateVars;
    const from = this.current, to = 1 - from;
    stateVars.length = 0;
    if (this.started) {
      for (let i = 0; i < buffers.states[from].length; i++) stateVars.push(g.leaf(buffers.states[from][i], buffers.stateLeaves[from][i]));
    } else {
      for (const v of unroll.initialState(g, seq.batch, paramVars, seq.initial)) stateVars.push(v);
    }
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), this.steps, seq.masks);
    const term = loss.step?.(g, this.steps, result.output, result.state) ?? null;
    if (term !== null) this.accumulate(term);
    if (last) {
      const finalTerm = loss.final?.(g, result.state) ?? null;
      if (finalTerm !== null) this.accumulate(finalTerm);
    }
    // Carry the new state and its sensitivity out of the arena (which the next step reuses)
    // into the other buffer set: a new state may be, or view, an old one, which stays intact.
    copyState('rtrl', cell, result.state, buffers.states[to]);
    const P = this.directions;
    for (let i = 0; i < result.state.length; i++) {
      const v = result.state[i], n = v.value.rows * v.value.cols;
      const S = buffers.sensitivities[to][i].data, t = v.tangent;
      if (t === null) S.fill(0);
      else if (t.kind === 'dense') S.set(t.data.subarray(t.offset, t.offset + n * P));
      else { S.fill(0); for (let e = 0; e < n; e++) S[e * P + t.start + e] = 1; }
    }
    this.current = to;
    const out = result.output.value;
    buffers.output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));
    this.started = true;
    this.steps++;
    return buffers.output;
  }

  private accumulate(term: Var): void {
    if (term.value.rows !== 1 || term.value.cols !== 1) throw new ShapeError('rtrl', `a loss term must be 1x1, got ${shapeOf(term.value)}`, { term: [term.value.rows, term.value.cols] });
    this.loss += term.value.data[term.value.offset];
    const t = term.tangent;
    if (t === null) return;
    const P = this.directions;
    if (t.kind === 'seed') { this.grad[t.start] += 1; return; }
    for (let k = 0; k < P; k++) this.grad[k] += t.data[t.offset + k];
  }
}
