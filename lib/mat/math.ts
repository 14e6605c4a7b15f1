// Elementary functions from + − × ÷ alone (each correctly rounded by IEEE 754),
// so that every JavaScript engine gives the same bits. Engines do not agree on
// Math.exp, Math.log or Math.tanh (Node 20's V8 and Chromium 156's differ by an
// ulp on about a tenth of exp's and log's inputs), and a seeded training run
// must give the same loss, to the last bit, in Node and in a browser. Accuracy:
// about 1 ulp for exp and log, a few ulp for the others. Math.sqrt is exact
// (correctly rounded) everywhere and needs no replacement.

const LN2_HI = 6.93147180369123816490e-1; // ln 2 to 32 bits: k·LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const INV_LN2 = 1.44269504088896338700e0;
const EXP_MAX = 709.782712893383973096; // e^x overflows above
const EXP_MIN = -745.13321910194110842; // e^x underflows to 0 below

// 2^k for k in [−1022, 1023], built by exact doublings and halvings.
const POW2 = new Float64Array(2046);
POW2[1022] = 1;
for (let k = 1; k <= 1023; k++) POW2[1022 + k] = POW2[1022 + k - 1] * 2;
for (let k = -1; k >= -1022; k--) POW2[1022 + k] = POW2[1022 + k + 1] / 2;

/** x·2^k for any integer k: exact unless the result is subnormal (then rounded once or twice). */
function scaleByPow2(x: number, k: number): number {
  if (k > 1023) return x * POW2[1022 + 1023] * POW2[1022 + Math.min(k - 1023, 1023)];
  if (k < -1022) return x * POW2[0] * POW2[1022 + Math.max(k + 1022, -1022)];
  return x * POW2[1022 + k];
}

// 1/n for the Taylor coefficients (one rounding each, the same in every engine).
const INV = new Float64Array(30);
for (let n = 1; n < 30; n++) INV[n] = 1 / n;

// 1/n! for the Taylor polynomial of e^r (each computed once, the same in every engine).
const INV_FACT = new Float64Array(15);
INV_FACT[0] = 1;
for (let n = 1; n < 15; n++) INV_FACT[n] = INV_FACT[n - 1] / n;

/** e^x: x = k·ln2 + r, |r| ≤ ln2/2; e^r by its Taylor polynomial of degree 14 (Horner); times 2^k. */
export function exp(x: number): number {
  if (x !== x) return NaN;
  if (x > EXP_MAX) return Infinity;
  if (x < EXP_MIN) return 0;
  const k = Math.round(x * INV_LN2);
  const r = (x - k * LN2_HI) - k * LN2_LO;
  let sum = INV_FACT[14];
  for (let n = 13; n >= 0; n--) sum = sum * r + INV_FACT[n];
  return k === 0 ? sum : scaleByPow2(sum, k);
}

// The bits of a double, read through a typed-array alias (the platform's byte order,
// detected once): the exponent field of x, exactly, without a loop.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: high word second

/**
 * ln x: x = f·2^e with f in [√½, √2); ln f = 2·atanh(t), t = (f−1)/(f+1), by its
 * odd series in t (|t| < 0.172, so 14 terms leave < 1e-19 relative).
 */
export function log(x: number): number {
  if (x !== x || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  let f = x, e = 0;
  if (x >= Math.SQRT1_2 && x < 2 * Math.SQRT2) {
    // The common case near 1 (every log1p of a probability): at most one exact halving.
    if (x >= Math.SQRT2) { f = x * 0.5; e = 1; }
  } else {
    if (f < 2.2250738585072014e-308) { f *= 18014398509481984; e = -54; } // subnormal: scale by 2^54 first
    F64[0] = f;
    const hi = U32[HI];
    e += ((hi >>> 20) & 0x7ff) - 1023;
    U32[HI] = (hi & 0x000fffff) | 0x3ff00000; // the same mantissa with exponent 0: f in [1, 2)
    f = F64[0];
    if (f >= Math.SQRT2) { f *= 0.5; e++; }
  }
  const t = (f - 1) / (f + 1), t2 = t * t;
  let series = INV[27];
  for (let n = 25; n >= 1; n -= 2) series = INV[n] + t2 * series;
  return e * LN2_HI + (2 * t * series + e * LN2_LO);
}

/** ln(1 + x), accurate near 0: a short series below 1e-4, else ln u corrected by (u − 1 − x)/u. */
export function log1p(x: number): number {
  if (x !== x || x < -1) return NaN;
  if (x === -1) return -Infinity;
  if (x === Infinity) return Infinity;
  if (Math.abs(x) < 1e-4) return x * (1 - x * (0.5 - x * (INV[3] - x * (0.25 - x * 0.2))));
  const u = 1 + x;
  return log(u) - (u - 1 - x) / u;
}

/** e^x − 1, accurate near 0: its Taylor series for |x| < 0.5, else exp(x) − 1. */
export function expm1(x: number): number {
  if (x !== x) return NaN;
  if (Math.abs(x) < 0.5) {
    let sum = 1;
    for (let n = 17; n >= 2; n--) sum = 1 + x * INV[n] * sum;
    return x * sum;
  }
  if (x < -40) return -1;
  return exp(x) - 1;
}

/** tanh x = expm1(2|x|) / (expm1(2|x|) + 2), odd; ±1 beyond 22 (the difference is below an ulp). */
export function tanh(x: number): number {
  if (x !== x) return NaN;
  if (x === 0) return x; // keeps −0
  const a = x < 0 ? -x : x;
  let y = 1;
  if (a <= 22) { const m = expm1(2 * a); y = m / (m + 2); }
  return x < 0 ? -y : y;
}

/** 1 / (1 + e^−x), without overflow on either side. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + exp(-x));
  const e = exp(x);
  return e / (1 + e);
}

/** ln(1 + e^x) without overflow: max(x, 0) + ln(1 + e^−|x|). */
export function softplus(x: number): number {
  return (x > 0 ? x : 0) + log1p(exp(-(x < 0 ? -x : x)));
}

/** x^y: exact repeated squaring for integer y, exp(y·ln x) for x > 0 otherwise. */
export function pow(x: number, y: number): number {
  if (Number.isInteger(y) && Math.abs(y) <= 2147483648) {
    let base = x, n = Math.abs(y), result = 1;
    while (n > 0) {
      if (n % 2 === 1) result *= base;
      base *= base;
      n = Math.floor(n / 2);
    }
    return y < 0 ? 1 / result : result;
  }
  if (y === 0) return 1;
  if (x !== x || y !== y) return NaN;
  if (x === 1) return 1;
  if (x > 0) return exp(y * log(x));
  if (x === 0) return y > 0 ? 0 : Infinity;
  return NaN; // a negative base with a fractional exponent
}

/** cos x: reduced to [−π/4, π/4] by multiples of π/2 (Cody–Waite, fine for |x| < 1e5), then Taylor. */
export function cos(x: number): number {
  if (!Number.isFinite(x)) return NaN;
  const PIO2_HI = 1.57079632673412561417e0, PIO2_LO = 6.07710050650619224932e-11;
  const k = Math.round(x * 6.36619772367581382433e-1); // 2/π
  const r = (x - k * PIO2_HI) - k * PIO2_LO, r2 = r * r;
  // cos r and sin r by their series (|r| ≤ π/4: 10 terms each are plenty)
  let c = 1, s = 1;
  for (let n = 20; n >= 2; n -= 2) c = 1 - r2 * INV[n] * INV[n - 1] * c;
  for (let n = 21; n >= 3; n -= 2) s = 1 - r2 * INV[n] * INV[n - 1] * s;
  s *= r;
  switch (((k % 4) + 4) % 4) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
  }
}
