// Helpers shared by the specs: where the golden files are, random data, losses, finite
// differences, errors. Tolerances live in spec/tolerances.ts.
import { fileURLToPath } from 'node:url';
import { type Mat, mat, rowsView } from '../lib/mat/mat.js';
import type { Rng } from '../lib/mat/rng.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { FD_STEP } from './tolerances.js';

/** spec/golden, the in-repository copy of PyTorch's golden files (this file runs compiled, as build/spec/helpers.js). */
export const GOLDEN_DIR = fileURLToPath(new URL('../../spec/golden', import.meta.url));

export function randomMat(rng: Rng, rows: number, cols: number, scale = 1): Mat {
  const m = mat(rows, cols);
  rng.fillNormal(m, 0, scale);
  return m;
}

/** max |a - b| / max |b| (max |a - b| when b is all zero). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: lengths ${a.length} and ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** max |a - b|, elementwise. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Σ_i <tanh(final_i), F_i>: a final-state term touching every state vector. */
function tanhFinals(finals: readonly Mat[]): NonNullable<SequenceLoss['final']> {
  return (g, state) => {
    let total = null;
    for (let i = 0; i < state.length; i++) {
      const term = g.dot(g.tanh(state[i]), g.constant(finals[i]));
      total = total === null ? term : g.add(total, term);
    }
    return total;
  };
}

/** Σ_t <output_t, G_t> (+ Σ_i <tanh(final_i), F_i> when finals are given): touches every output and state. */
export function dotLoss(upstream: Mat, batch: number, finals: readonly Mat[] | null = null): SequenceLoss {
  return {
    step: (g, t, out) => g.dot(out, g.constant(rowsView(upstream, t * batch, batch))),
    final: finals === null ? undefined : tanhFinals(finals),
  };
}

/** Squared error of every step's output against targets (+ Σ_i <tanh(final_i), F_i> when finals are given). */
export function squaredLoss(targets: Mat, batch: number, finals: readonly Mat[] | null = null): SequenceLoss {
  return {
    step: (g, t, out) => {
      const d = g.sub(out, g.constant(rowsView(targets, t * batch, batch)));
      return g.dot(d, d);
    },
    final: finals === null ? undefined : tanhFinals(finals),
  };
}

/**
 * Compares grad[i] with central differences of f for the given indices of
 * theta (restored afterwards). Returns the worst |fd - ad| / max(1, |fd|, |ad|).
 */
export function fdError(f: () => number, theta: Float64Array, grad: ArrayLike<number>, indices: readonly number[], eps = FD_STEP): { error: number; worst: string } {
  let error = 0, worst = '';
  for (const i of indices) {
    const saved = theta[i];
    theta[i] = saved + eps;
    const plus = f();
    theta[i] = saved - eps;
    const minus = f();
    theta[i] = saved;
    const fd = (plus - minus) / (2 * eps);
    const e = Math.abs(fd - grad[i]) / Math.max(1, Math.abs(fd), Math.abs(grad[i]));
    if (!(e <= error)) { error = e; worst = `theta[${i}]: fd ${fd}, ad ${grad[i]}`; }
  }
  return { error, worst };
}

/** `count` distinct indices in [0, n), always including 0 and n-1. */
export function someIndices(rng: Rng, n: number, count: number): number[] {
  const set = new Set<number>([0, n - 1]);
  while (set.size < Math.min(count, n)) set.add(rng.int(n));
  return [...set];
}
