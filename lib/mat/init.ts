// Initialisers: each fills a weight matrix in place. Shapes follow PyTorch's
// Linear / RNN weights, out x in: fan_in = cols, fan_out = rows.

import type { Mat } from './mat.js';
import type { Rng } from './rng.js';
import { ConfigError, ShapeError } from './errors.js';

function shape(m: Mat): string {
  return `${m.rows}x${m.cols}`;
}

function checkFinite(op: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError(op, `${name} must be a finite number, got ${String(value)}`, { option: name, value });
  }
}

function checkMat(op: string, m: Mat): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 0 ||
    !Number.isInteger(m.offset) || m.offset < 0 || m.offset + m.rows * m.cols > m.data.length) {
    throw new ShapeError(op, `${m.rows}x${m.cols} at offset ${m.offset} is not a valid matrix over ${m.data.length} elements`, { shape: [m.rows, m.cols], offset: m.offset, length: m.data.length });
  }
}

function checkFans(op: string, m: Mat): void {
  checkMat(op, m);
  if (m.rows === 0 || m.cols === 0) {
    throw new ShapeError(op, `fan_in and fan_out of ${shape(m)} must be positive`, { shape: [m.rows, m.cols] });
  }
}

/** U(lo, hi). */
export function uniformInit(m: Mat, rng: Rng, lo: number, hi: number): void {
  checkMat('uniformInit', m);
  checkFinite('uniformInit', 'lo', lo);
  checkFinite('uniformInit', 'hi', hi);
  if (hi < lo) throw new ConfigError('uniformInit', `hi ${hi} < lo ${lo} for ${shape(m)}`, { hi, lo });
  rng.fillUniform(m, lo, hi);
}

/** N(mean, std²). */
export function normalInit(m: Mat, rng: Rng, std: number, mean = 0): void {
  checkMat('normalInit', m);
  checkFinite('normalInit', 'std', std);
  checkFinite('normalInit', 'mean', mean);
  if (std < 0) throw new ConfigError('normalInit', `std ${std} < 0 for ${shape(m)}`, { option: 'std', value: std });
  rng.fillNormal(m, mean, std);
}

/** Glorot & Bengio: U(±gain·√(6 / (fan_in + fan_out))). */
export function xavierUniform(m: Mat, rng: Rng, gain = 1): void {
  checkFans('xavierUniform', m);
  checkFinite('xavierUniform', 'gain', gain);
  const bound = Math.abs(gain) * Math.sqrt(6 / (m.cols + m.rows));
  rng.fillUniform(m, -bound, bound);
}

/** Glorot & Bengio: N(0, gain²·2 / (fan_in + fan_out)). */
export function xavierNormal(m: Mat, rng: Rng, gain = 1): void {
  checkFans('xavierNormal', m);
  checkFinite('xavierNormal', 'gain', gain);
  rng.fillNormal(m, 0, Math.abs(gain) * Math.sqrt(2 / (m.cols + m.rows)));
}

/** He et al. (kaiming, fan_in mode): N(0, gain² / fan_in), gain √2 for ReLU. */
export function heNormal(m: Mat, rng: Rng, gain = Math.SQRT2): void {
  checkFans('heNormal', m);
  checkFinite('heNormal', 'gain', gain);
  rng.fillNormal(m, 0, Math.abs(gain) / Math.sqrt(m.cols));
}

/** He et al. (kaiming, fan_in mode): U(±gain·√(3 / fan_in)), gain √2 for ReLU. */
export function heUniform(m: Mat, rng: Rng, gain = Math.SQRT2): void {
  checkFans('heUniform', m);
  checkFinite('heUniform', 'gain', gain);
  const bound = Math.abs(gain) * Math.sqrt(3 / m.cols);
  rng.fillUniform(m, -bound, bound);
}

/** PyTorch's default for every RNN/LSTM/GRU parameter: U(±1/√hiddenSize). */
export function pytorchRnnUniform(m: Mat, rng: Rng, hiddenSize: number): void {
  checkMat('pytorchRnnUniform', m);
  if (!Number.isInteger(hiddenSize) || hiddenSize <= 0) {
    throw new ConfigError('pytorchRnnUniform', `hiddenSize ${hiddenSize} is not a positive integer (${shape(m)})`, { option: 'hiddenSize', value: hiddenSize });
  }
  const bound = 1 / Math.sqrt(hiddenSize);
  rng.fillUniform(m, -bound, bound);
}

/** scale on the main diagonal, zero elsewhere (like torch.nn.init.eye_; any shape). */
export function identityInit(m: Mat, scale = 1): void {
  checkMat('identityInit', m);
  checkFinite('identityInit', 'scale', scale);
  const d = m.data;
  d.fill(0, m.offset, m.offset + m.rows * m.cols);
  const diag = Math.min(m.rows, m.cols);
  for (let i = 0; i < diag; i++) d[m.offset + i * m.cols + i] = scale;
}

/**
 * gain times a random (semi-)orthogonal matrix (Saxe et al.), as PyTorch's orthogonal_:
 * QR of a standard normal matrix, columns of Q signed by diag(R). Rows are orthonormal
 * when rows <= cols (m mᵀ = gain² I), columns otherwise (mᵀ m = gain² I).
 */
export function orthogonal(m: Mat, rng: Rng, gain = 1): void {
  checkFans('orthogonal', m);
  checkFinite('orthogonal', 'gain', gain);
  // Work on the tall orientation: tallRows x tallCols with tallRows >= tallCols.
  const wide = m.rows < m.cols;
  const tallRows = wide ? m.cols : m.rows;
  const tallCols = wide ? m.rows : m.cols;
  const a = new Float64Array(tallRows * tallCols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  const q = householderQ(a, tallRows, tallCols);
  const d = m.data;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const v = wide ? q[c * tallCols + r] : q[r * tallCols + c];
      d[m.offset + r * m.cols + c] = gain * v;
    }
  }
}

// Thin Q (rows x cols, rows >= cols) of the QR factorisation of a (row-major,
// overwritten), by Householder reflections, with column j of Q multiplied by
// sign(R[j][j]) so that R has a non-negative diagonal (the unique QR).
function householderQ(a: Float64Array, rows: number, cols: number): Float64Array {
  const vs = new Float64Array(rows * cols); // reflector j in column j, entries j..rows-1
  const signs = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let norm2 = 0;
    for (let i = j; i < rows; i++) norm2 += a[i * cols + j] * a[i * cols + j];
    const norm = Math.sqrt(norm2);
    const x0 = a[j * cols + j];
    if (norm === 0) {
      signs[j] = 1; // zero column: identity reflector, R[j][j] = 0
      continue;
    }
    // H x = rjj e_0 with rjj = -sign(x0) |x|, v = x - rjj e_0 (no cancellation)
    const rjj = x0 >= 0 ? -norm : norm;
    signs[j] = rjj >= 0 ? 1 : -1;
    let vnorm2 = 0;
    for (let i = j; i < rows; i++) {
      const v = i === j ? x0 - rjj : a[i * cols + j];
      vs[i * cols + j] = v;
      vnorm2 += v * v;
    }
    const scale = 1 / Math.sqrt(vnorm2);
    for (let i = j; i < rows; i++) vs[i * cols + j] *= scale;
    // a[j:, j:] -= 2 v (vᵀ a[j:, j:])
    for (let c = j; c < cols; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += vs[i * cols + j] * a[i * cols + c];
      dot *= 2;
      for (let i = j; i < rows; i++) a[i * cols + c] -= dot * vs[i * cols + j];
    }
  }
  // Q = H_0 H_1 ... H_{cols-1} I[:, :cols], applied right to left.
  const q = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) q[j * cols + j] = 1;
  for (let j = cols - 1; j >= 0; j--) {
    for (let c = 0; c < cols; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += vs[i * cols + j] * q[i * cols + c];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = j; i < rows; i++) q[i * cols + c] -= dot * vs[i * cols + j];
    }
  }
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < cols; c++) q[i * cols + c] *= signs[c];
  }
  return q;
}
