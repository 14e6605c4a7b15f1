// Graph.fused: a rule handed to the engine by the file that owns it runs exactly as a
// primitive does, checked here with a toy two-input rule y_r = Σ_c a_rc² · b_rc.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import type { FusedRule } from '../../lib/ad/primitives.js';
import { accWeightedSum } from '../../lib/ad/tangent.js';
import { gradCheck } from '../../lib/ad/api.js';
import { type Mat, mat, shapeOf } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { DOT_IDENTITY, FD_PRIMITIVE, FD_STEP } from '../tolerances.js';
import { assertSeedMatchesIdentity } from './seed-check.js';

let evalCalls = 0;
// y_r = s Σ_c a_rc² b_rc, one value per row (R x 1); s is the rule's one attribute.
//   dy_r = s Σ_c (2 a_rc b_rc da_rc + a_rc² db_rc);   ga_rc += 2 s a_rc b_rc gy_r;   gb_rc += s a_rc² gy_r
const weightedSquares: FusedRule<{ scale: number }> = {
  name: 'weightedSquares',
  arity: 2,
  shape: ([a, b]) => {
    if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`weightedSquares: shapes ${shapeOf(a)} and ${shapeOf(b)} differ`);
    return [a.rows, 1];
  },
  eval: ([a, b], y, { scale }) => {
    evalCalls++;
    for (let r = 0; r < a.rows; r++) {
      let s = 0;
      for (let c = 0; c < a.cols; c++) { const x = a.data[a.offset + r * a.cols + c]; s += x * x * b.data[b.offset + r * b.cols + c]; }
      y.data[y.offset + r] = scale * s;
    }
  },
  jvp: ([a, b], _y, [da, db], dy, K, { scale }) => {
    const n = a.rows * a.cols, ca = new Float64Array(n), cb = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      const x = a.data[a.offset + e];
      ca[e] = 2 * scale * x * b.data[b.offset + e];
      cb[e] = scale * x * x;
    }
    for (let r = 0; r < a.rows; r++) {
      if (da) accWeightedSum(dy, r, K, da, r * a.cols, a.cols, ca, r * a.cols);
      if (db) accWeightedSum(dy, r, K, db, r * a.cols, a.cols, cb, r * a.cols);
    }
  },
  vjp: ([a, b], _y, gy, [ga, gb], { scale }) => {
    for (let r = 0; r < a.rows; r++) {
      const g = gy.data[gy.offset + r];
      for (let c = 0; c < a.cols; c++) {
        const e = r * a.cols + c, x = a.data[a.offset + e];
        if (ga) ga.data[ga.offset + e] += 2 * scale * x * b.data[b.offset + e] * g;
        if (gb) gb.data[gb.offset + e] += scale * x * x * g;
      }
    }
  },
};

function inputs(rng: Rng): Mat[] {
  const a = mat(3, 4), b = mat(3, 4);
  rng.fillNormal(a, 0, 1); rng.fillNormal(b, 0, 1);
  return [a, b];
}

const f = (g: Graph, [a, b]: ReturnType<Graph['leaf']>[]) => g.fused(weightedSquares, [g.tanh(a), b], { scale: -0.75 });

test('a fused rule: reverse mode = finite differences, forward = reverse (dot-product identity)', () => {
  const report = gradCheck(f, inputs(new Rng(3)), { seed: 5, epsilon: FD_STEP, tolerance: FD_PRIMITIVE, directions: 4 });
  assert.ok(report.finiteDifferenceError < FD_PRIMITIVE, report.worst);
  assert.ok(report.dotProductError < DOT_IDENTITY, `dot-product identity off by ${report.dotProductError}`);
  // Straight on the leaves too, so seed tangents reach the rule itself.
  const direct = gradCheck((g, xs) => g.fused(weightedSquares, xs, { scale: 2 }), inputs(new Rng(4)), { seed: 6, epsilon: FD_STEP, tolerance: FD_PRIMITIVE });
  assert.ok(direct.ok, direct.worst);
});

test('a fused rule: a seed tangent equals the identity tangent it stands for', () => {
  const rng = new Rng(9);
  assertSeedMatchesIdentity('weightedSquares', (g, xs) => g.fused(weightedSquares, xs, { scale: 1.5 }), inputs(rng), rng);
});

test('a fused rule: null cotangents are skipped, bad arity and shapes name the rule, the arena reuses its node', () => {
  const [a, b] = inputs(new Rng(1));
  const g = new Graph('reverse');
  const run = () => {
    g.reset();
    const av = g.leaf(a, { requiresGrad: true }), bv = g.constant(b);
    const y = g.sum(g.fused(weightedSquares, [av, bv], { scale: 1 }));
    g.backward(y);
    return { y, av, bv };
  };
  const first = run();
  assert.is(first.bv.grad, null);
  for (let e = 0; e < 12; e++) assert.ok(Math.abs(first.av.grad!.data[e] - 2 * a.data[e] * b.data[e]) < 1e-14);
  const value = first.y.value.data;
  const calls = evalCalls;
  assert.is(run().y.value.data, value);
  assert.is(evalCalls, calls + 1);
  const h = new Graph('eval');
  assert.throws(() => h.fused(weightedSquares, [h.leaf(a)], { scale: 1 }), /weightedSquares: takes 2 inputs, got 1/);
  assert.throws(() => h.fused(weightedSquares, [h.leaf(a), h.leaf(mat(2, 2))], { scale: 1 }), /weightedSquares: shapes 3x4 and 2x2 differ/);
});

test.run();
