import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ctcGreedyDecode, ctcPrefixBeamSearch, type CtcScorer } from '../../lib/loss/ctc-decode.js';
import { editDistance, labelErrorRate } from '../../lib/loss/edit-distance.js';
import { ctcLoss, logSoftmaxRows } from '../../lib/loss/ctc.js';
import { matFrom } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';

function seeded(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.uniform();
}

function randomLogProbs(rand: () => number, T: number, N: number, C: number, spread = 3): Float64Array {
  const z = new Float64Array(T * N * C);
  for (let i = 0; i < z.length; i++) z[i] = spread * (2 * rand() - 1);
  const y = new Float64Array(z.length);
  logSoftmaxRows(z, 0, T * N, C, y);
  return y;
}

/** Probability of every labelling of item n, summed over all C^Tn paths. */
function labellingProbabilities(y: Float64Array, N: number, C: number, n: number, Tn: number, blank: number): Map<string, { labels: number[]; p: number }> {
  const out = new Map<string, { labels: number[]; p: number }>();
  const count = C ** Tn;
  for (let code = 0; code < count; code++) {
    let rest = code;
    let logP = 0;
    const labels: number[] = [];
    let prev = -1;
    for (let t = 0; t < Tn; t++) {
      const k = rest % C;
      rest = Math.floor(rest / C);
      logP += y[(t * N + n) * C + k];
      if (k !== prev && k !== blank) labels.push(k);
      prev = k;
    }
    const key = labels.join(',');
    const entry = out.get(key);
    if (entry) entry.p += Math.exp(logP);
    else out.set(key, { labels, p: Math.exp(logP) });
  }
  return out;
}

test('greedy: argmax per frame, repeats merged, blanks dropped, input lengths respected', () => {
  // T = 6, N = 2, C = 3, blank = 2; item 0 path 0 0 2 0 1 1 -> [0, 0, 1]; item 1 uses 3 frames
  const paths = [[0, 0, 2, 0, 1, 1], [1, 2, 1, 0, 0, 0]];
  const T = 6, N = 2, C = 3;
  const y = new Float64Array(T * N * C).fill(Math.log(0.1));
  for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) y[(t * N + n) * C + paths[n][t]] = Math.log(0.8);
  const r = ctcGreedyDecode(y, { T, N, C, blank: 2, inputLengths: [6, 3] });
  assert.equal(r[0].labels, [0, 0, 1]);
  assert.equal(r[1].labels, [1, 1]);
  assert.ok(Math.abs(r[0].logProb - 6 * Math.log(0.8)) < 1e-12);
  assert.ok(Math.abs(r[1].logProb - 3 * Math.log(0.8)) < 1e-12);
  assert.equal(ctcGreedyDecode(matFrom(T * N, C, y), { T, N, C, blank: 2, inputLengths: [6, 3] }), r);
  assert.throws(() => ctcGreedyDecode(y, { T, N, C, inputLengths: [7, 3] }), /item 0: input length 7 exceeds/);
});

test('prefix beam search with a wide beam finds the most probable labelling (brute force)', () => {
  const rand = seeded(21);
  for (let trial = 0; trial < 30; trial++) {
    const C = 2 + (trial % 3);
    const T = 3 + (trial % 4);
    const N = 2;
    const blank = trial % C;
    const inputLengths = [T, Math.max(1, T - 1 - (trial % 2))];
    const y = randomLogProbs(rand, T, N, C, 1 + (trial % 5));
    const beams = ctcPrefixBeamSearch(y, { T, N, C, blank, inputLengths, beamWidth: 2000 });
    for (let n = 0; n < N; n++) {
      const exact = labellingProbabilities(y, N, C, n, inputLengths[n], blank);
      let best = { labels: [] as number[], p: -1 };
      for (const v of exact.values()) if (v.p > best.p) best = v;
      const top = beams[n][0];
      assert.equal(top.labels, best.labels, `trial ${trial} item ${n}`);
      assert.ok(Math.abs(top.logProb - Math.log(best.p)) < 1e-12, `trial ${trial} item ${n}: ${top.logProb} vs ${Math.log(best.p)}`);
      // every hypothesis is exact, and they agree with the CTC loss of that labelling
      assert.is(beams[n].length, exact.size);
      for (const h of beams[n]) {
        const p = exact.get(h.labels.join(','));
        assert.ok(p !== undefined && Math.abs(h.logProb - Math.log(p.p)) < 1e-12);
      }
      const loss = ctcLoss(y, {
        T, N, C, blank, inputLengths, reduction: 'none',
        targets: n === 0 ? [top.labels, []] : [[], top.labels],
        targetLengths: n === 0 ? [top.labels.length, 0] : [0, top.labels.length],
      }).losses[n];
      assert.ok(Math.abs(-loss - top.logProb) < 1e-12);
    }
  }
});

test('prefix beam search: repeated labels need a blank between them', () => {
  // frames strongly say: 1, blank, 1 -> [1, 1]; and 1, 1, 1 -> [1]
  const T = 3, N = 2, C = 2;
  const y = new Float64Array(T * N * C);
  const seq = [[1, 0, 1], [1, 1, 1]];
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < T; t++) {
      y[(t * N + n) * C + seq[n][t]] = Math.log(0.9);
      y[(t * N + n) * C + 1 - seq[n][t]] = Math.log(0.1);
    }
  }
  const r = ctcPrefixBeamSearch(y, { T, N, C, beamWidth: 8 });
  assert.equal(r[0][0].labels, [1, 1]);
  assert.equal(r[1][0].labels, [1]);
});

test('prefix beam search: scorer is added with its weight, wide beam = brute force optimum', () => {
  const rand = seeded(33);
  // a bigram "language model": log-score of next given the previous label (or the start)
  const C = 4, blank = 0, T = 5, N = 1;
  const bigram: number[][] = [];
  for (let a = 0; a < C; a++) bigram.push(Array.from({ length: C }, () => Math.log(0.05 + rand())));
  const calls: string[] = [];
  const scorer: CtcScorer = (prefix, next) => {
    calls.push(`${prefix.join(',')}|${next}`);
    return bigram[prefix.length === 0 ? 0 : prefix[prefix.length - 1]][next];
  };
  const weight = 0.7;
  const y = randomLogProbs(rand, T, N, C, 2);
  const r = ctcPrefixBeamSearch(y, { T, N, C, blank, beamWidth: 5000, scorer, scorerWeight: weight, nBest: 3 });
  assert.is(r[0].length, 3);
  assert.ok(calls.length > 0 && calls.every((c) => !/(^|[,|])0(,|$)/.test(c)), 'the scorer never sees the blank');
  const exact = labellingProbabilities(y, N, C, 0, T, blank);
  let best = { labels: [] as number[], score: -Infinity };
  for (const v of exact.values()) {
    let lm = 0;
    for (let i = 0; i < v.labels.length; i++) lm += bigram[i === 0 ? 0 : v.labels[i - 1]][v.labels[i]];
    const score = Math.log(v.p) + weight * lm;
    if (score > best.score) best = { labels: v.labels, score };
  }
  assert.equal(r[0][0].labels, best.labels);
  assert.ok(Math.abs(r[0][0].score - best.score) < 1e-12);
  const h = r[0][0];
  assert.ok(Math.abs(h.score - (h.logProb + weight * h.scorerScore)) < 1e-12);
  assert.ok(r[0][0].score >= r[0][1].score && r[0][1].score >= r[0][2].score);
  // a scorer that forbids label 2 keeps it out of the best labelling
  const no2 = ctcPrefixBeamSearch(y, { T, N, C, blank, beamWidth: 64, scorer: (_p, k) => (k === 2 ? -1e3 : 0) });
  assert.ok(!no2[0][0].labels.includes(2));
});

test('prefix beam search: narrow beam, label pruning, empty input', () => {
  const rand = seeded(44);
  const T = 30, N = 3, C = 6;
  const y = randomLogProbs(rand, T, N, C, 4);
  const wide = ctcPrefixBeamSearch(y, { T, N, C, beamWidth: 32, inputLengths: [30, 20, 0] });
  const pruned = ctcPrefixBeamSearch(y, { T, N, C, beamWidth: 32, labelBeam: 8, inputLengths: [30, 20, 0] });
  const one = ctcPrefixBeamSearch(y, { T, N, C, beamWidth: 1, inputLengths: [30, 20, 0] });
  for (let n = 0; n < 2; n++) {
    assert.ok(wide[n].length <= 32 && one[n].length === 1);
    assert.ok(wide[n][0].score >= one[n][0].score - 1e-12);
    assert.ok(Number.isFinite(pruned[n][0].score));
  }
  assert.equal(wide[2], [{ labels: [], score: 0, logProb: 0, scorerScore: 0 }]);
  assert.throws(() => ctcPrefixBeamSearch(y, { T, N, C, beamWidth: 0 }), /beamWidth must be an integer >= 1, got 0/);
});

test('edit distance and label error rate', () => {
  assert.is(editDistance([], []), 0);
  assert.is(editDistance([1, 2, 3], []), 3);
  assert.is(editDistance([], [4, 4]), 2);
  assert.is(editDistance([1, 2, 3], [1, 2, 3]), 0);
  assert.is(editDistance([1, 2, 3], [1, 3]), 1);
  assert.is(editDistance([1, 3], [1, 2, 3]), 1);
  assert.is(editDistance([1, 2, 3], [1, 4, 3]), 1);
  // kitten -> sitting is 3
  const word = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));
  assert.is(editDistance(word('kitten'), word('sitting')), 3);
  assert.is(editDistance(Int32Array.of(5, 6, 7, 8), Float64Array.of(6, 7, 8, 5)), 2);
  assert.is(labelErrorRate([[1, 2, 3], [4]], [[1, 3], [4, 4, 4]]), (1 + 2) / 5);
  assert.is(labelErrorRate([[]], [[]]), 0);
  assert.is(labelErrorRate([[1]], [[]]), Infinity);
  assert.throws(() => labelErrorRate([[1]], []), /1 predictions for 0 targets/);
});

test.run();
