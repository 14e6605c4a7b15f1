// Elementary functions built from + - * / only (each exactly rounded by IEEE 754),
// so every JavaScript engine returns the same bits for them. Engines do not
// agree on Math.exp, Math.log and Math.tanh: V8 11.3 (Node 20) and the V8 of
// Chromium 156 differ by one ulp on about a tenth of exp's and log's inputs.
// The browser test runs the seeded training with these in place of Math's to
// show that everything else (kernels, summation order, the minifier) is
// bit-for-bit the same across engines; lib/ could adopt them if the project
// wants engine-independent training. Accuracy: about 1 ulp (exp, log), a few
// ulp (tanh, log1p, expm1). Speed was not a goal here.

const LN2_HI = 6.93147180369123816490e-1; // ln 2 rounded to 32 bits: k * LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10; // ln 2 - LN2_HI
const INV_LN2 = 1.44269504088896338700e0;
const EXP_OVERFLOW = 709.782712893383973096; // exp(x) = Infinity above this
const EXP_UNDERFLOW = -745.13321910194110842; // exp(x) = 0 below this

const scratch = new DataView(new ArrayBuffer(8));

/** 2^k as a double for integer k in [-1022, 1023], from its bits. */
function twoPow(k) {
  scratch.setUint32(0, (k + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/** x * 2^k for any integer k, in at most three exact-or-once-rounded steps. */
function scale(x, k) {
  if (k > 1023) return x * twoPow(1023) * twoPow(k - 1023);
  if (k < -1022) return x * twoPow(-1022) * twoPow(Math.max(k + 1022, -1022));
  return x * twoPow(k);
}

/** e^x: x = k ln2 + r with |r| <= ln2/2, e^r by its Taylor series (degree 14), times 2^k. */
export function exp(x) {
  if (x !== x) return NaN;
  if (x > EXP_OVERFLOW) return Infinity;
  if (x < EXP_UNDERFLOW) return 0;
  const k = Math.round(x * INV_LN2);
  const r = (x - k * LN2_HI) - k * LN2_LO;
  return scale(expSmall(r), k);
}

// e^r for |r| <= 0.35: Horner form of sum r^n / n!, n <= 14 (next term < 2e-19 relative).
function expSmall(r) {
  let sum = 1;
  for (let n = 14; n >= 1; n--) sum = 1 + (r / n) * sum;
  return sum;
}

/** ln x: x = f 2^e with f in [sqrt(1/2), sqrt(2)), ln f = 2 atanh(t), t = (f-1)/(f+1). */
export function log(x) {
  if (x !== x || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  let e = 0;
  let f = x;
  if (f < 2.2250738585072014e-308) { f *= 18014398509481984; e = -54; } // subnormal: scale by 2^54 first
  scratch.setFloat64(0, f);
  const hi = scratch.getUint32(0);
  e += ((hi >>> 20) & 0x7ff) - 1023;
  scratch.setUint32(0, (hi & 0x000fffff) | 0x3ff00000); // mantissa with exponent 0: f in [1, 2)
  f = scratch.getFloat64(0);
  if (f >= Math.SQRT2) { f *= 0.5; e++; }
  const t = (f - 1) / (f + 1);
  const t2 = t * t;
  // |t| < 0.1716, t2 < 0.0295: terms up to t^27 leave < 1e-19 relative
  let series = 1 / 27;
  for (let n = 25; n >= 1; n -= 2) series = 1 / n + t2 * series;
  return e * LN2_HI + (2 * t * series + e * LN2_LO);
}

/** ln(1 + x), accurate for small x: the series below 1e-4, else log(u) corrected by (u - 1 - x) / u. */
export function log1p(x) {
  if (x !== x || x < -1) return NaN;
  if (x === -1) return -Infinity;
  if (x === Infinity) return Infinity;
  if (Math.abs(x) < 1e-4) return x * (1 - x * (1 / 2 - x * (1 / 3 - x * (1 / 4 - x / 5))));
  const u = 1 + x;
  return log(u) - (u - 1 - x) / u;
}

/** e^x - 1, accurate for small x: the Taylor series for |x| < 0.5, else exp(x) - 1. */
export function expm1(x) {
  if (x !== x) return NaN;
  if (Math.abs(x) < 0.5) {
    let sum = 1;
    for (let n = 17; n >= 2; n--) sum = 1 + (x / n) * sum;
    return x * sum;
  }
  if (x < -40) return -1;
  return exp(x) - 1;
}

/** tanh x = expm1(2x) / (expm1(2x) + 2), odd; 1 beyond 22 where the difference is below an ulp. */
export function tanh(x) {
  if (x !== x) return NaN;
  if (x === 0) return x; // keeps -0
  const a = Math.abs(x);
  const y = a > 22 ? 1 : expm1(2 * a) / (expm1(2 * a) + 2);
  return x < 0 ? -y : y;
}

/** x^y: exact square-and-multiply for integer |y| <= 2^31, else exp(y ln x) for x > 0. */
export function pow(x, y) {
  if (Number.isInteger(y) && Math.abs(y) <= 2147483648) {
    let base = x, n = Math.abs(y), result = 1;
    while (n > 0) {
      if (n % 2 === 1) result *= base;
      base *= base;
      n = Math.floor(n / 2);
    }
    return y < 0 ? 1 / result : result;
  }
  if (x === 1 || y === 0) return 1;
  if (x > 0) return exp(y * log(x));
  return Math.pow(x, y); // negative base with a fractional exponent, zero, infinities: rare, left to the engine
}

const REPLACED = { exp, log, log1p, expm1, tanh, pow };
// Functions left to the engine; a run that calls them is not engine-independent.
const WATCHED = ['sin', 'cos', 'tan', 'atan', 'atan2', 'asin', 'acos', 'sinh', 'cosh', 'atanh', 'asinh', 'acosh', 'log2', 'log10', 'cbrt', 'exp2'];

/**
 * Runs fn() with Math's exp, log, log1p, expm1, tanh and pow replaced by the
 * portable versions, and restores them afterwards. Returns fn's result and the
 * engine functions that were still called (which this cannot make portable).
 */
export function withPortableMath(fn) {
  const saved = {};
  const used = new Set();
  for (const name of Object.keys(REPLACED)) {
    saved[name] = Math[name];
    Math[name] = REPLACED[name];
  }
  for (const name of WATCHED) {
    if (typeof Math[name] !== 'function') continue;
    const original = Math[name];
    saved[name] = original;
    Math[name] = (...args) => { used.add(name); return original(...args); };
  }
  try {
    return { result: fn(), engineFunctionsUsed: [...used].sort() };
  } finally {
    for (const name of Object.keys(saved)) Math[name] = saved[name];
  }
}

/**
 * A fingerprint of the engine's own elementary functions: an FNV-1a hash of
 * the bits of Math.exp, Math.log and Math.tanh at 20 000 fixed inputs each.
 * Two engines with equal fingerprints agree on these functions there.
 */
export function mathFingerprint() {
  const out = {};
  for (const name of ['exp', 'log', 'tanh']) {
    const f = Math[name];
    let h = 0x811c9dc5;
    let s = 0x2545f491;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1103515245) + 12345) | 0;
      const u = (s >>> 8) / 16777216; // [0, 1), exact
      const x = name === 'log' ? u * 100 + 1e-3 : (u - 0.5) * 40;
      scratch.setFloat64(0, f(x));
      h = Math.imul(h ^ scratch.getUint32(0), 0x01000193);
      h = Math.imul(h ^ scratch.getUint32(4), 0x01000193);
    }
    out[name] = (h >>> 0).toString(16).padStart(8, '0');
  }
  return out;
}
