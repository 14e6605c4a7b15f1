// Every differentiable operation, declared once with its three rules side by side:
//   shape: the output shape, or an Error naming the op and the shapes at fault;
//   eval:  y = f(x), assigning every element of y;
//   jvp:   dy += J dx across K tangent directions (dy arrives zeroed; null dx is zero);
//   vjp:   gx += Jᵀ gy for every gx that is not null (null: not needed).
// The table's type maps every name in PrimAttrs to a complete set of rules, so a
// primitive with a missing rule does not compile.
import { type Mat, grown, matFrom, shapeOf } from '../mat/mat.js';
import { affineRow, gemm } from '../mat/gemm.js';
import * as k from '../mat/elementwise.js';
import { type Tangent, accScaled, accWeightedSum } from './tangent.js';
import * as pm from '../mat/math.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** Attributes of each primitive (null when it has none). */
export interface PrimAttrs {
  add: null;
  sub: null;
  mul: null;
  affine: { scale: number; shift: number };
  lerp: null;
  addRow: null;
  mulRow: null;
  mulColumn: null;
  selectRows: null;
  gatherRows: null;
  matmul: { transA: boolean; transB: boolean };
  linear: { pairs: number };
  tanh: null;
  sigmoid: null;
  relu: null;
  exp: null;
  log: null;
  softplus: null;
  sliceCols: { start: number; count: number };
  concatCols: null;
  sliceRows: { start: number; count: number };
  concatRows: null;
  sum: null;
  dot: null;
  logSoftmax: null;
  softmax: null;
}

export type PrimName = keyof PrimAttrs;

export interface Rules<A> {
  arity: number | 'variadic';
  shape(x: readonly Mat[], attrs: A): [rows: number, cols: number];
  eval(x: readonly Mat[], y: Mat, attrs: A): void;
  jvp(x: readonly Mat[], y: Mat, dx: readonly (Tangent | null)[], dy: Float64Array, K: number, attrs: A): void;
  vjp(x: readonly Mat[], y: Mat, gy: Mat, gx: readonly (Mat | null)[], attrs: A): void;
  /**
   * Optional fast path of jvp for when every input tangent is dense: ASSIGNS dy
   * (which arrives holding garbage), saving the zero-fill and a pass over it.
   */
  jvpAssign?(x: readonly Mat[], y: Mat, dx: readonly DenseTangent[], dy: Float64Array, K: number, attrs: A): void;
  /**
   * Optional: when the output's tangent is a contiguous block of an input's, return it as a
   * view (no copy), or null to fall back to jvp. Used by slices of contiguous element ranges.
   */
  jvpView?(x: readonly Mat[], dx: readonly (Tangent | null)[], K: number, attrs: A): Tangent | null;
  /**
   * Optional: the (x, W) input pairs whose W gradient is gyᵀ·x. When such a W is a leaf used at
   * every step, reverse mode may pass null for its gradient here and instead stack the rows of
   * every step's gy and x to form Σ_t gy_tᵀ·x_t as one matrix product after the whole walk.
   */
  weightPairs?(attrs: A): readonly (readonly [x: number, w: number])[];
}

export type DenseTangent = Extract<Tangent, { kind: 'dense' }>;

/**
 * A fused rule owned by the file that defines it (a loss, say), handed to the graph by
 * Graph.fused(rule, inputs, attrs). Same conventions as the table: shape may throw naming
 * `name`; eval assigns y; jvp accumulates into zeroed dy and must handle seed and dense
 * input tangents (null: zero); vjp accumulates into every non-null gx. The engine knows
 * nothing of what the rule computes.
 */
export interface FusedRule<A> extends Rules<A> {
  readonly name: string;
}

export type PrimitiveTable = { readonly [N in PrimName]: Rules<PrimAttrs[N]> };

// Scratch for derivative coefficients and one row of K directions; grown, never shrunk, so
// steady state allocates nothing.
let scratch: Float64Array = new Float64Array(64);
function coefBuffer(n: number): Float64Array {
  return (scratch = grown(scratch, n));
}
let scratch2: Float64Array = new Float64Array(64);
function rowBuffer(n: number): Float64Array {
  return (scratch2 = grown(scratch2, n));
}

function size(m: Mat): number {
  return m.rows * m.cols;
}

function sameShape(op: string, x: readonly Mat[]): [number, number] {
  for (let i = 1; i < x.length; i++) {
    if (x[i].rows !== x[0].rows || x[i].cols !== x[0].cols) {
      throw new ShapeError(op, `shapes ${x.map(shapeOf).join(' and ')} differ`, { shapes: x.map((m) => [m.rows, m.cols]) });
    }
  }
  return [x[0].rows, x[0].cols];
}

function rowVector(op: string, x: readonly Mat[]): [number, number] {
  const [a, row] = x;
  if (row.rows !== 1 || row.cols !== a.cols) {
    throw new ShapeError(op, `row vector ${shapeOf(row)} does not broadcast over ${shapeOf(a)} (need 1x${a.cols})`, { row: [row.rows, row.cols], a: [a.rows, a.cols] });
  }
  return [a.rows, a.cols];
}

/** gx += scale · coef ⊙ gy, element-wise (coef null means 1). */
function accGrad(gx: Mat, gy: Mat, coef: Float64Array | null, coefOffset: number, scale = 1): void {
  const n = size(gy), g = gx.data, go = gx.offset, d = gy.data, o = gy.offset;
  if (coef === null) for (let i = 0; i < n; i++) g[go + i] += scale * d[o + i];
  else for (let i = 0; i < n; i++) g[go + i] += scale * coef[coefOffset + i] * d[o + i];
}

// [x, W] index pairs of a linear node with `pairs` pairs, made once per count.
const pairLists: (readonly (readonly [number, number])[])[] = [];
function linearPairs(pairs: number): readonly (readonly [number, number])[] {
  while (pairLists.length <= pairs) {
    const n = pairLists.length;
    pairLists.push(Array.from({ length: n }, (_, i) => [2 * i, 2 * i + 1] as const));
  }
  return pairLists[pairs];
}

/** The tangent of elements [first, ...) of a value whose tangent is t: a view, never a copy. */
function shiftTangent(t: Tangent, first: number, K: number): Tangent {
  return t.kind === 'seed'
    ? { kind: 'seed', start: t.start + first }
    : { kind: 'dense', data: t.data, offset: t.offset + first * K };
}

/** dy[e, :] = coef[e] · t[tElem + e, :] for e < count: assigns every entry it covers. */
function assignScaled(dy: Float64Array, yElem: number, K: number, t: DenseTangent, tElem: number, count: number, coef: Float64Array): void {
  const td = t.data;
  for (let e = 0; e < count; e++) {
    const c = coef[e], yo = (yElem + e) * K, to = t.offset + (tElem + e) * K;
    for (let j = 0; j < K; j++) dy[yo + j] = c * td[to + j];
  }
}

/** An element-wise unary primitive from the derivative f'(x) written as coefficients. */
function unary(
  name: string,
  evalKernel: (out: Mat, x: Mat) => void,
  derivative: (x: Mat, y: Mat, coef: Float64Array) => void,
): Rules<null> {
  return {
    arity: 1,
    shape: ([x]) => [x.rows, x.cols],
    eval: ([x], y) => evalKernel(y, x),
    jvp: ([x], y, [dx], dy, K) => {
      const coef = coefBuffer(size(y));
      derivative(x, y, coef);
      accScaled(dy, 0, K, dx!, 0, size(y), coef, 0);
    },
    jvpAssign: ([x], y, [dx], dy, K) => {
      const n = size(y), coef = coefBuffer(n);
      derivative(x, y, coef);
      assignScaled(dy, 0, K, dx, 0, n, coef);
    },
    vjp: ([x], y, gy, [gx]) => {
      if (gx === null) return;
      const coef = coefBuffer(size(y));
      derivative(x, y, coef);
      accGrad(gx, gy, coef, 0);
    },
  };
}

export const primitives: PrimitiveTable = {
  // y = a + b;  dy = da + db;  ga += gy, gb += gy
  add: {
    arity: 2,
    shape: (x) => sameShape('add', x),
    eval: ([a, b], y) => k.add(y, a, b),
    jvp: (_x, y, [da, db], dy, K) => {
      if (da) accScaled(dy, 0, K, da, 0, size(y), null, 0);
      if (db) accScaled(dy, 0, K, db, 0, size(y), null, 0);
    },
    jvpAssign: (_x, y, [da, db], dy, K) => {
      const n = size(y) * K, a = da.data, ao = da.offset, b = db.data, bo = db.offset;
      for (let i = 0; i < n; i++) dy[i] = a[ao + i] + b[bo + i];
    },
    vjp: (_x, _y, gy, [ga, gb]) => {
      if (ga) accGrad(ga, gy, null, 0);
      if (gb) accGrad(gb, gy, null, 0);
    },
  },
  // y = a - b;  dy = da - db;  ga += gy, gb -= gy
  sub: {
    arity: 2,
    shape: (x) => sameShape('sub', x),
    eval: ([a, b], y) => k.sub(y, a, b),
    jvp: (_x, y, [da, db], dy, K) => {
      if (da) accScaled(dy, 0, K, da, 0, size(y), null, 0);
      if (db) accScaled(dy, 0, K, db, 0, size(y), null, 0, -1);
    },
    jvpAssign: (_x, y, [da, db], dy, K) => {
      const n = size(y) * K, a = da.data, ao = da.offset, b = db.data, bo = db.offset;
      for (let i = 0; i < n; i++) dy[i] = a[ao + i] - b[bo + i];
    },
    vjp: (_x, _y, gy, [ga, gb]) => {
      if (ga) accGrad(ga, gy, null, 0);
      if (gb) accGrad(gb, gy, null, 0, -1);
    },
  },
  // y = a ⊙ b;  dy = da ⊙ b + a ⊙ db;  ga += gy ⊙ b, gb += gy ⊙ a
  mul: {
    arity: 2,
    shape: (x) => sameShape('mul', x),
    eval: ([a, b], y) => k.mul(y, a, b),
    jvp: ([a, b], y, [da, db], dy, K) => {
      if (da) accScaled(dy, 0, K, da, 0, size(y), b.data, b.offset);
      if (db) accScaled(dy, 0, K, db, 0, size(y), a.data, a.offset);
    },
    jvpAssign: ([a, b], y, [da, db], dy, K) => {
      const n = size(y), ad = a.data, bd = b.data, ta = da.data, tb = db.data;
      for (let e = 0; e < n; e++) {
        const ca = bd[b.offset + e], cb = ad[a.offset + e];
        const o = e * K, oa = da.offset + o, ob = db.offset + o;
        for (let j = 0; j < K; j++) dy[o + j] = ca * ta[oa + j] + cb * tb[ob + j];
      }
    },
    vjp: ([a, b], _y, gy, [ga, gb]) => {
      if (ga) accGrad(ga, gy, b.data, b.offset);
      if (gb) accGrad(gb, gy, a.data, a.offset);
    },
  },
  // y = a + t ⊙ (b − a) (from a to b by t: a GRU's update, a leaky integrator);
  // dy = (1 − t) ⊙ da + t ⊙ db + (b − a) ⊙ dt;  ga += (1 − t) gy, gb += t gy, gt += (b − a) gy
  lerp: {
    arity: 3,
    shape: (x) => sameShape('lerp', x),
    eval: ([a, b, t], y) => {
      const n = size(y), ad = a.data, bd = b.data, td = t.data, yd = y.data;
      for (let i = 0; i < n; i++) {
        const av = ad[a.offset + i];
        yd[y.offset + i] = av + td[t.offset + i] * (bd[b.offset + i] - av);
      }
    },
    jvp: ([a, b, t], y, [da, db, dt], dy, K) => {
      const n = size(y), c = coefBuffer(n);
      if (da) { for (let i = 0; i < n; i++) c[i] = 1 - t.data[t.offset + i]; accScaled(dy, 0, K, da, 0, n, c, 0); }
      if (db) accScaled(dy, 0, K, db, 0, n, t.data, t.offset);
      if (dt) { for (let i = 0; i < n; i++) c[i] = b.data[b.offset + i] - a.data[a.offset + i]; accScaled(dy, 0, K, dt, 0, n, c, 0); }
    },
    jvpAssign: ([a, b, t], y, [da, db, dt], dy, K) => {
      const n = size(y);
      for (let e = 0; e < n; e++) {
        const te = t.data[t.offset + e], diff = b.data[b.offset + e] - a.data[a.offset + e], keep = 1 - te;
        const o = e * K, oa = da.offset + o, ob = db.offset + o, ot = dt.offset + o;
        for (let j = 0; j < K; j++) dy[o + j] = keep * da.data[oa + j] + te * db.data[ob + j] + diff * dt.data[ot + j];
      }
    },
    vjp: ([a, b, t], _y, gy, [ga, gb, gt]) => {
      const n = size(gy);
      for (let i = 0; i < n; i++) {
        const g = gy.data[gy.offset + i], te = t.data[t.offset + i];
        if (ga) ga.data[ga.offset + i] += (1 - te) * g;
        if (gb) gb.data[gb.offset + i] += te * g;
        if (gt) gt.data[gt.offset + i] += (b.data[b.offset + i] - a.data[a.offset + i]) * g;
      }
    },
  },
  // y = s·a + c;  dy = s·da;  ga += s·gy
  affine: {
    arity: 1,
    shape: ([a], { scale, shift }) => {
      if (!Number.isFinite(scale) || !Number.isFinite(shift)) {
        throw new ConfigError('affine', `scale ${scale} and shift ${shift} must be finite`, { scale, shift });
      }
      return [a.rows, a.cols];
    },
    eval: ([a], y, { scale, shift }) => k.affine(y, a, scale, shift),
    jvp: (_x, y, [da], dy, K, { scale }) => accScaled(dy, 0, K, da!, 0, size(y), null, 0, scale),
    jvpAssign: (_x, y, [da], dy, K, { scale }) => {
      const n = size(y) * K, a = da.data, ao = da.offset;
      for (let i = 0; i < n; i++) dy[i] = scale * a[ao + i];
    },
    vjp: (_x, _y, gy, [ga], { scale }) => {
      if (ga) accGrad(ga, gy, null, 0, scale);
    },
  },
  // y[r,c] = a[r,c] + row[c];  dy[r,c] = da[r,c] + drow[c];  grow[c] += Σ_r gy[r,c]
  addRow: {
    arity: 2,
    shape: (x) => rowVector('addRow', x),
    eval: ([a, row], y) => k.addRow(y, a, row),
    jvp: (_x, y, [da, drow], dy, K) => {
      if (da) accScaled(dy, 0, K, da, 0, size(y), null, 0);
      if (drow) for (let r = 0; r < y.rows; r++) accScaled(dy, r * y.cols, K, drow, 0, y.cols, null, 0);
    },
    vjp: (_x, _y, gy, [ga, grow]) => {
      if (ga) accGrad(ga, gy, null, 0);
      if (grow) k.sumRows(grow, gy, 1, 1);
    },
  },
  // y[r,c] = a[r,c]·row[c];  dy = da·row + a·drow;  ga += gy·row, grow[c] += Σ_r gy[r,c]·a[r,c]
  mulRow: {
    arity: 2,
    shape: (x) => rowVector('mulRow', x),
    eval: ([a, row], y) => k.mulRow(y, a, row),
    jvp: ([a, row], y, [da, drow], dy, K) => {
      const cols = y.cols;
      for (let r = 0; r < y.rows; r++) {
        if (da) accScaled(dy, r * cols, K, da, r * cols, cols, row.data, row.offset);
        if (drow) accScaled(dy, r * cols, K, drow, 0, cols, a.data, a.offset + r * cols);
      }
    },
    vjp: ([a, row], _y, gy, [ga, grow]) => {
      const cols = gy.cols;
      for (let r = 0; r < gy.rows; r++) {
        for (let c = 0; c < cols; c++) {
          const g = gy.data[gy.offset + r * cols + c];
          if (ga) ga.data[ga.offset + r * cols + c] += g * row.data[row.offset + c];
          if (grow) grow.data[grow.offset + c] += g * a.data[a.offset + r * cols + c];
        }
      }
    },
  },
  // y[r,c] = a[r,c]·col[r] (a per-row scale, e.g. a mask);  gcol[r] += Σ_c gy[r,c]·a[r,c]
  mulColumn: {
    arity: 2,
    shape: ([a, column]) => {
      if (column.cols !== 1 || column.rows !== a.rows) {
        throw new ShapeError('mulColumn', `column vector ${shapeOf(column)} does not broadcast over ${shapeOf(a)} (need ${a.rows}x1)`, { column: [column.rows, column.cols], a: [a.rows, a.cols] });
      }
      return [a.rows, a.cols];
    },
    eval: ([a, column], y) => k.mulColumn(y, a, column),
    jvp: ([a, column], y, [da, dcol], dy, K) => {
      const cols = y.cols;
      for (let r = 0; r < y.rows; r++) {
        if (da) accScaled(dy, r * cols, K, da, r * cols, cols, null, 0, column.data[column.offset + r]);
        if (dcol) for (let c = 0; c < cols; c++) {
          accScaled(dy, r * cols + c, K, dcol, r, 1, null, 0, a.data[a.offset + r * cols + c]);
        }
      }
    },
    vjp: ([a, column], _y, gy, [ga, gcol]) => {
      const cols = gy.cols;
      for (let r = 0; r < gy.rows; r++) {
        const s = column.data[column.offset + r];
        let acc = 0;
        for (let c = 0; c < cols; c++) {
          const g = gy.data[gy.offset + r * cols + c];
          if (ga) ga.data[ga.offset + r * cols + c] += g * s;
          acc += g * a.data[a.offset + r * cols + c];
        }
        if (gcol) gcol.data[gcol.offset + r] += acc;
      }
    },
  },
  // y[r,:] = mask[r] ≠ 0 ? a[r,:] : b[r,:] (mask a rows x 1 column, piecewise constant: no
  // derivative). Unlike mask·a + (1-mask)·b it never mixes in the other side, so a NaN or Inf
  // in an unselected row (padding) cannot leak through 0·NaN. dy, ga, gb route row by row.
  selectRows: {
    arity: 3,
    shape: ([a, b, mask]) => {
      if (a.rows !== b.rows || a.cols !== b.cols) throw new ShapeError('selectRows', `shapes ${shapeOf(a)} and ${shapeOf(b)} differ`, { a: [a.rows, a.cols], b: [b.rows, b.cols] });
      if (mask.cols !== 1 || mask.rows !== a.rows) throw new ShapeError('selectRows', `mask ${shapeOf(mask)} must be ${a.rows}x1`, { mask: [mask.rows, mask.cols] });
      return [a.rows, a.cols];
    },
    eval: ([a, b, mask], y) => {
      const cols = a.cols;
      for (let r = 0; r < a.rows; r++) {
        const src = mask.data[mask.offset + r] !== 0 ? a : b, o = src.offset + r * cols;
        y.data.set(src.data.subarray(o, o + cols), y.offset + r * cols);
      }
    },
    jvp: ([, , mask], y, [da, db], dy, K) => {
      const cols = y.cols;
      for (let r = 0; r < y.rows; r++) {
        const t = mask.data[mask.offset + r] !== 0 ? da : db;
        if (t) accScaled(dy, r * cols, K, t, r * cols, cols, null, 0);
      }
    },
    vjp: ([, , mask], _y, gy, [ga, gb]) => {
      const cols = gy.cols;
      for (let r = 0; r < gy.rows; r++) {
        const g = mask.data[mask.offset + r] !== 0 ? ga : gb;
        if (!g) continue;
        const go = g.offset + r * cols, yo = gy.offset + r * cols;
        for (let c = 0; c < cols; c++) g.data[go + c] += gy.data[yo + c];
      }
    },
  },
  // y[r,:] = table[index[r],:] (index: rows x 1 holding row numbers, rounded; piecewise constant,
  // no derivative): an embedding lookup. dy[r,:] = dtable[index[r],:] (a seed stays O(cols) per
  // row); gtable[index[r],:] += gy[r,:]. A row number outside the table is an Error naming it.
  gatherRows: {
    arity: 2,
    shape: ([table, index]) => {
      if (index.cols !== 1) throw new ShapeError('gatherRows', `index ${shapeOf(index)} must be one column (rows x 1)`, { index: [index.rows, index.cols] });
      for (let r = 0; r < index.rows; r++) {
        const i = Math.round(index.data[index.offset + r]);
        if (!(i >= 0 && i < table.rows)) {
          throw new ShapeError('gatherRows', `index ${index.data[index.offset + r]} in row ${r} is outside the ${table.rows} rows of the ${shapeOf(table)} table`, { row: r, index: index.data[index.offset + r], table: [table.rows, table.cols] });
        }
      }
      return [index.rows, table.cols];
    },
    eval: ([table, index], y) => {
      const cols = table.cols;
      for (let r = 0; r < index.rows; r++) {
        const src = table.offset + Math.round(index.data[index.offset + r]) * cols;
        y.data.set(table.data.subarray(src, src + cols), y.offset + r * cols);
      }
    },
    jvp: ([table, index], _y, [dtable], dy, K) => {
      if (!dtable) return;
      const cols = table.cols;
      for (let r = 0; r < index.rows; r++) accScaled(dy, r * cols, K, dtable, Math.round(index.data[index.offset + r]) * cols, cols, null, 0);
    },
    vjp: ([table, index], _y, gy, [gtable]) => {
      if (!gtable) return;
      const cols = table.cols;
      for (let r = 0; r < index.rows; r++) {
        const go = gtable.offset + Math.round(index.data[index.offset + r]) * cols, yo = gy.offset + r * cols;
        for (let c = 0; c < cols; c++) gtable.data[go + c] += gy.data[yo + c];
      }
    },
  },
  // y = op(a)·op(b);  dy = op(da)·op(b) + op(a)·op(db);  ga += gy·op(b)ᵀ (as op), gb += op(a)ᵀ·gy (as op)
  matmul: {
    arity: 2,
    shape: ([a, b], { transA, transB }) => {
      const m = transA ? a.cols : a.rows, ka = transA ? a.rows : a.cols;
      const kb = transB ? b.cols : b.rows, n = transB ? b.rows : b.cols;
      if (ka !== kb) {
        throw new ShapeError('matmul', `${transA ? 'aᵀ' : 'a'} is ${m}x${ka} and ${transB ? 'bᵀ' : 'b'} is ${kb}x${n} (a ${shapeOf(a)}, b ${shapeOf(b)})`, { a: [a.rows, a.cols], b: [b.rows, b.cols], transA, transB });
      }
      return [m, n];
    },
    eval: ([a, b], y, { transA, transB }) => gemm(y, a, b, transA, transB, 1, 0),
    jvp: ([a, b], y, [da, db], dy, K, { transA, transB }) => {
      const M = y.rows, N = y.cols, inner = transA ? a.rows : a.cols;
      if (da) matmulTangentA(a, b, da, dy, K, M, N, inner, transA, transB);
      if (db) matmulTangentB(a, b, db, dy, K, M, N, inner, transA, transB);
    },
    vjp: ([a, b], _y, gy, [ga, gb], { transA, transB }) => {
      if (ga) {
        if (!transA) gemm(ga, gy, b, false, !transB, 1, 1);
        else gemm(ga, b, gy, transB, true, 1, 1);
      }
      if (gb) {
        if (!transB) gemm(gb, a, gy, !transA, false, 1, 1);
        else gemm(gb, gy, a, true, transA, 1, 1);
      }
    },
  },
  // y = Σ_i x_i·W_iᵀ + Σ_j b_j (inputs x_1, W_1, ..., x_m, W_m, then bias rows b_j): the fused
  // affine map of every gate pre-activation. dy = Σ_i (dx_i·W_iᵀ + x_i·dW_iᵀ) + Σ_j db_j;
  // gx_i += gy·W_i, gW_i += gyᵀ·x_i, gb_j += Σ_rows gy.
  linear: {
    arity: 'variadic',
    shape: (x, { pairs }) => {
      if (!Number.isInteger(pairs) || pairs < 1 || x.length < 2 * pairs) {
        throw new ShapeError('linear', `needs ${pairs} (x, W) pairs before the biases, got ${x.length} inputs`, { pairs, inputs: x.length });
      }
      const rows = x[0].rows, cols = x[1].rows;
      for (let i = 0; i < pairs; i++) {
        const xi = x[2 * i], w = x[2 * i + 1];
        if (xi.rows !== rows || w.rows !== cols || xi.cols !== w.cols) {
          throw new ShapeError('linear', `pair ${i} has x ${shapeOf(xi)} and W ${shapeOf(w)}; needs x ${rows}xk and W ${cols}xk`, { pair: i, x: [xi.rows, xi.cols], w: [w.rows, w.cols] });
        }
      }
      for (let j = 2 * pairs; j < x.length; j++) {
        if (x[j].rows !== 1 || x[j].cols !== cols) throw new ShapeError('linear', `bias ${j - 2 * pairs} is ${shapeOf(x[j])}, needs 1x${cols}`, { bias: j - 2 * pairs, shape: [x[j].rows, x[j].cols], cols });
      }
      return [rows, cols];
    },
    eval: (x, y, { pairs }) => {
      if (y.rows === 1) return affineRow(y, x, pairs); // batch 1: one pass (lib/mat/gemm.ts)
      for (let i = 0; i < pairs; i++) gemm(y, x[2 * i], x[2 * i + 1], false, true, 1, i === 0 ? 0 : 1);
      for (let j = 2 * pairs; j < x.length; j++) k.addRow(y, y, x[j]);
    },
    jvp: (x, y, dx, dy, K, { pairs }) => {
      const M = y.rows, N = y.cols;
      for (let i = 0; i < pairs; i++) {
        const xi = x[2 * i], w = x[2 * i + 1], dxi = dx[2 * i], dw = dx[2 * i + 1];
        if (dxi) matmulTangentA(xi, w, dxi, dy, K, M, N, xi.cols, false, true);
        if (dw) matmulTangentB(xi, w, dw, dy, K, M, N, xi.cols, false, true);
      }
      for (let j = 2 * pairs; j < x.length; j++) {
        const db = dx[j];
        if (db) for (let r = 0; r < M; r++) accScaled(dy, r * N, K, db, 0, N, null, 0);
      }
    },
    weightPairs: ({ pairs }) => linearPairs(pairs),
    vjp: (x, _y, gy, gx, { pairs }) => {
      for (let i = 0; i < pairs; i++) {
        const gxi = gx[2 * i], gw = gx[2 * i + 1];
        if (gxi) gemm(gxi, gy, x[2 * i + 1], false, false, 1, 1);
        if (gw) gemm(gw, gy, x[2 * i], true, false, 1, 1);
      }
      for (let j = 2 * pairs; j < x.length; j++) if (gx[j]) k.sumRows(gx[j]!, gy, 1, 1);
    },
  },
  // y = tanh x;  dy = (1 - y²) dx
  tanh: unary('tanh', k.tanh, (_x, y, c) => {
    const n = size(y), d = y.data, o = y.offset;
    for (let i = 0; i < n; i++) c[i] = 1 - d[o + i] * d[o + i];
  }),
  // y = σ(x);  dy = y(1 - y) dx
  sigmoid: unary('sigmoid', k.sigmoid, (_x, y, c) => {
    const n = size(y), d = y.data, o = y.offset;
    for (let i = 0; i < n; i++) c[i] = d[o + i] * (1 - d[o + i]);
  }),
  // y = max(x, 0);  dy = [x > 0] dx
  relu: unary('relu', k.relu, (x, _y, c) => {
    const n = size(x), d = x.data, o = x.offset;
    for (let i = 0; i < n; i++) c[i] = d[o + i] > 0 ? 1 : 0;
  }),
  // y = e^x;  dy = y dx
  exp: unary('exp', k.exp, (_x, y, c) => {
    const n = size(y), d = y.data, o = y.offset;
    for (let i = 0; i < n; i++) c[i] = d[o + i];
  }),
  // y = ln x;  dy = dx / x
  log: unary('log', k.log, (x, _y, c) => {
    const n = size(x), d = x.data, o = x.offset;
    for (let i = 0; i < n; i++) c[i] = 1 / d[o + i];
  }),
  // y = ln(1 + e^x);  dy = σ(x) dx
  softplus: unary('softplus', k.softplus, (x, _y, c) => {
    const n = size(x), d = x.data, o = x.offset;
    for (let i = 0; i < n; i++) c[i] = pm.sigmoid(d[o + i]);
  }),
  // y = a[:, start : start+count];  ga[:, start : start+count] += gy
  sliceCols: {
    arity: 1,
    shape: ([a], { start, count }) => {
      if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > a.cols) {
        throw new ShapeError('sliceCols', `columns [${start}, ${start + count}) out of range for ${shapeOf(a)}`, { start, count, a: [a.rows, a.cols] });
      }
      return [a.rows, count];
    },
    eval: ([a], y, { start, count }) => {
      for (let r = 0; r < a.rows; r++) {
        const src = a.offset + r * a.cols + start;
        y.data.set(a.data.subarray(src, src + count), y.offset + r * count);
      }
    },
    jvp: ([a], y, [da], dy, K, { start, count }) => {
      for (let r = 0; r < y.rows; r++) accScaled(dy, r * count, K, da!, r * a.cols + start, count, null, 0);
    },
    // One row: columns [start, start+count) are elements [start, start+count), a contiguous block.
    jvpView: ([a], [da], K, { start }) => (a.rows === 1 && da ? shiftTangent(da, start, K) : null),
    jvpAssign: ([a], y, [da], dy, K, { start, count }) => {
      for (let r = 0; r < y.rows; r++) {
        const src = da.offset + (r * a.cols + start) * K;
        dy.set(da.data.subarray(src, src + count * K), r * count * K);
      }
    },
    vjp: ([a], _y, gy, [ga], { start, count }) => {
      if (!ga) return;
      for (let r = 0; r < gy.rows; r++) {
        const go = ga.offset + r * a.cols + start, yo = gy.offset + r * count;
        for (let c = 0; c < count; c++) ga.data[go + c] += gy.data[yo + c];
      }
    },
  },
  // y = [x0 x1 ...] side by side;  each gx_i += its block of gy
  concatCols: {
    arity: 'variadic',
    shape: (x) => {
      if (x.length === 0) throw new ShapeError('concatCols', 'needs at least one input');
      let cols = 0;
      for (const m of x) {
        if (m.rows !== x[0].rows) throw new ShapeError('concatCols', `row counts differ (${x.map(shapeOf).join(', ')})`, { shapes: x.map((v) => [v.rows, v.cols]) });
        cols += m.cols;
      }
      return [x[0].rows, cols];
    },
    eval: (x, y) => {
      let c0 = 0;
      for (const m of x) {
        for (let r = 0; r < m.rows; r++) {
          const src = m.offset + r * m.cols;
          y.data.set(m.data.subarray(src, src + m.cols), y.offset + r * y.cols + c0);
        }
        c0 += m.cols;
      }
    },
    jvp: (x, y, dx, dy, K) => {
      let c0 = 0;
      for (let i = 0; i < x.length; i++) {
        const d = dx[i], cols = x[i].cols;
        if (d) for (let r = 0; r < y.rows; r++) accScaled(dy, r * y.cols + c0, K, d, r * cols, cols, null, 0);
        c0 += cols;
      }
    },
    vjp: (x, _y, gy, gx) => {
      let c0 = 0;
      for (let i = 0; i < x.length; i++) {
        const g = gx[i], cols = x[i].cols;
        if (g) for (let r = 0; r < gy.rows; r++) {
          const go = g.offset + r * cols, yo = gy.offset + r * gy.cols + c0;
          for (let c = 0; c < cols; c++) g.data[go + c] += gy.data[yo + c];
        }
        c0 += cols;
      }
    },
  },
  // y = a[start : start+count, :];  ga[start : start+count, :] += gy
  sliceRows: {
    arity: 1,
    shape: ([a], { start, count }) => {
      if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > a.rows) {
        throw new ShapeError('sliceRows', `rows [${start}, ${start + count}) out of range for ${shapeOf(a)}`, { start, count, a: [a.rows, a.cols] });
      }
      return [count, a.cols];
    },
    eval: ([a], y, { start, count }) => {
      const src = a.offset + start * a.cols;
      y.data.set(a.data.subarray(src, src + count * a.cols), y.offset);
    },
    jvp: ([a], y, [da], dy, K, { start }) => accScaled(dy, 0, K, da!, start * a.cols, size(y), null, 0),
    // Rows [start, start+count) are a contiguous block of elements.
    jvpView: ([a], [da], K, { start }) => (da ? shiftTangent(da, start * a.cols, K) : null),
    jvpAssign: ([a], y, [da], dy, K, { start }) => {
      const src = da.offset + start * a.cols * K;
      dy.set(da.data.subarray(src, src + size(y) * K), 0);
    },
    vjp: ([a], _y, gy, [ga], { start }) => {
      if (!ga) return;
      const n = size(gy), go = ga.offset + start * a.cols;
      for (let i = 0; i < n; i++) ga.data[go + i] += gy.data[gy.offset + i];
    },
  },
  // y = [x0; x1; ...] stacked;  each gx_i += its rows of gy
  concatRows: {
    arity: 'variadic',
    shape: (x) => {
      if (x.length === 0) throw new ShapeError('concatRows', 'needs at least one input');
      let rows = 0;
      for (const m of x) {
        if (m.cols !== x[0].cols) throw new ShapeError('concatRows', `column counts differ (${x.map(shapeOf).join(', ')})`, { shapes: x.map((v) => [v.rows, v.cols]) });
        rows += m.rows;
      }
      return [rows, x[0].cols];
    },
    eval: (x, y) => {
      let e0 = 0;
      for (const m of x) {
        y.data.set(m.data.subarray(m.offset, m.offset + size(m)), y.offset + e0);
        e0 += size(m);
      }
    },
    jvp: (x, _y, dx, dy, K) => {
      let e0 = 0;
      for (let i = 0; i < x.length; i++) {
        const d = dx[i];
        if (d) accScaled(dy, e0, K, d, 0, size(x[i]), null, 0);
        e0 += size(x[i]);
      }
    },
    vjp: (x, _y, gy, gx) => {
      let e0 = 0;
      for (let i = 0; i < x.length; i++) {
        const g = gx[i], n = size(x[i]);
        if (g) for (let j = 0; j < n; j++) g.data[g.offset + j] += gy.data[gy.offset + e0 + j];
        e0 += n;
      }
    },
  },
  // y = Σ a (1x1);  dy = Σ da;  ga += gy
  sum: {
    arity: 1,
    shape: () => [1, 1],
    eval: ([a], y) => { y.data[y.offset] = k.sum(a); },
    jvp: ([a], _y, [da], dy, K) => accWeightedSum(dy, 0, K, da!, 0, size(a), null, 0),
    vjp: (_x, _y, gy, [ga]) => {
      if (ga) { const g = gy.data[gy.offset], n = size(ga); for (let i = 0; i < n; i++) ga.data[ga.offset + i] += g; }
    },
  },
  // y = Σ a ⊙ b (1x1);  dy = Σ (da ⊙ b + a ⊙ db);  ga += gy·b, gb += gy·a
  dot: {
    arity: 2,
    shape: (x) => { sameShape('dot', x); return [1, 1]; },
    eval: ([a, b], y) => { y.data[y.offset] = k.dot(a, b); },
    jvp: ([a, b], _y, [da, db], dy, K) => {
      if (da) accWeightedSum(dy, 0, K, da, 0, size(a), b.data, b.offset);
      if (db) accWeightedSum(dy, 0, K, db, 0, size(b), a.data, a.offset);
    },
    vjp: ([a, b], _y, gy, [ga, gb]) => {
      const g = gy.data[gy.offset];
      if (ga) accGrad(ga, b, null, 0, g);
      if (gb) accGrad(gb, a, null, 0, g);
    },
  },
  // per row: y = x - logΣe^x;  dy = dx - Σ_j p_j dx_j with p = e^y;  gx += gy - p Σ_j gy_j
  logSoftmax: {
    arity: 1,
    shape: ([a]) => [a.rows, a.cols],
    eval: ([a], y) => k.logSoftmaxRows(y, a),
    jvp: (_x, y, [da], dy, K) => {
      const cols = y.cols, p = coefBuffer(cols), w = rowBuffer(K);
      for (let r = 0; r < y.rows; r++) {
        for (let c = 0; c < cols; c++) p[c] = pm.exp(y.data[y.offset + r * cols + c]);
        w.fill(0, 0, K);
        accWeightedSum(w, 0, K, da!, r * cols, cols, p, 0);
        accScaled(dy, r * cols, K, da!, r * cols, cols, null, 0);
        for (let c = 0; c < cols; c++) {
          const o = (r * cols + c) * K;
          for (let j = 0; j < K; j++) dy[o + j] -= w[j];
        }
      }
    },
    vjp: (_x, y, gy, [ga]) => {
      if (!ga) return;
      const cols = y.cols;
      for (let r = 0; r < y.rows; r++) {
        let total = 0;
        for (let c = 0; c < cols; c++) total += gy.data[gy.offset + r * cols + c];
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          ga.data[ga.offset + i] += gy.data[gy.offset + i] - pm.exp(y.data[y.offset + i]) * total;
        }
      }
    },
  },
  // per row: y = softmax x;  dy = y ⊙ (dx - Σ_j y_j dx_j);  gx += y ⊙ (gy - Σ_j y_j gy_j)
  softmax: {
    arity: 1,
    shape: ([a]) => [a.rows, a.cols],
    eval: ([a], y) => k.softmaxRows(y, a),
    jvp: (_x, y, [da], dy, K) => {
      const cols = y.cols, w = rowBuffer(K);
      for (let r = 0; r < y.rows; r++) {
        w.fill(0, 0, K);
        accWeightedSum(w, 0, K, da!, r * cols, cols, y.data, y.offset + r * cols);
        accScaled(dy, r * cols, K, da!, r * cols, cols, y.data, y.offset + r * cols);
        for (let c = 0; c < cols; c++) {
          const yc = y.data[y.offset + r * cols + c], o = (r * cols + c) * K;
          for (let j = 0; j < K; j++) dy[o + j] -= yc * w[j];
        }
      }
    },
    vjp: (_x, y, gy, [ga]) => {
      if (!ga) return;
      const cols = y.cols;
      for (let r = 0; r < y.rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += y.data[y.offset + r * cols + c] * gy.data[gy.offset + r * cols + c];
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          ga.data[ga.offset + i] += y.data[y.offset + i] * (gy.data[gy.offset + i] - s);
        }
      }
    },
  },
};

/** Element (i, p) of op(a), where op(a) is M x inner. */
function opAt(m: Mat, trans: boolean, i: number, p: number): number {
  return trans ? m.data[m.offset + p * m.cols + i] : m.data[m.offset + i * m.cols + p];
}

// dy[i, j, :] += Σ_p op(da)[i, p, :] · op(b)[p, j]
function matmulTangentA(a: Mat, b: Mat, da: Tangent, dy: Float64Array, K: number,
  M: number, N: number, inner: number, transA: boolean, transB: boolean): void {
  if (da.kind === 'seed') {
    // a is a parameter: element idx(i,p) of a moves direction start + idx alone.
    for (let i = 0; i < M; i++) {
      for (let p = 0; p < inner; p++) {
        const dir = da.start + (transA ? p * a.cols + i : i * a.cols + p);
        for (let j = 0; j < N; j++) dy[(i * N + j) * K + dir] += opAt(b, transB, p, j);
      }
    }
    return;
  }
  if (!transA) {
    // For each output row i: dy_i (N x K) += op(b)ᵀ (N x inner) · da_i (inner x K), one gemm.
    for (let i = 0; i < M; i++) {
      gemm(matFrom(N, K, dy, i * N * K), b, matFrom(inner, K, da.data, da.offset + i * inner * K), !transB, false, 1, 1);
    }
    return;
  }
  for (let i = 0; i < M; i++) {
    for (let p = 0; p < inner; p++) {
      const src = da.offset + (p * a.cols + i) * K;
      for (let j = 0; j < N; j++) {
        const c = opAt(b, transB, p, j);
        if (c === 0) continue;
        const dst = (i * N + j) * K;
        for (let q = 0; q < K; q++) dy[dst + q] += c * da.data[src + q];
      }
    }
  }
}

// dy[i, j, :] += Σ_p op(a)[i, p] · op(db)[p, j, :]
function matmulTangentB(a: Mat, b: Mat, db: Tangent, dy: Float64Array, K: number,
  M: number, N: number, inner: number, transA: boolean, transB: boolean): void {
  if (db.kind === 'seed') {
    for (let i = 0; i < M; i++) {
      for (let p = 0; p < inner; p++) {
        const c = opAt(a, transA, i, p);
        for (let j = 0; j < N; j++) dy[(i * N + j) * K + db.start + (transB ? j * b.cols + p : p * b.cols + j)] += c;
      }
    }
    return;
  }
  if (!transB) {
    // dy (M x N·K) += op(a) (M x inner) · db (inner x N·K): one gemm.
    gemm(matFrom(M, N * K, dy, 0), a, matFrom(inner, N * K, db.data, db.offset), transA, false, 1, 1);
    return;
  }
  for (let i = 0; i < M; i++) {
    for (let p = 0; p < inner; p++) {
      const c = opAt(a, transA, i, p);
      if (c === 0) continue;
      for (let j = 0; j < N; j++) {
        const src = db.offset + (j * b.cols + p) * K, dst = (i * N + j) * K;
        for (let q = 0; q < K; q++) dy[dst + q] += c * db.data[src + q];
      }
    }
  }
}
