// Dense matrix products on row-major Float64Array storage:
//   gemm: out = alpha * op(a) * op(b) + beta * out,  op(x) = x or xᵀ
//   gemv: out = alpha * op(a) * x    + beta * out
//
// The large-matrix path follows the packed GotoBLAS structure: op(b) is
// copied into panels NR columns wide, op(a) into panels MR rows tall, each
// laid out so that one step along the shared dimension reads MR (resp. NR)
// consecutive numbers. A 4x4 micro-kernel then keeps its 16 partial sums in
// local variables for a whole depth block and touches `out` once per tile.
// Skinny products (one side only a few rows/columns wide, e.g. batch-1 RNN
// steps) skip packing, since every element of the large operand is used only
// a handful of times; tiny products use a plain triple loop.
//
// beta === 0 means "overwrite": whatever is in `out` (garbage, NaN) is never
// read. `out` must not share storage with `a`, `b` or `x`: out and an input that
// hold the same Float64Array with intersecting element ranges are refused (the
// inputs may overlap each other). alpha and beta must be finite. Both checks are
// a few comparisons per call.
// Scratch buffers are module-level and only ever grow, so steady-state calls
// allocate nothing.

import { type Mat, grown } from './mat.js';
import { ConfigError, ShapeError } from './errors.js';

/** Running count of floating-point operations done by gemm and gemv (2*m*n*k per gemm). */
export const flopCounter = { count: 0 };

const MR = 4; // micro-tile rows
const NR = 4; // micro-tile columns
const KC = 256; // depth block: a KC x NR panel of b stays in L1
const MC = 128; // rows of op(a) packed at once: MC x KC stays in L2
const NC = 256; // columns of op(b) packed at once (larger was slower for wide products)

// Below these, packing costs more than it saves.
const SKINNY = 5; // m or n at most this: unpacked dot / axpy path
const TINY_FLOPS = 4096; // m*n*k at most this: plain triple loop

let packedA: Float64Array = new Float64Array(MC * KC);
let packedB: Float64Array = new Float64Array(KC * NR * 16);
let vecX: Float64Array = new Float64Array(256);
let vecY: Float64Array = new Float64Array(256);
const edgeTile = new Float64Array(MR * NR);

function describe(m: Mat): string {
  return `${m.rows}x${m.cols}`;
}

function checkMat(op: string, name: string, m: Mat): void {
  const { rows, cols, offset, data } = m;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeError(op, `${name} has shape ${rows}x${cols}, not a pair of non-negative integers`, { name, rows, cols });
  }
  if (!(data instanceof Float64Array)) {
    throw new ConfigError(op, `${name} (${rows}x${cols}) does not hold a Float64Array`, { name, rows, cols });
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + rows * cols > data.length) {
    throw new ShapeError(op, `${name} ${rows}x${cols} at offset ${offset} does not fit in ${data.length} elements`, { name, rows, cols, offset, length: data.length });
  }
}

function checkScalar(op: string, name: string, v: number): void {
  if (typeof v !== 'number') throw new ConfigError(op, `${name} must be a number, got ${typeof v}`, { name, type: typeof v });
  if (!Number.isFinite(v)) throw new ConfigError(op, `${name} is ${v}, not a finite number`, { name, value: v });
}

/**
 * Refuses out when it and input x (named name) hold the same Float64Array and their element
 * ranges intersect. Two comparisons in the usual case (different arrays). Distinct typed
 * arrays over one ArrayBuffer are not compared: reading .buffer costs ~50 ns per access
 * on Node 20, more than a small product; Mats share storage through the same array
 * (matFrom, rowsView), which this catches.
 */
function checkNoAlias(op: string, out: Mat, name: string, x: Mat): void {
  if (out.data !== x.data) return;
  const outLen = out.rows * out.cols;
  const xLen = x.rows * x.cols;
  if (outLen === 0 || xLen === 0) return;
  if (out.offset < x.offset + xLen && x.offset < out.offset + outLen) {
    throw new ShapeError(
      op,
      `out ${describe(out)} at offset ${out.offset} shares storage with ${name} ${describe(x)} at offset ${x.offset}` +
      ` (out must not overlap an input; write into a separate matrix)`,
      { out: [out.rows, out.cols], outOffset: out.offset, input: name, shape: [x.rows, x.cols], offset: x.offset },
    );
  }
}

// out[i, :] = beta·out[i, :] + Σ_p (alpha·op(a)[i, p])·op(b)[p, :] for k ≤ SKINNY. op(b)'s k
// rows are first copied contiguous (k·n numbers) unless they already are.
function rankUpdate(
  m: number, n: number, k: number,
  ad: Float64Array, ao: number, sai: number, sap: number,
  bd: Float64Array, bo: number, sbp: number, sbj: number,
  od: Float64Array, oo: number, alpha: number, beta: number,
): void {
  let rows = bd, base = bo, stride = sbp;
  if (sbj !== 1) {
    rows = vecX = grown(vecX, k * n);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) rows[p * n + j] = bd[bo + p * sbp + j * sbj];
    base = 0;
    stride = n;
  }
  for (let i = 0; i < m; i++) {
    const o = oo + i * n;
    if (beta === 0) for (let j = 0; j < n; j++) od[o + j] = 0;
    else if (beta !== 1) for (let j = 0; j < n; j++) od[o + j] *= beta;
    for (let p = 0; p < k; p++) {
      const c = alpha * ad[ao + i * sai + p * sap];
      if (c === 0) continue;
      const r = base + p * stride;
      for (let j = 0; j < n; j++) od[o + j] += c * rows[r + j];
    }
  }
}

/** out = alpha * op(a) * op(b) + beta * out, with op(x) = transX ? xᵀ : x. */
export function gemm(out: Mat, a: Mat, b: Mat, transA = false, transB = false, alpha = 1, beta = 0): void {
  checkMat('gemm', 'out', out);
  checkMat('gemm', 'a', a);
  checkMat('gemm', 'b', b);
  checkScalar('gemm', 'alpha', alpha);
  checkScalar('gemm', 'beta', beta);
  checkNoAlias('gemm', out, 'a', a);
  checkNoAlias('gemm', out, 'b', b);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  const opA = `a ${describe(a)}${transA ? ' transposed' : ''}`;
  const opB = `b ${describe(b)}${transB ? ' transposed' : ''}`;
  if (k !== kb) {
    throw new ShapeError(
      'gemm',
      `${transA ? 'a.rows' : 'a.cols'} ${k} != ${transB ? 'b.cols' : 'b.rows'} ${kb} (${opA}, ${opB})`,
      { a: [a.rows, a.cols], b: [b.rows, b.cols], transA, transB },
    );
  }
  if (out.rows !== m || out.cols !== n) {
    throw new ShapeError('gemm', `out is ${describe(out)} but ${opA} times ${opB} is ${m}x${n}`, { out: [out.rows, out.cols], expected: [m, n] });
  }
  flopCounter.count += 2 * m * n * k;
  if (m === 0 || n === 0) return;
  const od = out.data;
  const oo = out.offset;
  if (k === 0 || alpha === 0) {
    scaleBlock(od, oo, m * n, beta);
    return;
  }
  const ad = a.data;
  const ao = a.offset;
  const lda = a.cols;
  const bd = b.data;
  const bo = b.offset;
  const ldb = b.cols;
  // op(a)[i][p] = ad[ao + i*sai + p*sap], op(b)[p][j] = bd[bo + p*sbp + j*sbj]
  const sai = transA ? 1 : lda;
  const sap = transA ? lda : 1;
  const sbp = transB ? 1 : ldb;
  const sbj = transB ? ldb : 1;

  if (k <= SKINNY && m * n >= 64) {
    // A rank-k update (k small: e.g. a weight gradient gyᵀ·x at batch 1): each row of out
    // is beta·row + Σ_p alpha·op(a)[i,p]·op(b)[p,:], streamed over contiguous rows of op(b).
    rankUpdate(m, n, k, ad, ao, sai, sap, bd, bo, sbp, sbj, od, oo, alpha, beta);
  } else if (m * n * k <= TINY_FLOPS) {
    gemmPlain(m, n, k, ad, ao, sai, sap, bd, bo, sbp, sbj, od, oo, alpha, beta);
  } else if (m <= SKINNY) {
    // each row of out is a vector-matrix product with op(b); two rows at a time share each load
    // of op(b) (small batches), each row summed exactly as it would be alone
    let i = 0;
    for (; i + 2 <= m; i += 2) {
      const xa = vecX = grown(vecX, k), xb = vecY = grown(vecY, k);
      for (let p = 0; p < k; p++) {
        xa[p] = alpha * ad[ao + i * sai + p * sap];
        xb[p] = alpha * ad[ao + (i + 1) * sai + p * sap];
      }
      if (transB) rowsDot2(n, k, bd, bo, ldb, xa, xb, od, oo + i * n, oo + (i + 1) * n, beta);
      else rowsAxpy2(k, n, bd, bo, ldb, xa, xb, od, oo + i * n, oo + (i + 1) * n, beta);
    }
    for (; i < m; i++) {
      const x = gatherScaled(k, ad, ao + i * sai, sap, alpha);
      if (transB) rowsDot(n, k, bd, bo, ldb, x, od, oo + i * n, 1, beta);
      else rowsAxpy(k, n, bd, bo, ldb, x, od, oo + i * n, beta);
    }
  } else if (n <= SKINNY) {
    // each column of out is a matrix-vector product with op(a)
    for (let j = 0; j < n; j++) {
      const x = gatherScaled(k, bd, bo + j * sbj, sbp, alpha);
      if (!transA) {
        rowsDot(m, k, ad, ao, lda, x, od, oo + j, n, beta);
      } else {
        const y = vecY = grown(vecY, m);
        rowsAxpy(k, m, ad, ao, lda, x, y, 0, 0);
        if (beta === 0) {
          for (let i = 0; i < m; i++) od[oo + i * n + j] = y[i];
        } else {
          for (let i = 0; i < m; i++) od[oo + i * n + j] = y[i] + beta * od[oo + i * n + j];
        }
      }
    }
  } else {
    gemmPacked(m, n, k, ad, ao, sai, sap, bd, bo, sbp, sbj, od, oo, alpha, beta);
  }
}

/**
 * One row of an affine map: y = Σ_i x_i·W_iᵀ + Σ_j b_j, inputs laid out as [x_1, W_1, ..., x_m, W_m,
 * b_1, ...] (x_i 1 x k_i, W_i n x k_i, b_j and y 1 x n): the batch-1 step of every gated cell, in one
 * pass where a gemm per pair and a pass per bias wrote y once per pair. Eight rows of each W_i share
 * each load of x_i. The bits are those of gemm(y, x_1, W_1ᵀ), then gemm(..., beta 1) per later pair,
 * then addRow per bias, so a sequence's numbers still do not depend on the batch it runs in: each
 * pair's sum runs over p from 0 and is then added to y, except where gemm takes its rank-update
 * path (k_i ≤ SKINNY with n ≥ 64), which adds each term to y in p order. 2·n·Σk_i flops, counted.
 */
export function affineRow(y: Mat, inputs: readonly Mat[], pairs: number): void {
  const n = y.cols;
  if (y.rows !== 1) throw new ShapeError('affineRow', `y is ${describe(y)}, needs one row`, { y: [y.rows, y.cols] });
  if (!Number.isInteger(pairs) || pairs < 1 || inputs.length < 2 * pairs) {
    throw new ShapeError('affineRow', `needs ${pairs} (x, W) pairs before the biases, got ${inputs.length} inputs`, { pairs, inputs: inputs.length });
  }
  let flops = 0;
  for (let i = 0; i < inputs.length; i++) {
    const m = inputs[i], isPair = i < 2 * pairs, isWeight = isPair && (i & 1) === 1;
    checkMat('affineRow', `input ${i}`, m);
    checkNoAlias('affineRow', y, `input ${i}`, m);
    const k = isPair ? inputs[i - (i & 1)].cols : n;
    if (isWeight ? m.rows !== n || m.cols !== k : m.rows !== 1 || m.cols !== k) {
      const what = isWeight ? 'a weight' : isPair ? 'an x' : 'a bias';
      throw new ShapeError('affineRow', `input ${i} (${what}) is ${describe(m)}, needs ${isWeight ? n : 1}x${k} for y ${describe(y)}`, { input: i, shape: [m.rows, m.cols], y: [y.rows, y.cols] });
    }
    if (isWeight) flops += 2 * n * k;
  }
  flopCounter.count += flops;
  const yd = y.data, yo = y.offset, first = 2 * pairs, last = inputs.length;
  let r = 0;
  for (; r + 8 <= n; r += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let i = 0; i < pairs; i++) {
      const x = inputs[2 * i], w = inputs[2 * i + 1];
      const k = x.cols, xd = x.data, xo = x.offset, A = w.data;
      const r0 = w.offset + r * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
      const r4 = r3 + k, r5 = r4 + k, r6 = r5 + k, r7 = r6 + k;
      // The first pair, and gemm's rank update (terms added to y in turn), sum onto the running values.
      const onto = i === 0 || (k <= SKINNY && n >= 64);
      let t0 = onto ? s0 : 0, t1 = onto ? s1 : 0, t2 = onto ? s2 : 0, t3 = onto ? s3 : 0;
      let t4 = onto ? s4 : 0, t5 = onto ? s5 : 0, t6 = onto ? s6 : 0, t7 = onto ? s7 : 0;
      for (let p = 0; p < k; p++) {
        const xv = xd[xo + p];
        t0 += A[(r0 + p) | 0] * xv;
        t1 += A[(r1 + p) | 0] * xv;
        t2 += A[(r2 + p) | 0] * xv;
        t3 += A[(r3 + p) | 0] * xv;
        t4 += A[(r4 + p) | 0] * xv;
        t5 += A[(r5 + p) | 0] * xv;
        t6 += A[(r6 + p) | 0] * xv;
        t7 += A[(r7 + p) | 0] * xv;
      }
      if (onto) {
        s0 = t0; s1 = t1; s2 = t2; s3 = t3; s4 = t4; s5 = t5; s6 = t6; s7 = t7;
      } else {
        s0 = t0 + s0; s1 = t1 + s1; s2 = t2 + s2; s3 = t3 + s3;
        s4 = t4 + s4; s5 = t5 + s5; s6 = t6 + s6; s7 = t7 + s7;
      }
    }
    for (let j = first; j < last; j++) {
      const b = inputs[j], bd = b.data, bo = b.offset + r;
      s0 += bd[bo]; s1 += bd[bo + 1]; s2 += bd[bo + 2]; s3 += bd[bo + 3];
      s4 += bd[bo + 4]; s5 += bd[bo + 5]; s6 += bd[bo + 6]; s7 += bd[bo + 7];
    }
    const o = yo + r;
    yd[o] = s0; yd[o + 1] = s1; yd[o + 2] = s2; yd[o + 3] = s3;
    yd[o + 4] = s4; yd[o + 5] = s5; yd[o + 6] = s6; yd[o + 7] = s7;
  }
  for (; r < n; r++) {
    let s = 0;
    for (let i = 0; i < pairs; i++) {
      const x = inputs[2 * i], w = inputs[2 * i + 1];
      const k = x.cols, xd = x.data, xo = x.offset, A = w.data, r0 = w.offset + r * k;
      const onto = i === 0 || (k <= SKINNY && n >= 64);
      let t = onto ? s : 0;
      for (let p = 0; p < k; p++) t += A[(r0 + p) | 0] * xd[xo + p];
      s = onto ? t : t + s;
    }
    for (let j = first; j < last; j++) s += inputs[j].data[inputs[j].offset + r];
    yd[yo + r] = s;
  }
}

/** out = alpha * op(a) * x + beta * out, where x and out are row or column vectors. */
export function gemv(out: Mat, a: Mat, x: Mat, transA = false, alpha = 1, beta = 0): void {
  checkMat('gemv', 'out', out);
  checkMat('gemv', 'a', a);
  checkMat('gemv', 'x', x);
  checkScalar('gemv', 'alpha', alpha);
  checkScalar('gemv', 'beta', beta);
  checkNoAlias('gemv', out, 'a', a);
  checkNoAlias('gemv', out, 'x', x);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const opA = `a ${describe(a)}${transA ? ' transposed' : ''}`;
  if (x.rows !== 1 && x.cols !== 1) {
    throw new ShapeError('gemv', `x is ${describe(x)}, not a row or column vector (${opA})`, { x: [x.rows, x.cols], a: [a.rows, a.cols], transA });
  }
  if (out.rows !== 1 && out.cols !== 1) {
    throw new ShapeError('gemv', `out is ${describe(out)}, not a row or column vector (${opA})`, { out: [out.rows, out.cols], a: [a.rows, a.cols], transA });
  }
  const xLen = x.rows * x.cols;
  const outLen = out.rows * out.cols;
  if (xLen !== k) {
    throw new ShapeError('gemv', `${transA ? 'a.rows' : 'a.cols'} ${k} != length ${xLen} of x ${describe(x)} (${opA})`, { a: [a.rows, a.cols], x: [x.rows, x.cols], transA });
  }
  if (outLen !== m) {
    throw new ShapeError('gemv', `out ${describe(out)} has length ${outLen} but ${opA} times x gives ${m}`, { out: [out.rows, out.cols], expected: m });
  }
  flopCounter.count += 2 * m * k;
  if (m === 0) return;
  const od = out.data;
  const oo = out.offset;
  if (k === 0 || alpha === 0) {
    scaleBlock(od, oo, m, beta);
    return;
  }
  const xs = gatherScaled(k, x.data, x.offset, 1, alpha);
  if (transA) rowsAxpy(a.rows, a.cols, a.data, a.offset, a.cols, xs, od, oo, beta);
  else rowsDot(a.rows, a.cols, a.data, a.offset, a.cols, xs, od, oo, 1, beta);
}

// out[0..len) = beta * out, never reading out when beta is 0.
function scaleBlock(od: Float64Array, oo: number, len: number, beta: number): void {
  if (beta === 0) od.fill(0, oo, oo + len);
  else if (beta !== 1) for (let i = oo; i < oo + len; i++) od[i] *= beta;
}

// Copies alpha * src[so + p*stride], p < len, into the contiguous scratch vector.
function gatherScaled(len: number, src: Float64Array, so: number, stride: number, alpha: number): Float64Array {
  const x = vecX = grown(vecX, len);
  for (let p = 0; p < len; p++) x[p] = alpha * src[so + p * stride];
  return x;
}

// Tiny products (small batches, every step of a small RNN). Each out[i, j] is alpha·s + beta·out[i, j]
// with s = Σ_p op(a)[i, p]·op(b)[p, j] added in p order from 0, whichever loop order reads the
// operands contiguously, so the three orders below give the same bits:
//   op(b) rows contiguous (b not transposed): the sums of a whole row of out are kept in a scratch
//     row and op(b)'s row p is streamed into them (no stride-n reads down b's columns);
//   op(b) columns contiguous (b transposed, x·Wᵀ, or one column): four dot products share each
//   load of op(a).
let plainRow: Float64Array = new Float64Array(64);

function gemmPlain(
  m: number, n: number, k: number,
  ad: Float64Array, ao: number, sai: number, sap: number,
  bd: Float64Array, bo: number, sbp: number, sbj: number,
  od: Float64Array, oo: number, alpha: number, beta: number,
): void {
  if (sbj === 1 && n > 1) {
    const acc = plainRow = grown(plainRow, n);
    for (let i = 0; i < m; i++) {
      const ai = ao + i * sai;
      const oi = oo + i * n;
      acc.fill(0, 0, n);
      let p = 0;
      // Four rows of op(b) per pass, each sum still taking them in order: ((s + c0·b0) + c1·b1) + ...
      for (; p + 4 <= k; p += 4) {
        const c0 = ad[ai + p * sap], c1 = ad[ai + (p + 1) * sap], c2 = ad[ai + (p + 2) * sap], c3 = ad[ai + (p + 3) * sap];
        const r0 = bo + p * sbp, r1 = r0 + sbp, r2 = r1 + sbp, r3 = r2 + sbp;
        for (let j = 0; j < n; j++) {
          let s = acc[j];
          s += c0 * bd[r0 + j];
          s += c1 * bd[r1 + j];
          s += c2 * bd[r2 + j];
          s += c3 * bd[r3 + j];
          acc[j] = s;
        }
      }
      for (; p < k; p++) {
        const c = ad[ai + p * sap];
        const r = bo + p * sbp;
        for (let j = 0; j < n; j++) acc[j] += c * bd[r + j];
      }
      if (beta === 0) for (let j = 0; j < n; j++) od[oi + j] = alpha * acc[j];
      else for (let j = 0; j < n; j++) od[oi + j] = alpha * acc[j] + beta * od[oi + j];
    }
    return;
  }
  // Otherwise b is transposed, or b is one column (k x 1): op(b)'s columns are contiguous (sbp = 1).
  for (let i = 0; i < m; i++) {
    const ai = ao + i * sai;
    const oi = oo + i * n;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = bo + j * sbj, b1 = b0 + sbj, b2 = b1 + sbj, b3 = b2 + sbj;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const av = ad[ai + p * sap];
        s0 += av * bd[b0 + p];
        s1 += av * bd[b1 + p];
        s2 += av * bd[b2 + p];
        s3 += av * bd[b3 + p];
      }
      put(od, oi + j, alpha * s0, beta);
      put(od, oi + j + 1, alpha * s1, beta);
      put(od, oi + j + 2, alpha * s2, beta);
      put(od, oi + j + 3, alpha * s3, beta);
    }
    for (; j < n; j++) {
      const bj = bo + j * sbj;
      let s = 0;
      for (let p = 0; p < k; p++) s += ad[ai + p * sap] * bd[bj + p];
      put(od, oi + j, alpha * s, beta);
    }
  }
}

// y[o] = s + beta·y[o], never reading y[o] when beta is 0.
function put(y: Float64Array, o: number, s: number, beta: number): void {
  y[o] = beta === 0 ? s : s + beta * y[o];
}

// y[yo + i*ys] = sum_p A[ao + i*lda + p] * x[p] + beta * y[yo + i*ys], for i < rows.
// Eight rows share each load of x (the last rows % 8 go one by one); every row's sum runs over p
// in order whatever the blocking, so the bits do not depend on it. Eight independent sums keep
// the adder busier than four: `bench kernels` printed 3.05 against 2.86 GFLOP/s for
// [1x128]x[512x128]^T and 2.85 against 2.60 for [1x32]x[512x32]^T (an LSTM's gates at batch 1,
// hidden 128, input 32), alternating with the four-row kernel of 0de1f33 on the 2-core machine.
function rowsDot(
  rows: number, k: number, A: Float64Array, ao: number, lda: number,
  x: Float64Array, y: Float64Array, yo: number, ys: number, beta: number,
): void {
  let i = 0;
  for (; i + 8 <= rows; i += 8) {
    const r0 = ao + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
    const r4 = r3 + lda, r5 = r4 + lda, r6 = r5 + lda, r7 = r6 + lda;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let p = 0; p < k; p++) {
      const xv = x[p];
      s0 += A[(r0 + p) | 0] * xv;
      s1 += A[(r1 + p) | 0] * xv;
      s2 += A[(r2 + p) | 0] * xv;
      s3 += A[(r3 + p) | 0] * xv;
      s4 += A[(r4 + p) | 0] * xv;
      s5 += A[(r5 + p) | 0] * xv;
      s6 += A[(r6 + p) | 0] * xv;
      s7 += A[(r7 + p) | 0] * xv;
    }
    const y0 = yo + i * ys;
    put(y, y0, s0, beta); put(y, y0 + ys, s1, beta); put(y, y0 + 2 * ys, s2, beta); put(y, y0 + 3 * ys, s3, beta);
    put(y, y0 + 4 * ys, s4, beta); put(y, y0 + 5 * ys, s5, beta); put(y, y0 + 6 * ys, s6, beta); put(y, y0 + 7 * ys, s7, beta);
  }
  for (; i < rows; i++) {
    const r0 = ao + i * lda;
    let s0 = 0;
    for (let p = 0; p < k; p++) s0 += A[(r0 + p) | 0] * x[p];
    put(y, yo + i * ys, s0, beta);
  }
}

// y[yo + j] = sum_p x[p] * A[ao + p*lda + j] + beta * y[yo + j], for j < cols.
// Four rows of A are folded into y per sweep, so y is read and written k/4 times.
function rowsAxpy(
  k: number, cols: number, A: Float64Array, ao: number, lda: number,
  x: Float64Array, y: Float64Array, yo: number, beta: number,
): void {
  const ye = yo + cols;
  let p = 0;
  // The first sweep assigns (beta = 0) or scales the old value in.
  if (k >= 4) {
    const x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    const r0 = ao - yo;
    const r1 = r0 + lda;
    const r2 = r1 + lda;
    const r3 = r2 + lda;
    if (beta === 0) {
      for (let j = yo; j < ye; j++) {
        y[j] = x0 * A[(r0 + j) | 0] + x1 * A[(r1 + j) | 0] + x2 * A[(r2 + j) | 0] + x3 * A[(r3 + j) | 0];
      }
    } else {
      for (let j = yo; j < ye; j++) {
        y[j] = beta * y[j] + x0 * A[(r0 + j) | 0] + x1 * A[(r1 + j) | 0] + x2 * A[(r2 + j) | 0] + x3 * A[(r3 + j) | 0];
      }
    }
    p = 4;
  } else {
    scaleBlock(y, yo, cols, beta);
  }
  for (; p + 4 <= k; p += 4) {
    const x0 = x[p], x1 = x[p + 1], x2 = x[p + 2], x3 = x[p + 3];
    const r0 = ao + p * lda - yo;
    const r1 = r0 + lda;
    const r2 = r1 + lda;
    const r3 = r2 + lda;
    for (let j = yo; j < ye; j++) {
      y[j] += x0 * A[(r0 + j) | 0] + x1 * A[(r1 + j) | 0] + x2 * A[(r2 + j) | 0] + x3 * A[(r3 + j) | 0];
    }
  }
  for (; p < k; p++) {
    const x0 = x[p];
    const r0 = ao + p * lda - yo;
    for (let j = yo; j < ye; j++) y[j] += x0 * A[(r0 + j) | 0];
  }
}

// rowsDot for two vectors at once (out rows ya and yb, contiguous): each of A's rows is loaded
// once for both; every sum runs over p in order from 0, as rowsDot's, so the bits are the same.
function rowsDot2(
  rows: number, k: number, A: Float64Array, ao: number, lda: number,
  xa: Float64Array, xb: Float64Array, y: Float64Array, ya: number, yb: number, beta: number,
): void {
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const r0 = ao + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (let p = 0; p < k; p++) {
      const u = xa[p], v = xb[p];
      const w0 = A[(r0 + p) | 0], w1 = A[(r1 + p) | 0], w2 = A[(r2 + p) | 0], w3 = A[(r3 + p) | 0];
      a0 += w0 * u; a1 += w1 * u; a2 += w2 * u; a3 += w3 * u;
      b0 += w0 * v; b1 += w1 * v; b2 += w2 * v; b3 += w3 * v;
    }
    const oa = ya + i, ob = yb + i;
    put(y, oa, a0, beta); put(y, oa + 1, a1, beta); put(y, oa + 2, a2, beta); put(y, oa + 3, a3, beta);
    put(y, ob, b0, beta); put(y, ob + 1, b1, beta); put(y, ob + 2, b2, beta); put(y, ob + 3, b3, beta);
  }
  for (; i < rows; i++) {
    const r0 = ao + i * lda;
    let a0 = 0, b0 = 0;
    for (let p = 0; p < k; p++) {
      const w = A[(r0 + p) | 0];
      a0 += w * xa[p];
      b0 += w * xb[p];
    }
    put(y, ya + i, a0, beta);
    put(y, yb + i, b0, beta);
  }
}

// rowsAxpy for two vectors at once: each sweep loads four rows of A once for both outputs; each
// output element is updated by the same expression, in the same order, as in rowsAxpy.
function rowsAxpy2(
  k: number, cols: number, A: Float64Array, ao: number, lda: number,
  xa: Float64Array, xb: Float64Array, y: Float64Array, ya: number, yb: number, beta: number,
): void {
  let p = 0;
  if (k >= 4) {
    const u0 = xa[0], u1 = xa[1], u2 = xa[2], u3 = xa[3];
    const v0 = xb[0], v1 = xb[1], v2 = xb[2], v3 = xb[3];
    const r1 = lda, r2 = 2 * lda, r3 = 3 * lda;
    for (let j = 0; j < cols; j++) {
      const c = ao + j;
      const w0 = A[c], w1 = A[(c + r1) | 0], w2 = A[(c + r2) | 0], w3 = A[(c + r3) | 0];
      if (beta === 0) {
        y[ya + j] = u0 * w0 + u1 * w1 + u2 * w2 + u3 * w3;
        y[yb + j] = v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3;
      } else {
        y[ya + j] = beta * y[ya + j] + u0 * w0 + u1 * w1 + u2 * w2 + u3 * w3;
        y[yb + j] = beta * y[yb + j] + v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3;
      }
    }
    p = 4;
  } else {
    scaleBlock(y, ya, cols, beta);
    scaleBlock(y, yb, cols, beta);
  }
  for (; p + 4 <= k; p += 4) {
    const u0 = xa[p], u1 = xa[p + 1], u2 = xa[p + 2], u3 = xa[p + 3];
    const v0 = xb[p], v1 = xb[p + 1], v2 = xb[p + 2], v3 = xb[p + 3];
    const r0 = ao + p * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
    for (let j = 0; j < cols; j++) {
      const w0 = A[(r0 + j) | 0], w1 = A[(r1 + j) | 0], w2 = A[(r2 + j) | 0], w3 = A[(r3 + j) | 0];
      y[ya + j] += u0 * w0 + u1 * w1 + u2 * w2 + u3 * w3;
      y[yb + j] += v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3;
    }
  }
  for (; p < k; p++) {
    const u = xa[p], v = xb[p];
    const r0 = ao + p * lda;
    for (let j = 0; j < cols; j++) {
      const w = A[(r0 + j) | 0];
      y[ya + j] += u * w;
      y[yb + j] += v * w;
    }
  }
}

// Packs rows [i0, i0+count) x depth [p0, p0+kc) of the operand
// element(i, p) = src[so + i*si + p*sp] into panels of 4 rows, each panel
// stored depth-major (4 consecutive numbers per depth step), zero-padded.
function packPanels(
  dst: Float64Array, src: Float64Array, so: number, si: number, sp: number,
  i0: number, count: number, p0: number, kc: number,
): void {
  let d = 0;
  for (let i = 0; i < count; i += 4) {
    const h = Math.min(4, count - i);
    const base = so + (i0 + i) * si + p0 * sp;
    if (h === 4 && sp === 1) {
      // rows contiguous along depth: stream the four rows side by side
      const s0 = base, s1 = s0 + si, s2 = s1 + si, s3 = s2 + si;
      for (let p = 0; p < kc; p++) {
        dst[d] = src[s0 + p];
        dst[d + 1] = src[s1 + p];
        dst[d + 2] = src[s2 + p];
        dst[d + 3] = src[s3 + p];
        d += 4;
      }
    } else if (h === 4 && si === 1) {
      // four consecutive numbers per depth step
      let s = base;
      for (let p = 0; p < kc; p++) {
        dst[d] = src[s];
        dst[d + 1] = src[s + 1];
        dst[d + 2] = src[s + 2];
        dst[d + 3] = src[s + 3];
        d += 4;
        s += sp;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const s = base + p * sp;
        for (let r = 0; r < 4; r++) dst[d + r] = r < h ? src[s + r * si] : 0;
        d += 4;
      }
    }
  }
}

// Splits len into ceil(len / max) nearly equal blocks, each a multiple of `unit` where possible.
function blockSize(len: number, max: number, unit: number): number {
  const blocks = Math.ceil(len / max);
  const size = Math.ceil(len / blocks);
  return Math.min(max, Math.ceil(size / unit) * unit);
}

function gemmPacked(
  m: number, n: number, k: number,
  ad: Float64Array, ao: number, sai: number, sap: number,
  bd: Float64Array, bo: number, sbp: number, sbj: number,
  od: Float64Array, oo: number, alpha: number, beta: number,
): void {
  const ncMax = blockSize(n, NC, NR);
  const kcMax = blockSize(k, KC, 1);
  const mcMax = blockSize(m, MC, MR);
  const pb = packedB = grown(packedB, Math.ceil(ncMax / NR) * NR * kcMax);
  const pa = packedA = grown(packedA, Math.ceil(mcMax / MR) * MR * kcMax);
  for (let jc = 0; jc < n; jc += ncMax) {
    const nc = Math.min(ncMax, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = Math.min(kcMax, k - pc);
      const bet = pc === 0 ? beta : 1;
      // panel of op(b): "rows" are columns j, stride sbj; depth stride sbp
      packPanels(pb, bd, bo, sbj, sbp, jc, nc, pc, kc);
      for (let ic = 0; ic < m; ic += mcMax) {
        const mc = Math.min(mcMax, m - ic);
        packPanels(pa, ad, ao, sai, sap, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = Math.min(NR, nc - jr);
          const bOff = jr * kc;
          const oCol = oo + jc + jr;
          for (let ir = 0; ir < mc; ir += MR) {
            microKernel(kc, pa, ir * kc, pb, bOff, od, oCol + (ic + ir) * n, n, Math.min(MR, mc - ir), cols, alpha, bet);
          }
        }
      }
    }
  }
}

// One 4x4 tile of out: alpha * (packed A panel)(packed B panel) + beta * out,
// written only for the top-left rows x cols corner.
function microKernel(
  kc: number, A: Float64Array, ai: number, B: Float64Array, bi: number,
  od: Float64Array, oi: number, ldo: number, rows: number, cols: number, alpha: number, beta: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++) {
    const b0 = B[bi], b1 = B[(bi + 1) | 0], b2 = B[(bi + 2) | 0], b3 = B[(bi + 3) | 0];
    let av = A[ai];
    c00 += av * b0; c01 += av * b1; c02 += av * b2; c03 += av * b3;
    av = A[(ai + 1) | 0];
    c10 += av * b0; c11 += av * b1; c12 += av * b2; c13 += av * b3;
    av = A[(ai + 2) | 0];
    c20 += av * b0; c21 += av * b1; c22 += av * b2; c23 += av * b3;
    av = A[(ai + 3) | 0];
    c30 += av * b0; c31 += av * b1; c32 += av * b2; c33 += av * b3;
    ai = (ai + 4) | 0;
    bi = (bi + 4) | 0;
  }
  if (rows === 4 && cols === 4) {
    const o1 = oi + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
    if (beta === 0) {
      od[oi] = alpha * c00; od[oi + 1] = alpha * c01; od[oi + 2] = alpha * c02; od[oi + 3] = alpha * c03;
      od[o1] = alpha * c10; od[o1 + 1] = alpha * c11; od[o1 + 2] = alpha * c12; od[o1 + 3] = alpha * c13;
      od[o2] = alpha * c20; od[o2 + 1] = alpha * c21; od[o2 + 2] = alpha * c22; od[o2 + 3] = alpha * c23;
      od[o3] = alpha * c30; od[o3 + 1] = alpha * c31; od[o3 + 2] = alpha * c32; od[o3 + 3] = alpha * c33;
    } else {
      od[oi] = alpha * c00 + beta * od[oi];
      od[oi + 1] = alpha * c01 + beta * od[oi + 1];
      od[oi + 2] = alpha * c02 + beta * od[oi + 2];
      od[oi + 3] = alpha * c03 + beta * od[oi + 3];
      od[o1] = alpha * c10 + beta * od[o1];
      od[o1 + 1] = alpha * c11 + beta * od[o1 + 1];
      od[o1 + 2] = alpha * c12 + beta * od[o1 + 2];
      od[o1 + 3] = alpha * c13 + beta * od[o1 + 3];
      od[o2] = alpha * c20 + beta * od[o2];
      od[o2 + 1] = alpha * c21 + beta * od[o2 + 1];
      od[o2 + 2] = alpha * c22 + beta * od[o2 + 2];
      od[o2 + 3] = alpha * c23 + beta * od[o2 + 3];
      od[o3] = alpha * c30 + beta * od[o3];
      od[o3 + 1] = alpha * c31 + beta * od[o3 + 1];
      od[o3 + 2] = alpha * c32 + beta * od[o3 + 2];
      od[o3 + 3] = alpha * c33 + beta * od[o3 + 3];
    }
    return;
  }
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let r = 0; r < rows; r++) {
    const o = oi + r * ldo;
    for (let c = 0; c < cols; c++) {
      const v = alpha * t[r * 4 + c];
      od[o + c] = beta === 0 ? v : v + beta * od[o + c];
    }
  }
}
