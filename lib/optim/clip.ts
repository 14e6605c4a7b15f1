// Gradient clipping and weight penalties on flat gradient vectors.
//   clipGlobalNorm:  g ← g · min(1, c / ‖g‖₂)          (the direction is kept)
//   clipValue:       g_i ← max(-c, min(c, g_i))       (each entry on its own)
//   L2 penalty:      (λ₂/2) Σ m_i θ_i²   adds  λ₂ m_i θ_i      to g_i
//   L1 penalty:      λ₁ Σ m_i |θ_i|      adds  λ₁ m_i sign θ_i to g_i
// (m an optional 0/1 mask, e.g. to spare biases.) The penalties change the
// loss, so an adaptive optimiser rescales them like any gradient; AdamW's
// decoupled decay (in optimizer.ts) shrinks θ outside the adaptive step.
import type { Params } from '../cells/params.js';
import { checkKeys } from '../mat/options.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** ‖g‖₂ of a flat vector (NaN if any entry is NaN, Infinity if any is infinite). */
export function globalNorm(grad: Float64Array): number {
  let scale = 0, sumSq = 1, infinite = false;
  // Scaled accumulation (as in LAPACK's dnrm2) so huge gradients do not overflow to Infinity.
  for (let i = 0; i < grad.length; i++) {
    const a = Math.abs(grad[i]);
    if (a === 0) continue;
    if (a !== a) return NaN; // a NaN anywhere makes the norm NaN, wherever an Infinity stands
    if (a === Infinity) { infinite = true; continue; }
    if (scale < a) { sumSq = 1 + sumSq * (scale / a) * (scale / a); scale = a; }
    else sumSq += (a / scale) * (a / scale);
  }
  return infinite ? Infinity : scale * Math.sqrt(sumSq);
}

/** True when every entry is finite. */
export function allFinite(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * Rescales grad in place so that its global norm is at most maxNorm.
 * Returns the norm before clipping. A non-finite norm leaves grad untouched.
 */
export function clipGlobalNorm(grad: Float64Array, maxNorm: number): number {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) throw new ConfigError('clipGlobalNorm', `maxNorm must be a positive number, got ${maxNorm}`, { option: 'maxNorm', value: maxNorm });
  const norm = globalNorm(grad);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const s = maxNorm / norm;
    for (let i = 0; i < grad.length; i++) grad[i] *= s;
  }
  return norm;
}

/** Clamps every entry of grad to [-limit, limit] in place; returns how many were clipped. */
export function clipValue(grad: Float64Array, limit: number): number {
  if (!(Number.isFinite(limit) && limit > 0)) throw new ConfigError('clipValue', `limit must be a positive number, got ${limit}`, { option: 'limit', value: limit });
  let clipped = 0;
  for (let i = 0; i < grad.length; i++) {
    const g = grad[i];
    if (g > limit) { grad[i] = limit; clipped++; }
    else if (g < -limit) { grad[i] = -limit; clipped++; }
  }
  return clipped;
}

export interface Penalty {
  /** λ₁ of the L1 penalty (default 0). */
  l1?: number;
  /** λ₂ of the L2 penalty (default 0). */
  l2?: number;
  /** 1 where a parameter is penalised, 0 where not (default: all). */
  mask?: Float64Array | null;
}

/** Validates the coefficients; throws an Error naming the bad one. */
export function checkPenalty(penalty: Penalty): void {
  checkKeys('penalty', penalty, ['l1', 'l2', 'mask']);
  for (const name of ['l1', 'l2'] as const) {
    const v = penalty[name];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new ConfigError('penalty', `${name} must be a number >= 0, got ${v}`, { option: name, value: v });
  }
}

/**
 * Adds the gradient of the L1 and L2 penalties to grad and returns their
 * value (to add to the loss). sign(0) is taken as 0 for L1.
 */
export function applyPenalty(theta: Float64Array, grad: Float64Array, penalty: Penalty): number {
  checkPenalty(penalty);
  const l1 = penalty.l1 ?? 0, l2 = penalty.l2 ?? 0, mask = penalty.mask ?? null;
  if (theta.length !== grad.length) throw new ShapeError('applyPenalty', `theta has ${theta.length} numbers but grad has ${grad.length}`, { theta: theta.length, grad: grad.length });
  if (mask !== null && mask.length !== theta.length) throw new ShapeError('applyPenalty', `mask has ${mask.length} numbers but theta has ${theta.length}`, { mask: mask.length, theta: theta.length });
  if (l1 === 0 && l2 === 0) return 0;
  let abs = 0, sq = 0;
  for (let i = 0; i < theta.length; i++) {
    const m = mask === null ? 1 : mask[i];
    if (m === 0) continue;
    const w = theta[i];
    abs += m * Math.abs(w);
    sq += m * w * w;
    grad[i] += m * (l2 * w + l1 * (w > 0 ? 1 : w < 0 ? -1 : 0));
  }
  return l1 * abs + 0.5 * l2 * sq;
}

/**
 * A 0/1 mask over theta: 1 for weight matrices, 0 for biases and learned
 * initial states (by each spec's role, whatever its name: a hierarchy's
 * s0/bias_ih, a grid cell's b), the usual set that weight decay and penalties spare.
 */
export function weightMask(params: Params): Float64Array {
  const mask = new Float64Array(params.theta.length);
  params.specs.forEach((spec, i) => {
    if (spec.role !== 'weight') return;
    mask.fill(1, params.offsets[i], params.offsets[i] + spec.rows * spec.cols);
  });
  return mask;
}
