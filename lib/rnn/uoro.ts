// Unbiased Online Recurrent Optimization (Tallec & Ollivier, "Unbiased Online Recurrent
// Optimization", ICLR 2018, arXiv:1702.05043). RTRL carries S_t = d s_t / d theta (N x P per
// sequence); UORO carries a rank-one estimate S_t ≈ s̃_t θ̃_tᵀ (s̃: N numbers, θ̃: P numbers) with
// E[s̃_t θ̃_tᵀ] = S_t. With D_t = ∂s_t/∂s_{t-1}, I_t = ∂s_t/∂θ and ν a vector of N independent
// random signs (E[ν νᵀ] = identity), one step is the paper's Algorithm 1:
//   g_t  = (δs · s̃_{t-1}) θ̃_{t-1} + ∂L_t/∂θ,  δs = ∂L_t/∂s_{t-1}          (the gradient estimate)
//   ρ0   = sqrt((‖θ̃_{t-1}‖ + ε) / (‖D_t s̃_{t-1}‖ + ε)),  ρ1 = sqrt((‖νᵀ I_t‖ + ε) / (‖ν‖ + ε))
//   s̃_t  = ρ0 D_t s̃_{t-1} + ρ1 ν,   θ̃_t = θ̃_{t-1} / ρ0 + (νᵀ I_t) / ρ1
// Unbiased: s̃_t θ̃_tᵀ = D s̃ θ̃ᵀ + ν νᵀ I + (ρ0/ρ1) D s̃ (νᵀI) + (ρ1/ρ0) ν θ̃ᵀ; the cross terms are
// odd in ν while ρ1 is even in ν (‖νᵀI‖ = ‖(-ν)ᵀI‖) and ρ0 does not see ν, so they average to 0,
// leaving D S_{t-1} + I_t. The ρ's only balance the two factors' norms (less variance).
// ε = 1e-7 as in the paper; with it inside both numerator and denominator a 0/0 is 1, never NaN.
//
// Cost per step, for a batch of B: one forward-mode pass with one direction (D_t s̃ for every
// row at once, parameters without tangents), one reverse pass of the loss terms (shared with
// KfRtrl, lib/rnn/online-loss.ts), and per running sequence one batch-1 reverse pass with
// cotangent ν on s_t (νᵀ I_t: a batched reverse pass would sum the rows' parameter gradients,
// and each sequence needs its own): linear in B. Memory: s̃ and θ̃ per sequence, B·(N + P).
// A batch of one (the online case) records the step once instead, D_t s̃ riding along as a
// tangent, walks that tape for the loss and for ν, and folds both parameter gradients into one
// pass over theta without writing them out (lib/rnn/uoro-pass.ts): one cell pass, two walks and
// one O(P) pass a step.
//
// A learned initial state s_0 = p (parameters init_*) has S_0 = ∂s_0/∂θ = E, the identity on
// p's block and zero elsewhere. Keeping it exactly would take an N x N matrix per sequence carried
// through every D_t (O(N³) a step, what UORO avoids); instead the estimate starts unbiased with
// random signs again: s̃_0 = ν_0 and θ̃_0 = ν_0 on p's block (zero elsewhere), E[ν_0 ν_0ᵀ] = identity,
// so E[s̃_0 θ̃_0ᵀ] = E. Otherwise (zero, fixed, explicit or carried state) s̃_0 = 0 and θ̃_0 = 0.
//
// Randomness: sequence b of a batch draws its signs from its own stream, new Rng(seed + b), and
// only at steps where it runs (ν_0 first for a learned state, then ν_t per running step), so row b
// of a batch gives exactly what that sequence gives alone with seed + b. The streams continue
// across reset() and run() (a new batch draws new signs); a new Uoro with the same seed repeats
// bit for bit.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { denseTangent } from '../ad/tangent.js';
import type { Cell } from '../cells/cell.js';
import { ConfigError, ResourceError, ShapeError } from '../mat/errors.js';
import { type Mat, mat, rowsView } from '../mat/mat.js';
import { checkKeys } from '../mat/options.js';
import type { Rng } from '../mat/rng.js';
import type { RecurrentModel } from './model.js';
import type { SequenceLoss } from './loss-spec.js';
import { LossPass, balance, checkMaxBytes, checkSeed, extendStreams, randomSign } from './online-loss.js';
import { accumulateEstimate, sumOfSquares, updateThetaTilde } from './uoro-kernels.js';
import { UoroPass } from './uoro-pass.js';
import { type Sequence, copyState, estimateStepBytes, isActive, scatterGrads } from './unroll.js';
import { OnlineMethod } from './online.js';

export interface UoroOptions {
  /** Seed of the random signs (an integer, default 0); sequence b of a batch uses seed + b. */
  seed?: number;
  /** Refuse a batch whose buffers (s̃, θ̃ and the step's graphs) would take more bytes than this (default 2 GiB). */
  maxBytes?: number;
}

/** The paper's ε (Algorithm 1). */
export const UORO_EPSILON = 1e-7;

const REQUIRES_GRAD: LeafOptions = { requiresGrad: true };

/** The dropout of a stack (or of a stack under a readout); 0 for any other cell. */
function dropoutOf(cell: Cell): number {
  const own = (cell as { dropout?: unknown }).dropout;
  if (typeof own === 'number') return own;
  const inner = (cell as { inner?: Cell }).inner;
  return inner === undefined ? 0 : dropoutOf(inner);
}

/**
 * Bytes Uoro needs for a model and batch: state, s̃, D s̃ (B·N each), θ̃ (B·P), five P-sized
 * buffers (grad, ∂L/∂θ, νᵀI, and the batch-1 pass's two written-out gradients) and its graphs
 * (about four steps' values).
 */
export function estimateUoroBytes(model: RecurrentModel, batch = 1): number {
  const N = model.cell.stateSizes.reduce((a, b) => a + b, 0), P = model.params.theta.length;
  return 8 * (batch * (4 * N + P) + 5 * P) + 4 * estimateStepBytes(model, batch);
}

interface Buffers {
  readonly batch: number;
  /** Two sets of state (a step reads one, writes the other), one batch x size matrix per vector. */
  readonly states: [Mat[], Mat[]];
  /** Row views of both state sets: rowViews[set][b][i]. */
  readonly rowViews: [Mat[][], Mat[][]];
  /** s̃, one batch x size matrix per vector; it is also the forward pass's state tangent (1 direction). */
  readonly stateTilde: Mat[];
  readonly stateTildeLeaves: LeafOptions[];
  /** The state leaves of the batch-1 pass: requiring a gradient, with tangent s̃. */
  readonly passLeaves: LeafOptions[];
  /** D s̃ of the step, as stateTilde. */
  readonly pushed: Mat[];
  /** θ̃, batch x P. */
  readonly thetaTilde: Float64Array;
  /** ‖θ̃‖² per sequence, kept with θ̃ (one pass over P numbers a step fewer). */
  readonly thetaNormSq: Float64Array;
  /** δs · s̃ per sequence, the weight of θ̃ in the step's gradient estimate. */
  readonly coeffs: Float64Array;
  readonly output: Mat;
}

/**
 * UORO under the one contract: run(xs, loss, options), and online reset / step / grad / zeroGrad /
 * loss as Rtrl has. grad is an unbiased estimate of the gradient (see the file comment).
 */
export class Uoro extends OnlineMethod {
  readonly seed: number;
  private readonly maxBytes: number;
  private readonly stateSize: number;
  private readonly forward = new Graph('forward', 1);
  private readonly rowGraph = new Graph('reverse');
  private readonly lossPass: LossPass;
  private readonly pass: UoroPass;
  private readonly streams: Rng[] = [];
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  private readonly rowStateVars: Var[] = [];
  /** ν of one sequence, one 1 x size matrix per vector (the row pass's cotangents). */
  private readonly signs: Mat[];
  /** νᵀ I_t of one sequence (P). */
  private readonly signedInfluence: Float64Array;
  private readonly rowInput: Mat;
  private buffers: Buffers | null = null;
  private current = 0;

  constructor(model: RecurrentModel, options: UoroOptions = {}) {
    checkKeys('uoro', options, ['seed', 'maxBytes']);
    if (model.cell.causal === false) {
      throw new ConfigError('uoro', `the ${model.cell.kind} model reads the future of the sequence (a bidirectional layer), so it cannot be trained online; use bptt`, { cell: model.cell.kind });
    }
    // Each step runs the cell in 2 + B passes; dropout would draw a different mask in each.
    const dropout = dropoutOf(model.cell);
    if (dropout > 0) {
      throw new ConfigError('uoro', `the ${model.cell.kind} model uses dropout ${dropout}, whose masks would differ between the passes UORO makes of each step; use dropout 0 (or bptt)`, { cell: model.cell.kind, dropout });
    }
    const seed = checkSeed('uoro', options.seed);
    const maxBytes = checkMaxBytes('uoro', options.maxBytes);
    super(model, 'uoro');
    this.seed = seed;
    this.maxBytes = maxBytes;
    this.stateSize = model.cell.stateSizes.reduce((a, b) => a + b, 0);
    this.lossPass = new LossPass(this.unroll);
    this.pass = new UoroPass(this.unroll);
    const P = model.params.theta.length;
    this.signedInfluence = new Float64Array(P);
    this.signs = model.cell.stateSizes.map((size) => mat(1, size));
    this.rowInput = mat(1, model.cell.inputSize);
    this.allocate(1);
  }

  protected override allocate(batch: number): Buffers {
    if (this.buffers !== null && this.buffers.batch === batch) return this.buffers;
    const { model } = this;
    const bytes = estimateUoroBytes(model, batch);
    if (bytes > this.maxBytes) {
      throw new ResourceError('uoro', `a batch of ${batch} needs ${(bytes / 2 ** 20).toFixed(1)} MiB (s̃, θ̃ with P = ${model.params.theta.length} per sequence, and the step's graphs), over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes or use a smaller batch)`, { bytes, limit: this.maxBytes, batch });
    }
    const sizes = model.cell.stateSizes;
    const makeStates = () => sizes.map((size) => mat(batch, size));
    const states: [Mat[], Mat[]] = [makeStates(), makeStates()];
    const views = (set: Mat[]) => Array.from({ length: batch }, (_, b) => set.map((m) => rowsView(m, b, 1)));
    const stateTilde = makeStates();
    this.buffers = {
      batch,
      states,
      rowViews: [views(states[0]), views(states[1])],
      stateTilde,
      stateTildeLeaves: stateTilde.map((m) => ({ tangent: denseTangent(m.data) })),
      passLeaves: stateTilde.map((m) => ({ requiresGrad: true, tangent: denseTangent(m.data) })),
      pushed: makeStates(),
      thetaTilde: new Float64Array(batch * model.params.theta.length),
      thetaNormSq: new Float64Array(batch),
      coeffs: new Float64Array(batch),
      output: mat(batch, model.cell.outputSize),
    };
    return this.buffers;
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  override get state(): readonly Mat[] {
    return this.buffers!.states[this.current];
  }

  /** Copies of sequence b's rank-one factors: s̃ (the state vectors end to end) and θ̃ (laid out like theta). */
  estimate(b: number): { stateTilde: Float64Array; thetaTilde: Float64Array } {
    const buffers = this.buffers!;
    if (!Number.isInteger(b) || b < 0 || b >= buffers.batch) throw new ShapeError('uoro', `estimate: sequence ${b} is not in the batch of ${buffers.batch}`, { sequence: b, batch: buffers.batch });
    const stateTilde = new Float64Array(this.stateSize);
    let at = 0;
    for (const m of buffers.stateTilde) { stateTilde.set(m.data.subarray(b * m.cols, (b + 1) * m.cols), at); at += m.cols; }
    const P = this.grad.length;
    return { stateTilde, thetaTilde: buffers.thetaTilde.slice(b * P, (b + 1) * P) };
  }

  /** Bytes kept between steps: the state, s̃ and θ̃ of every sequence. */
  stateBytes(): number {
    const b = this.buffers!;
    return 8 * (2 * b.batch * this.stateSize + b.thetaTilde.length);
  }

  /** Bytes of every buffer this learner holds, the graphs' arenas included. */
  totalBytes(): number {
    const b = this.buffers!;
    return 8 * (4 * b.batch * this.stateSize + b.thetaTilde.length + 2 * this.grad.length)
      + this.forward.arenaBytes() + this.rowGraph.arenaBytes() + this.lossPass.bytes() + this.pass.bytes();
  }

  // Sequence b draws from its own stream, continued across resets (see the file comment).
  protected override onBegin(seq: Sequence): void {
    extendStreams(this.streams, this.seed, seq.batch);
  }

  // The state entering step 0 as values, and the estimate's start (see the file comment).
  private start(): void {
    const { model, seq } = this;
    const buffers = this.buffers!;
    this.writeInitialState(this.forward, this.paramVars, buffers.states[this.current]);
    for (const m of buffers.stateTilde) m.data.fill(0);
    buffers.thetaTilde.fill(0);
    buffers.thetaNormSq.fill(0);
    if (seq.initial !== null || model.initialState !== 'learned') return;
    const P = this.grad.length, { offsets } = model.params;
    for (let b = 0; b < seq.batch; b++) {
      const rng = this.streams[b];
      buffers.stateTilde.forEach((m, i) => {
        const at = offsets[model.cellParamCount + i] + b * P;
        for (let j = 0; j < m.cols; j++) {
          const sign = randomSign(rng);
          m.data[b * m.cols + j] = sign;
          buffers.thetaTilde[at + j] = sign;
          buffers.thetaNormSq[b] += 1;
        }
      });
    }
  }

  protected override advance(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    const { model, unroll, seq } = this;
    const { cell } = model;
    const buffers = this.buffers!;
    const t = this.steps, masks = seq.masks;
    if (!this.started) this.start();
    if (seq.batch === 1) return this.advanceOne(x, loss, last);
    const from = this.current, to = 1 - from;
    const states = buffers.states[from];

    // D_t s̃_{t-1} for every row: forward mode, one direction, the state's tangent s̃, no parameter tangents.
    const g = this.forward;
    g.reset();
    const paramVars = unroll.leaves(g, {}, this.paramVars);
    const stateVars = this.stateVars;
    stateVars.length = 0;
    for (let i = 0; i < states.length; i++) stateVars.push(g.leaf(states[i], buffers.stateTildeLeaves[i]));
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), t, masks);
    copyState('uoro', cell, result.state, buffers.states[to]);
    for (let i = 0; i < result.state.length; i++) {
      const tangent = result.state[i].tangent, out = buffers.pushed[i].data;
      if (tangent === null) out.fill(0);
      else if (tangent.kind === 'dense') out.set(tangent.data.subarray(tangent.offset, tangent.offset + out.length));
      else throw new Error(`uoro: state ${cell.stateNames[i]} came out with a seed tangent`); // never: no leaf here has one
    }
    const out = result.output.value;
    buffers.output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));

    // The gradient estimate with s̃_{t-1}, θ̃_{t-1}: g += ∂L_t/∂θ + Σ_b (δs_b · s̃_b) θ̃_b, one pass over theta.
    const value = this.lossPass.run(states, x, t, masks, loss, last, null);
    const P = this.grad.length, coeffs = buffers.coeffs;
    if (value !== null) {
      this.loss += value;
      const deltas = this.lossPass.stateGrads;
      for (let b = 0; b < seq.batch; b++) {
        let c = 0;
        for (let i = 0; i < deltas.length; i++) {
          const d = deltas[i].data, s = buffers.stateTilde[i].data, n = deltas[i].cols;
          for (let j = b * n; j < (b + 1) * n; j++) c += d[j] * s[j];
        }
        coeffs[b] = c;
      }
    }
    if (value !== null) accumulateEstimate(this.grad, this.lossPass.direct, coeffs, buffers.thetaTilde, seq.batch);

    // The estimate's update, sequence by sequence (a finished one keeps s̃ and θ̃).
    for (let b = 0; b < seq.batch; b++) {
      if (!isActive(masks, t, b)) continue;
      this.influence(b, buffers.rowViews[from][b], x);
      let pushedSq = 0;
      for (const m of buffers.pushed) for (let j = b * m.cols; j < (b + 1) * m.cols; j++) pushedSq += m.data[j] * m.data[j];
      const tt = buffers.thetaTilde, at = b * P;
      const rho0 = balance(Math.sqrt(buffers.thetaNormSq[b]), Math.sqrt(pushedSq), UORO_EPSILON);
      const rho1 = balance(Math.sqrt(sumOfSquares(this.signedInfluence, 0, P)), Math.sqrt(this.stateSize), UORO_EPSILON);
      for (let i = 0; i < buffers.stateTilde.length; i++) {
        const s = buffers.stateTilde[i].data, d = buffers.pushed[i].data, nu = this.signs[i].data, n = this.signs[i].cols;
        for (let j = 0; j < n; j++) s[b * n + j] = rho0 * d[b * n + j] + rho1 * nu[j];
      }
      buffers.thetaNormSq[b] = updateThetaTilde(tt, at, this.signedInfluence, P, 1 / rho0, 1 / rho1);
    }
    this.current = to;
    this.started = true;
    this.steps++;
    return buffers.output;
  }

  /**
   * A batch of one: the step recorded once (values, D_t s̃ and a tape), its tape walked for the
   * loss and for ν, and one pass over theta (lib/rnn/uoro-pass.ts). The same arithmetic as the
   * batched path up to the order of a few sums.
   */
  private advanceOne(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    const { seq, pass } = this;
    const buffers = this.buffers!;
    const t = this.steps, masks = seq.masks;
    const from = this.current, to = 1 - from;
    pass.record(buffers.states[from], buffers.passLeaves, x, t, masks, buffers.states[to], buffers.pushed, buffers.output);
    const value = pass.lossTerm(loss, t, last);
    let c = 0;
    if (value !== null) {
      this.loss += value;
      const deltas = pass.stateGrads;
      for (let i = 0; i < deltas.length; i++) {
        const d = deltas[i].data, s = buffers.stateTilde[i].data;
        for (let j = 0; j < d.length; j++) c += d[j] * s[j];
      }
    }
    const tt = buffers.thetaTilde;
    if (!isActive(masks, t, 0)) {
      // Past the end: the loss term still counts, the estimate stays.
      if (value !== null) {
        buffers.coeffs[0] = c;
        accumulateEstimate(this.grad, pass.lossGradient(), buffers.coeffs, tt, 1);
      }
    } else {
      const rng = this.streams[0];
      for (const nu of this.signs) for (let j = 0; j < nu.cols; j++) nu.data[j] = randomSign(rng);
      pass.signWalk(this.signs);
      let pushedSq = 0;
      for (const m of buffers.pushed) pushedSq += sumOfSquares(m.data, 0, m.cols);
      const rho0 = balance(Math.sqrt(buffers.thetaNormSq[0]), Math.sqrt(pushedSq), UORO_EPSILON);
      const rho1 = balance(Math.sqrt(pass.influenceNormSq()), Math.sqrt(this.stateSize), UORO_EPSILON);
      for (let i = 0; i < buffers.stateTilde.length; i++) {
        const s = buffers.stateTilde[i].data, d = buffers.pushed[i].data, nu = this.signs[i].data;
        for (let j = 0; j < nu.length; j++) s[j] = rho0 * d[j] + rho1 * nu[j];
      }
      buffers.thetaNormSq[0] = pass.update(this.grad, tt, c, 1 / rho0, 1 / rho1);
    }
    this.current = to;
    this.started = true;
    this.steps++;
    return buffers.output;
  }

  /** Draws ν for sequence b and computes νᵀ I_t for it: a batch-1 reverse pass with cotangent ν on s_t. */
  private influence(b: number, rowStates: readonly Mat[], x: Mat): void {
    const rng = this.streams[b];
    for (const nu of this.signs) for (let j = 0; j < nu.cols; j++) nu.data[j] = randomSign(rng);
    const cols = x.cols;
    this.rowInput.data.set(x.data.subarray(x.offset + b * cols, x.offset + (b + 1) * cols));
    const g = this.rowGraph, { unroll } = this;
    g.reset();
    const paramVars = unroll.leaves(g, REQUIRES_GRAD, this.paramVars);
    const stateVars = this.rowStateVars;
    stateVars.length = 0;
    for (const s of rowStates) stateVars.push(g.leaf(s));
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(this.rowInput), 0, null);
    g.backward(result.state, this.signs);
    scatterGrads(this.model.params.offsets, paramVars, this.signedInfluence);
  }
}
