// What the approximate online methods (Uoro, KfRtrl) share: the exact part of their gradient.
// Each keeps an estimate of S_{t-1} = d s_{t-1} / d theta and forms
//   g_t = dL_t/ds_{t-1} · S_{t-1} + dL_t/dtheta |_{s_{t-1} fixed},
// so both need, per step, one reverse pass of the step with s_{t-1} held as a leaf: its loss
// terms walked back once give delta_s = dL_t/ds_{t-1} (one row per sequence) and the direct
// gradient (summed over the batch, which is what the total gradient sums too). The methods
// differ only in how they carry S.
import { Graph, type Var } from '../ad/graph.js';
import type { StepMasks } from '../cells/cell.js';
import { ConfigError } from '../mat/errors.js';
import { type Mat, mat } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import type { SequenceLoss } from './loss-spec.js';
import { type Unroll, readGrads, scatterGrads, stepLossTerm } from './unroll.js';

const REQUIRES_GRAD = { requiresGrad: true };

/** One reverse pass of a step's loss terms (see the file comment); buffers reused across steps. */
export class LossPass {
  private readonly graph = new Graph('reverse');
  private readonly unroll: Unroll;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  /** The direct gradient dL_t/dtheta of the last run() with a term (laid out like theta). */
  readonly direct: Float64Array;
  /** delta_s after run(): dL_t / ds_{t-1}, one batch x size matrix per state vector (zero when no term). */
  stateGrads: Mat[] = [];

  constructor(unroll: Unroll) {
    this.unroll = unroll;
    this.direct = new Float64Array(unroll.model.params.theta.length);
  }

  /**
   * Step t from `states` (leaves) on input x; sums the step's loss term (and the final term with
   * `last`). Adds the direct gradient into grad (with grad null it is only left in `direct`, for a
   * caller that folds the addition into its own pass over theta) and returns the loss value, or
   * null without a term (then stateGrads are zero).
   */
  run(states: readonly Mat[], x: Mat, t: number, masks: StepMasks | null, loss: SequenceLoss, last: boolean, grad: Float64Array | null): number | null {
    const { graph: g, unroll } = this;
    const { cell } = unroll.model;
    if (this.stateGrads.length === 0 || this.stateGrads[0].rows !== x.rows) this.stateGrads = cell.stateSizes.map((size) => mat(x.rows, size));
    g.reset();
    const paramVars = unroll.leaves(g, REQUIRES_GRAD, this.paramVars);
    const stateVars = this.stateVars;
    stateVars.length = 0;
    for (const s of states) stateVars.push(g.leaf(s, REQUIRES_GRAD));
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), t, masks);
    const total = stepLossTerm(g, unroll.op, loss, t, result.output, result.state, last);
    if (total === null) {
      for (const m of this.stateGrads) m.data.fill(0);
      return null;
    }
    g.backward(total);
    readGrads(stateVars, this.stateGrads);
    scatterGrads(unroll.model.params.offsets, paramVars, this.direct);
    if (grad !== null) for (let k = 0; k < grad.length; k++) grad[k] += this.direct[k];
    return total.value.data[total.value.offset];
  }

  /** Bytes of the pass's graph arena and scratch. */
  bytes(): number {
    return this.graph.arenaBytes() + 8 * this.direct.length + this.stateGrads.reduce((n, m) => n + 8 * m.data.length, 0);
  }
}

/** A random sign, +1 or -1 with probability 1/2 each: the top bit of one 32-bit draw. */
export function randomSign(rng: Rng): number {
  return rng.nextUint32() >= 0x80000000 ? -1 : 1;
}

/** Sequence b of a batch draws from streams[b] = new Rng(seed + b): the missing ones are added, the others continue. */
export function extendStreams(streams: Rng[], seed: number, batch: number): void {
  while (streams.length < batch) streams.push(new Rng(seed + streams.length));
}

/** The `seed` option of a randomised method: an integer (default 0), or a ConfigError naming it. */
export function checkSeed(op: string, seed: unknown): number {
  if (seed === undefined) return 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ConfigError(op, `seed must be an integer, got ${typeof seed === 'number' ? String(seed) : JSON.stringify(seed)}`, { option: 'seed', value: seed });
  }
  return seed;
}

/** The maxBytes option (default 2 GiB), or a ConfigError naming it. */
export function checkMaxBytes(op: string, limit: unknown): number {
  if (limit === undefined) return 2 ** 31;
  if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError(op, `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
  return limit;
}

/** sqrt(a / b) with both guarded by eps, so zeros never make NaN (a ratio of zeros is 1). */
export function balance(a: number, b: number, eps: number): number {
  return Math.sqrt((a + eps) / (b + eps));
}

/** Euclidean norm of data[from, from + n). */
export function norm2(data: Float64Array, from: number, n: number): number {
  let s = 0;
  for (let i = from; i < from + n; i++) s += data[i] * data[i];
  return Math.sqrt(s);
}
