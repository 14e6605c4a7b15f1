// Decoding CTC outputs: best-path (greedy) decoding and prefix beam search in log space,
// with an optional external scorer (e.g. a character language model) added with a weight.
//
// Scores are log-probabilities in the (T, N, C) time-major layout used by ctc.ts:
// element (t, n, c) at offset + (t * N + n) * C + c, or a Mat with rows T * N and cols C.

import type { Mat } from '../mat/mat.js';
import * as pm from '../mat/math.js';
import { checkInt } from '../mat/options.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export interface CtcDecodeOptions {
  readonly T: number;
  readonly N: number;
  readonly C: number;
  /** Frames used by each item (default T for all). */
  readonly inputLengths?: ArrayLike<number>;
  /** Index of the blank class; default 0. */
  readonly blank?: number;
}

/** The greedy labelling of one item. */
export interface CtcBestPath {
  /** The best path with repeats merged and blanks removed. */
  readonly labels: number[];
  /** Log-probability of that single best path (not of the labelling). */
  readonly logProb: number;
}

/**
 * An external scorer: the log-score of appending `nextLabel` to `prefix` (e.g. log P of a
 * character given the ones before it). `prefix` is only valid during the call.
 */
export type CtcScorer = (prefix: readonly number[], nextLabel: number) => number;

export interface CtcBeamSearchOptions extends CtcDecodeOptions {
  /** Prefixes kept after each frame; default 16. */
  readonly beamWidth?: number;
  /**
   * External scorer, called when a kept prefix is first extended by a label (again if that
   * extension was pruned and comes back); never with the blank.
   */
  readonly scorer?: CtcScorer;
  /** Weight of the scorer's log-scores in the ranking score; default 1. */
  readonly scorerWeight?: number;
  /** Hypotheses returned per item, best first; default beamWidth. */
  readonly nBest?: number;
  /**
   * Only labels whose log-probability at a frame is within this much of the frame's best are
   * used to extend prefixes (a speed knob); default Infinity (all labels).
   */
  readonly labelBeam?: number;
}

export interface CtcHypothesis {
  readonly labels: number[];
  /** Ranking score: logProb + scorerWeight * scorerScore. */
  readonly score: number;
  /** log P(labels | x): the sum over the alignments of this labelling that the beam kept. */
  readonly logProb: number;
  /** Sum of the scorer's log-scores over the labelling (0 without a scorer). */
  readonly scorerScore: number;
}

interface Checked {
  readonly data: Float64Array;
  readonly offset: number;
  readonly T: number;
  readonly N: number;
  readonly C: number;
  readonly blank: number;
  readonly inputLengths: Int32Array;
}

function check(op: string, logProbs: Float64Array | Mat, options: CtcDecodeOptions): Checked {
  const { T, N, C } = options;
  if (!Number.isInteger(T) || !Number.isInteger(N) || !Number.isInteger(C) || T < 0 || N < 0 || C < 1) {
    throw new ConfigError(op, `T ${T}, N ${N}, C ${C} must be non-negative integers with C >= 1`, { T, N, C });
  }
  const blank = options.blank ?? 0;
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) {
    throw new ConfigError(op, `blank index ${blank} is not a class in [0, ${C})`, { option: 'blank', value: blank, classes: C });
  }
  let data: Float64Array;
  let offset: number;
  if (logProbs instanceof Float64Array) {
    if (logProbs.length !== T * N * C) {
      throw new ShapeError(op, `input of ${logProbs.length} values, expected T*N*C = ${T}*${N}*${C} = ${T * N * C}`, { length: logProbs.length, expected: T * N * C });
    }
    data = logProbs;
    offset = 0;
  } else {
    if (logProbs.rows !== T * N || logProbs.cols !== C) {
      throw new ShapeError(op, `input ${logProbs.rows}x${logProbs.cols}, expected (T*N)x C = ${T * N}x${C}`, { input: [logProbs.rows, logProbs.cols], expected: [T * N, C] });
    }
    data = logProbs.data;
    offset = logProbs.offset;
  }
  const inputLengths = new Int32Array(N).fill(T);
  if (options.inputLengths !== undefined) {
    if (options.inputLengths.length !== N) {
      throw new ShapeError(op, `${options.inputLengths.length} input lengths for a batch of ${N}`, { lengths: options.inputLengths.length, batch: N });
    }
    for (let n = 0; n < N; n++) {
      const len = options.inputLengths[n];
      if (!Number.isInteger(len) || len < 0) throw new ShapeError(op, `item ${n}: input length ${len} is not a non-negative integer`, { item: n, inputLength: len });
      if (len > T) throw new ShapeError(op, `item ${n}: input length ${len} exceeds the ${T} frames given`, { item: n, inputLength: len, frames: T });
      inputLengths[n] = len;
    }
  }
  return { data, offset, T, N, C, blank, inputLengths };
}

/**
 * Best-path decoding: the most probable class at every frame (first one on ties), then
 * repeats merged and blanks removed. One result per batch item, frames past its length ignored.
 */
export function ctcGreedyDecode(logProbs: Float64Array | Mat, options: CtcDecodeOptions): CtcBestPath[] {
  const { data, offset, N, C, blank, inputLengths } = check('ctcGreedyDecode', logProbs, options);
  const results: CtcBestPath[] = [];
  for (let n = 0; n < N; n++) {
    const labels: number[] = [];
    let logProb = 0;
    let prev = -1;
    for (let t = 0; t < inputLengths[n]; t++) {
      const frame = offset + (t * N + n) * C;
      let best = 0;
      let bestValue = data[frame];
      for (let k = 1; k < C; k++) {
        if (data[frame + k] > bestValue) {
          bestValue = data[frame + k];
          best = k;
        }
      }
      logProb += bestValue;
      if (best !== prev && best !== blank) labels.push(best);
      prev = best;
    }
    results.push({ labels, logProb });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Prefix beam search.
//
// Each prefix keeps two log-probabilities over the frames seen so far: pb, of the paths for it
// that end in a blank, and pnb, of those ending in its last label. At frame t with scores y:
//   blank:           prefix       += (pb + pnb) * y(blank)
//   last label k:    prefix       += pnb * y(k)          (the repeat merges into k)
//                    prefix + k   += pb * y(k)           (a blank separated the two k's)
//   other label c:   prefix + c   += (pb + pnb) * y(c)
// (products and sums in log space). Prefixes are ranked by log(pb + pnb) + weight * scorer sum.
// Prefixes are trie nodes, so the same labelling reached from two parents is one entry.

interface PrefixNode {
  readonly parent: PrefixNode | null;
  /** Last label of the prefix; -1 for the empty prefix. */
  readonly label: number;
  children: Map<number, PrefixNode> | null;
  /** The labels, materialised once the node is extended with a scorer. */
  labels: number[] | null;
  /** Sum of the scorer's log-scores along the prefix. */
  readonly scorerScore: number;
  pb: number;
  pnb: number;
  nextPb: number;
  nextPnb: number;
  score: number;
  stamp: number;
}

function newNode(parent: PrefixNode | null, label: number, scorerScore: number): PrefixNode {
  return {
    parent, label, children: null, labels: null, scorerScore,
    pb: -Infinity, pnb: -Infinity, nextPb: -Infinity, nextPnb: -Infinity, score: -Infinity, stamp: -1,
  };
}

function labelsOf(node: PrefixNode): number[] {
  if (node.labels !== null) return node.labels;
  const out: number[] = [];
  for (let at: PrefixNode | null = node; at !== null && at.label >= 0; at = at.parent) out.push(at.label);
  out.reverse();
  return out;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + pm.log1p(pm.exp(b - a)) : b + pm.log1p(pm.exp(a - b));
}

function byScore(a: PrefixNode, b: PrefixNode): number {
  return b.score - a.score;
}

/** The node for prefix + label, created (and scored once by the scorer) on first use. */
function childOf(parent: PrefixNode, label: number, scorer: CtcScorer | undefined): PrefixNode {
  if (parent.children === null) parent.children = new Map();
  let child = parent.children.get(label);
  if (child === undefined) {
    let extra = 0;
    if (scorer !== undefined) {
      if (parent.labels === null) parent.labels = labelsOf(parent);
      extra = scorer(parent.labels, label);
    }
    child = newNode(parent, label, parent.scorerScore + extra);
    parent.children.set(label, child);
  }
  return child;
}

/** First visit of a node at frame `stamp`: clear its next-frame sums and list it. */
function touch(node: PrefixNode, stamp: number, touched: PrefixNode[]): void {
  if (node.stamp !== stamp) {
    node.stamp = stamp;
    node.nextPb = -Infinity;
    node.nextPnb = -Infinity;
    touched.push(node);
  }
}

/**
 * Prefix beam search per batch item. Returns, for each item, up to nBest hypotheses sorted by
 * score (best first). With a beam at least as wide as the number of possible prefixes it is
 * exact: logProb is log P(labels | x) summed over every alignment.
 */
export function ctcPrefixBeamSearch(logProbs: Float64Array | Mat, options: CtcBeamSearchOptions): CtcHypothesis[][] {
  const op = 'ctcPrefixBeamSearch';
  const { data, offset, N, C, blank, inputLengths } = check(op, logProbs, options);
  const beamWidth = options.beamWidth ?? 16;
  checkInt(op, 'beamWidth', beamWidth);
  const nBest = options.nBest ?? beamWidth;
  checkInt(op, 'nBest', nBest);
  const scorer = options.scorer;
  const weight = options.scorerWeight ?? 1;
  const labelBeam = options.labelBeam ?? Infinity;
  if (!(labelBeam >= 0)) throw new ConfigError(op, `labelBeam ${labelBeam} must be >= 0`, { option: 'labelBeam', value: labelBeam });

  const results: CtcHypothesis[][] = [];
  for (let n = 0; n < N; n++) {
    const root = newNode(null, -1, 0);
    root.labels = [];
    root.pb = 0;
    root.score = 0;
    let beam: PrefixNode[] = [root];
    const touched: PrefixNode[] = [];
    for (let t = 0; t < inputLengths[n]; t++) {
      const frame = offset + (t * N + n) * C;
      let frameBest = -Infinity;
      for (let k = 0; k < C; k++) if (data[frame + k] > frameBest) frameBest = data[frame + k];
      const floor = frameBest - labelBeam;
      touched.length = 0;
      const yBlank = data[frame + blank];
      for (let i = 0; i < beam.length; i++) {
        const node = beam[i];
        const total = logAdd(node.pb, node.pnb);
        touch(node, t, touched);
        node.nextPb = logAdd(node.nextPb, total + yBlank);
        if (node.label >= 0) node.nextPnb = logAdd(node.nextPnb, node.pnb + data[frame + node.label]);
        for (let k = 0; k < C; k++) {
          const y = data[frame + k];
          if (k === blank || y < floor) continue;
          const child = childOf(node, k, scorer);
          touch(child, t, touched);
          child.nextPnb = logAdd(child.nextPnb, (k === node.label ? node.pb : total) + y);
        }
      }
      for (let i = 0; i < touched.length; i++) {
        const node = touched[i];
        node.pb = node.nextPb;
        node.pnb = node.nextPnb;
        node.score = logAdd(node.pb, node.pnb) + weight * node.scorerScore;
      }
      touched.sort(byScore);
      // keep at most beamWidth prefixes, none of probability zero
      let keep = 0;
      while (keep < touched.length && keep < beamWidth && (touched[keep].pb > -Infinity || touched[keep].pnb > -Infinity)) keep++;
      // drop pruned leaves from the trie so memory stays proportional to the beam's history
      for (let i = keep; i < touched.length; i++) {
        const node = touched[i];
        if (node.parent !== null && (node.children === null || node.children.size === 0) && node.parent.children !== null) {
          node.parent.children.delete(node.label);
        }
      }
      beam = touched.slice(0, keep);
    }

    const hypotheses: CtcHypothesis[] = [];
    for (let i = 0; i < beam.length && i < nBest; i++) {
      const node = beam[i];
      hypotheses.push({
        labels: labelsOf(node).slice(),
        score: node.score,
        logProb: logAdd(node.pb, node.pnb),
        scorerScore: node.scorerScore,
      });
    }
    results.push(hypotheses);
  }
  return results;
}
