// Kronecker-factored RTRL (Mujika, Meier & Steger, "Approximating Real-Time Recurrent Learning
// with Random Kronecker Factors", NeurIPS 2018, arXiv:1805.10842), for the cells it is defined on:
//   h_t = f(z_t),  z_t = W a_t,  a_t = [x_t; h_{t-1}; 1; 1],  W = [W_ih | W_hh | b_ih | b_hh]
// (our Elman cell, H x (I + H + 2) with PyTorch's two biases), optionally under a readout or the
// cell's own output layer, whose parameters never reach the state and get their exact direct
// gradient. G_t = ∂h_t/∂W, with G[i, j, k] = ∂h_i/∂W_jk, obeys
//   G_t = D_t G_{t-1} + F_t,  D_t = ∂h_t/∂h_{t-1} = diag(f'(z_t)) W_hh,  F[i, j, k] = δ_ij f'_i a_k,
// i.e. F_t = a_t ⊗ diag(f'(z_t)). KF-RTRL keeps G ≈ u ⊗ A (G[i, j, k] ≈ A[i, j] u[k]; u: I+H+2
// numbers, A: H x H) with E[u ⊗ A] = G. Given u ⊗ A, D G = u ⊗ (D A), and the sum of two Kronecker
// products becomes one with independent random signs c1, c2 (the paper's Lemma 1 and the update of
// its Section 4; equation numbers not rechecked):
//   p1 = sqrt(‖D A‖ / ‖u‖),  p2 = sqrt(‖diag f'‖ / ‖a‖)      (Frobenius norms; each guarded by ε)
//   u' = c1 p1 u + c2 p2 a,   A' = c1 (D A) / p1 + c2 diag(f') / p2
// Unbiased: u' ⊗ A' = u ⊗ DA + a ⊗ diag f' + c1 c2 (cross terms), E[c1 c2] = 0; the p's balance
// the factors' norms (less variance). ε = 1e-7 inside numerator and denominator, as Uoro.
// Gradient: g_t = δh · (u ⊗ A) + ∂L_t/∂θ|_{h_{t-1}}, δh = ∂L_t/∂h_{t-1}: with v = δh A (H numbers),
// the recurrent block gets v_j u_k at W_jk.
//
// A learned initial state h_0 = p (init_h) is handled exactly: M_t = ∂h_t/∂p obeys M_t = D_t M_{t-1},
// M_0 = identity, an H x H matrix per sequence carried like A, at the same O(H³) a step; its
// gradient is δh M_{t-1}.
//
// Cost per step, batch B: one forward-mode pass of the step with H + 1 directions (2H + 1 with a
// learned initial state) whose state tangent holds A (and M) and whose bias_hh tangent is 1 in the
// last direction: out come D A (the O(B·H³) product, the step's one cubic term), D M and f'(z).
// Then one reverse pass of the loss terms (lib/rnn/online-loss.ts) and O(B·H·(I+H)) for the
// update. Memory kept between steps: u and A (and M) per sequence, O(H²) each, independent of P.
//
// Randomness as Uoro: sequence b draws c1 then c2 at each step where it runs from new Rng(seed + b),
// the streams continuing across resets; the same seed repeats bit for bit.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { denseTangent } from '../ad/tangent.js';
import { ConfigError, ResourceError, ShapeError } from '../mat/errors.js';
import { type Mat, mat } from '../mat/mat.js';
import { checkKeys } from '../mat/options.js';
import type { Rng } from '../mat/rng.js';
import type { RecurrentModel } from './model.js';
import type { SequenceLoss } from './loss-spec.js';
import { LossPass, balance, checkMaxBytes, checkSeed, extendStreams, randomSign } from './online-loss.js';
import { type Sequence, copyState, estimateStepBytes, isActive } from './unroll.js';
import { OnlineMethod } from './online.js';

export interface KfRtrlOptions {
  /** Seed of the random signs (an integer, default 0); sequence b of a batch uses seed + b. */
  seed?: number;
  /** Refuse a batch whose buffers would take more bytes than this (default 2 GiB). */
  maxBytes?: number;
}

export const KF_RTRL_EPSILON = 1e-7;

/** The methods that take any causal cell, for the refusal's message. */
const GENERAL_METHODS = 'rtrl, snap1, snap2, uoro, tbptt or bptt';

const RECURRENT_BLOCK = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'];

/**
 * The sizes of a model KF-RTRL can run, h_t = f(W [x; h; 1; 1]) (an Elman cell with biases,
 * optionally under a readout), or a ConfigError naming kf-rtrl, the cell and the methods that take it.
 */
export function kfRtrlShape(model: RecurrentModel): { inputSize: number; hiddenSize: number } {
  const { cell } = model;
  const specs = cell.paramSpecs;
  const I = cell.inputSize, H = cell.stateSizes[0];
  if (cell.kind !== 'elman' || cell.stateSizes.length !== 1 || cell.causal === false) {
    throw new ConfigError('kf-rtrl', `the ${cell.kind} cell is not of the form h_t = f(W [x_t; h_{t-1}; 1]) that Kronecker-factored RTRL needs (an elman cell, optionally under a readout); ${cell.kind} trains with ${GENERAL_METHODS}`, { cell: cell.kind });
  }
  const shapes = [[H, I], [H, H], [1, H], [1, H]];
  const fits = RECURRENT_BLOCK.every((name, i) => specs[i]?.name === name && specs[i].rows === shapes[i][0] && specs[i].cols === shapes[i][1]);
  if (!fits) {
    throw new ConfigError('kf-rtrl', `the elman cell's parameters start ${specs.slice(0, 4).map((s) => s.name).join(', ')}, not ${RECURRENT_BLOCK.join(', ')}: kf-rtrl reads f'(z) through bias_hh, so it takes an elman cell with biases (bias: true); this one trains with ${GENERAL_METHODS}`, { cell: cell.kind, params: specs.map((s) => s.name) });
  }
  return { inputSize: I, hiddenSize: H };
}

/** Bytes KfRtrl needs for a model and batch: u, A (and M) and the tangent pass's K directions. */
export function estimateKfRtrlBytes(model: RecurrentModel, batch = 1): number {
  const { inputSize: I, hiddenSize: H } = kfRtrlShape(model);
  const K = (model.initialState === 'learned' ? 2 * H : H) + 1;
  const step = estimateStepBytes(model, batch);
  return 8 * batch * (2 * H * K + I + H + 2 + 2 * H) + step * (K + 3) + 8 * 3 * model.params.theta.length;
}

interface Buffers {
  readonly batch: number;
  readonly states: [Mat[], Mat[]];
  /** A (and M) per sequence as the forward pass's state tangent: element (b, i), direction j at (b·H + i)·K + j. */
  readonly factors: Float64Array;
  readonly factorLeaves: LeafOptions[];
  /** u per sequence, batch x (I + H + 2). */
  readonly u: Float64Array;
  readonly output: Mat;
}

/**
 * KF-RTRL under the one contract: run(xs, loss, options) and online reset / step / grad / zeroGrad /
 * loss as Rtrl has; grad is an unbiased estimate of the gradient (see the file comment).
 */
export class KfRtrl extends OnlineMethod {
  readonly seed: number;
  private readonly maxBytes: number;
  private readonly inputSize: number;
  private readonly hiddenSize: number;
  /** Tangent directions: A's H, M's H with a learned initial state, and f'(z). */
  private readonly directions: number;
  private readonly learned: boolean;
  private readonly forward: Graph;
  private readonly lossPass: LossPass;
  private readonly streams: Rng[] = [];
  private readonly paramLeafOptions: LeafOptions[];
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  /** a_t of one sequence, v = δh A, and δh M. */
  private readonly a: Float64Array;
  private readonly v: Float64Array;
  private readonly vInit: Float64Array;
  private buffers: Buffers | null = null;
  private current = 0;

  constructor(model: RecurrentModel, options: KfRtrlOptions = {}) {
    checkKeys('kf-rtrl', options, ['seed', 'maxBytes']);
    const { inputSize, hiddenSize: H } = kfRtrlShape(model);
    const seed = checkSeed('kf-rtrl', options.seed);
    const maxBytes = checkMaxBytes('kf-rtrl', options.maxBytes);
    super(model, 'kf-rtrl');
    this.seed = seed;
    this.maxBytes = maxBytes;
    this.inputSize = inputSize;
    this.hiddenSize = H;
    this.learned = model.initialState === 'learned';
    this.directions = (this.learned ? 2 * H : H) + 1;
    this.forward = new Graph('forward', this.directions);
    this.lossPass = new LossPass(this.unroll);
    // bias_hh moves every z_i by 1 in the last direction, so h_i moves by f'(z_i) there.
    const K = this.directions, ones = new Float64Array(H * K);
    for (let j = 0; j < H; j++) ones[j * K + K - 1] = 1;
    this.paramLeafOptions = model.params.specs.map((_, i) => (i === 3 ? { tangent: denseTangent(ones) } : {}));
    this.a = new Float64Array(inputSize + H + 2);
    this.v = new Float64Array(H);
    this.vInit = new Float64Array(H);
    this.allocate(1);
  }

  protected override allocate(batch: number): Buffers {
    if (this.buffers !== null && this.buffers.batch === batch) return this.buffers;
    const bytes = estimateKfRtrlBytes(this.model, batch);
    if (bytes > this.maxBytes) {
      throw new ResourceError('kf-rtrl', `a batch of ${batch} needs ${(bytes / 2 ** 20).toFixed(1)} MiB (u and A per sequence, and a tangent pass with ${this.directions} directions), over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes or use a smaller batch)`, { bytes, limit: this.maxBytes, batch });
    }
    const H = this.hiddenSize;
    const factors = new Float64Array(batch * H * this.directions);
    this.buffers = {
      batch,
      states: [[mat(batch, H)], [mat(batch, H)]],
      factors,
      factorLeaves: [{ tangent: denseTangent(factors) }],
      u: new Float64Array(batch * this.a.length),
      output: mat(batch, this.model.cell.outputSize),
    };
    return this.buffers;
  }

  /** The current state h (batch x H), overwritten by the step after next. */
  override get state(): readonly Mat[] {
    return this.buffers!.states[this.current];
  }

  /** Copies of sequence b's factors: u (I + H + 2), A (H x H, row-major) and, with a learned initial state, M = ∂h/∂init_h. */
  estimate(b: number): { u: Float64Array; A: Float64Array; M: Float64Array | null } {
    const buffers = this.buffers!;
    if (!Number.isInteger(b) || b < 0 || b >= buffers.batch) throw new ShapeError('kf-rtrl', `estimate: sequence ${b} is not in the batch of ${buffers.batch}`, { sequence: b, batch: buffers.batch });
    const H = this.hiddenSize, K = this.directions, U = this.a.length;
    const A = new Float64Array(H * H), M = this.learned ? new Float64Array(H * H) : null;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        A[i * H + j] = buffers.factors[(b * H + i) * K + j];
        if (M !== null) M[i * H + j] = buffers.factors[(b * H + i) * K + H + j];
      }
    }
    return { u: buffers.u.slice(b * U, (b + 1) * U), A, M };
  }

  /** Bytes kept between steps: h, u, A (and M) of every sequence. */
  stateBytes(): number {
    const b = this.buffers!;
    return 8 * (b.batch * this.hiddenSize + b.u.length + b.factors.length);
  }

  // Sequence b draws from its own stream, continued across resets (as Uoro's).
  protected override onBegin(seq: Sequence): void {
    extendStreams(this.streams, this.seed, seq.batch);
  }

  // h_0 as values; u = 0, A = 0, and M = identity for a learned initial state.
  private start(): void {
    const { seq } = this;
    const buffers = this.buffers!;
    this.writeInitialState(this.forward, this.paramVars, buffers.states[this.current]);
    buffers.factors.fill(0);
    buffers.u.fill(0);
    if (!this.learned || seq.initial !== null) return;
    const H = this.hiddenSize, K = this.directions;
    for (let b = 0; b < seq.batch; b++) for (let i = 0; i < H; i++) buffers.factors[(b * H + i) * K + H + i] = 1;
  }

  protected override advance(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    const { model, unroll, seq } = this;
    const buffers = this.buffers!;
    const t = this.steps, masks = seq.masks;
    if (!this.started) this.start();
    const from = this.current, to = 1 - from;
    const states = buffers.states[from];
    const H = this.hiddenSize, K = this.directions, I = this.inputSize, U = this.a.length;
    const F = buffers.factors, u = buffers.u;

    // One forward-mode pass: the state's tangent holds A (and M), bias_hh's the ones direction.
    const g = this.forward;
    g.reset();
    const paramVars = unroll.leaves(g, this.paramLeafOptions, this.paramVars);
    this.stateVars.length = 0;
    this.stateVars.push(g.leaf(states[0], buffers.factorLeaves[0]));
    const result = unroll.step(g, unroll.cellParams(paramVars), this.stateVars, g.leaf(x), t, masks);
    copyState('kf-rtrl', model.cell, result.state, buffers.states[to]);
    const out = result.output.value;
    buffers.output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));

    // The gradient estimate with u_{t-1}, A_{t-1} (and M_{t-1}).
    const value = this.lossPass.run(states, x, t, masks, loss, last, this.grad);
    if (value !== null) {
      this.loss += value;
      const delta = this.lossPass.stateGrads[0].data;
      const offsets = model.params.offsets;
      const [ih, hh, bih, bhh] = offsets;
      const init = this.learned ? offsets[model.cellParamCount] : -1;
      for (let b = 0; b < seq.batch; b++) {
        this.v.fill(0);
        this.vInit.fill(0);
        for (let i = 0; i < H; i++) {
          const d = delta[b * H + i];
          if (d === 0) continue;
          const row = (b * H + i) * K;
          for (let j = 0; j < H; j++) this.v[j] += d * F[row + j];
          if (init >= 0) for (let j = 0; j < H; j++) this.vInit[j] += d * F[row + H + j];
        }
        const ub = b * U;
        for (let j = 0; j < H; j++) {
          const vj = this.v[j];
          if (vj === 0) continue;
          for (let k = 0; k < I; k++) this.grad[ih + j * I + k] += vj * u[ub + k];
          for (let m = 0; m < H; m++) this.grad[hh + j * H + m] += vj * u[ub + I + m];
          this.grad[bih + j] += vj * u[ub + I + H];
          this.grad[bhh + j] += vj * u[ub + I + H + 1];
        }
        if (init >= 0) for (let j = 0; j < H; j++) this.grad[init + j] += this.vInit[j];
      }
    }

    // The factors' update for every running sequence (a finished one keeps u, A, M).
    const tangent = result.state[0].tangent;
    if (tangent === null || tangent.kind !== 'dense') throw new Error(`kf-rtrl: the elman state came out without a dense tangent`); // never: it reads bias_hh
    const pushed = tangent.data, at0 = tangent.offset;
    const hPrev = states[0].data, xs = x.data;
    for (let b = 0; b < seq.batch; b++) {
      if (!isActive(masks, t, b)) continue;
      const a = this.a;
      for (let k = 0; k < I; k++) a[k] = xs[x.offset + b * I + k];
      for (let m = 0; m < H; m++) a[I + m] = hPrev[b * H + m];
      a[I + H] = 1;
      a[I + H + 1] = 1;
      let daSq = 0, fSq = 0, uSq = 0, aSq = 0;
      for (let i = 0; i < H; i++) {
        const row = at0 + (b * H + i) * K;
        for (let j = 0; j < H; j++) daSq += pushed[row + j] * pushed[row + j];
        fSq += pushed[row + K - 1] * pushed[row + K - 1];
      }
      for (let k = 0; k < U; k++) { uSq += u[b * U + k] * u[b * U + k]; aSq += a[k] * a[k]; }
      const rng = this.streams[b];
      const c1 = randomSign(rng), c2 = randomSign(rng);
      const p1 = balance(Math.sqrt(daSq), Math.sqrt(uSq), KF_RTRL_EPSILON);
      const p2 = balance(Math.sqrt(fSq), Math.sqrt(aSq), KF_RTRL_EPSILON);
      for (let k = 0; k < U; k++) u[b * U + k] = c1 * p1 * u[b * U + k] + c2 * p2 * a[k];
      const s1 = c1 / p1, s2 = c2 / p2;
      for (let i = 0; i < H; i++) {
        const src = at0 + (b * H + i) * K, dst = (b * H + i) * K;
        for (let j = 0; j < H; j++) F[dst + j] = s1 * pushed[src + j];
        F[dst + i] += s2 * pushed[src + K - 1];
        if (this.learned) for (let j = H; j < 2 * H; j++) F[dst + j] = pushed[src + j];
      }
    }
    this.current = to;
    this.started = true;
    this.steps++;
    return buffers.output;
  }
}
