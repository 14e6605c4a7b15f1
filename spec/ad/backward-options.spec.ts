// What UORO's one-pass step asks of lib/ad, each checked against the plain engine:
//   backward(..., { skip }): the other leaves' gradients are the same bits, the skipped one gets none;
//   backward(..., { factorWeights }): .grad + Σ gyᵀ·x (weightFactors) is the flushed gradient (the
//     same bits for a weight read once; to 1e-15 for one read several times, whose flushed
//     product may sum its terms in another order), and matches central finite differences;
//   new Graph('reverse', K): values and tangents the same bits as a forward graph, gradients the
//     same bits as a plain reverse graph, and the two meet in the dot-product identity.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Var } from '../../lib/ad/graph.js';
import { denseTangent } from '../../lib/ad/tangent.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { ConfigError } from '../../lib/errors.js';
import { randomMat, relErr } from '../helpers.js';
import { DOT_IDENTITY, FD_STEP } from '../tolerances.js';

const rng = new Rng(13);
const B = 3, IN = 4, H = 5;
const x = randomMat(rng, B, IN), h = randomMat(rng, B, H);
const wIn = randomMat(rng, H, IN, 0.5), wH = randomMat(rng, H, H, 0.5), bias = randomMat(rng, 1, H), wOut = randomMat(rng, H, H, 0.5);
const params = [wIn, wH, bias, wOut];

/**
 * A two-layer step that reads wH twice through linear (two factor pairs) and once densely (an
 * elementwise product with its own rows), so every kind of weight gradient occurs:
 *   a = tanh(x wInᵀ + h wHᵀ + b),  s = sigmoid(a wOutᵀ + a wHᵀ),  out = s ⊙ (Σ_rows of wH ⊙ wH) broadcast.
 */
function step(g: Graph, [pIn, pH, pB, pOut]: readonly Var[], xv: Var, hv: Var): Var {
  const a = g.tanh(g.linearSum([[xv, pIn], [hv, pH]], [pB]));
  const s = g.sigmoid(g.linearSum([[a, pOut], [a, pH]]));
  const rowOfW = g.sliceRows(g.mul(pH, pH), 0, 1);
  return g.mulRow(s, rowOfW);
}

function record(g: Graph, ms: readonly Mat[] = params, hTangent: Float64Array | null = null) {
  const ps = ms.map((m) => g.leaf(m, { requiresGrad: true }));
  const xv = g.leaf(x), hv = g.leaf(h, { requiresGrad: true, tangent: hTangent === null ? null : denseTangent(hTangent) });
  return { ps, hv, out: step(g, ps, xv, hv) };
}

const cotangent = randomMat(rng, B, H);
const gradOf = (v: Var) => Array.from(v.grad!.data.subarray(v.grad!.offset, v.grad!.offset + v.value.rows * v.value.cols));

/** .grad plus each factor's rows in order: the flushed product's order of sums. */
function assembled(g: Graph, v: Var): number[] {
  const f = g.weightFactors(v)!;
  const { rows, cols } = v.value;
  const out = v.grad === null ? new Array<number>(rows * cols).fill(0) : gradOf(v);
  for (let t = 0; t < f.gy.length; t++) {
    const gy = f.gy[t], xs = f.x[t];
    for (let i = 0; i < rows; i++) {
      for (let r = 0; r < gy.rows; r++) {
        const c = gy.data[gy.offset + r * gy.cols + i];
        if (c === 0) continue;
        for (let j = 0; j < cols; j++) out[i * cols + j] += c * xs.data[xs.offset + r * xs.cols + j];
      }
    }
  }
  return out;
}

test('backward skip: the other leaves get the same bits, the skipped leaf none', () => {
  const plain = new Graph('reverse'), a = record(plain);
  plain.backward(a.out, cotangent);
  const skipping = new Graph('reverse'), b = record(skipping);
  skipping.backward(b.out, cotangent, { skip: [b.hv] });
  assert.is(b.hv.grad, null);
  assert.ok(a.hv.grad !== null, 'without skip, h has a gradient');
  a.ps.forEach((p, i) => assert.equal(gradOf(b.ps[i]), gradOf(p), `param ${i}`));
  // The next walk without skip gives h its gradient again.
  skipping.backward(b.out, cotangent);
  assert.equal(gradOf(b.hv), gradOf(a.hv));
});

test('backward skip: refuses a non-leaf, a leaf of another graph, and unknown options', () => {
  const g = new Graph('reverse'), r = record(g);
  assert.throws(() => g.backward(r.out, cotangent, { skip: [r.out] }), (e: unknown) => e instanceof ConfigError && /^backward: skip\[0\] is not a leaf/.test((e as Error).message));
  const other = new Graph('reverse'), o = record(other);
  assert.throws(() => g.backward(r.out, cotangent, { skip: [o.hv] }), (e: unknown) => e instanceof ConfigError && /skip\[0\]/.test((e as Error).message));
  assert.throws(() => g.backward(r.out, cotangent, { factorweights: true } as never), (e: unknown) => e instanceof ConfigError && /unknown option "factorweights"/.test((e as Error).message));
});

test('backward factorWeights: .grad + Σ gyᵀ·x is the flushed gradient (bit for bit for one product)', () => {
  const plain = new Graph('reverse'), a = record(plain);
  plain.backward(a.out, cotangent);
  const g = new Graph('reverse'), b = record(g);
  g.backward(b.out, cotangent, { factorWeights: true });
  const fIn = g.weightFactors(b.ps[0])!, fH = g.weightFactors(b.ps[1])!, fB = g.weightFactors(b.ps[2])!;
  assert.is(fIn.gy.length, 1, 'wIn: one linear op');
  assert.not.ok(fIn.dense, 'wIn: nothing else');
  assert.is(fH.gy.length, 2, 'wH: two linear ops');
  assert.ok(fH.dense, 'wH: also the elementwise product');
  assert.is(fB.gy.length, 0, 'a bias is not a weight pair');
  assert.ok(fB.dense);
  assert.is(b.ps[0].grad, null, 'wIn: all of its gradient is in the factors, its buffer untouched');
  assert.ok(b.ps[1].grad !== null && b.ps[2].grad !== null);
  for (const i of [0, 2, 3]) assert.equal(assembled(g, b.ps[i]), gradOf(a.ps[i]), `param ${i}`);
  assert.ok(relErr(assembled(g, b.ps[1]), gradOf(a.ps[1])) <= 1e-15, `wH: ${relErr(assembled(g, b.ps[1]), gradOf(a.ps[1]))}`);
  assert.equal(gradOf(b.hv), gradOf(a.hv), 'h');
  // Walked again in the same mode (buffers holding the last walk's sums): the same gradients.
  const first = b.ps.map((p) => assembled(g, p));
  g.backward(b.out, cotangent, { factorWeights: true });
  b.ps.forEach((p, i) => assert.equal(assembled(g, p), first[i], `param ${i}, second walk`));
  // A walk without factorWeights flushes again: no factors left, .grad whole.
  g.backward(b.out, cotangent);
  assert.is(g.weightFactors(b.ps[1])!.gy.length, 0);
  assert.ok(b.ps[0].grad !== null, 'a plain walk gives every weight its .grad');
  a.ps.forEach((p, i) => assert.equal(gradOf(b.ps[i]), gradOf(p), `param ${i} after a plain walk`));
  // reset() drops them.
  g.backward(b.out, cotangent, { factorWeights: true });
  g.reset();
  const c = record(g);
  assert.is(g.weightFactors(c.ps[1]), null, 'no walk since the reset: no gradient');
});

test('backward factorWeights: the assembled gradient against central finite differences', () => {
  const g = new Graph('reverse'), r = record(g);
  g.backward(r.out, cotangent, { factorWeights: true });
  const grads = r.ps.map((p) => assembled(g, p));
  const loss = (ms: Mat[]) => {
    const e = new Graph('eval'), ps = ms.map((m) => e.leaf(m));
    const out = step(e, ps, e.leaf(x), e.leaf(h)).value;
    let s = 0;
    for (let k = 0; k < out.rows * out.cols; k++) s += out.data[out.offset + k] * cotangent.data[k];
    return s;
  };
  const eps = 1e-6;
  params.forEach((m, i) => {
    const fd: number[] = [];
    for (let k = 0; k < m.data.length; k++) {
      const plus = params.map((q) => ({ ...q, data: q.data.slice() })), minus = params.map((q) => ({ ...q, data: q.data.slice() }));
      plus[i].data[k] += eps;
      minus[i].data[k] -= eps;
      fd.push((loss(plus) - loss(minus)) / (2 * eps));
    }
    assert.ok(relErr(grads[i], fd) <= FD_STEP, `param ${i}: ${relErr(grads[i], fd)}`);
  });
});

test("Graph('reverse', K): forward's values and tangents, reverse's gradients, bit for bit; the dot-product identity", () => {
  const K = 2, hTan = new Float64Array(B * H * K);
  for (let i = 0; i < hTan.length; i++) hTan[i] = Math.sin(1 + 7 * i);
  const fwd = new Graph('forward', K);
  const ps = params.map((m) => fwd.leaf(m));
  const fOut = step(fwd, ps, fwd.leaf(x), fwd.leaf(h, { tangent: denseTangent(hTan) }));
  const plain = new Graph('reverse'), a = record(plain);
  plain.backward(a.out, cotangent);
  const both = new Graph('reverse', K), b = record(both, params, hTan);
  assert.is(both.directions, K);
  const n = B * H;
  assert.equal(Array.from(b.out.value.data.subarray(0, n)), Array.from(fOut.value.data.subarray(fOut.value.offset, fOut.value.offset + n)), 'values');
  const tb = b.out.tangent!, tf = fOut.tangent!;
  assert.ok(tb.kind === 'dense' && tf.kind === 'dense');
  if (tb.kind !== 'dense' || tf.kind !== 'dense') return;
  assert.equal(Array.from(tb.data.subarray(tb.offset, tb.offset + n * K)), Array.from(tf.data.subarray(tf.offset, tf.offset + n * K)), 'tangents');
  both.backward(b.out, cotangent);
  assert.equal(gradOf(b.hv), gradOf(a.hv), 'h gradient');
  a.ps.forEach((p, i) => assert.equal(gradOf(b.ps[i]), gradOf(p), `param ${i}`));
  // <cotangent, J·dh_k> from the tangents against <Jᵀ·cotangent, dh_k> from the gradient, per direction.
  for (let k = 0; k < K; k++) {
    let lhs = 0, rhs = 0;
    for (let e = 0; e < n; e++) lhs += cotangent.data[e] * tb.data[tb.offset + e * K + k];
    const gh = gradOf(b.hv);
    for (let e = 0; e < n; e++) rhs += gh[e] * hTan[e * K + k];
    assert.ok(Math.abs(lhs - rhs) <= DOT_IDENTITY * Math.max(1, Math.abs(lhs)), `direction ${k}: ${lhs} vs ${rhs}`);
  }
});

test("Graph('reverse', K) refuses a negative or fractional K; 0 is a plain reverse graph", () => {
  for (const K of [-1, 1.5, Number.NaN]) {
    assert.throws(() => new Graph('reverse', K), (e: unknown) => e instanceof ConfigError && /^Graph: reverse mode takes a non-negative integer number of tangent directions/.test((e as Error).message), String(K));
  }
  const g = new Graph('reverse', 0);
  assert.is(g.directions, 0);
  const v = g.leaf(mat(1, 2), { tangent: denseTangent(new Float64Array(2)) });
  assert.is(v.tangent, null, 'no directions: leaves carry no tangent');
});

test.run();
