// The O(P) loops of a UORO step (lib/rnn/uoro.ts), each one pass over theta. At P ~ 2·10⁴ they
// cost as much as the cell's passes unless written for the machine: a single running sum is
// bound by the latency of one add per element, so the squared norms keep four partial sums
// (added as (s0 + s1) + (s2 + s3) at the end: rounding differs from a sequential sum, by
// ~1e-16 relative); and θ̃ / ρ is computed as θ̃ · (1 / ρ), a multiply instead of a divide
// (one rounding more, again ~1e-16 relative). The results stay a fixed function of the inputs,
// so seeded runs repeat bit for bit.

/** Σ data[from + k]² for k < n, with four partial sums. */
export function sumOfSquares(data: Float64Array, from: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const end4 = from + (n & ~3), end = from + n;
  let k = from;
  for (; k < end4; k += 4) {
    const a = data[k], b = data[k + 1], c = data[k + 2], d = data[k + 3];
    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
  }
  for (; k < end; k++) s0 += data[k] * data[k];
  return (s0 + s1) + (s2 + s3);
}

/**
 * θ̃ = θ̃ · inv0 + v · inv1 over tt[at, at + P) (inv0 = 1/ρ0, inv1 = 1/ρ1, v = νᵀI_t); returns
 * the new ‖θ̃‖².
 */
export function updateThetaTilde(tt: Float64Array, at: number, v: Float64Array, P: number, inv0: number, inv1: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const P4 = P & ~3;
  let k = 0;
  for (; k < P4; k += 4) {
    const a = tt[at + k] * inv0 + v[k] * inv1, b = tt[at + k + 1] * inv0 + v[k + 1] * inv1;
    const c = tt[at + k + 2] * inv0 + v[k + 2] * inv1, d = tt[at + k + 3] * inv0 + v[k + 3] * inv1;
    tt[at + k] = a; tt[at + k + 1] = b; tt[at + k + 2] = c; tt[at + k + 3] = d;
    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
  }
  for (; k < P; k++) {
    const a = tt[at + k] * inv0 + v[k] * inv1;
    tt[at + k] = a;
    s0 += a * a;
  }
  return (s0 + s1) + (s2 + s3);
}

/**
 * grad += direct + Σ_b c_b θ̃_b over a batch (θ̃_b at b·P; a zero c_b adds nothing): the gradient
 * estimate when several sequences run. Per element in the order of denseUpdate.
 */
export function accumulateEstimate(grad: Float64Array, direct: Float64Array, coeffs: Float64Array, tt: Float64Array, batch: number): void {
  const P = grad.length;
  for (let k = 0; k < P; k++) {
    let v = grad[k] + direct[k];
    for (let b = 0; b < batch; b++) if (coeffs[b] !== 0) v += coeffs[b] * tt[b * P + k];
    grad[k] = v;
  }
}

/**
 * One running sequence, one parameter block [at, at + n) of theta (θ̃ of that sequence at offset
 * 0): grad += direct + c · θ̃_{t-1} and θ̃_t = θ̃_{t-1} · inv0 + v · inv1 in one pass (direct or v
 * null: zero); returns the block's part of ‖θ̃_t‖². Per element the arithmetic of
 * accumulateEstimate then updateThetaTilde. (Plain loops, the branches outside them: V8 runs
 * these faster than hand-unrolled ones.)
 */
export function denseUpdate(grad: Float64Array, direct: Float64Array | null, c: number, tt: Float64Array, v: Float64Array | null, at: number, n: number, inv0: number, inv1: number): number {
  const end = at + n;
  let s = 0;
  if (direct !== null && v !== null) {
    for (let k = at; k < end; k++) {
      const o = tt[k];
      grad[k] = grad[k] + direct[k] + c * o;
      const p = o * inv0 + v[k] * inv1;
      tt[k] = p;
      s += p * p;
    }
    return s;
  }
  if (direct !== null) for (let k = at; k < end; k++) grad[k] = grad[k] + direct[k] + c * tt[k];
  else if (c !== 0) for (let k = at; k < end; k++) grad[k] = grad[k] + c * tt[k];
  if (v !== null) {
    for (let k = at; k < end; k++) { const p = tt[k] * inv0 + v[k] * inv1; tt[k] = p; s += p * p; }
  } else {
    for (let k = at; k < end; k++) { const p = tt[k] * inv0; tt[k] = p; s += p * p; }
  }
  return s;
}

/**
 * The same update for a weight block whose two gradients are rank one with one shared input row
 * x (a linear op at batch 1): direct = lossGyᵀ·x and v = nuGyᵀ·x (W is rows x cols, row i at
 * at + i·cols; lossGy or nuGy null: zero). Neither outer product is ever stored: this one pass
 * replaces writing both gradients out, copying them into theta's layout and reading them back.
 * v · inv1 is formed as x_j · (nuGy_i · inv1) (one rounding apart from (nuGy_i x_j) · inv1).
 */
export function outerUpdate(
  grad: Float64Array, tt: Float64Array, at: number, rows: number, cols: number,
  lossGy: Float64Array | null, nuGy: Float64Array | null, x: Float64Array, xo: number,
  c: number, inv0: number, inv1: number,
): number {
  let s = 0;
  for (let i = 0; i < rows; i++) {
    const a = lossGy === null ? 0 : lossGy[i], b = nuGy === null ? 0 : nuGy[i] * inv1;
    const row = at + i * cols;
    for (let j = 0; j < cols; j++) {
      const k = row + j, xj = x[xo + j], o = tt[k];
      grad[k] = grad[k] + a * xj + c * o;
      const p = o * inv0 + b * xj;
      tt[k] = p;
      s += p * p;
    }
  }
  return s;
}
