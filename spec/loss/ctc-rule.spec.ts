// The CTC rule as a graph value (it left the primitive table for lib/loss): the same checks
// the table runs on every primitive — reverse mode against finite differences, forward
// against reverse by the dot-product identity, seed tangents against identity tangents.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import { gradCheck } from '../../lib/ad/api.js';
import { ctcLossVar, ctcRule } from '../../lib/loss/ctc-rule.js';
import { type CtcOptions, ctcLossFromLogits } from '../../lib/loss/ctc.js';
import { mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { DOT_IDENTITY, FD_PRIMITIVE, FD_STEP } from '../tolerances.js';
import { assertSeedMatchesIdentity } from '../ad/seed-check.js';

const cases: { label: string; options: CtcOptions }[] = [
  { label: 'ctc (per item)', options: { T: 6, N: 2, C: 4, targets: [1, 2, 2, 3, 1, 0], paddedTargetLength: 3, inputLengths: [6, 5], targetLengths: [3, 2], reduction: 'none' } },
  { label: 'ctc (mean, blank 3)', options: { T: 5, N: 2, C: 4, targets: [0, 1, 2, 2], paddedTargetLength: 2, inputLengths: [5, 4], targetLengths: [2, 1], blank: 3, reduction: 'mean' } },
  { label: 'ctc (sum)', options: { T: 4, N: 2, C: 3, targets: [1, 2, 1, 0], paddedTargetLength: 2, inputLengths: [4, 3], targetLengths: [2, 1], reduction: 'sum' } },
];

function logits(o: CtcOptions, rng: Rng) {
  const z = mat(o.T * o.N, o.C);
  rng.fillNormal(z, 0, 1);
  return z;
}

for (const { label, options } of cases) {
  test(`${label}: reverse mode = finite differences, forward = reverse (dot-product identity)`, () => {
    const report = gradCheck((g, [z]) => ctcLossVar(g, z, options), [logits(options, new Rng(7))], { seed: 3, epsilon: FD_STEP, tolerance: FD_PRIMITIVE, directions: 4 });
    assert.ok(report.finiteDifferenceError < FD_PRIMITIVE, `${label}: ${report.worst}`);
    assert.ok(report.dotProductError < DOT_IDENTITY, `${label}: dot-product identity off by ${report.dotProductError}`);
    assert.ok(report.ok);
  });

  test(`${label}: a seed tangent equals the identity tangent it stands for`, () => {
    const rng = new Rng(11);
    assertSeedMatchesIdentity(label, (g, [z]) => g.fused(ctcRule, [z], options), [logits(options, rng)], rng);
  });
}

test('the ctc rule: its value is ctcLossFromLogits, and bad shapes name it', () => {
  const o = cases[0].options;
  const z = logits(o, new Rng(2));
  const g = new Graph('eval');
  const y = ctcLossVar(g, g.leaf(z), o);
  assert.equal(Array.from(y.value.data), Array.from(ctcLossFromLogits(z, o).losses));
  assert.throws(() => ctcLossVar(g, g.leaf(mat(3, 4)), o), /ctc: logits 3x4 do not match T 6 x N 2 rows and C 4 columns/);
});

test.run();
