// The embedded Reber grammar (as used by Hochreiter & Schmidhuber 1997).
// A Reber string walks this automaton from B to E, each branch taken with
// probability 1/2:
//   0 -B-> 1;  1 -T-> 2, 1 -P-> 3;  2 -S-> 2, 2 -X-> 4;  3 -T-> 3, 3 -V-> 5;
//   4 -X-> 3, 4 -S-> 6;  5 -P-> 4, 5 -V-> 6;  6 -E-> end
// An embedded Reber string is B, then T or P, a Reber string, the same T or P
// again, and E. The network reads one symbol per step (one-hot over
// B T P S X V E) and predicts the next (softmax over the same 7). Most steps
// allow two successors, but some are determined by the grammar: the inner B,
// the inner E, the final E, and, hardest, the second-to-last symbol, which
// must repeat the symbol seen right after the first B, a whole Reber string
// earlier. The metric is the fraction of held-out strings whose every
// determined symbol is predicted (as the most likely output).
import { type Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Task, type TaskBatch, argmax, batchBuffers, checkOutputs } from './task.js';

export const REBER_SYMBOLS = ['B', 'T', 'P', 'S', 'X', 'V', 'E'] as const;
const B = 0, T = 1, P = 2, S = 3, X = 4, V = 5, E = 6;

/** Transitions of the inner grammar: state -> [symbol, next state] pairs (-1: the end). */
const REBER: readonly (readonly [number, number])[][] = [
  [[B, 1]],
  [[T, 2], [P, 3]],
  [[S, 2], [X, 4]],
  [[T, 3], [V, 5]],
  [[X, 3], [S, 6]],
  [[P, 4], [V, 6]],
  [[E, -1]],
];

export interface ReberString {
  /** Symbol indices into REBER_SYMBOLS. */
  symbols: number[];
  /** legal[i]: bit mask of the symbols that may follow symbols[0..i] (0 after the last). */
  legal: number[];
}

function appendReber(rng: Rng, out: ReberString): void {
  let state = 0;
  while (state >= 0) {
    const options = REBER[state];
    const [symbol, next] = options.length === 1 ? options[0] : options[rng.int(options.length)];
    out.symbols.push(symbol);
    let mask = 0;
    if (next >= 0) for (const [s] of REBER[next]) mask |= 1 << s;
    out.legal.push(mask);
    state = next;
  }
}

/** A random (embedded) Reber string with the legal successors after each symbol. */
export function reberString(rng: Rng, embedded = true): ReberString {
  const out: ReberString = { symbols: [], legal: [] };
  if (!embedded) {
    appendReber(rng, out);
    out.legal[out.legal.length - 1] = 0;
    return out;
  }
  const branch = rng.int(2) === 0 ? T : P;
  out.symbols.push(B); out.legal.push((1 << T) | (1 << P));
  out.symbols.push(branch); out.legal.push(1 << B);
  appendReber(rng, out);
  out.legal[out.legal.length - 1] = 1 << branch; // after the inner E comes the remembered branch
  out.symbols.push(branch); out.legal.push(1 << E);
  out.symbols.push(E); out.legal.push(0);
  return out;
}

/** The string as letters, e.g. "BTBPVVETE". */
export function reberText(symbols: readonly number[]): string {
  return symbols.map((s) => REBER_SYMBOLS[s]).join('');
}

export interface ReberOptions {
  /** Embedded grammar (default true); false gives plain Reber strings. */
  embedded?: boolean;
}

const REBER_OPTIONS_KEYS = keysOf<ReberOptions>({ embedded: true });

interface ReberInfo {
  /** Per time-major row: bit mask of legal next symbols (0: padding or end). */
  legal: Int32Array;
  /** Steps of each string (its length - 1). */
  lengths: Int32Array;
}

function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}

export function reberTask(options: ReberOptions = {}): Task {
  checkKeys('reberTask', options, REBER_OPTIONS_KEYS);
  const embedded = options.embedded ?? true;
  const name = embedded ? 'reber' : 'reber-plain';
  const K = REBER_SYMBOLS.length;
  return {
    name,
    steps: 0,
    inputSize: K,
    outputSize: K,
    loss: 'softmax-ce',
    metric: { name: 'strings-correct', higherIsBetter: true, baseline: embedded ? 0.5 : 1, solved: 1 },
    options: { embedded: embedded ? 1 : 0 },
    batch(rng: Rng, size: number): TaskBatch {
      checkInt(name, 'batch size', size);
      const strings: ReberString[] = [];
      let steps = 0;
      for (let b = 0; b < size; b++) {
        const s = reberString(rng, embedded);
        strings.push(s);
        steps = Math.max(steps, s.symbols.length - 1);
      }
      const { xs, targets, mask } = batchBuffers(steps, size, K, K, true);
      const legal = new Int32Array(steps * size);
      const lengths = new Int32Array(size);
      strings.forEach((s, b) => {
        lengths[b] = s.symbols.length - 1;
        for (let t = 0; t < s.symbols.length - 1; t++) {
          const row = t * size + b;
          xs.data[row * K + s.symbols[t]] = 1;
          targets.data[row * K + s.symbols[t + 1]] = 1;
          mask!.data[row] = 1;
          legal[row] = s.legal[t];
        }
      });
      const info: ReberInfo = { legal, lengths };
      return { kind: 'softmax-ce', xs, targets, mask, batch: size, steps, info };
    },
    score(batch: TaskBatch, outputs: Mat): number {
      checkOutputs(name, batch, outputs, K);
      const { legal, lengths } = batch.info as ReberInfo;
      let correct = 0;
      for (let b = 0; b < batch.batch; b++) {
        let ok = true;
        for (let t = 0; t < lengths[b] && ok; t++) {
          const row = t * batch.batch + b;
          const mask = legal[row];
          if (popcount(mask) !== 1) continue;
          if (1 << argmax(outputs.data, outputs.offset + row * K, K) !== mask) ok = false;
        }
        if (ok) correct++;
      }
      return correct / batch.batch;
    },
    extraScores(batch: TaskBatch, outputs: Mat): Record<string, number> {
      // Strict: at every step, the k most likely symbols are exactly the k legal ones.
      checkOutputs(name, batch, outputs, K);
      const { legal, lengths } = batch.info as ReberInfo;
      let strict = 0, finalRight = 0;
      for (let b = 0; b < batch.batch; b++) {
        let ok = true;
        for (let t = 0; t < lengths[b] && ok; t++) {
          const row = t * batch.batch + b, mask = legal[row], o = outputs.offset + row * K;
          let minLegal = Infinity, maxOther = -Infinity;
          for (let j = 0; j < K; j++) {
            const v = outputs.data[o + j];
            if ((mask >> j) & 1) minLegal = Math.min(minLegal, v);
            else maxOther = Math.max(maxOther, v);
          }
          if (!(minLegal > maxOther)) ok = false;
        }
        if (ok) strict++;
        const row = (lengths[b] - 2) * batch.batch + b;
        if (embedded && 1 << argmax(outputs.data, outputs.offset + row * K, K) === legal[row]) finalRight++;
      }
      const out: Record<string, number> = { 'strings-correct-all-steps': strict / batch.batch };
      if (embedded) out['penultimate-correct'] = finalRight / batch.batch;
      return out;
    },
  };
}
