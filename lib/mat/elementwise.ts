// Element-wise kernels, broadcasts and reductions. Each writes into a
// caller-supplied `out` (which may alias an input) and allocates nothing.
// Shapes are checked once per call, never per element.
import { type Mat, assertSameShape, shapeOf } from './mat.js';
import * as pm from './math.js';
import { ShapeError } from './errors.js';

function size(m: Mat): number {
  return m.rows * m.cols;
}

/** out = a + b */
export function add(out: Mat, a: Mat, b: Mat): void {
  assertSameShape('add', a, b);
  assertSameShape('add', out, a);
  const n = size(a), o = out.data, ad = a.data, bd = b.data;
  const oo = out.offset, ao = a.offset, bo = b.offset;
  for (let i = 0; i < n; i++) o[oo + i] = ad[ao + i] + bd[bo + i];
}

/** out = a - b */
export function sub(out: Mat, a: Mat, b: Mat): void {
  assertSameShape('sub', a, b);
  assertSameShape('sub', out, a);
  const n = size(a), o = out.data, ad = a.data, bd = b.data;
  const oo = out.offset, ao = a.offset, bo = b.offset;
  for (let i = 0; i < n; i++) o[oo + i] = ad[ao + i] - bd[bo + i];
}

/** out = a ⊙ b */
export function mul(out: Mat, a: Mat, b: Mat): void {
  assertSameShape('mul', a, b);
  assertSameShape('mul', out, a);
  const n = size(a), o = out.data, ad = a.data, bd = b.data;
  const oo = out.offset, ao = a.offset, bo = b.offset;
  for (let i = 0; i < n; i++) o[oo + i] = ad[ao + i] * bd[bo + i];
}

/** out = scale · a + shift */
export function affine(out: Mat, a: Mat, scale: number, shift = 0): void {
  assertSameShape('affine', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = scale * ad[ao + i] + shift;
}

/** y += alpha · x */
export function axpy(alpha: number, x: Mat, y: Mat): void {
  assertSameShape('axpy', x, y);
  const n = size(x), xd = x.data, yd = y.data, xo = x.offset, yo = y.offset;
  for (let i = 0; i < n; i++) yd[yo + i] += alpha * xd[xo + i];
}

function assertRowVector(op: string, m: Mat, row: Mat): void {
  if (row.rows !== 1 || row.cols !== m.cols) {
    throw new ShapeError(op, `row vector ${shapeOf(row)} does not broadcast over ${shapeOf(m)} (need 1x${m.cols})`, { row: [row.rows, row.cols], m: [m.rows, m.cols] });
  }
}

/** out[r, c] = a[r, c] + row[c]  (a bias added to every row) */
export function addRow(out: Mat, a: Mat, row: Mat): void {
  assertRowVector('addRow', a, row);
  assertSameShape('addRow', out, a);
  const cols = a.cols, o = out.data, ad = a.data, rd = row.data;
  for (let r = 0; r < a.rows; r++) {
    const oo = out.offset + r * cols, ao = a.offset + r * cols;
    for (let c = 0; c < cols; c++) o[oo + c] = ad[ao + c] + rd[row.offset + c];
  }
}

/** out[r, c] = a[r, c] · row[c] */
export function mulRow(out: Mat, a: Mat, row: Mat): void {
  assertRowVector('mulRow', a, row);
  assertSameShape('mulRow', out, a);
  const cols = a.cols, o = out.data, ad = a.data, rd = row.data;
  for (let r = 0; r < a.rows; r++) {
    const oo = out.offset + r * cols, ao = a.offset + r * cols;
    for (let c = 0; c < cols; c++) o[oo + c] = ad[ao + c] * rd[row.offset + c];
  }
}

/** out[r, c] = a[r, c] · column[r]  (scale each row) */
export function mulColumn(out: Mat, a: Mat, column: Mat): void {
  if (column.cols !== 1 || column.rows !== a.rows) {
    throw new ShapeError('mulColumn', `column vector ${shapeOf(column)} does not broadcast over ${shapeOf(a)} (need ${a.rows}x1)`, { column: [column.rows, column.cols], a: [a.rows, a.cols] });
  }
  assertSameShape('mulColumn', out, a);
  const cols = a.cols, o = out.data, ad = a.data;
  for (let r = 0; r < a.rows; r++) {
    const s = column.data[column.offset + r];
    const oo = out.offset + r * cols, ao = a.offset + r * cols;
    for (let c = 0; c < cols; c++) o[oo + c] = ad[ao + c] * s;
  }
}

/** out (1 x cols) = sum over rows of a, times alpha, plus beta · out */
export function sumRows(out: Mat, a: Mat, alpha = 1, beta = 0): void {
  if (out.rows !== 1 || out.cols !== a.cols) {
    throw new ShapeError('sumRows', `out ${shapeOf(out)} must be 1x${a.cols} for ${shapeOf(a)}`, { out: [out.rows, out.cols], a: [a.rows, a.cols] });
  }
  const cols = a.cols, o = out.data, ad = a.data, oo = out.offset;
  for (let c = 0; c < cols; c++) o[oo + c] = beta === 0 ? 0 : beta * o[oo + c];
  for (let r = 0; r < a.rows; r++) {
    const ao = a.offset + r * cols;
    for (let c = 0; c < cols; c++) o[oo + c] += alpha * ad[ao + c];
  }
}

/** out (rows x 1) = sum over columns of a */
export function sumCols(out: Mat, a: Mat): void {
  if (out.cols !== 1 || out.rows !== a.rows) {
    throw new ShapeError('sumCols', `out ${shapeOf(out)} must be ${a.rows}x1 for ${shapeOf(a)}`, { out: [out.rows, out.cols], a: [a.rows, a.cols] });
  }
  const cols = a.cols, ad = a.data;
  for (let r = 0; r < a.rows; r++) {
    let s = 0;
    const ao = a.offset + r * cols;
    for (let c = 0; c < cols; c++) s += ad[ao + c];
    out.data[out.offset + r] = s;
  }
}

/** Σ a */
export function sum(a: Mat): number {
  const n = size(a), ad = a.data, ao = a.offset;
  let s = 0;
  for (let i = 0; i < n; i++) s += ad[ao + i];
  return s;
}

/** Σ a ⊙ b */
export function dot(a: Mat, b: Mat): number {
  assertSameShape('dot', a, b);
  const n = size(a), ad = a.data, bd = b.data, ao = a.offset, bo = b.offset;
  let s = 0;
  for (let i = 0; i < n; i++) s += ad[ao + i] * bd[bo + i];
  return s;
}

/** Largest |a| (0 for an empty matrix). */
export function maxAbs(a: Mat): number {
  const n = size(a), ad = a.data, ao = a.offset;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(ad[ao + i]);
    if (v > m || v !== v) m = v;
  }
  return m;
}

/** √(Σ a²) */
export function norm2(a: Mat): number {
  return Math.sqrt(dot(a, a));
}

/** out = tanh(a) */
export function tanh(out: Mat, a: Mat): void {
  assertSameShape('tanh', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = pm.tanh(ad[ao + i]);
}

/** out = σ(a), stable on both sides (lib/mat/math.ts) */
export function sigmoid(out: Mat, a: Mat): void {
  assertSameShape('sigmoid', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = pm.sigmoid(ad[ao + i]);
}

/** out = max(a, 0) */
export function relu(out: Mat, a: Mat): void {
  assertSameShape('relu', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) {
    const x = ad[ao + i];
    o[oo + i] = x > 0 ? x : 0;
  }
}

/** out = e^a */
export function exp(out: Mat, a: Mat): void {
  assertSameShape('exp', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = pm.exp(ad[ao + i]);
}

/** out = ln a */
export function log(out: Mat, a: Mat): void {
  assertSameShape('log', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = pm.log(ad[ao + i]);
}

/** out = softplus(a) = ln(1 + e^a), without overflow (lib/mat/math.ts) */
export function softplus(out: Mat, a: Mat): void {
  assertSameShape('softplus', out, a);
  const n = size(a), o = out.data, ad = a.data, oo = out.offset, ao = a.offset;
  for (let i = 0; i < n; i++) o[oo + i] = pm.softplus(ad[ao + i]);
}

/** Each row: out = x - max - ln Σ e^(x - max), stable for any magnitude. */
export function logSoftmaxRows(out: Mat, a: Mat): void {
  assertSameShape('logSoftmaxRows', out, a);
  const cols = a.cols, o = out.data, ad = a.data;
  for (let r = 0; r < a.rows; r++) {
    const ao = a.offset + r * cols, oo = out.offset + r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (ad[ao + c] > max) max = ad[ao + c];
    let s = 0;
    for (let c = 0; c < cols; c++) s += pm.exp(ad[ao + c] - max);
    const lse = max + pm.log(s);
    for (let c = 0; c < cols; c++) o[oo + c] = ad[ao + c] - lse;
  }
}

/** Each row: out = e^(x - max) / Σ e^(x - max). */
export function softmaxRows(out: Mat, a: Mat): void {
  assertSameShape('softmaxRows', out, a);
  const cols = a.cols, o = out.data, ad = a.data;
  for (let r = 0; r < a.rows; r++) {
    const ao = a.offset + r * cols, oo = out.offset + r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (ad[ao + c] > max) max = ad[ao + c];
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = pm.exp(ad[ao + c] - max);
      o[oo + c] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let c = 0; c < cols; c++) o[oo + c] *= inv;
  }
}
