import { ConfigError } from '../mat/errors.js';
// Tangent bundles for forward mode.
//
// A value with `size` elements carries K tangent directions. A dense tangent
// stores them element-major: direction k of element e is data[offset + e*K + k],
// so the tangent of one element is a contiguous row of K numbers and the
// tangent of a row-major (rows x cols) value is a (rows*cols) x K matrix.
//
// A seed tangent is the tangent of a parameter leaf in RTRL: element e moves
// along the unit direction start + e and nowhere else. It is never stored as
// the identity it stands for; rules scatter into it in O(size) work.
// A null tangent means zero and costs nothing.

export type Tangent =
  | { readonly kind: 'dense'; readonly data: Float64Array; readonly offset: number }
  | { readonly kind: 'seed'; readonly start: number };

export function denseTangent(data: Float64Array, offset = 0): Tangent {
  return { kind: 'dense', data, offset };
}

export function seedTangent(start: number): Tangent {
  if (!Number.isInteger(start) || start < 0) throw new ConfigError('seedTangent', `start ${start} is not a non-negative integer`, { start });
  return { kind: 'seed', start };
}

/**
 * dy[yElem + e, :] += scale · coef[coefOffset + e] · t[tElem + e, :] for e < count
 * (coef null means 1). The one workhorse of element-wise JVP rules.
 */
export function accScaled(
  dy: Float64Array, yElem: number, K: number,
  t: Tangent, tElem: number, count: number,
  coef: Float64Array | null, coefOffset: number, scale = 1,
): void {
  if (t.kind === 'seed') {
    const dir = t.start + tElem;
    for (let e = 0; e < count; e++) {
      const c = coef === null ? scale : scale * coef[coefOffset + e];
      dy[(yElem + e) * K + dir + e] += c;
    }
    return;
  }
  const td = t.data;
  for (let e = 0; e < count; e++) {
    const c = coef === null ? scale : scale * coef[coefOffset + e];
    if (c === 0) continue;
    const yo = (yElem + e) * K, to = t.offset + (tElem + e) * K;
    for (let k = 0; k < K; k++) dy[yo + k] += c * td[to + k];
  }
}

/**
 * dy[yElem, :] += Σ_e coef[coefOffset + e] · t[tElem + e, :] (coef null means 1):
 * the JVP of a weighted reduction into one element.
 */
export function accWeightedSum(
  dy: Float64Array, yElem: number, K: number,
  t: Tangent, tElem: number, count: number,
  coef: Float64Array | null, coefOffset: number,
): void {
  const yo = yElem * K;
  if (t.kind === 'seed') {
    const dir = t.start + tElem;
    for (let e = 0; e < count; e++) dy[yo + dir + e] += coef === null ? 1 : coef[coefOffset + e];
    return;
  }
  const td = t.data;
  for (let e = 0; e < count; e++) {
    const c = coef === null ? 1 : coef[coefOffset + e];
    if (c === 0) continue;
    const to = t.offset + (tElem + e) * K;
    for (let k = 0; k < K; k++) dy[yo + k] += c * td[to + k];
  }
}

/** Direction k of element e of t (slow; for tests and checks only). */
export function tangentAt(t: Tangent | null, e: number, k: number, K: number): number {
  if (t === null) return 0;
  if (t.kind === 'seed') return k === t.start + e ? 1 : 0;
  return t.data[t.offset + e * K + k];
}
