// The loss's cotangents at one step's values, for a learner whose threads cannot be sent the loss
// (a closure): the calling thread walks the step's loss terms back from leaves holding the step's
// output and state, and the shards step under the cotangents instead (Rtrl, Snap with threads).
import { Graph, type Var } from '../ad/graph.js';
import { ShapeError } from '../mat/errors.js';
import { type Mat, shapeOf } from '../mat/mat.js';
import type { SequenceLoss } from './loss-spec.js';

const REQUIRES_GRAD = { requiresGrad: true };

/** Where lossCotangents writes: buffers for the cotangents, the list of those taken, the terms' values. */
export interface CotangentSink {
  /** One buffer per cotangent: the output's, each state vector's, then (finalApart) each state vector's of the final term. */
  readonly buffers: readonly Mat[];
  /** Set to the buffers that hold a cotangent, null where no term reads that value. */
  readonly cotangents: (Mat | null)[];
  /** Set to the values of the terms taken, in order (step, then final). */
  readonly values: number[];
}

/**
 * The loss terms of step t at (output, state), on g: their values, and dL/doutput and dL/dstate.
 * The final term (with last) is added to the step term and walked back with it, or with
 * finalApart walked back on its own, its state cotangents after the step term's (SnAp reads that
 * term through Ŝ_T, the step term through Ŝ_{t-1}).
 */
export function lossCotangents(op: string, g: Graph, loss: SequenceLoss, t: number, output: Mat, state: readonly Mat[], last: boolean, finalApart: boolean, into: CotangentSink): void {
  const m = state.length;
  into.cotangents.length = 0;
  for (let i = 0; i < 1 + (finalApart ? 2 : 1) * m; i++) into.cotangents.push(null);
  into.values.length = 0;
  const taken = (term: Var | null): Var | null => {
    if (term === null) return null;
    if (term.value.rows !== 1 || term.value.cols !== 1) throw new ShapeError(op, `a loss term must be 1x1, got ${shapeOf(term.value)}`, { term: [term.value.rows, term.value.cols] });
    into.values.push(term.value.data[term.value.offset]);
    return term;
  };
  const walk = (total: Var | null, from: readonly Var[], at: number): void => {
    if (total === null || !total.requiresGrad) return;
    g.backward(total);
    for (let i = 0; i < from.length; i++) {
      const gr = from[i].grad;
      if (gr === null) continue;
      const out = into.buffers[at + i];
      out.data.set(gr.data.subarray(gr.offset, gr.offset + out.rows * out.cols));
      into.cotangents[at + i] = out;
    }
  };
  const final = last && loss.final !== undefined;
  if (loss.step === undefined && !final) return;
  g.reset();
  const y = g.leaf(output, REQUIRES_GRAD);
  const states = state.map((v) => g.leaf(v, REQUIRES_GRAD));
  let total = loss.step === undefined ? null : taken(loss.step(g, t, y, states) ?? null);
  if (final && finalApart) {
    walk(total, [y, ...states], 0);
    g.reset();
    const finals = state.map((v) => g.leaf(v, REQUIRES_GRAD));
    walk(taken(loss.final!(g, finals) ?? null), finals, 1 + m);
    return;
  }
  if (final) {
    const term = taken(loss.final!(g, states) ?? null);
    if (term !== null) total = total === null ? term : g.add(total, term);
  }
  walk(total, [y, ...states], 0);
}
