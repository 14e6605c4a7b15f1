// Inputs the benchmarks share: a seeded matrix of uniform numbers in [-1, 1).
import { type Mat, mat } from '../lib/mat/mat.js';
import type { Rng } from '../lib/mat/rng.js';

export function uniformMat(rows: number, cols: number, rng: Rng): Mat {
  const m = mat(rows, cols);
  rng.fillUniform(m, -1, 1);
  return m;
}
