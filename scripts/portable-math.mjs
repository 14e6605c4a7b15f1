// Engine-independent elementary functions for the browser test: the ones lib/
// itself uses (lib/mat/math.ts, from + - * / only), so that a run can swap
// them in for Math's and check that no other engine function is called.
// Engines do not agree on Math.exp, Math.log and Math.tanh: V8 11.3 (Node 20)
// and the V8 of Chromium 156 differ by one ulp on about a tenth of exp's and
// log's inputs. Needs the build (dist/lib).
import { exp, log, log1p, expm1, tanh, pow } from '../dist/lib/mat/math.js';

const scratch = new DataView(new ArrayBuffer(8));

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
