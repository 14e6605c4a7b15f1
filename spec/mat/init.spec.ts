import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, matFrom } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { ORTHOGONAL } from '../tolerances.js';
import {
  uniformInit, normalInit, xavierUniform, xavierNormal, heNormal, heUniform,
  orthogonal, identityInit, pytorchRnnUniform,
} from '../../lib/mat/init.js';

function elements(m: Mat): number[] {
  return Array.from(m.data.subarray(m.offset, m.offset + m.rows * m.cols));
}

function stats(m: Mat): { mean: number; variance: number; min: number; max: number } {
  const xs = elements(m);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { mean, variance, min: Math.min(...xs), max: Math.max(...xs) };
}

// G = m mᵀ (rows) or mᵀ m (cols), compared with gain² I.
function assertOrthonormal(m: Mat, gain: number, label: string): void {
  const byRows = m.rows <= m.cols;
  const count = byRows ? m.rows : m.cols;
  const length = byRows ? m.cols : m.rows;
  const at = (v: number, i: number) => (byRows ? m.data[m.offset + v * m.cols + i] : m.data[m.offset + i * m.cols + v]);
  for (let u = 0; u < count; u++) {
    for (let v = 0; v < count; v++) {
      let d = 0;
      for (let i = 0; i < length; i++) d += at(u, i) * at(v, i);
      const want = u === v ? gain * gain : 0;
      assert.ok(Math.abs(d - want) <= ORTHOGONAL * Math.max(1, gain * gain) * length, `${label}: <${u}, ${v}> = ${d}`);
    }
  }
}

test('orthogonal: square, tall and wide matrices are (semi-)orthogonal, gain scales', () => {
  const r = new Rng(1);
  for (const [rows, cols] of [[1, 1], [5, 5], [64, 64], [40, 7], [7, 40], [1, 9], [9, 1], [128, 512]] as [number, number][]) {
    const m = mat(rows, cols);
    orthogonal(m, r);
    assertOrthonormal(m, 1, `${rows}x${cols}`);
  }
  const g = mat(12, 12);
  orthogonal(g, r, 2.5);
  assertOrthonormal(g, 2.5, 'gain 2.5');
});

test('orthogonal: deterministic per seed, different across seeds, writes only its view', () => {
  const a = mat(6, 6), b = mat(6, 6), c = mat(6, 6);
  orthogonal(a, new Rng(3));
  orthogonal(b, new Rng(3));
  orthogonal(c, new Rng(4));
  assert.equal(elements(a), elements(b));
  assert.not.equal(elements(a), elements(c));
  const data = new Float64Array(30).fill(7);
  const view = matFrom(4, 5, data, 6);
  orthogonal(view, new Rng(5));
  assertOrthonormal(view, 1, 'view');
  for (let i = 0; i < 30; i++) if (i < 6 || i >= 26) assert.is(data[i], 7);
});

test('orthogonal: the 1x1 case is +-1 and square Q is spread over both signs', () => {
  let positives = 0;
  const r = new Rng(6);
  for (let i = 0; i < 200; i++) {
    const m = mat(1, 1);
    orthogonal(m, r);
    assert.ok(Math.abs(Math.abs(m.data[0]) - 1) < 1e-14, `${m.data[0]}`);
    if (m.data[0] > 0) positives++;
  }
  assert.ok(positives > 60 && positives < 140, `positives ${positives}`);
});

test('xavierUniform / xavierNormal: bounds and spread use fan_in = cols, fan_out = rows', () => {
  const m = mat(300, 100); // fan_out 300, fan_in 100
  const bound = Math.sqrt(6 / 400);
  xavierUniform(m, new Rng(7));
  let s = stats(m);
  assert.ok(s.min >= -bound && s.max < bound, `range [${s.min}, ${s.max}] vs ${bound}`);
  assert.ok(s.max > 0.98 * bound && s.min < -0.98 * bound, 'fills the range');
  assert.ok(Math.abs(s.variance - bound * bound / 3) < 0.03 * bound * bound / 3, `variance ${s.variance}`);
  xavierUniform(m, new Rng(7), 2);
  s = stats(m);
  assert.ok(s.min >= -2 * bound && s.max < 2 * bound && s.max > 1.96 * bound);
  xavierNormal(m, new Rng(8), 1.5);
  s = stats(m);
  const variance = 1.5 * 1.5 * 2 / 400;
  assert.ok(Math.abs(s.mean) < 0.01 * Math.sqrt(variance) * 10, `mean ${s.mean}`);
  assert.ok(Math.abs(s.variance - variance) < 0.03 * variance, `variance ${s.variance} vs ${variance}`);
});

test('heNormal / heUniform: kaiming with fan_in = cols and gain sqrt(2)', () => {
  const m = mat(200, 150);
  heNormal(m, new Rng(9));
  let s = stats(m);
  assert.ok(Math.abs(s.variance - 2 / 150) < 0.03 * 2 / 150, `variance ${s.variance}`);
  heUniform(m, new Rng(10));
  s = stats(m);
  const bound = Math.sqrt(6 / 150);
  assert.ok(s.min >= -bound && s.max < bound && s.max > 0.98 * bound, `range [${s.min}, ${s.max}] vs ${bound}`);
  heNormal(m, new Rng(11), 1);
  s = stats(m);
  assert.ok(Math.abs(s.variance - 1 / 150) < 0.03 / 150, `gain 1 variance ${s.variance}`);
});

test('uniformInit, normalInit and pytorchRnnUniform respect their parameters', () => {
  const m = mat(100, 100);
  uniformInit(m, new Rng(12), -0.25, 0.75);
  let s = stats(m);
  assert.ok(s.min >= -0.25 && s.max < 0.75 && Math.abs(s.mean - 0.25) < 0.01);
  normalInit(m, new Rng(13), 0.1);
  s = stats(m);
  assert.ok(Math.abs(s.mean) < 0.005 && Math.abs(s.variance - 0.01) < 0.0005, `normal ${s.mean} ${s.variance}`);
  normalInit(m, new Rng(13), 0.1, 4);
  assert.ok(Math.abs(stats(m).mean - 4) < 0.005);
  pytorchRnnUniform(m, new Rng(14), 64);
  s = stats(m);
  assert.ok(s.min >= -0.125 && s.max < 0.125 && s.max > 0.12 && s.min < -0.12);
});

test('identityInit: scale on the diagonal of any shape, zeros elsewhere', () => {
  for (const [rows, cols] of [[4, 4], [3, 5], [5, 3], [1, 1]] as [number, number][]) {
    const m = mat(rows, cols);
    m.data.fill(9);
    identityInit(m, 0.5);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) assert.is(m.data[r * cols + c], r === c ? 0.5 : 0, `${rows}x${cols} (${r}, ${c})`);
    }
  }
  const sq = mat(3, 3);
  identityInit(sq);
  assert.equal(elements(sq), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test('initialisers are deterministic per seed', () => {
  for (const init of [
    (m: Mat, r: Rng) => xavierUniform(m, r), (m: Mat, r: Rng) => xavierNormal(m, r),
    (m: Mat, r: Rng) => heNormal(m, r), (m: Mat, r: Rng) => heUniform(m, r),
    (m: Mat, r: Rng) => orthogonal(m, r), (m: Mat, r: Rng) => pytorchRnnUniform(m, r, 8),
  ]) {
    const a = mat(8, 5), b = mat(8, 5);
    init(a, new Rng(15));
    init(b, new Rng(15));
    assert.equal(elements(a), elements(b));
  }
});

test('bad arguments throw errors that name the initialiser', () => {
  const r = new Rng(16);
  assert.throws(() => uniformInit(mat(2, 2), r, 1, 0), /uniformInit: hi 0 < lo 1/);
  assert.throws(() => uniformInit(mat(2, 2), r, 0, Infinity), /uniformInit: hi must be a finite number/);
  assert.throws(() => normalInit(mat(2, 2), r, -1), /normalInit: std -1 < 0/);
  assert.throws(() => xavierUniform(mat(0, 3), r), /xavierUniform: fan_in and fan_out of 0x3 must be positive/);
  assert.throws(() => xavierNormal(mat(2, 2), r, NaN), /xavierNormal: gain must be a finite number/);
  assert.throws(() => heNormal(mat(3, 0), r), /heNormal: fan_in and fan_out of 3x0/);
  assert.throws(() => orthogonal(mat(0, 0), r), /orthogonal: fan_in and fan_out of 0x0/);
  assert.throws(() => pytorchRnnUniform(mat(2, 2), r, 0), /pytorchRnnUniform: hiddenSize 0 is not a positive integer/);
  assert.throws(() => pytorchRnnUniform(mat(2, 2), r, 2.5), /pytorchRnnUniform: hiddenSize 2.5/);
  assert.throws(() => identityInit(mat(2, 2), NaN), /identityInit: scale must be a finite number/);
});

test.run();
