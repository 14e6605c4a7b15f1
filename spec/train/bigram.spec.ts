// The bigram baseline against a brute-force count: every pair (v, w) counted by scanning the
// whole text for it, the smoothed probabilities rebuilt from those counts by their definitions,
// every conditional distribution summing to 1, and the bits per symbol as the mean over the
// scored symbols; the unigram likewise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BigramModel, unigramBits } from '../../lib/train/bigram.js';
import { Rng } from '../../lib/mat/rng.js';
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

const rng = new Rng(5);
// A skewed source with structure (symbol 0 is never followed by itself; the last symbol is rare).
function sample(n: number, V: number): number[] {
  const out = [rng.int(V)];
  while (out.length < n) {
    const prev = out[out.length - 1];
    let s = rng.uniform() < 0.5 ? (prev + 1) % V : rng.int(V - 1);
    if (prev === 0 && s === 0) s = 1;
    out.push(s);
  }
  return out;
}

/** c(v, w) by scanning the text once per pair: V² passes, nothing shared with the model's counting. */
function bruteCounts(text: number[], V: number): number[][] {
  const c: number[][] = [];
  for (let v = 0; v < V; v++) {
    c.push([]);
    for (let w = 0; w < V; w++) {
      let n = 0;
      for (let i = 0; i + 1 < text.length; i++) if (text[i] === v && text[i + 1] === w) n++;
      c[v].push(n);
    }
  }
  return c;
}

function bruteProbability(c: number[][], V: number, smoothing: 'add-one' | 'kneser-ney'): (v: number, w: number) => number {
  const rowSum = (v: number) => c[v].reduce((a, b) => a + b, 0);
  if (smoothing === 'add-one') return (v, w) => (c[v][w] + 1) / (rowSum(v) + V);
  const all = c.flat();
  const n1 = all.filter((n) => n === 1).length, n2 = all.filter((n) => n === 2).length;
  const D = n1 / (n1 + 2 * n2);
  const types = all.filter((n) => n > 0).length;
  const pc = (w: number) => (c.filter((row) => row[w] > 0).length + 1) / (types + V);
  return (v, w) => {
    const cv = rowSum(v);
    if (cv === 0) return pc(w);
    const seenAfter = c[v].filter((n) => n > 0).length;
    return Math.max(c[v][w] - D, 0) / cv + (D * seenAfter / cv) * pc(w);
  };
}

for (const smoothing of ['add-one', 'kneser-ney'] as const) {
  test(`${smoothing}: counts, probabilities and bits per symbol equal the brute-force definitions`, () => {
    const V = 7;
    // Symbol 6 only in the test text: a context and a symbol the counts never saw.
    const training = sample(400, V - 1), heldOut = [...sample(120, V), 6, 6, 0, 6];
    const model = BigramModel.fit(training, V, smoothing);
    const c = bruteCounts(training, V);
    const p = bruteProbability(c, V, smoothing);
    for (let v = 0; v < V; v++) {
      let sum = 0;
      for (let w = 0; w < V; w++) {
        assert.is(model.count(v, w), c[v][w], `c(${v}, ${w})`);
        const q = model.probability(v, w);
        assert.ok(q > 0, `p(${w} | ${v}) = ${q} must be positive`);
        assert.ok(relErr(q, p(v, w)) < 1e-14, `p(${w} | ${v}): ${q} vs brute force ${p(v, w)}`);
        sum += q;
      }
      assert.ok(Math.abs(sum - 1) < 1e-12, `p(· | ${v}) sums to ${sum}`);
    }
    let bits = 0;
    for (let i = 1; i < heldOut.length; i++) bits -= Math.log2(p(heldOut[i - 1], heldOut[i]));
    const expected = bits / (heldOut.length - 1);
    assert.ok(relErr(model.bitsPerSymbol(heldOut), expected) < 1e-13, `bits ${model.bitsPerSymbol(heldOut)} vs ${expected}`);
  });
}

test('Kneser-Ney beats add-one, and both beat the unigram, on held-out text from the same source', () => {
  const V = 12;
  const training = sample(3000, V), heldOut = sample(1000, V);
  const kn = BigramModel.fit(training, V, 'kneser-ney').bitsPerSymbol(heldOut);
  const addOne = BigramModel.fit(training, V, 'add-one').bitsPerSymbol(heldOut);
  const uni = unigramBits(training, heldOut, V, 1);
  assert.ok(kn < addOne, `kneser-ney ${kn} vs add-one ${addOne}`);
  assert.ok(addOne < uni, `add-one ${addOne} vs unigram ${uni}`);
});

test('unigram bits equal the add-one count formula, brute force', () => {
  const V = 5;
  const training = sample(200, V - 1), heldOut = sample(50, V);
  for (const from of [0, 1]) {
    let bits = 0;
    for (let i = from; i < heldOut.length; i++) {
      const n = training.filter((s) => s === heldOut[i]).length;
      bits -= Math.log2((n + 1) / (training.length + V));
    }
    const expected = bits / (heldOut.length - from);
    assert.ok(relErr(unigramBits(training, heldOut, V, from), expected) < 1e-13);
  }
});

test('bad input: a symbol outside the vocabulary, too short a text, an unknown smoothing', () => {
  assert.throws(() => BigramModel.fit([0, 1, 5], 5), /BigramModel\.fit: symbols\[2\] is 5, not a symbol index in \[0, 5\)/);
  assert.throws(() => BigramModel.fit([0], 5), /needs at least 2 symbols, got 1/);
  assert.throws(() => BigramModel.fit([0, 1], 5, 'witten-bell' as never), /smoothing must be one of add-one, kneser-ney/);
  assert.throws(() => BigramModel.fit([0, 1], 2).bitsPerSymbol([0, 2]), /bitsPerSymbol: symbols\[1\] is 2/);
  assert.throws(() => unigramBits([0, 1], [1], 2, 1), /unigramBits: test needs at least 2 symbols/);
});

test.run();
