// A UORO step of one sequence (batch 1) in one recorded pass of the cell (lib/rnn/uoro.ts has
// the method and its math). The step is recorded once on a reverse graph that also carries one
// tangent direction: the state leaves carry s̃_{t-1} as their tangent, so the recording gives
// s_t and D_t s̃_{t-1} together, and its tape is then walked twice:
//   the loss term, cotangent 1: δs = ∂L_t/∂s_{t-1} on the state leaves and ∂L_t/∂θ;
//   ν on s_t, the state leaves skipped (only νᵀ I_t = νᵀ ∂s_t/∂θ is wanted).
// Both walks leave each weight's gradient as its factors (gyᵀ·x of the linear op that reads it),
// and the final pass over theta forms grad += ∂L_t/∂θ + c θ̃ and θ̃ = θ̃/ρ0 + νᵀI_t/ρ1 straight
// from them, block by block; ‖νᵀI_t‖² comes from the factors too (‖gyᵀx‖² = ‖gy‖²‖x‖²). A block
// whose gradient is not one such product (a bias, a weight read twice in a step, a weight also
// used by another op) is written out densely first: .grad plus each product's rows in order (the
// graph's own product may sum those terms in another order: equal up to rounding, ~1e-16).
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import type { StepMasks } from '../cells/cell.js';
import { type Mat, mat } from '../mat/mat.js';
import type { SequenceLoss } from './loss-spec.js';
import { type Unroll, copyState, readGrads, stepLossTerm } from './unroll.js';
import { denseUpdate, outerUpdate, sumOfSquares } from './uoro-kernels.js';

const REQUIRES_GRAD: LeafOptions = { requiresGrad: true };
const ZERO = 0, OUTER = 1, DENSE = 2;

/** One parameter block's gradient from one walk: zero, gyᵀ·x (gy copied, x a value on the tape), or written out densely. */
interface Part {
  kind: number;
  readonly gy: Float64Array;
  x: Mat | null;
}

export class UoroPass {
  private readonly graph = new Graph('reverse', 1);
  private readonly unroll: Unroll;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  private result: { readonly output: Var; readonly state: readonly Var[] } | null = null;
  /** δs after lossTerm(): ∂L_t/∂s_{t-1}, one 1 x size matrix per state vector (zero without a term). */
  readonly stateGrads: Mat[];
  private readonly lossParts: Part[];
  private readonly signParts: Part[];
  /** The parts written out densely, laid out like theta (only DENSE blocks are meaningful). */
  private readonly lossDense: Float64Array;
  private readonly signDense: Float64Array;
  private readonly lossWalk = { factorWeights: true };
  private readonly signWalkOptions = { skip: this.stateVars, factorWeights: true };

  constructor(unroll: Unroll) {
    this.unroll = unroll;
    const { model } = unroll;
    this.stateGrads = model.cell.stateSizes.map((size) => mat(1, size));
    const parts = () => model.params.mats.map((m): Part => ({ kind: ZERO, gy: new Float64Array(m.rows), x: null }));
    this.lossParts = parts();
    this.signParts = parts();
    this.lossDense = new Float64Array(model.params.theta.length);
    this.signDense = new Float64Array(model.params.theta.length);
  }

  /**
   * Records step t from `states` (1 x size each; `leaves` their options: requiresGrad and the
   * tangent s̃) on input x; writes s_t into next, D_t s̃ into pushed and the output into output.
   */
  record(states: readonly Mat[], leaves: readonly LeafOptions[], x: Mat, t: number, masks: StepMasks | null, next: readonly Mat[], pushed: readonly Mat[], output: Mat): void {
    const { graph: g, unroll } = this;
    const { cell } = unroll.model;
    g.reset();
    const paramVars = unroll.leaves(g, REQUIRES_GRAD, this.paramVars);
    const stateVars = this.stateVars;
    stateVars.length = 0;
    for (let i = 0; i < states.length; i++) stateVars.push(g.leaf(states[i], leaves[i]));
    const result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), t, masks);
    this.result = result;
    copyState(unroll.op, cell, result.state, next);
    for (let i = 0; i < result.state.length; i++) {
      const tangent = result.state[i].tangent, out = pushed[i].data;
      if (tangent === null) out.fill(0);
      else if (tangent.kind === 'dense') out.set(tangent.data.subarray(tangent.offset, tangent.offset + out.length));
      else { out.fill(0); if (tangent.start === 0) out[0] = 1; } // a seed (no leaf here has one): element e moves along direction start + e < 1
    }
    const out = result.output.value;
    output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));
  }

  /**
   * The step's loss term (and the final term with `last`) on the recorded step, walked back:
   * returns its value, or null without a term (then δs and ∂L_t/∂θ are zero).
   */
  lossTerm(loss: SequenceLoss, t: number, last: boolean): number | null {
    const g = this.graph, result = this.result!;
    const total = stepLossTerm(g, this.unroll.op, loss, t, result.output, result.state, last);
    if (total === null) {
      for (const m of this.stateGrads) m.data.fill(0);
      for (const p of this.lossParts) p.kind = ZERO;
      return null;
    }
    g.backward(total, undefined, this.lossWalk);
    readGrads(this.stateVars, this.stateGrads);
    this.capture(this.lossParts, this.lossDense);
    return total.value.data[total.value.offset];
  }

  /** νᵀ I_t of the recorded step for the signs ν on s_t (one 1 x size matrix per state vector), kept as factors. */
  signWalk(signs: readonly Mat[]): void {
    this.graph.backward(this.result!.state, signs, this.signWalkOptions);
    this.capture(this.signParts, this.signDense);
  }

  /** ‖νᵀ I_t‖² after signWalk(). */
  influenceNormSq(): number {
    const { offsets } = this.unroll.model.params;
    let total = 0;
    for (let i = 0; i < this.signParts.length; i++) {
      const p = this.signParts[i];
      if (p.kind === OUTER) {
        const x = p.x!;
        total += sumOfSquares(p.gy, 0, p.gy.length) * sumOfSquares(x.data, x.offset, x.cols);
      } else if (p.kind === DENSE) {
        const m = this.paramVars[i].value;
        total += sumOfSquares(this.signDense, offsets[i], m.rows * m.cols);
      }
    }
    return total;
  }

  /**
   * grad += ∂L_t/∂θ + c θ̃_{t-1} and θ̃_t = θ̃_{t-1} · inv0 + (νᵀI_t) · inv1 (tt: θ̃, laid out like
   * theta), block by block; returns ‖θ̃_t‖².
   */
  update(grad: Float64Array, tt: Float64Array, c: number, inv0: number, inv1: number): number {
    const { offsets } = this.unroll.model.params;
    let normSq = 0;
    for (let i = 0; i < this.paramVars.length; i++) {
      const L = this.lossParts[i], V = this.signParts[i], w = this.paramVars[i].value, at = offsets[i];
      const x = L.kind === OUTER ? L.x : V.kind === OUTER ? V.x : null;
      if (x !== null && L.kind !== DENSE && V.kind !== DENSE && (L.kind !== OUTER || V.kind !== OUTER || L.x === V.x)) {
        normSq += outerUpdate(grad, tt, at, w.rows, w.cols, L.kind === OUTER ? L.gy : null, V.kind === OUTER ? V.gy : null, x.data, x.offset, c, inv0, inv1);
      } else {
        if (L.kind === OUTER) expand(L, this.lossDense, at, w.cols);
        if (V.kind === OUTER) expand(V, this.signDense, at, w.cols);
        normSq += denseUpdate(grad, L.kind === ZERO ? null : this.lossDense, c, tt, V.kind === ZERO ? null : this.signDense, at, w.rows * w.cols, inv0, inv1);
      }
    }
    return normSq;
  }

  /** ∂L_t/∂θ written out, laid out like theta (a buffer of the pass): for a step whose sequence is past its end. */
  lossGradient(): Float64Array {
    const { offsets } = this.unroll.model.params;
    for (let i = 0; i < this.paramVars.length; i++) {
      const L = this.lossParts[i], w = this.paramVars[i].value, at = offsets[i];
      if (L.kind === ZERO) this.lossDense.fill(0, at, at + w.rows * w.cols);
      else if (L.kind === OUTER) expand(L, this.lossDense, at, w.cols);
    }
    return this.lossDense;
  }

  // Each parameter leaf's gradient from the walk just made, as a Part (see the file comment).
  private capture(parts: Part[], dense: Float64Array): void {
    const g = this.graph, { offsets } = this.unroll.model.params;
    for (let i = 0; i < this.paramVars.length; i++) {
      const v = this.paramVars[i], part = parts[i], f = g.weightFactors(v);
      part.x = null;
      if (f === null || (f.gy.length === 0 && !f.dense)) { part.kind = ZERO; continue; }
      const w = v.value, at = offsets[i], grad = v.grad!;
      if (f.gy.length === 1 && !f.dense) {
        const gy = f.gy[0], x = f.x[0];
        if (gy.rows === 1 && x.rows === 1 && gy.cols === w.rows && x.cols === w.cols) {
          part.kind = OUTER;
          part.gy.set(gy.data.subarray(gy.offset, gy.offset + gy.cols));
          part.x = x;
          continue;
        }
      }
      // Dense: .grad, then each factor's rows added in order.
      part.kind = DENSE;
      const rows = w.rows, cols = w.cols;
      dense.set(grad.data.subarray(grad.offset, grad.offset + rows * cols), at);
      for (let f2 = 0; f2 < f.gy.length; f2++) {
        const gy = f.gy[f2], x = f.x[f2];
        for (let r = 0; r < gy.rows; r++) {
          for (let a = 0; a < rows; a++) {
            const c = gy.data[gy.offset + r * gy.cols + a];
            if (c === 0) continue;
            const row = at + a * cols, xo = x.offset + r * x.cols;
            for (let b = 0; b < cols; b++) dense[row + b] += c * x.data[xo + b];
          }
        }
      }
    }
  }

  /** Bytes of the pass's graph arena and scratch. */
  bytes(): number {
    return this.graph.arenaBytes() + 16 * this.lossDense.length + this.stateGrads.reduce((n, m) => n + 8 * m.data.length, 0);
  }
}

/** An OUTER part gyᵀ·x written out densely at `at` (W has `cols` columns), as the graph's product would give it. */
function expand(p: Part, dense: Float64Array, at: number, cols: number): void {
  const x = p.x!, gy = p.gy;
  for (let a = 0; a < gy.length; a++) {
    const c = gy[a], row = at + a * cols;
    for (let b = 0; b < cols; b++) dense[row + b] = c * x.data[x.offset + b];
  }
}
