// CTC as a fused graph rule: the loss owns its rule and hands it to the engine through
// Graph.fused, so lib/ad knows no loss. Input: logits, rows t·N + n of a (T·N) x C matrix;
// output: the loss of log_softmax(logits) per item (N x 1, reduction 'none') or reduced (1x1).
// With w_n the reduction's weight and G_n = softmax(z) - occupancy (the fused, stable
// gradient of item n):
//   dy_n = w_n Σ_{t,c} G_n[t,c] dz[t,n,c];   gz[t,n,c] += gy_n w_n G_n[t,c]
import { shapeOf } from '../mat/mat.js';
import type { FusedRule } from '../ad/primitives.js';
import type { Graph, Var } from '../ad/graph.js';
import { accWeightedSum } from '../ad/tangent.js';
import { type CtcOptions, ctcLossFromLogits, ctcLossGradLogits } from './ctc.js';
import { ShapeError } from '../mat/errors.js';

export const ctcRule: FusedRule<CtcOptions> = {
  name: 'ctc',
  arity: 1,
  shape: ([z], o) => {
    if (z.rows !== o.T * o.N || z.cols !== o.C) {
      throw new ShapeError('ctc', `logits ${shapeOf(z)} do not match T ${o.T} x N ${o.N} rows and C ${o.C} columns`, { logits: [z.rows, z.cols], expected: [o.T * o.N, o.C] });
    }
    return (o.reduction ?? 'mean') === 'none' ? [o.N, 1] : [1, 1];
  },
  eval: ([z], y, o) => {
    const result = ctcLossFromLogits(z, o);
    if ((o.reduction ?? 'mean') === 'none') y.data.set(result.losses, y.offset);
    else y.data[y.offset] = result.loss;
  },
  jvp: ([z], _y, [dz], dy, K, o) => {
    if (!dz) return;
    const perItem = (o.reduction ?? 'mean') === 'none';
    const grad = ctcLossGradLogits(z, { ...o, reduction: 'none' }, { gy: 1 }).grad;
    for (let n = 0; n < o.N; n++) {
      const w = o.reduction === 'sum' || perItem ? 1 : 1 / (o.N * Math.max(1, o.targetLengths[n]));
      for (let t = 0; t < o.T; t++) {
        const row = (t * o.N + n) * o.C;
        if (w !== 1) for (let c = 0; c < o.C; c++) grad[row + c] *= w;
        accWeightedSum(dy, perItem ? n : 0, K, dz, row, o.C, grad, row);
      }
    }
  },
  vjp: ([z], _y, gy, [gz], o) => {
    if (!gz) return;
    const perItem = (o.reduction ?? 'mean') === 'none';
    const upstream = perItem ? gy.data.subarray(gy.offset, gy.offset + o.N) : gy.data[gy.offset];
    const n = z.rows * z.cols;
    const direct = gz.offset === 0 && gz.data.length === n;
    const out = direct ? gz.data : new Float64Array(n);
    ctcLossGradLogits(z, o, { gy: upstream, gx: out, accumulate: direct });
    if (!direct) for (let i = 0; i < n; i++) gz.data[gz.offset + i] += out[i];
  },
};

/** The CTC loss of log_softmax(logits) as a graph value; logits are (T·N) x C, time-major. */
export function ctcLossVar(g: Graph, logits: Var, options: CtcOptions): Var {
  return g.fused(ctcRule, [logits], options);
}
