// Table-driven over every primitive: reverse mode against central finite
// differences, forward mode against reverse mode by the dot-product identity,
// and seed tangents (RTRL's parameter leaves) against explicit identity tangents.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { primitives, type PrimName, type PrimAttrs } from '../../lib/ad/primitives.js';
import { Graph, type Var } from '../../lib/ad/graph.js';
import { gradCheck, valueAndGrad, vjp, jvp } from '../../lib/ad/api.js';
import { seedTangent, denseTangent } from '../../lib/ad/tangent.js';
import { type Mat, mat, matFrom, matOf } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { DOT_IDENTITY, FD_PRIMITIVE, FD_STEP } from '../tolerances.js';
import { assertSeedMatchesIdentity } from './seed-check.js';

interface Case<N extends PrimName> {
  op: N;
  label: string;
  shapes: [number, number][];
  attrs: PrimAttrs[N];
  /** Keeps inputs where the function is smooth (log needs x > 0, relu avoids 0). */
  positive?: boolean;
  /** Adjusts the random inputs (e.g. a 0/1 mask). */
  prepare?: (inputs: Mat[]) => void;
}

const cases: Case<PrimName>[] = [
  { op: 'add', label: 'add', shapes: [[3, 4], [3, 4]], attrs: null },
  { op: 'sub', label: 'sub', shapes: [[2, 5], [2, 5]], attrs: null },
  { op: 'mul', label: 'mul', shapes: [[4, 3], [4, 3]], attrs: null },
  { op: 'affine', label: 'affine', shapes: [[3, 3]], attrs: { scale: -1.5, shift: 0.25 } },
  { op: 'lerp', label: 'lerp', shapes: [[3, 4], [3, 4], [3, 4]], attrs: null },
  { op: 'addRow', label: 'addRow', shapes: [[4, 3], [1, 3]], attrs: null },
  { op: 'mulRow', label: 'mulRow', shapes: [[4, 3], [1, 3]], attrs: null },
  { op: 'mulColumn', label: 'mulColumn', shapes: [[4, 3], [4, 1]], attrs: null },
  { op: 'selectRows', label: 'selectRows', shapes: [[4, 3], [4, 3], [4, 1]], attrs: null, prepare: ([, , mask]) => { mask.data.set([1, 0, 0, 1]); } },
  { op: 'gatherRows', label: 'gatherRows (a repeated row)', shapes: [[5, 3], [4, 1]], attrs: null, prepare: ([, index]) => { index.data.set([3, 0, 3, 4]); } },
  { op: 'matmul', label: 'matmul a·b', shapes: [[3, 4], [4, 5]], attrs: { transA: false, transB: false } },
  { op: 'matmul', label: 'matmul aᵀ·b', shapes: [[4, 3], [4, 5]], attrs: { transA: true, transB: false } },
  { op: 'matmul', label: 'matmul a·bᵀ', shapes: [[3, 4], [5, 4]], attrs: { transA: false, transB: true } },
  { op: 'matmul', label: 'matmul aᵀ·bᵀ', shapes: [[4, 3], [5, 4]], attrs: { transA: true, transB: true } },
  { op: 'matmul', label: 'matmul row·bᵀ', shapes: [[1, 4], [6, 4]], attrs: { transA: false, transB: true } },
  { op: 'linear', label: 'linear x·Wᵀ', shapes: [[3, 4], [5, 4]], attrs: { pairs: 1 } },
  { op: 'linear', label: 'linear x·W1ᵀ + h·W2ᵀ + b1 + b2', shapes: [[2, 3], [4, 3], [2, 5], [4, 5], [1, 4], [1, 4]], attrs: { pairs: 2 } },
  { op: 'tanh', label: 'tanh', shapes: [[3, 4]], attrs: null },
  { op: 'sigmoid', label: 'sigmoid', shapes: [[3, 4]], attrs: null },
  { op: 'relu', label: 'relu', shapes: [[3, 4]], attrs: null },
  { op: 'exp', label: 'exp', shapes: [[2, 3]], attrs: null },
  { op: 'log', label: 'log', shapes: [[2, 3]], attrs: null, positive: true },
  { op: 'softplus', label: 'softplus', shapes: [[2, 3]], attrs: null },
  { op: 'sliceCols', label: 'sliceCols', shapes: [[3, 6]], attrs: { start: 2, count: 3 } },
  { op: 'concatCols', label: 'concatCols', shapes: [[3, 2], [3, 4], [3, 1]], attrs: null },
  { op: 'sliceRows', label: 'sliceRows', shapes: [[5, 3]], attrs: { start: 1, count: 3 } },
  { op: 'concatRows', label: 'concatRows', shapes: [[2, 3], [1, 3]], attrs: null },
  { op: 'sum', label: 'sum', shapes: [[3, 4]], attrs: null },
  { op: 'dot', label: 'dot', shapes: [[3, 4], [3, 4]], attrs: null },
  { op: 'logSoftmax', label: 'logSoftmax', shapes: [[3, 5]], attrs: null },
  { op: 'softmax', label: 'softmax', shapes: [[3, 5]], attrs: null },
];

function randomInputs(c: Case<PrimName>, rng: Rng): Mat[] {
  const inputs = c.shapes.map(([r, k]) => {
    const m = mat(r, k);
    for (let i = 0; i < r * k; i++) {
      let v = rng.normal(0, 1);
      if (c.positive) v = 0.5 + Math.abs(v);
      else if (c.op === 'relu' && Math.abs(v) < 0.05) v += 0.1; // stay off the kink
      m.data[i] = v;
    }
    return m;
  });
  c.prepare?.(inputs);
  return inputs;
}

const apply = (c: Case<PrimName>) => (g: Graph, xs: Var[]) => g.apply(c.op, xs, c.attrs as never);

test('every primitive has a row in the table', () => {
  const covered = new Set(cases.map((c) => c.op));
  for (const name of Object.keys(primitives)) assert.ok(covered.has(name as PrimName), `primitive ${name} is not tested`);
});

for (const c of cases) {
  test(`${c.label}: reverse mode = finite differences, forward = reverse (dot-product identity)`, () => {
    const rng = new Rng(7);
    const report = gradCheck(apply(c), randomInputs(c, rng), { seed: 3, epsilon: FD_STEP, tolerance: FD_PRIMITIVE, directions: 4 });
    assert.ok(report.finiteDifferenceError < FD_PRIMITIVE, `${c.label}: ${report.worst}`);
    assert.ok(report.dotProductError < DOT_IDENTITY, `${c.label}: dot-product identity off by ${report.dotProductError}`);
    assert.ok(report.ok);
  });

  test(`${c.label}: a seed tangent equals the identity tangent it stands for`, () => {
    const rng = new Rng(11);
    assertSeedMatchesIdentity(c.label, apply(c), randomInputs(c, rng), rng);
  });
}

test('valueAndGrad, vjp and jvp agree with each other and with the closed form', () => {
  // f(w, x) = Σ tanh(w·x): df/dw = (1 - tanh²(w·x))·xᵀ, df/dx = wᵀ·(1 - tanh²(w·x)).
  const rng = new Rng(21);
  const w = mat(3, 4), x = mat(4, 2);
  rng.fillNormal(w, 0, 0.5); rng.fillNormal(x, 0, 0.5);
  const f = (g: Graph, [wv, xv]: Var[]) => g.sum(g.tanh(g.matmul(wv, xv)));
  const { value, grads } = valueAndGrad(f, [w, x]);
  let expected = 0;
  const gw = new Float64Array(12), gx = new Float64Array(8);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += w.data[i * 4 + k] * x.data[k * 2 + j];
    const y = Math.tanh(s), d = 1 - y * y;
    expected += y;
    for (let k = 0; k < 4; k++) { gw[i * 4 + k] += d * x.data[k * 2 + j]; gx[k * 2 + j] += d * w.data[i * 4 + k]; }
  }
  assert.ok(Math.abs(value - expected) < 1e-14);
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(grads[0].data[i] - gw[i]) < 1e-14, `dw[${i}]`);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(grads[1].data[i] - gx[i]) < 1e-14, `dx[${i}]`);
  // jvp in the direction of the gradient gives |grad|².
  const { tangent } = jvp(f, [w, x], [matFrom(12, 1, grads[0].data), matFrom(8, 1, grads[1].data)]);
  let norm2 = 0;
  for (const gm of grads) for (const v of gm.data) norm2 += v * v;
  assert.ok(Math.abs(tangent.data[0] - norm2) < 1e-12 * norm2);
  const viaVjp = vjp(f, [w, x], matOf([[2]]));
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(viaVjp.grads[0].data[i] - 2 * gw[i]) < 1e-13);
  assert.throws(() => valueAndGrad((g, [a]) => g.tanh(a), [w]), /valueAndGrad: the function returned 3x4, not a 1x1 scalar/);
});

test('bad shapes throw errors that name the op and the shapes', () => {
  const g = new Graph('eval');
  const a = g.leaf(mat(2, 3)), b = g.leaf(mat(4, 5));
  assert.throws(() => g.add(a, b), /add: shapes 2x3 and 4x5 differ/);
  assert.throws(() => g.matmul(a, b), /matmul: a is 2x3 and b is 4x5/);
  assert.throws(() => g.addRow(a, b), /addRow: row vector 4x5 does not broadcast over 2x3/);
  assert.throws(() => g.sliceCols(a, 2, 2), /sliceCols: columns \[2, 4\) out of range for 2x3/);
  assert.throws(() => mat(-1, 2), /mat: shape -1x2/);
  assert.throws(() => mat(NaN, 2), /mat: shape NaNx2/);
  assert.throws(() => new Graph('forward', 0), /forward mode needs a positive integer number of directions/);
});

test('slices of contiguous elements are views of the input tangent, not copies', () => {
  const K = 3;
  const g = new Graph('forward', K);
  const data = new Float64Array(2 * 4 * K).map((_, i) => i);
  const a = g.leaf(mat(2, 4), { tangent: denseTangent(data) });
  const rows = g.sliceRows(a, 1, 1).tangent!;
  assert.ok(rows.kind === 'dense' && rows.data === data && rows.offset === 4 * K);
  const h = new Graph('forward', 16);
  const row = h.leaf(mat(1, 4), { tangent: seedTangent(10) });
  const cols = h.sliceCols(row, 2, 2).tangent!;
  assert.ok(cols.kind === 'seed' && cols.start === 12);
  const wide = g.sliceCols(a, 1, 2).tangent!; // two rows: not contiguous, so a copy
  assert.ok(wide.kind === 'dense' && wide.data !== data);
});

test('leaf tangents that do not fit the graph are refused; stale Vars after reset() are refused', () => {
  const g = new Graph('forward', 5);
  assert.throws(() => g.leaf(mat(2, 2), { tangent: seedTangent(2) }), /leaf: a seed tangent at direction 2 for 2x2 \(4 elements\) does not fit in 5 directions/);
  assert.throws(() => g.leaf(mat(2, 2), { tangent: denseTangent(new Float64Array(19)) }), /leaf: a dense tangent for 2x2 needs 4 x 5 numbers from offset 0, but holds 19/);
  // The arena hands out its node objects again in order, so a stale Var whose slot has not
  // been reached yet is caught (one already reused is indistinguishable from the new Var).
  const r = new Graph('reverse');
  r.leaf(mat(1, 1), { requiresGrad: true });
  const old = r.leaf(mat(1, 1), { requiresGrad: true });
  r.reset();
  const fresh = r.leaf(mat(1, 1), { requiresGrad: true });
  assert.throws(() => r.add(old, fresh), /add: input 0 was made before the graph's last reset\(\)/);
});

test('a backward() that throws leaves no stale state: the next one gives the right gradient', () => {
  // Two steps sharing W: the walk defers the outer step's W gradient, then fails in the inner one.
  const w = mat(2, 2), x = mat(4, 2);
  new Rng(5).fillNormal(w, 0, 1); new Rng(6).fillNormal(x, 0, 1);
  const g = new Graph('reverse');
  const run = () => {
    g.reset();
    const wv = g.leaf(w, { requiresGrad: true });
    const y = g.sum(g.tanh(g.linear(g.tanh(g.linear(g.constant(x), wv)), wv)));
    g.backward(y);
    return Array.from(wv.grad!.data);
  };
  const expected = run();
  const table = primitives as unknown as Record<string, { vjp: (...a: unknown[]) => void }>;
  const original = table.tanh.vjp;
  let calls = 0;
  table.tanh.vjp = (...args: unknown[]) => { if (++calls === 2) throw new Error('injected'); original(...args); };
  try { assert.throws(run, /injected/); } finally { table.tanh.vjp = original; }
  assert.equal(run(), expected);
});

test('zero tangents cost nothing: ops on untangented values carry no tangent', () => {
  const g = new Graph('forward', 1000);
  const a = g.leaf(mat(3, 3)), b = g.leaf(mat(3, 3), { tangent: seedTangent(0) });
  assert.is(g.tanh(g.add(a, a)).tangent, null);
  assert.ok(g.add(a, b).tangent !== null);
});

test('the arena reuses buffers when the same computation runs again', () => {
  const g = new Graph('reverse');
  const x = mat(2, 2);
  const run = () => { g.reset(); const v = g.leaf(x, { requiresGrad: true }); return g.sum(g.tanh(v)); };
  const first = run().value.data;
  const second = run().value.data;
  assert.is(first, second);
});

test.run();
