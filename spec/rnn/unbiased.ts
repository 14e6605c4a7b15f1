// The unbiasedness check the randomised gradient methods (Uoro, KfRtrl) are held to, derived
// rather than guessed. K independent runs (seeds 0..K-1) give estimates g^(1..K) of a gradient
// with P components. If the estimator is unbiased, for each component i the sample mean m_i has
// expectation exact_i and standard deviation sigma_i / sqrt(K); by the central limit theorem
// (K in the thousands) (m_i - exact_i) / (s_i / sqrt(K)) is close to a standard normal Z, s_i the
// sample standard deviation (with K - 1 >= 1999 degrees of freedom the t quantile differs from the
// normal one by well under 1 %).
// We accept when every component has |m_i - exact_i| <= z · s_i / sqrt(K) + floor_i, and want the
// whole check to fire on an unbiased estimator with probability at most ALPHA = 1e-6. By the union
// bound (Bonferroni) it is enough that each of the P component tests fires with probability at most
// ALPHA / P, i.e. P(|Z| > z) <= ALPHA / P. Mills' ratio gives P(|Z| > z) <= 2 φ(z) / z for z > 0
// (φ the standard normal density), so solving 2 φ(z) / z = ALPHA / P by bisection gives a z at least
// as large as needed. floor_i = 1e-12 · max(1, |exact_i|) covers rounding where the estimate has no
// noise at all (a readout's exact direct gradient: s_i = 0 and m_i equals exact_i but for rounding).
// The seeds are fixed, so the outcome is the same on every run of the suite; the probability says
// how unlikely it was that a correct method would have been rejected at the seeds chosen.

/** Total false-alarm probability of one check. */
export const ALPHA = 1e-6;

/** The z of the file comment for P components. */
export function bonferroniZ(components: number, alpha = ALPHA): number {
  const target = alpha / components;
  const tail = (z: number) => (2 * Math.exp(-z * z / 2)) / (Math.sqrt(2 * Math.PI) * z);
  let lo = 1, hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tail(mid) > target) lo = mid; else hi = mid;
  }
  return hi;
}

export interface UnbiasedReport {
  readonly pass: boolean;
  readonly z: number;
  /** The largest |m_i - exact_i| / (s_i / sqrt(K)) over components with s_i > 0, and where it is. */
  readonly worst: number;
  readonly worstAt: number;
  /** Components that failed. */
  readonly failed: number[];
}

/** The check of the file comment on K samples (each a P-vector) against the exact gradient. */
export function checkUnbiased(samples: readonly Float64Array[], exact: ArrayLike<number>): UnbiasedReport {
  const K = samples.length, P = exact.length;
  const z = bonferroniZ(P);
  let worst = 0, worstAt = -1;
  const failed: number[] = [];
  for (let i = 0; i < P; i++) {
    let mean = 0;
    for (const s of samples) mean += s[i];
    mean /= K;
    let ss = 0;
    for (const s of samples) ss += (s[i] - mean) ** 2;
    const se = Math.sqrt(ss / (K - 1)) / Math.sqrt(K);
    const gap = Math.abs(mean - exact[i]);
    if (!(gap <= z * se + 1e-12 * Math.max(1, Math.abs(exact[i])))) failed.push(i);
    if (se > 0 && gap / se > worst) { worst = gap / se; worstAt = i; }
  }
  return { pass: failed.length === 0, z, worst, worstAt, failed };
}
