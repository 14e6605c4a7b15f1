// Initialisers: each fills a weight matrix (out x in, as PyTorch stores it) in place.
import { type Mat, shapeOf } from './mat.js';
import type { Rng } from './rng.js';

function checkFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new Error(`${op}: ${name} must be finite, got ${value}`);
}

/** U(lo, hi) */
export function uniformInit(m: Mat, rng: Rng, lo: number, hi: number): void {
  checkFinite('uniformInit', 'lo', lo);
  checkFinite('uniformInit', 'hi', hi);
  if (hi < lo) throw new Error(`uniformInit: hi ${hi} < lo ${lo}`);
  rng.fillUniform(m, lo, hi);
}

/** N(0, std²) */
export function normalInit(m: Mat, rng: Rng, std: number): void {
  checkFinite('normalInit', 'std', std);
  if (std < 0) throw new Error(`normalInit: std ${std} < 0`);
  rng.fillNormal(m, 0, std);
}

/** Glorot & Bengio: U(±gain·√(6 / (fan_in + fan_out))), fan_in = cols, fan_out = rows. */
export function xavierUniform(m: Mat, rng: Rng, gain = 1): void {
  const bound = gain * Math.sqrt(6 / (m.rows + m.cols));
  rng.fillUniform(m, -bound, bound);
}

/** Glorot & Bengio: N(0, gain²·2 / (fan_in + fan_out)). */
export function xavierNormal(m: Mat, rng: Rng, gain = 1): void {
  rng.fillNormal(m, 0, gain * Math.sqrt(2 / (m.rows + m.cols)));
}

/** He et al. for ReLU: N(0, 2 / fan_in). */
export function heNormal(m: Mat, rng: Rng): void {
  rng.fillNormal(m, 0, Math.sqrt(2 / m.cols));
}

/** He et al. for ReLU: U(±√(6 / fan_in)). */
export function heUniform(m: Mat, rng: Rng): void {
  const bound = Math.sqrt(6 / m.cols);
  rng.fillUniform(m, -bound, bound);
}

/** PyTorch's RNN default: U(±1/√hiddenSize). */
export function pytorchRnnUniform(m: Mat, rng: Rng, hiddenSize: number): void {
  if (!(hiddenSize > 0)) throw new Error(`pytorchRnnUniform: hiddenSize must be positive, got ${hiddenSize}`);
  const bound = 1 / Math.sqrt(hiddenSize);
  rng.fillUniform(m, -bound, bound);
}

/** scale · I (the IRNN's recurrent weights); m must be square. */
export function identityInit(m: Mat, scale = 1): void {
  if (m.rows !== m.cols) throw new Error(`identityInit: ${shapeOf(m)} is not square`);
  m.data.fill(0, m.offset, m.offset + m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) m.data[m.offset + i * m.cols + i] = scale;
}

/**
 * A random (semi-)orthogonal matrix times gain (Saxe et al.): rows orthonormal when
 * rows <= cols, columns orthonormal otherwise. Modified Gram-Schmidt on normal samples.
 */
export function orthogonal(m: Mat, rng: Rng, gain = 1): void {
  const wide = m.rows <= m.cols;
  const count = wide ? m.rows : m.cols, length = wide ? m.cols : m.rows;
  const vectors = new Float64Array(count * length);
  for (let v = 0; v < count; v++) {
    for (;;) {
      const base = v * length;
      for (let i = 0; i < length; i++) vectors[base + i] = rng.normal();
      for (let u = 0; u < v; u++) {
        let d = 0;
        for (let i = 0; i < length; i++) d += vectors[u * length + i] * vectors[base + i];
        for (let i = 0; i < length; i++) vectors[base + i] -= d * vectors[u * length + i];
      }
      let n = 0;
      for (let i = 0; i < length; i++) n += vectors[base + i] * vectors[base + i];
      n = Math.sqrt(n);
      if (n < 1e-10) continue; // degenerate draw: try again
      for (let i = 0; i < length; i++) vectors[base + i] /= n;
      break;
    }
  }
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const v = wide ? vectors[r * length + c] : vectors[c * length + r];
      m.data[m.offset + r * m.cols + c] = gain * v;
    }
  }
}
