import { ResourceError, ShapeError } from './errors.js';
// The one matrix type: row-major float64 storage with an offset, so a view of
// a contiguous block of rows (one time step of a batch, one gate's rows) costs
// no copy. Element (r, c) lives at data[offset + r * cols + c].

export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
  readonly offset: number;
}

function checkSize(op: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeError(op, `shape ${rows}x${cols} is not a pair of non-negative integers`, { rows, cols });
  }
}

/** A new zero matrix. */
export function mat(rows: number, cols: number): Mat {
  checkSize('mat', rows, cols);
  let data: Float64Array;
  try {
    data = new Float64Array(rows * cols);
  } catch (e) {
    // The engine's own message ("Array buffer allocation failed", "Invalid typed array length") names neither.
    throw new ResourceError('mat', `cannot allocate ${rows}x${cols} (${(rows * cols * 8 / 2 ** 30).toFixed(1)} GiB): ${(e as Error).message}`, { rows, cols, bytes: rows * cols * 8 });
  }
  return { rows, cols, data, offset: 0 };
}

/** Wraps existing storage without copying; data.length must fit offset + rows*cols. */
export function matFrom(rows: number, cols: number, data: Float64Array, offset = 0): Mat {
  checkSize('matFrom', rows, cols);
  if (!Number.isInteger(offset) || offset < 0 || offset + rows * cols > data.length) {
    throw new ShapeError('matFrom', `${rows}x${cols} at offset ${offset} does not fit in ${data.length} elements`, { rows, cols, offset, length: data.length });
  }
  return { rows, cols, data, offset };
}

/** A matrix from nested arrays (row by row); handy in tests and examples. */
export function matOf(rowsOfValues: readonly (readonly number[])[]): Mat {
  const rows = rowsOfValues.length;
  const cols = rows === 0 ? 0 : rowsOfValues[0].length;
  const out = mat(rows, cols);
  for (let r = 0; r < rows; r++) {
    if (rowsOfValues[r].length !== cols) {
      throw new ShapeError('matOf', `row ${r} has ${rowsOfValues[r].length} values, row 0 has ${cols}`, { row: r, found: rowsOfValues[r].length, expected: cols });
    }
    for (let c = 0; c < cols; c++) out.data[r * cols + c] = rowsOfValues[r][c];
  }
  return out;
}

/** A view of rows [start, start+count) sharing storage with m. */
export function rowsView(m: Mat, start: number, count: number): Mat {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > m.rows) {
    throw new ShapeError('rowsView', `rows [${start}, ${start + count}) out of range for ${m.rows}x${m.cols}`, { start, count, shape: [m.rows, m.cols] });
  }
  return { rows: count, cols: m.cols, data: m.data, offset: m.offset + start * m.cols };
}

/** The same storage read with another shape of equal size. */
export function reshape(m: Mat, rows: number, cols: number): Mat {
  checkSize('reshape', rows, cols);
  if (rows * cols !== m.rows * m.cols) {
    throw new ShapeError('reshape', `${m.rows}x${m.cols} cannot become ${rows}x${cols}`, { from: [m.rows, m.cols], to: [rows, cols] });
  }
  return { rows, cols, data: m.data, offset: m.offset };
}

/** The elements of m as a Float64Array view (no copy). */
export function values(m: Mat): Float64Array {
  return m.data.subarray(m.offset, m.offset + m.rows * m.cols);
}

/**
 * Scratch that only grows: `buffer` itself when it holds `size` numbers, else a new array of at
 * least twice its length. Kernels keep the result, so warm calls allocate nothing.
 */
export function grown(buffer: Float64Array, size: number): Float64Array {
  return buffer.length >= size ? buffer : new Float64Array(Math.max(size, 2 * buffer.length));
}

/** A copy with its own storage at offset 0. */
export function clone(m: Mat): Mat {
  return { rows: m.rows, cols: m.cols, data: values(m).slice(), offset: 0 };
}

export function copyInto(out: Mat, m: Mat): void {
  assertSameShape('copyInto', out, m);
  out.data.set(values(m), out.offset);
}

export function fill(out: Mat, value: number): void {
  out.data.fill(value, out.offset, out.offset + out.rows * out.cols);
}

export function get(m: Mat, r: number, c: number): number {
  return m.data[m.offset + r * m.cols + c];
}

export function set(m: Mat, r: number, c: number, value: number): void {
  m.data[m.offset + r * m.cols + c] = value;
}

export function shapeOf(m: Mat): string {
  return `${m.rows}x${m.cols}`;
}

export function sameShape(a: Mat, b: Mat): boolean {
  return a.rows === b.rows && a.cols === b.cols;
}

export function assertSameShape(op: string, a: Mat, b: Mat): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new ShapeError(op, `shapes ${shapeOf(a)} and ${shapeOf(b)} differ`, { a: [a.rows, a.cols], b: [b.rows, b.cols] });
  }
}

export function toArray(m: Mat): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.rows; r++) {
    const row: number[] = [];
    for (let c = 0; c < m.cols; c++) row.push(m.data[m.offset + r * m.cols + c]);
    out.push(row);
  }
  return out;
}

// One read-only zero matrix per shape, shared: a constant input for graphs (an initial
// state, padding). Nothing may write into it; the graph never writes into its inputs.
const zeroMatrices = new Map<string, Mat>();

/** A shared, read-only rows x cols zero matrix. */
export function sharedZeros(rows: number, cols: number): Mat {
  const key = `${rows}x${cols}`;
  let z = zeroMatrices.get(key);
  if (z === undefined) {
    z = mat(rows, cols);
    zeroMatrices.set(key, z);
  }
  return z;
}
