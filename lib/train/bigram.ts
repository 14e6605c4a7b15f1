// Count baselines for a text model's held-out bits per symbol: a smoothed bigram model (each
// symbol given the one before it) and an add-one unigram, both counted on the training symbols
// and scored on symbols they never saw. Two smoothings of the bigram:
//
//   add-one (Laplace):  p(w | v) = (c(v, w) + 1) / (c(v) + V)
//   Kneser-Ney (interpolated, one absolute discount D):
//     p(w | v) = max(c(v, w) − D, 0) / c(v) + D · N1+(v •) / c(v) · pc(w)
//     pc(w)    = (N1+(• w) + 1) / (N1+(• •) + V)    (the continuation unigram, add-one so that
//                                                    a symbol never seen after anything keeps mass)
//     D        = n1 / (n1 + 2 n2), n_k the number of bigram types seen exactly k times
//                (Ney, Essen & Kneser 1994); a context never seen (c(v) = 0) gets pc(w).
// Here c(v) = Σ_w c(v, w) counts v as a context (not as a symbol), so every p(· | v) sums to 1.
// Counts are kept sparse (a Map keyed by v·V + w): a vocabulary of thousands of symbols costs
// only the pairs the text holds.
import { ConfigError } from '../mat/errors.js';
import * as pm from '../mat/math.js';

export type BigramSmoothing = 'add-one' | 'kneser-ney';
export const BIGRAM_SMOOTHINGS: readonly BigramSmoothing[] = ['add-one', 'kneser-ney'];

function checkSymbols(op: string, name: string, symbols: ArrayLike<number>, V: number, min: number): void {
  if (symbols === null || typeof symbols !== 'object' || typeof symbols.length !== 'number') {
    throw new ConfigError(op, `${name} must be an array of symbol indices, got ${symbols === null ? 'null' : typeof symbols}`);
  }
  if (symbols.length < min) throw new ConfigError(op, `${name} needs at least ${min} symbols, got ${symbols.length}`, { length: symbols.length });
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i];
    if (!Number.isInteger(s) || s < 0 || s >= V) throw new ConfigError(op, `${name}[${i}] is ${s}, not a symbol index in [0, ${V})`, { position: i, value: s });
  }
}

function checkVocabularySize(op: string, V: number): void {
  if (!Number.isSafeInteger(V) || V < 1) throw new ConfigError(op, `vocabulary size must be an integer >= 1, got ${String(V)}`, { value: V });
}

export class BigramModel {
  readonly vocabularySize: number;
  readonly smoothing: BigramSmoothing;
  /** Kneser-Ney's absolute discount (0 for add-one). */
  readonly discount: number;
  private readonly pairs: Map<number, number>;
  /** c(v): times v is followed by anything. */
  private readonly contextCount: Float64Array;
  /** N1+(v •): distinct symbols seen after v. */
  private readonly followers: Float64Array;
  /** pc(w), the continuation unigram (Kneser-Ney). */
  private readonly continuation: Float64Array;

  private constructor(V: number, smoothing: BigramSmoothing, pairs: Map<number, number>) {
    this.vocabularySize = V;
    this.smoothing = smoothing;
    this.pairs = pairs;
    this.contextCount = new Float64Array(V);
    this.followers = new Float64Array(V);
    const preceders = new Float64Array(V);
    let once = 0, twice = 0;
    for (const [key, n] of pairs) {
      const v = Math.floor(key / V), w = key - v * V;
      this.contextCount[v] += n;
      this.followers[v] += 1;
      preceders[w] += 1;
      if (n === 1) once++;
      else if (n === 2) twice++;
    }
    // With no singletons or doubletons to estimate it from, 0.75 is the customary discount.
    this.discount = smoothing === 'add-one' ? 0 : once + twice === 0 || once === 0 ? 0.75 : once / (once + 2 * twice);
    this.continuation = new Float64Array(V);
    const types = pairs.size;
    for (let w = 0; w < V; w++) this.continuation[w] = (preceders[w] + 1) / (types + V);
  }

  /** Counts the bigrams of `symbols` (indices in [0, V)). */
  static fit(symbols: ArrayLike<number>, V: number, smoothing: BigramSmoothing = 'kneser-ney'): BigramModel {
    const op = 'BigramModel.fit';
    checkVocabularySize(op, V);
    if (!BIGRAM_SMOOTHINGS.includes(smoothing)) throw new ConfigError(op, `smoothing must be one of ${BIGRAM_SMOOTHINGS.join(', ')}, got ${String(smoothing)}`, { smoothing });
    checkSymbols(op, 'symbols', symbols, V, 2);
    const pairs = new Map<number, number>();
    for (let i = 1; i < symbols.length; i++) {
      const key = symbols[i - 1] * V + symbols[i];
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    return new BigramModel(V, smoothing, pairs);
  }

  /** c(v, w): times w followed v in the training symbols. */
  count(v: number, w: number): number {
    return this.pairs.get(v * this.vocabularySize + w) ?? 0;
  }

  /** p(w | v) under the model's smoothing (see the file comment). */
  probability(v: number, w: number): number {
    const V = this.vocabularySize;
    if (!Number.isInteger(v) || !Number.isInteger(w) || v < 0 || w < 0 || v >= V || w >= V) {
      throw new ConfigError('BigramModel.probability', `symbols must be indices in [0, ${V}), got v ${v}, w ${w}`, { v, w });
    }
    const c = this.contextCount[v], n = this.count(v, w);
    if (this.smoothing === 'add-one') return (n + 1) / (c + V);
    if (c === 0) return this.continuation[w];
    const D = this.discount;
    return Math.max(n - D, 0) / c + (D * this.followers[v] / c) * this.continuation[w];
  }

  /** Mean −log2 p(s[i] | s[i−1]) over i = 1 .. n−1: bits per symbol of every symbol after the first. */
  bitsPerSymbol(symbols: ArrayLike<number>): number {
    const op = 'BigramModel.bitsPerSymbol';
    checkSymbols(op, 'symbols', symbols, this.vocabularySize, 2);
    let bits = 0;
    for (let i = 1; i < symbols.length; i++) bits -= pm.log(this.probability(symbols[i - 1], symbols[i])) / Math.LN2;
    return bits / (symbols.length - 1);
  }
}

/**
 * The add-one unigram's mean −log2 p(s) over test[from ..], p(s) = (c(s) + 1) / (N + V) with c
 * counted over all N training symbols (from = 1 scores the same symbols as a bigram does).
 */
export function unigramBits(training: ArrayLike<number>, test: ArrayLike<number>, V: number, from = 0): number {
  const op = 'unigramBits';
  checkVocabularySize(op, V);
  checkSymbols(op, 'training', training, V, 1);
  checkSymbols(op, 'test', test, V, from + 1);
  const counts = new Float64Array(V);
  for (let i = 0; i < training.length; i++) counts[training[i]]++;
  let bits = 0;
  for (let i = from; i < test.length; i++) bits -= pm.log((counts[test[i]] + 1) / (training.length + V)) / Math.LN2;
  return bits / (test.length - from);
}
