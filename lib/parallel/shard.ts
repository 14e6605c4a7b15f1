// Data parallelism over a batch: the sequences are split into contiguous shards, each shard's
// gradient is computed alone, and the shards' gradients are added in a fixed order
// (shard 0 + shard 1 + ...), so a given number of shards repeats bit for bit. With every shard's
// loss scaled by the WHOLE batch's 1 / targetCount, the sum is the whole batch's loss and gradient.
import { ShapeError } from '../mat/errors.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';

/** Sequences [start, end) of the batch. */
export interface ShardRange {
  readonly start: number;
  readonly end: number;
}

/** min(shards, batch) contiguous ranges covering [0, batch), sizes differing by at most 1. */
export function shardRanges(batch: number, shards: number): ShardRange[] {
  const n = Math.max(1, Math.min(shards, batch));
  const out: ShardRange[] = [];
  for (let s = 0; s < n; s++) out.push({ start: Math.floor((s * batch) / n), end: Math.floor(((s + 1) * batch) / n) });
  return out;
}

/**
 * The rows of a time-major matrix ((steps·batch) x cols) that belong to sequences
 * [start, end): (steps·(end - start)) x cols, still time-major.
 */
export function shardRows(m: Mat, batch: number, range: ShardRange): Mat {
  if (m.rows % batch !== 0) throw new ShapeError('shardRows', `${shapeOf(m)} has ${m.rows} rows, not a multiple of batch ${batch}`, { shape: [m.rows, m.cols], batch });
  const steps = m.rows / batch, size = range.end - range.start, cols = m.cols;
  const out = mat(steps * size, cols);
  for (let t = 0; t < steps; t++) {
    const from = m.offset + (t * batch + range.start) * cols;
    out.data.set(m.data.subarray(from, from + size * cols), t * size * cols);
  }
  return out;
}

/** out = Σ_s parts[s], added in the order of parts (the fixed-order reduction). */
export function reduceInOrder(parts: readonly Float64Array[], out: Float64Array): Float64Array {
  out.set(parts[0]);
  for (let s = 1; s < parts.length; s++) {
    const p = parts[s];
    for (let i = 0; i < out.length; i++) out[i] += p[i];
  }
  return out;
}
