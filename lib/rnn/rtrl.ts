// Real-time recurrent learning: the unroll (lib/rnn/unroll.ts) run in forward mode with P
// tangent directions (P = number of parameters). The state carries its sensitivity
// S_t = d state_t / d theta ((batch·size) x P per state vector):
//   S_t = (d step / d state) · S_{t-1} + (d step / d theta)
// The first term is the step's JVP applied to S_{t-1} (one gemm of the recurrent Jacobian with
// S_{t-1}); the second comes from parameter leaves with seed tangents, scattered in O(n·P). After
// each step the gradient of the loss so far is exact, and memory does not grow with the sequence.
//
// The loss enters through its cotangents: a step's terms are walked back (a small reverse pass)
// to c_y = dL_t/dy_t and c_s = dL_t/ds_t, and the step adds c_y·(dy_t/dtheta) + c_s·S_t to the
// gradient, column by column. So a block of columns (options.columns, lib/rnn/rtrl-columns.ts)
// needs only the cotangents, not the loss, and threads (options.threads) split the columns across
// workers that are handed the cotangents: every thread count gives the same bits.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { accWeightedSum, denseTangent } from '../ad/tangent.js';
import { type Mat, mat } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import { checkKeys } from '../mat/options.js';
import type { SequenceLoss } from './loss-spec.js';
import { type Sequence, copyState, estimateStepBytes } from './unroll.js';
import { OnlineMethod } from './online.js';
import { ConfigError, ResourceError } from '../mat/errors.js';
import { type ColumnRange, ColumnGraph, blockLeaves, checkColumns, columnBlocks } from './rtrl-columns.js';
import { type RtrlTeam, TeamStream, rtrlTeamFactory } from './rtrl-threads.js';
import { lossCotangents } from './loss-cotangents.js';
import { checkThreadsOption } from './threads.js';

export interface RtrlOptions {
  /**
   * Refuse a batch whose forward-mode memory would take more bytes than this: the two sets of
   * sensitivities ((batch·state) x P numbers each: the current S and the next) plus a tangent of
   * P numbers for every number a step computes. Default 2 GiB. With threads or columns, per thread.
   */
  maxBytes?: number;
  /**
   * Keep only columns [start, end) of S and of the gradient (grad is zero elsewhere): a block of
   * the whole computation, bit for bit (lib/rnn/rtrl-columns.ts). Default: every column.
   */
  columns?: ColumnRange;
  /**
   * Threads to split S's columns across (this one included), an integer from 1 to the cores;
   * needs a platform that provides workers (under Node, importing 'loopgrad' or 'loopgrad/node'
   * does) and a model made by modelFromSpec (or `spec`). Gives the same bits as 1. Fewer shards
   * run when P is too small for each to have MIN_BITWISE_COLUMNS columns (see `shards`).
   * close() ends the workers.
   */
  threads?: number;
  /** The model as data (a ModelSpec, lib/parallel/model-spec.ts); default: specOf(model). */
  spec?: object;
}

export const DEFAULT_RTRL_MAX_BYTES = 2 ** 31;

/**
 * Bytes RTRL needs for a model and batch: two sets of sensitivities ((batch·state) x P each) and
 * a P-wide tangent for every number one step computes (counted by running a step for values).
 * `columns`: the width of a block instead of P.
 */
export function estimateRtrlBytes(model: RecurrentModel, batch = 1, columns = model.params.theta.length): number {
  const stepNumbers = estimateStepBytes(model, batch) / 8;
  const stateNumbers = batch * model.cell.stateSizes.reduce((a, b) => a + b, 0);
  return 8 * columns * (2 * stateNumbers + stepNumbers);
}

/** The buffers of one batch size: two sets of state and sensitivities (a step reads one, writes the other). */
interface Buffers {
  readonly batch: number;
  readonly states: [Mat[], Mat[]];
  readonly sensitivities: [Mat[], Mat[]];
  readonly stateLeaves: [LeafOptions[], LeafOptions[]];
  readonly output: Mat;
  /** The loss's cotangents on the output and each state vector (null entries: no term reads it). */
  readonly cotangents: (Mat | null)[];
  readonly cotangentBuffers: Mat[];
}


/**
 * Exact RTRL. Online: reset({ batch, lengths, initialState }), then step(x, loss) per step, the
 * gradient of the loss so far in grad after each; the state and S carry across steps and calls
 * (a new stream starts S_0 from its initial state: 0 for an explicit or carried one). run(xs,
 * loss, options) does a whole sequence under the contract every gradient method has; the shell
 * (reset, step, run, zeroGrad) is OnlineMethod's (lib/rnn/online.ts).
 */
export class Rtrl extends OnlineMethod {
  /** The tangent directions this learner carries: its columns' width (P unless columns or threads). */
  readonly directions: number;
  /** The columns of S and of the gradient this thread computes. */
  readonly columns: ColumnRange;
  /** Shards the columns run on (1 without threads). */
  readonly shards: number;
  private readonly graph: Graph;
  private readonly maxBytes: number;
  private buffers: Buffers | null = null;
  private current = 0;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  // Leaf options made once: parameter seeds (none for a matrix outside the block or cut by it).
  private readonly paramLeaves: LeafOptions[];
  private readonly cutParams: readonly number[];
  // The reverse pass of the loss terms, and the step's gradient over this block's columns.
  private readonly lossGraph = new Graph('reverse');
  private readonly stepGrad: Float64Array;
  // The step's loss terms, added to loss (in order) only once the whole step has succeeded.
  private readonly termValues: number[] = [];
  // The workers of the other blocks (threads > 1), the stream over them (whether a failed step
  // left it unusable until reset), and the values-only graph the cotangents are taken on first.
  /** The workers of the other column blocks (threads > 1), or null. */
  readonly team: RtrlTeam | null = null;
  private readonly stream: TeamStream;
  private readonly valueGraph: Graph | null = null;

  constructor(model: RecurrentModel, options: RtrlOptions = {}) {
    checkKeys('rtrl', options, ['maxBytes', 'columns', 'threads', 'spec']);
    if (model.cell.causal === false) {
      throw new ConfigError('rtrl', `the ${model.cell.kind} model reads the future of the sequence (a bidirectional layer), so it cannot be trained online; use Bptt`, { cell: model.cell.kind });
    }
    const limit = options.maxBytes ?? DEFAULT_RTRL_MAX_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError('rtrl', `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
    const P = model.params.theta.length;
    const threads = checkThreadsOption('rtrl', options.threads ?? 1);
    if (threads > 1 && options.columns !== undefined) throw new ConfigError('rtrl', 'columns and threads exclude each other (threads choose the columns of each shard)', { option: 'columns' });
    let columns = options.columns === undefined ? { start: 0, end: P } : checkColumns('rtrl', options.columns, P);
    let team: RtrlTeam | null = null;
    if (threads > 1 && columnBlocks(P, threads).length > 1) {
      const make = rtrlTeamFactory();
      if (make === null) throw new ConfigError('rtrl', `threads: ${threads} needs workers, and no platform has provided them (under Node, import 'loopgrad' or 'loopgrad/node'; in a browser, await loopgrad.parallel.enableWebThreads() in a Web Worker)`, { option: 'threads', value: threads });
      team = make({ model, threads, spec: options.spec ?? null, maxBytes: limit });
      columns = team.ranges[0];
    }
    super(model, 'rtrl');
    this.maxBytes = limit;
    this.columns = columns;
    this.team = team;
    this.stream = new TeamStream('rtrl', team);
    this.shards = team === null ? 1 : team.ranges.length;
    this.directions = columns.end - columns.start;
    const { leaves, cuts } = blockLeaves(model, columns);
    this.paramLeaves = leaves;
    this.cutParams = cuts.map((c) => c.param);
    this.graph = cuts.length === 0 ? new Graph('forward', this.directions) : new ColumnGraph(this.directions, cuts);
    this.stepGrad = new Float64Array(this.directions);
    if (team !== null) this.valueGraph = new Graph('eval');
    try {
      this.allocate(1);
    } catch (e) {
      team?.close();
      throw e;
    }
  }

  protected override allocate(batch: number): Buffers {
    if (this.buffers !== null && this.buffers.batch === batch) return this.buffers;
    const { model, directions: K } = this;
    const bytes = estimateRtrlBytes(model, batch, K);
    if (bytes > this.maxBytes) {
      const stateNumbers = model.cell.stateSizes.reduce((a, b) => a + b, 0);
      throw new ResourceError('rtrl', `${batch} x ${stateNumbers} state numbers and one step's values, each with P = ${K} tangent directions, need ${(bytes / 2 ** 20).toFixed(1)} MiB, over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes, or use BPTT)`, { bytes, limit: this.maxBytes, batch, stateNumbers, P: K });
    }
    const makeStates = () => model.cell.stateSizes.map((size) => mat(batch, size));
    const makeSensitivities = () => model.cell.stateSizes.map((size) => mat(batch * size, K));
    const sensitivities: [Mat[], Mat[]] = [makeSensitivities(), makeSensitivities()];
    this.buffers = {
      batch,
      states: [makeStates(), makeStates()],
      sensitivities,
      stateLeaves: [0, 1].map((set) => sensitivities[set].map((S) => ({ tangent: denseTangent(S.data) }))) as [LeafOptions[], LeafOptions[]],
      output: mat(batch, model.cell.outputSize),
      cotangents: [null, ...model.cell.stateSizes.map(() => null)],
      cotangentBuffers: [mat(batch, model.cell.outputSize), ...model.cell.stateSizes.map((size) => mat(batch, size))],
    };
    return this.buffers;
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  override get state(): readonly Mat[] {
    return this.buffers!.states[this.current];
  }

  /** The sensitivities S_t (this thread's columns), one (batch·size) x directions matrix per state vector (overwritten by the step after next). */
  get sensitivity(): readonly Mat[] {
    return this.buffers!.sensitivities[this.current];
  }

  /** Bytes of the sensitivity matrices S_t: what RTRL keeps alive between steps for its gradient (every online method has stateBytes). */
  stateBytes(): number {
    return this.sensitivity.reduce((bytes, s) => bytes + 8 * s.rows * s.cols, 0);
  }

  /** Bytes of every buffer this learner holds, scratch of the step included. */
  totalBytes(): number {
    const extra = this.graph instanceof ColumnGraph ? this.graph.extraBytes() : 0;
    return 2 * this.stateBytes() + this.graph.arenaBytes() + extra + 8 * this.grad.length;
  }

  protected override inputDetails(x: Mat): Record<string, unknown> {
    return { x: [x.rows, x.cols], expected: [this.seq.batch, this.model.cell.inputSize] };
  }

  protected override onBegin(seq: Sequence): void {
    this.stream.begin(seq.batch, seq.masks === null ? null : seq.masks.lengths, seq.initial);
  }

  /** Ends the worker threads (threads > 1); the learner cannot step after. Idempotent. */
  close(): void {
    this.stream.close();
  }

  // One step on a checked input.
  protected override advance(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    this.stream.check();
    const team = this.team;
    if (team === null) {
      const result = this.forwardStep(x);
      this.takeCotangents(loss, result.output.value, result.state.map((v) => v.value), last);
      this.blockGradient(result.output, result.state);
      this.addStepGradient(this.grad);
      this.commit(result.output.value);
      return this.buffers!.output;
    }
    // Threads: the cotangents first (from a values-only step), then every shard's block at once.
    // A model with masks draws the step's masks again for the block: the values-only step's are undone.
    const masks = this.model.cell.masks, before = masks?.state();
    const values = this.valueStep(x);
    if (masks !== undefined) masks.set(before!, null);
    this.takeCotangents(loss, values.output, values.state, last);
    this.stream.guard(() => team.start(this.model.params.theta, x, this.buffers!.cotangents, before ?? null));
    let result;
    try {
      result = this.forwardStep(x);
      this.blockGradient(result.output, result.state);
    } catch (e) {
      this.stream.abandon(e, this.grad.length);
    }
    // Nothing is added or committed until every shard has finished: a failed step changes nothing.
    this.stream.guard(() => team.finish(this.grad));
    this.addStepGradient(this.grad);
    this.commit(result.output.value);
    return this.buffers!.output;
  }

  /**
   * The step of this block: primal and tangents, with the state and S carried into the other
   * buffer set (the switch happens in commit). Returns the step's output and state Vars.
   */
  private forwardStep(x: Mat): { output: Var; state: readonly Var[] } {
    const { model, graph: g, unroll, seq } = this;
    const buffers = this.buffers!;
    const { cell } = model;
    g.reset();
    const paramVars = unroll.leaves(g, this.paramLeaves, this.paramVars);
    if (g instanceof ColumnGraph) for (const i of this.cutParams) g.markCut(paramVars[i], i);
    const stateVars = this.stateVars;
    const from = this.current, to = 1 - from;
    stateVars.length = 0;
    if (this.started) {
      for (let i = 0; i < buffers.states[from].length; i++) stateVars.push(g.leaf(buffers.states[from][i], buffers.stateLeaves[from][i]));
    } else {
      for (const v of unroll.initialState(g, seq.batch, paramVars, seq.initial)) stateVars.push(v);
    }
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), this.steps, seq.masks);
    // Carry the new state and its sensitivity out of the arena (which the next step reuses)
    // into the other buffer set: a new state may be, or view, an old one, which stays intact.
    copyState('rtrl', cell, result.state, buffers.states[to]);
    const K = this.directions;
    for (let i = 0; i < result.state.length; i++) {
      const v = result.state[i], n = v.value.rows * v.value.cols;
      const S = buffers.sensitivities[to][i].data, t = v.tangent;
      if (t === null) S.fill(0);
      else if (t.kind === 'dense') S.set(t.data.subarray(t.offset, t.offset + n * K));
      else { S.fill(0); for (let e = 0; e < n; e++) S[e * K + t.start + e] = 1; }
    }
    return result;
  }

  // The step's values alone (threads: for the loss's cotangents before the shards run).
  private valueStep(x: Mat): { output: Mat; state: Mat[] } {
    const { unroll, seq } = this;
    const g = this.valueGraph!;
    const buffers = this.buffers!;
    g.reset();
    const params = unroll.leaves(g, {});
    const state = this.started ? buffers.states[this.current].map((m) => g.leaf(m)) : unroll.initialState(g, seq.batch, params, seq.initial);
    const result = unroll.step(g, unroll.cellParams(params), state, g.leaf(x), this.steps, seq.masks);
    return { output: result.output.value, state: result.state.map((v) => v.value) };
  }

  // The loss's cotangents on the step's output and state (lib/rnn/loss-cotangents.ts), and its terms' values.
  private takeCotangents(loss: SequenceLoss, output: Mat, state: readonly Mat[], last: boolean): void {
    const buffers = this.buffers!;
    lossCotangents('rtrl', this.lossGraph, loss, this.steps, output, state, last, false, { buffers: buffers.cotangentBuffers, cotangents: buffers.cotangents, values: this.termValues });
  }

  /** stepGrad = Σ_e c_e · d v_e / d theta over this block's columns, for the output then each state vector. */
  private blockGradient(output: Var, state: readonly Var[]): void {
    const cots = this.buffers!.cotangents, K = this.directions, out = this.stepGrad;
    out.fill(0);
    for (let i = 0; i < cots.length; i++) {
      const c = cots[i];
      if (c === null) continue;
      const v = i === 0 ? output : state[i - 1], t = v.tangent;
      if (t === null) continue;
      accWeightedSum(out, 0, K, t, 0, c.rows * c.cols, c.data, c.offset);
    }
  }

  /** grad[start + k] += stepGrad[k]. */
  private addStepGradient(grad: Float64Array): void {
    const { start } = this.columns, g = this.stepGrad;
    for (let k = 0; k < g.length; k++) grad[start + k] += g[k];
  }

  private commit(output: Mat): void {
    const buffers = this.buffers!;
    for (const v of this.termValues) this.loss += v;
    this.current = 1 - this.current;
    buffers.output.data.set(output.data.subarray(output.offset, output.offset + output.rows * output.cols));
    this.started = true;
    this.steps++;
  }

  /**
   * A worker's step (lib/parallel/rtrl-team.ts): the block's step with the loss's cotangents
   * given (output, then each state vector; null: none), its gradient increment written to
   * into[start, end) of this block's columns (not added to grad).
   */
  stepWithCotangents(x: Mat, cotangents: readonly (Mat | null)[], into: Float64Array): void {
    if (this.team !== null) throw new ConfigError('rtrl', 'stepWithCotangents is a worker\'s step, not for a learner with threads');
    const buffers = this.buffers!;
    this.termValues.length = 0;
    for (let i = 0; i < buffers.cotangents.length; i++) buffers.cotangents[i] = cotangents[i] ?? null;
    const result = this.forwardStep(x);
    this.blockGradient(result.output, result.state);
    into.set(this.stepGrad, this.columns.start);
    this.commit(result.output.value);
  }
}
