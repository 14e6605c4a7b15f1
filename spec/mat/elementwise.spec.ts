// Every element-wise kernel, broadcast and reduction against a plain loop over
// (row, column), on odd shapes, on views at non-zero offsets, and in place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as k from '../../lib/mat/elementwise.js';
import { type Mat, mat, matFrom } from '../../lib/mat/mat.js';
import * as pm from '../../lib/mat/math.js';
import { Rng } from '../../lib/mat/rng.js';

const rng = new Rng(77);
const SHAPES: [number, number][] = [[1, 1], [1, 9], [9, 1], [7, 13], [65, 33]];

/** A rows x cols view at a non-zero offset inside a larger random buffer. */
function view(rows: number, cols: number, positive = false): Mat {
  const offset = 3 + rng.int(5);
  const data = new Float64Array(offset + rows * cols + 4);
  for (let i = 0; i < data.length; i++) data[i] = positive ? 0.1 + rng.uniform(0, 3) : rng.normal(0, 2);
  return matFrom(rows, cols, data, offset);
}

const at = (m: Mat, r: number, c: number) => m.data[m.offset + r * m.cols + c];

function expectEach(out: Mat, want: (r: number, c: number) => number, label: string, tol = 0): void {
  for (let r = 0; r < out.rows; r++) {
    for (let c = 0; c < out.cols; c++) {
      const got = at(out, r, c), w = want(r, c);
      assert.ok(Math.abs(got - w) <= tol * Math.max(1, Math.abs(w)), `${label} at (${r}, ${c}): ${got}, want ${w}`);
    }
  }
}

for (const [rows, cols] of SHAPES) {
  const tag = `${rows}x${cols}`;
  test(`binary and affine kernels, ${tag}`, () => {
    const a = view(rows, cols), b = view(rows, cols), out = view(rows, cols);
    const A = (r: number, c: number) => at(a, r, c), B = (r: number, c: number) => at(b, r, c);
    k.add(out, a, b); expectEach(out, (r, c) => A(r, c) + B(r, c), 'add');
    k.sub(out, a, b); expectEach(out, (r, c) => A(r, c) - B(r, c), 'sub');
    k.mul(out, a, b); expectEach(out, (r, c) => A(r, c) * B(r, c), 'mul');
    k.affine(out, a, -1.5, 0.25); expectEach(out, (r, c) => -1.5 * A(r, c) + 0.25, 'affine');
    const y = view(rows, cols), before = Array.from({ length: rows * cols }, (_, i) => y.data[y.offset + i]);
    k.axpy(0.5, a, y); expectEach(y, (r, c) => before[r * cols + c] + 0.5 * A(r, c), 'axpy');
    // in place: out aliases an input
    const copy = Array.from({ length: rows * cols }, (_, i) => a.data[a.offset + i]);
    k.add(a, a, b); expectEach(a, (r, c) => copy[r * cols + c] + B(r, c), 'add in place');
  });

  test(`broadcasts and reductions, ${tag}`, () => {
    const a = view(rows, cols), row = view(1, cols), column = view(rows, 1), out = view(rows, cols);
    const A = (r: number, c: number) => at(a, r, c);
    k.addRow(out, a, row); expectEach(out, (r, c) => A(r, c) + at(row, 0, c), 'addRow');
    k.mulRow(out, a, row); expectEach(out, (r, c) => A(r, c) * at(row, 0, c), 'mulRow');
    k.mulColumn(out, a, column); expectEach(out, (r, c) => A(r, c) * at(column, r, 0), 'mulColumn');
    const sums = view(1, cols), old = Array.from({ length: cols }, (_, c) => at(sums, 0, c));
    k.sumRows(sums, a, 2, 0.5);
    expectEach(sums, (_r, c) => { let s = 0; for (let r = 0; r < rows; r++) s += A(r, c); return 0.5 * old[c] + 2 * s; }, 'sumRows', 1e-14);
    const rowSums = view(rows, 1);
    k.sumCols(rowSums, a);
    expectEach(rowSums, (r) => { let s = 0; for (let c = 0; c < cols; c++) s += A(r, c); return s; }, 'sumCols', 1e-14);
    let total = 0, sq = 0, biggest = 0;
    const b = view(rows, cols);
    let dot = 0;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      total += A(r, c); sq += A(r, c) ** 2; biggest = Math.max(biggest, Math.abs(A(r, c))); dot += A(r, c) * at(b, r, c);
    }
    assert.ok(Math.abs(k.sum(a) - total) <= 1e-14 * Math.max(1, Math.abs(total)));
    assert.ok(Math.abs(k.dot(a, b) - dot) <= 1e-14 * Math.max(1, Math.abs(dot)));
    assert.is(k.maxAbs(a), biggest);
    assert.ok(Math.abs(k.norm2(a) - Math.sqrt(sq)) <= 1e-14 * Math.sqrt(sq));
  });

  test(`activations and (log-)softmax, ${tag}`, () => {
    const a = view(rows, cols), pos = view(rows, cols, true), out = view(rows, cols);
    const A = (r: number, c: number) => at(a, r, c);
    k.tanh(out, a); expectEach(out, (r, c) => pm.tanh(A(r, c)), 'tanh');
    k.sigmoid(out, a); expectEach(out, (r, c) => 1 / (1 + pm.exp(-A(r, c))), 'sigmoid', 1e-15);
    k.relu(out, a); expectEach(out, (r, c) => Math.max(0, A(r, c)), 'relu');
    k.exp(out, a); expectEach(out, (r, c) => pm.exp(A(r, c)), 'exp');
    k.log(out, pos); expectEach(out, (r, c) => pm.log(at(pos, r, c)), 'log');
    k.softplus(out, a); expectEach(out, (r, c) => pm.log1p(pm.exp(A(r, c))), 'softplus', 1e-15);
    const lse = (r: number) => { let s = 0; for (let c = 0; c < cols; c++) s += Math.exp(A(r, c)); return Math.log(s); };
    k.logSoftmaxRows(out, a); expectEach(out, (r, c) => A(r, c) - lse(r), 'logSoftmaxRows', 1e-14);
    k.softmaxRows(out, a); expectEach(out, (r, c) => Math.exp(A(r, c) - lse(r)), 'softmaxRows', 1e-14);
  });
}

test('softmax and log-softmax stay finite for huge logits; sigmoid and softplus do not overflow', () => {
  const a = matFrom(1, 3, new Float64Array([1000, 999, -1000])), out = mat(1, 3);
  k.logSoftmaxRows(out, a);
  assert.ok(out.data.every(Number.isFinite));
  assert.ok(Math.abs(out.data[1] - (-1 - Math.log1p(Math.exp(-1)))) < 1e-12);
  k.softmaxRows(out, a);
  assert.ok(Math.abs(out.data[0] + out.data[1] + out.data[2] - 1) < 1e-15);
  k.sigmoid(out, a);
  assert.equal(Array.from(out.data), [1, 1, 0]);
  k.softplus(out, a);
  assert.equal(Array.from(out.data), [1000, 999, 0]);
});

test('shape errors name the kernel and the shapes', () => {
  assert.throws(() => k.add(mat(2, 3), mat(2, 3), mat(3, 2)), /add: shapes 2x3 and 3x2 differ/);
  assert.throws(() => k.addRow(mat(2, 3), mat(2, 3), mat(1, 2)), /addRow: row vector 1x2 does not broadcast over 2x3 \(need 1x3\)/);
  assert.throws(() => k.mulColumn(mat(2, 3), mat(2, 3), mat(3, 1)), /mulColumn: column vector 3x1 does not broadcast over 2x3 \(need 2x1\)/);
  assert.throws(() => k.sumRows(mat(2, 3), mat(2, 3)), /sumRows: out 2x3 must be 1x3 for 2x3/);
  assert.throws(() => k.sumCols(mat(1, 2), mat(2, 3)), /sumCols: out 1x2 must be 2x1 for 2x3/);
  assert.throws(() => k.dot(mat(1, 2), mat(2, 1)), /dot: shapes 1x2 and 2x1 differ/);
});

test.run();
