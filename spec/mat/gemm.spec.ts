import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, matFrom } from '../../lib/mat/mat.js';
import { affineRow, gemm, gemv, flopCounter } from '../../lib/mat/gemm.js';
import { addRow } from '../../lib/mat/elementwise.js';
import { Rng } from '../../lib/mat/rng.js';
import { KERNEL_ORDER } from '../tolerances.js';

const rng = new Rng(20240611);

function random(rows: number, cols: number): Mat {
  const m = mat(rows, cols);
  rng.fillUniform(m, -1, 1);
  return m;
}

// out = alpha * op(a) op(b) + beta * out, the obvious way; also returns sum |terms| per element.
function naive(out: Mat, a: Mat, b: Mat, transA: boolean, transB: boolean, alpha: number, beta: number): Float64Array {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const n = transB ? b.rows : b.cols;
  const scale = new Float64Array(m * n);
  const at = (i: number, p: number) => (transA ? a.data[a.offset + p * a.cols + i] : a.data[a.offset + i * a.cols + p]);
  const bt = (p: number, j: number) => (transB ? b.data[b.offset + j * b.cols + p] : b.data[b.offset + p * b.cols + j]);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        s += at(i, p) * bt(p, j);
        abs += Math.abs(at(i, p) * bt(p, j));
      }
      const o = out.offset + i * n + j;
      const old = beta === 0 ? 0 : beta * out.data[o];
      out.data[o] = alpha * s + old;
      scale[i * n + j] = Math.abs(alpha) * abs + Math.abs(old) + 1;
    }
  }
  return scale;
}

function assertClose(got: Mat, want: Mat, scale: Float64Array, label: string): void {
  assert.is(got.rows, want.rows, `${label}: rows`);
  assert.is(got.cols, want.cols, `${label}: cols`);
  for (let e = 0; e < got.rows * got.cols; e++) {
    const g = got.data[got.offset + e];
    const w = want.data[want.offset + e];
    if (!(Math.abs(g - w) <= KERNEL_ORDER * scale[e])) {
      assert.unreachable(`${label}: element ${e} is ${g}, want ${w}`);
    }
  }
}

function copy(m: Mat): Mat {
  return matFrom(m.rows, m.cols, m.data.slice(m.offset, m.offset + m.rows * m.cols));
}

function copyOf(m: Mat): Mat {
  return { rows: m.rows, cols: m.cols, data: m.data.slice(), offset: m.offset };
}

// [m, k, n]: op(a) is m x k, op(b) is k x n. Covers the tiny, skinny and packed paths
// and every edge remainder of the 4x4 tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 1], [1, 9, 40], [40, 9, 1], [1, 128, 37], [37, 128, 1],
  [7, 13, 5], [5, 13, 7], [2, 64, 70], [70, 64, 3], [5, 40, 50], [6, 40, 50], [50, 40, 6],
  [65, 33, 129], [129, 33, 65], [17, 300, 23], [4, 4, 4], [16, 16, 16], [1, 0, 3], [3, 0, 2],
  // rank-k updates (weight gradients at batch 1..5)
  [64, 1, 64], [33, 1, 70], [70, 2, 9], [12, 5, 40], [9, 3, 9],
];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const SCALARS: [number, number][] = [[1, 0], [0.75, 0], [-1.5, 1], [0.5, -2]];

for (const [transA, transB] of TRANSPOSES) {
  const tag = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
  test(`gemm ${tag} matches the naive triple loop on odd shapes, with alpha and beta`, () => {
    for (const [m, k, n] of SHAPES) {
      for (const [alpha, beta] of SCALARS) {
        const a = transA ? random(k, m) : random(m, k);
        const b = transB ? random(n, k) : random(k, n);
        const out = random(m, n);
        const want = copyOf(out);
        const scale = naive(want, a, b, transA, transB, alpha, beta);
        gemm(out, a, b, transA, transB, alpha, beta);
        assertClose(out, want, scale, `${tag} ${m}x${k}x${n} alpha ${alpha} beta ${beta}`);
      }
    }
  });

  test(`gemm ${tag} reads and writes views at non-zero offsets, leaving the rest alone`, () => {
    for (const [m, k, n] of [[7, 13, 5], [65, 33, 129], [1, 50, 9], [9, 50, 1]] as [number, number, number][]) {
      const view = (rows: number, cols: number, offset: number): Mat => {
        const data = new Float64Array(offset + rows * cols + 11);
        for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-1, 1);
        return matFrom(rows, cols, data, offset);
      };
      const a = transA ? view(k, m, 3) : view(m, k, 3);
      const b = transB ? view(n, k, 8) : view(k, n, 8);
      const out = view(m, n, 5);
      const before = out.data.slice();
      const want = copyOf(out);
      const scale = naive(want, a, b, transA, transB, 2, 0.5);
      gemm(out, a, b, transA, transB, 2, 0.5);
      assertClose(out, want, scale, `${tag} view ${m}x${k}x${n}`);
      for (let i = 0; i < out.data.length; i++) {
        if (i < out.offset || i >= out.offset + m * n) assert.is(out.data[i], before[i], `element ${i} outside out`);
      }
    }
  });

  test(`gemm ${tag} with beta = 0 ignores NaN and garbage in out`, () => {
    for (const [m, k, n] of SHAPES) {
      const a = transA ? random(k, m) : random(m, k);
      const b = transB ? random(n, k) : random(k, n);
      const out = mat(m, n);
      out.data.fill(NaN);
      if (out.data.length > 1) out.data[1] = Infinity;
      const want = mat(m, n);
      const scale = naive(want, a, b, transA, transB, 1.25, 0);
      gemm(out, a, b, transA, transB, 1.25, 0);
      assertClose(out, want, scale, `${tag} NaN ${m}x${k}x${n}`);
    }
  });
}

// The tiny path (m·n·k <= 4096, the steps of small RNNs) reads in whichever order is contiguous,
// but keeps every element's sum in p order from 0: it gives the naive loop's exact bits.
test('gemm on tiny products gives the naive triple loop bit for bit, in every orientation', () => {
  const tiny: [number, number, number][] = [[1, 8, 128], [1, 32, 128], [1, 128, 32], [1, 128, 8], [3, 7, 5], [5, 32, 24], [2, 40, 50], [1, 9, 40], [4, 6, 1], [1, 6, 1], [6, 9, 7]];
  for (const [transA, transB] of TRANSPOSES) {
    for (const [m, k, n] of tiny) {
      for (const [alpha, beta] of SCALARS) {
        const a = transA ? random(k, m) : random(m, k);
        const b = transB ? random(n, k) : random(k, n);
        const out = random(m, n);
        const want = copyOf(out);
        naive(want, a, b, transA, transB, alpha, beta);
        gemm(out, a, b, transA, transB, alpha, beta);
        for (let e = 0; e < m * n; e++) {
          if (out.data[e] !== want.data[e]) assert.unreachable(`${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${k}x${n} alpha ${alpha} beta ${beta}: element ${e} is ${out.data[e]}, the naive loop gives ${want.data[e]}`);
        }
      }
    }
  }
});

// Small batches (2 to 5 rows of op(a)) run two rows at a time; each row must still give the bits
// it gives alone, so a sequence's numbers do not depend on the batch it is run in.
test('gemm on 2 to 5 rows gives each row the bits of that row alone, in every orientation', () => {
  for (const [transA, transB] of TRANSPOSES) {
    for (const [k, n] of [[64, 70], [128, 37], [33, 129], [200, 40], [7, 700]] as [number, number][]) {
      for (const m of [2, 3, 4, 5]) {
        for (const [alpha, beta] of SCALARS) {
          const a = transA ? random(k, m) : random(m, k);
          const b = transB ? random(n, k) : random(k, n);
          const out = random(m, n);
          const rows = Array.from({ length: m }, (_, i) => matFrom(1, n, out.data.slice(i * n, (i + 1) * n)));
          gemm(out, a, b, transA, transB, alpha, beta);
          for (let i = 0; i < m; i++) {
            const ai = mat(1, k);
            for (let p = 0; p < k; p++) ai.data[p] = transA ? a.data[p * m + i] : a.data[i * k + p];
            gemm(rows[i], ai, b, false, transB, alpha, beta);
            for (let j = 0; j < n; j++) {
              if (out.data[i * n + j] !== rows[i].data[j]) assert.unreachable(`${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${k}x${n} alpha ${alpha} beta ${beta}: row ${i} col ${j} is ${out.data[i * n + j]} in the batch, ${rows[i].data[j]} alone`);
            }
          }
        }
      }
    }
  }
});

// A view of a fresh random rows x cols matrix at an offset inside a larger array (the kernels must
// honour offsets).
function randomView(rows: number, cols: number): Mat {
  const pad = 3, data = new Float64Array(rows * cols + 2 * pad);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-1, 1);
  return { rows, cols, data, offset: pad };
}

// affineRow is the linear op at batch 1; its bits must be gemm's per pair then addRow's per bias,
// whichever of gemm's kernels a pair takes (rank update for k <= 5 and n >= 64, the tiny loop,
// the dot rows), so a sequence's numbers do not depend on the batch it runs in.
test('affineRow gives the bits of a gemm per (x, W) pair and an addRow per bias', () => {
  const widths: number[][] = [[32, 128], [8, 32], [3, 64], [3, 70], [128], [5, 2, 40], [0, 16], [1, 200, 7]];
  for (const n of [1, 7, 8, 13, 37, 64, 130, 512]) {
    for (const ks of widths) {
      for (const biases of [0, 1, 2]) {
        const inputs: Mat[] = [];
        for (const k of ks) inputs.push(randomView(1, k), randomView(n, k));
        for (let j = 0; j < biases; j++) inputs.push(randomView(1, n));
        const expected = mat(1, n);
        ks.forEach((_, i) => gemm(expected, inputs[2 * i], inputs[2 * i + 1], false, true, 1, i === 0 ? 0 : 1));
        for (let j = 0; j < biases; j++) addRow(expected, expected, inputs[2 * ks.length + j]);
        const y = randomView(1, n);
        const before = flopCounter.count;
        affineRow(y, inputs, ks.length);
        assert.is(flopCounter.count - before, 2 * n * ks.reduce((a, k) => a + k, 0), 'flops');
        for (let r = 0; r < n; r++) {
          if (!Object.is(y.data[y.offset + r], expected.data[r])) assert.unreachable(`n ${n}, k ${ks}, ${biases} biases: row ${r} is ${y.data[y.offset + r]}, gemm gives ${expected.data[r]}`);
        }
      }
    }
  }
});

test('affineRow: shape and storage errors name the operation and the input', () => {
  assert.throws(() => affineRow(mat(2, 4), [mat(2, 3), mat(4, 3)], 1), /affineRow: y is 2x4, needs one row/);
  assert.throws(() => affineRow(mat(1, 4), [mat(1, 3), mat(4, 2)], 1), /affineRow: input 1 \(a weight\) is 4x2, needs 4x3/);
  assert.throws(() => affineRow(mat(1, 4), [mat(1, 3), mat(4, 3), mat(1, 5)], 1), /affineRow: input 2 \(a bias\) is 1x5, needs 1x4/);
  assert.throws(() => affineRow(mat(1, 4), [mat(1, 3)], 1), /affineRow: needs 1 \(x, W\) pairs before the biases, got 1 inputs/);
  const y = mat(1, 4);
  assert.throws(() => affineRow(y, [mat(1, 3), mat(4, 3), y], 1), /affineRow: out 1x4 at offset 0 shares storage with input 2/);
});

test('gemm: alpha = 0 scales out by beta only', () => {
  const a = random(9, 9), b = random(9, 9), out = random(9, 9);
  const want = copyOf(out);
  for (let i = 0; i < 81; i++) want.data[i] *= 3;
  gemm(out, a, b, false, false, 0, 3);
  assert.equal(Array.from(out.data), Array.from(want.data));
});

test('gemm: large product (blocked along every dimension) matches the naive loop', () => {
  const a = random(140, 520);
  const b = random(520, 1030);
  const out = random(140, 1030);
  const want = copyOf(out);
  // check a sample of rows only, to keep the naive reference cheap
  gemm(out, a, b, false, false, 1, 1);
  for (const i of [0, 1, 63, 127, 128, 139]) {
    for (const j of [0, 3, 511, 1023, 1024, 1029]) {
      let s = 0, abs = 0;
      for (let p = 0; p < 520; p++) {
        s += a.data[i * 520 + p] * b.data[p * 1030 + j];
        abs += Math.abs(a.data[i * 520 + p] * b.data[p * 1030 + j]);
      }
      const w = s + want.data[i * 1030 + j];
      assert.ok(Math.abs(out.data[i * 1030 + j] - w) <= KERNEL_ORDER * (abs + 2), `(${i}, ${j})`);
    }
  }
});

test('gemm: shape errors name the operation and the shapes', () => {
  assert.throws(() => gemm(mat(3, 2), mat(3, 5), mat(4, 2)), /gemm: a\.cols 5 != b\.rows 4.*3x5.*4x2/);
  assert.throws(() => gemm(mat(5, 2), mat(3, 5), mat(4, 2), true), /gemm: a\.rows 3 != b\.rows 4/);
  assert.throws(() => gemm(mat(3, 4), mat(3, 5), mat(4, 2), false, true), /gemm: a\.cols 5 != b\.cols 2/);
  assert.throws(() => gemm(mat(3, 3), mat(3, 5), mat(5, 2)), /gemm: out is 3x3 but .* is 3x2/);
  const bad = { rows: 2, cols: 3, data: new Float64Array(5), offset: 0 };
  assert.throws(() => gemm(mat(2, 2), bad, mat(3, 2)), /gemm: a 2x3 at offset 0 does not fit in 5/);
  assert.throws(() => gemm(mat(2, 2), { rows: NaN, cols: 3, data: new Float64Array(6), offset: 0 }, mat(3, 2)), /gemm: a has shape NaNx3/);
});

test('gemm and gemv add their flop counts', () => {
  const before = flopCounter.count;
  gemm(mat(3, 4), mat(3, 5), mat(5, 4));
  assert.is(flopCounter.count - before, 2 * 3 * 4 * 5);
  gemv(mat(3, 1), mat(3, 5), mat(5, 1));
  assert.is(flopCounter.count - before, 2 * 3 * 4 * 5 + 2 * 3 * 5);
});

test('gemv matches gemm for both orientations, column or row vectors, alpha and beta', () => {
  for (const [rows, cols] of [[1, 1], [1, 7], [7, 1], [5, 3], [512, 128], [33, 65]] as [number, number][]) {
    for (const transA of [false, true]) {
      const a = random(rows, cols);
      const len = transA ? rows : cols;
      const outLen = transA ? cols : rows;
      for (const [alpha, beta] of SCALARS) {
        const x = random(len, 1);
        const out = random(1, outLen); // row vector out, column vector x
        const want = copyOf(out);
        const wantCol: Mat = { rows: outLen, cols: 1, data: want.data, offset: 0 };
        const scale = naive(wantCol, a, x, transA, false, alpha, beta);
        gemv(out, a, x, transA, alpha, beta);
        assertClose({ rows: outLen, cols: 1, data: out.data, offset: 0 }, wantCol, scale, `gemv ${rows}x${cols} ${transA}`);
      }
      const x = random(1, len);
      const out = mat(outLen, 1);
      out.data.fill(NaN);
      const want = mat(outLen, 1);
      const scale = naive(want, a, { rows: len, cols: 1, data: x.data, offset: 0 }, transA, false, 1, 0);
      gemv(out, a, x, transA);
      assertClose(out, want, scale, `gemv NaN ${rows}x${cols} ${transA}`);
    }
  }
});

test('gemv: shape errors name the operation and the shapes', () => {
  assert.throws(() => gemv(mat(3, 1), mat(3, 5), mat(4, 1)), /gemv: a\.cols 5 != length 4 of x 4x1/);
  assert.throws(() => gemv(mat(5, 1), mat(3, 5), mat(4, 1), true), /gemv: a\.rows 3 != length 4/);
  assert.throws(() => gemv(mat(4, 1), mat(3, 5), mat(5, 1)), /gemv: out 4x1 has length 4 but a 3x5 times x gives 3/);
  assert.throws(() => gemv(mat(3, 1), mat(3, 4), mat(2, 2)), /gemv: x is 2x2, not a row or column vector/);
});

test('gemm and gemv refuse out sharing storage with an input, naming the operands', () => {
  const m = random(4, 4);
  assert.throws(() => gemm(m, m, random(4, 4)), /gemm: out 4x4 at offset 0 shares storage with a 4x4 at offset 0/);
  assert.throws(() => gemm(m, random(4, 4), m, false, true), /gemm: out 4x4 at offset 0 shares storage with b 4x4/);
  // Overlapping views of one buffer: rows [0, 2) of a 4x2 as out, rows [1, 4) as a (2x3 transposed).
  const big = random(4, 2);
  const top = matFrom(2, 2, big.data, 0);
  const lower = matFrom(3, 2, big.data, 2);
  assert.throws(() => gemm(top, lower, random(3, 2), true), /gemm: out 2x2 at offset 0 shares storage with a 3x2 at offset 2/);
  assert.throws(() => gemv(matFrom(4, 1, big.data, 4), random(4, 4), matFrom(4, 1, big.data, 2)), /gemv: out 4x1 at offset 4 shares storage with x 4x1 at offset 2/);
  assert.throws(() => gemv(matFrom(4, 1, m.data, 0), m, random(4, 1)), /gemv: out 4x1 at offset 0 shares storage with a 4x4/);
  // Not an overlap: adjacent or disjoint ranges of one buffer, inputs sharing with each other, empty out.
  const rowsA = matFrom(2, 2, big.data, 0);
  const rowsB = matFrom(2, 2, big.data, 4);
  const want = mat(2, 2);
  gemm(want, copy(rowsB), copy(rowsB));
  gemm(rowsA, rowsB, rowsB);
  assert.equal(Array.from(rowsA.data.subarray(0, 4)), Array.from(want.data));
  const shared = random(8, 4);
  gemm(matFrom(4, 4, shared.data, 0), matFrom(4, 4, shared.data, 16), random(4, 4));
  const x = random(3, 3);
  gemm(mat(3, 3), x, x, true, false);
  gemm(matFrom(0, 3, m.data, 0), matFrom(0, 2, m.data, 0), random(2, 3));
});

test('gemm and gemv refuse NaN and infinite alpha or beta', () => {
  const a = random(3, 3), b = random(3, 3), out = random(3, 3);
  for (const v of [NaN, Infinity, -Infinity]) {
    assert.throws(() => gemm(out, a, b, false, false, v, 0), new RegExp(`gemm: alpha is ${v}, not a finite number`));
    assert.throws(() => gemm(out, a, b, false, false, 1, v), new RegExp(`gemm: beta is ${v}, not a finite number`));
    assert.throws(() => gemv(mat(3, 1), a, mat(3, 1), false, v), new RegExp(`gemv: alpha is ${v}, not a finite number`));
    assert.throws(() => gemv(mat(3, 1), a, mat(3, 1), false, 1, v), new RegExp(`gemv: beta is ${v}, not a finite number`));
  }
  assert.throws(() => gemm(out, a, b, false, false, '1' as unknown as number), /gemm: alpha must be a number, got string/);
});

test('gemm: the storage and scalar checks cost next to nothing on a 1x1 product', () => {
  // The cheapest call spends its time in checks; compare it with a 2x2x2 product, which does the
  // same checks plus eight multiply-adds: the checks must not make the 1x1 call more than a few us.
  const one = mat(1, 1), a1 = mat(1, 1), b1 = mat(1, 1);
  const calls = 200_000;
  for (let i = 0; i < 10_000; i++) gemm(one, a1, b1);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) gemm(one, a1, b1, false, false, 1, 0.5);
  const perCall = (performance.now() - t0) / calls * 1e3;
  assert.ok(perCall < 2, `a 1x1 gemm takes ${perCall.toFixed(3)} us`);
});

test.run();
