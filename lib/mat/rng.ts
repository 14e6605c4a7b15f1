// A seeded random number generator that gives the same numbers in every
// JavaScript engine: xoshiro128** on four 32-bit words (Math.imul, shifts and
// xors only), seeded through splitmix32. Uniform doubles carry 53 random
// bits. Normal samples use Marsaglia's polar method with a logarithm written
// here from + - * / and sqrt (all exactly rounded in IEEE 754), so no
// engine-specific Math.log / Math.cos enters the stream.

import type { Mat } from './mat.js';
import { log } from './math.js';
import { ConfigError, FormatError } from './errors.js';

/** Anything indexable with a length: arrays and typed arrays. */
export interface MutableArrayLike<T> {
  length: number;
  [index: number]: T;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_MINUS_53 = 1 / TWO_POW_53;

// splitmix32 finaliser: a bijective avalanche of one 32-bit word.
function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(op: string, seed: number): void {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ConfigError(op, `seed ${String(seed)} is not a safe integer`, { seed });
  }
}

function checkRange(op: string, lo: number, hi: number): void {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) {
    throw new ConfigError(op, `range [${lo}, ${hi}) is not a finite interval with lo <= hi`, { lo, hi });
  }
}

function checkNormal(op: string, mean: number, std: number): void {
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
    throw new ConfigError(op, `mean ${mean} and std ${std} must be finite with std >= 0`, { mean, std });
  }
}

/** What Rng.state() returns. */
export interface RngState {
  words: number[];
  spare: number;
  hasSpare: boolean;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare = 0;
  private hasSpare = false;

  /** Any safe integer seeds a distinct stream (negative and > 2^32 included). */
  constructor(seed: number) {
    checkSeed('Rng', seed);
    const lo = seed >>> 0; // low 32 bits (two's complement for negatives)
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.seedWords(lo, hi ^ 0x6a09e667);
  }

  private seedWords(w0: number, w1: number): void {
    // splitmix32 steps over a state that mixes both words
    let z = mix32(w0 ^ mix32(w1));
    z = (z + 0x9e3779b9) | 0; this.s0 = mix32(z);
    z = (z + 0x9e3779b9) | 0; this.s1 = mix32(z);
    z = (z + 0x9e3779b9) | 0; this.s2 = mix32(z);
    z = (z + 0x9e3779b9) | 0; this.s3 = mix32(z);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
    this.hasSpare = false;
    this.spare = 0;
  }

  /** The next 32 random bits as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1;
    // xoshiro128**: result = rotl(s1 * 5, 7) * 9
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let s2 = this.s2 ^ s0;
    let s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    s2 ^= t;
    this.s2 = s2;
    this.s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** A uniform integer in [0, 2^53). */
  private next53(): number {
    const hi = this.nextUint32() >>> 11; // 21 bits
    const lo = this.nextUint32(); // 32 bits
    return hi * TWO_POW_32 + lo;
  }

  /** A uniform double in [lo, hi) with 53 random bits. */
  uniform(lo = 0, hi = 1): number {
    const u = this.next53() * TWO_POW_MINUS_53;
    if (lo === 0 && hi === 1) return u;
    checkRange('uniform', lo, hi);
    return lo + (hi - lo) * u;
  }

  /** A normal sample; pairs come from one polar-method draw, the second is cached. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.hasSpare) {
      this.hasSpare = false;
      z = this.spare;
    } else {
      let u: number, v: number, s: number;
      do {
        u = 2 * this.uniform() - 1;
        v = 2 * this.uniform() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * log(s)) / s);
      this.spare = v * f;
      this.hasSpare = true;
      z = u * f;
    }
    if (mean === 0 && std === 1) return z;
    checkNormal('normal', mean, std);
    return mean + std * z;
  }

  /** A uniform integer in [0, n), without modulo bias; n a positive safe integer. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new ConfigError('int', `n ${n} is not a positive safe integer`, { n });
    }
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      let x = this.nextUint32();
      while (x >= limit) x = this.nextUint32();
      return x % n;
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    let x = this.next53();
    while (x >= limit) x = this.next53();
    return x % n;
  }

  /** Fills m with uniform samples from [lo, hi). */
  fillUniform(m: Mat, lo = 0, hi = 1): void {
    checkRange('fillUniform', lo, hi);
    const d = m.data;
    const end = m.offset + m.rows * m.cols;
    const width = hi - lo;
    for (let i = m.offset; i < end; i++) d[i] = lo + width * (this.next53() * TWO_POW_MINUS_53);
  }

  /** Fills m with normal samples of the given mean and standard deviation. */
  fillNormal(m: Mat, mean = 0, std = 1): void {
    checkNormal('fillNormal', mean, std);
    const d = m.data;
    const end = m.offset + m.rows * m.cols;
    for (let i = m.offset; i < end; i++) d[i] = mean + std * this.normal();
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T, A extends MutableArrayLike<T>>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * A new generator whose stream is independent of this one's continuation.
   * Advances this generator by four draws.
   */
  fork(): Rng {
    const child = new Rng(0);
    const a = this.nextUint32(), b = this.nextUint32(), c = this.nextUint32(), d = this.nextUint32();
    child.seedWords(mix32(a ^ 0x243f6a88) ^ c, mix32(b ^ 0x85a308d3) ^ mix32(d));
    return child;
  }

  /** Alias of fork(). */
  split(): Rng {
    return this.fork();
  }

  /** The generator's whole state, JSON-able: fromState(state()) continues the same stream. */
  state(): RngState {
    return { words: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare, hasSpare: this.hasSpare };
  }

  /** A generator continuing a stream saved with state(); throws on anything that is not such a state. */
  static fromState(state: RngState): Rng {
    const ok = state !== null && typeof state === 'object' && Array.isArray(state.words) && state.words.length === 4
      && state.words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
      && state.words.some((w) => w !== 0) && typeof state.hasSpare === 'boolean' && Number.isFinite(state.spare);
    if (!ok) throw new FormatError('Rng.fromState', `${JSON.stringify(state)} is not a generator state (four unsigned 32-bit words, not all zero; spare; hasSpare)`, { state });
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.words.map((w) => w | 0);
    r.spare = state.spare;
    r.hasSpare = state.hasSpare;
    return r;
  }

  /** An exact copy: both then produce the same stream. */
  clone(): Rng {
    const copy = new Rng(0);
    copy.s0 = this.s0;
    copy.s1 = this.s1;
    copy.s2 = this.s2;
    copy.s3 = this.s3;
    copy.spare = this.spare;
    copy.hasSpare = this.hasSpare;
    return copy;
  }
}

/** A new generator for the seed (any safe integer). */
export function rng(seed: number): Rng {
  return new Rng(seed);
}
