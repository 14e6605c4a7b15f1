// Decoding a sequence symbol by symbol from a decoder: beam search, greedy as its width 1.
// A hypothesis is a prefix y_1..y_k with score log p(y_1..y_k) = Σ_j log softmax(z_j)[y_j]. Each
// step expands every live hypothesis by every symbol and keeps the `width` best expansions (ties:
// the earlier hypothesis, then the smaller symbol); an expansion by the end symbol is finished
// (the end symbol not kept in its symbols), the others stay live. At maxLength the live ones are
// finished unended. Scores only fall as a prefix grows, so once the best finished score is at
// least the best live one, no live hypothesis can overtake it and the search stops. The result
// is the best finished hypothesis. With width 1 this is greedy decoding (argmax, the first of
// equal maxima, until the end symbol); with width >= V^maxLength every prefix is kept, so the
// result is the most probable sequence over all of them (spec/train/seq2seq-network.spec.ts checks both).
import { ConfigError } from '../mat/errors.js';
import { matFrom } from '../mat/mat.js';
import { logSoftmaxRows } from '../mat/elementwise.js';

/** The decoder as beam search drives it. */
export interface DecoderStepper {
  /** Symbols (classes) of a step. */
  readonly symbols: number;
  /** Starts `rows` hypotheses, each from the encoded source's state. */
  start(rows: number): void;
  /**
   * Makes row i carry the state of the previous step's row parents[i] (for i < rows), feeds
   * row i the symbol inputs[i], and returns the logits, rows x symbols row-major (read before the next call).
   */
  step(parents: Int32Array, inputs: Int32Array, rows: number): Float64Array;
}

export interface BeamOptions {
  /** Symbols emitted at most. */
  maxLength: number;
  /** The end symbol: a hypothesis that emits it is finished (default none: every result has maxLength symbols). */
  end?: number;
  /** Hypotheses kept per step (default 1: greedy). */
  width?: number;
  /** The start symbol fed to the first step. */
  start: number;
}

export interface Decoded {
  /** The symbols emitted, the end symbol not included. */
  symbols: Int32Array;
  /** log p of the symbols (and of the end symbol, when ended). */
  logProb: number;
  /** Whether the end symbol closed the sequence (false: stopped at maxLength). */
  ended: boolean;
}

interface Hypothesis { symbols: number[]; logProb: number }

/** Beam search over one source (see the file comment). */
export function beamSearch(decoder: DecoderStepper, options: BeamOptions): Decoded {
  const op = 'decode';
  const { maxLength, start } = options;
  const width = options.width ?? 1, end = options.end ?? -1, V = decoder.symbols;
  if (!Number.isSafeInteger(maxLength) || maxLength < 1) throw new ConfigError(op, `maxLength must be an integer >= 1, got ${String(maxLength)}`, { option: 'maxLength' });
  if (!Number.isSafeInteger(width) || width < 1) throw new ConfigError(op, `beamWidth must be an integer >= 1, got ${String(width)}`, { option: 'beamWidth' });
  if (options.end !== undefined && (!Number.isInteger(end) || end < 0 || end >= V)) throw new ConfigError(op, `end must be a symbol in [0, ${V}), got ${String(options.end)}`, { option: 'end' });
  let live: Hypothesis[] = [{ symbols: [], logProb: 0 }];
  let best: Decoded | null = null;
  // Candidate scores and their (hypothesis, symbol), kept sorted best first: at most `width`, and
  // never more than the V^maxLength sequences there are.
  let keep = V;
  for (let k = 1; k < maxLength && keep < width; k++) keep *= V;
  keep = Math.min(keep, width);
  const candScore = new Float64Array(keep), candFrom = new Int32Array(keep), candSymbol = new Int32Array(keep);
  let parents = new Int32Array(1), inputs = new Int32Array([start]);
  const logp = new Float64Array(keep * V);
  decoder.start(1);
  for (let k = 1; k <= maxLength; k++) {
    const z = decoder.step(parents, inputs, live.length);
    logSoftmaxRows(matFrom(live.length, V, logp), matFrom(live.length, V, z));
    let kept = 0;
    for (let h = 0; h < live.length; h++) {
      for (let c = 0; c < V; c++) {
        const s = live[h].logProb + logp[h * V + c];
        // Insert into the sorted candidates unless it is no better than the last of a full list
        // (an equal score loses: it comes later in (hypothesis, symbol) order).
        if (kept === keep && !(s > candScore[kept - 1])) continue;
        let i = kept === keep ? kept - 1 : kept++;
        while (i > 0 && s > candScore[i - 1]) {
          candScore[i] = candScore[i - 1]; candFrom[i] = candFrom[i - 1]; candSymbol[i] = candSymbol[i - 1];
          i--;
        }
        candScore[i] = s; candFrom[i] = h; candSymbol[i] = c;
      }
    }
    const next: Hypothesis[] = [];
    const nextParents: number[] = [], nextInputs: number[] = [];
    for (let i = 0; i < kept; i++) {
      const from = live[candFrom[i]], c = candSymbol[i], s = candScore[i];
      if (c === end || k === maxLength) {
        if (best === null || s > best.logProb) {
          best = { symbols: Int32Array.from(c === end ? from.symbols : [...from.symbols, c]), logProb: s, ended: c === end };
        }
        continue;
      }
      next.push({ symbols: [...from.symbols, c], logProb: s });
      nextParents.push(candFrom[i]);
      nextInputs.push(c);
    }
    live = next;
    // Finished: nothing live, or no live prefix can beat the best finished (scores only fall).
    if (live.length === 0 || (best !== null && best.logProb >= live[0].logProb)) break;
    parents = Int32Array.from(nextParents);
    inputs = Int32Array.from(nextInputs);
  }
  return best!;
}
