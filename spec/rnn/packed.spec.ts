// Variable-length batches with PyTorch's packed semantics: each sequence of
// a padded batch behaves exactly as if it were run alone, unpadded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createModel } from '../../lib/rnn/model.js';
import { LengthMasks, checkLengths } from '../../lib/rnn/packed.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { stacked } from '../../lib/arch/stacked.js';
import { dotLoss, randomMat, relErr } from '../helpers.js';
import { REORDERED } from '../tolerances.js';

const rng = new Rng(707);

/** Rows of sequence b for its first `length` steps, as a batch-1 sequence. */
function column(xs: Mat, batch: number, b: number, length: number): Mat {
  const out = mat(length, xs.cols);
  for (let t = 0; t < length; t++) out.data.set(xs.data.subarray((t * batch + b) * xs.cols, (t * batch + b + 1) * xs.cols), t * xs.cols);
  return out;
}

function rowOf(m: Mat, r: number): Mat {
  const out = mat(1, m.cols);
  out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols));
  return out;
}

test('packed: lengths must be integers in [1, padded length], one per sequence', () => {
  assert.throws(() => checkLengths('op', [3, 0], 2, 5), /op: sequence 1 has length 0; lengths must be integers in \[1, 5\]/);
  assert.throws(() => checkLengths('op', [6, 2], 2, 5), /sequence 0 has length 6/);
  assert.throws(() => checkLengths('op', [2.5, 2], 2, 5), /length 2.5/);
  assert.throws(() => checkLengths('op', [2], 2, 5), /1 lengths for a batch of 2/);
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 2 }));
  const xs = randomMat(rng, 8, 2);
  assert.throws(() => new Bptt(model).run(xs, {}, { batch: 2, lengths: [4, 5] }), /sequence 1 has length 5; lengths must be integers in \[1, 4\]/);
  assert.throws(() => new Bptt(model).run(xs, {}, { batch: 2, lengths: [4, 3, 2] }), /3 lengths for a batch of 2/);
  const masks = new LengthMasks([2, 4], 4);
  assert.equal(masks.full, [true, true, false, false]);
  assert.equal(Array.from(masks.keep[2].data), [0, 1]);
});

for (const [name, makeCell] of [
  ['2-layer bidirectional LSTM', () => stacked([bidirectional(lstm({ inputSize: 3, hiddenSize: 3 })), bidirectional(lstm({ inputSize: 6, hiddenSize: 2 }))])],
  ['2-layer causal GRU', () => stacked([gru({ inputSize: 3, hiddenSize: 4 }), gru({ inputSize: 4, hiddenSize: 3 })])],
] as const) {
  test(`packed: ${name}, lengths in any order — each sequence as if run alone`, () => {
    const cell = makeCell();
    const model = createModel(cell, { seed: 8 });
    const lengths = [3, 6, 1, 4], batch = 4, steps = 6, O = cell.outputSize;
    const xs = randomMat(rng, steps * batch, 3);
    const h0 = cell.stateSizes.map((s) => randomMat(rng, batch, s, 0.5));
    const upstream = randomMat(rng, steps * batch, O);
    const finals = cell.stateSizes.map((s) => randomMat(rng, batch, s));
    const all = new Bptt(model).run(xs, dotLoss(upstream, batch, finals), { batch, lengths, initialState: h0, inputGrad: true });
    const gradSum = new Float64Array(all.grad.length);
    let lossSum = 0;
    for (let b = 0; b < batch; b++) {
      const L = lengths[b];
      const one = new Bptt(model).run(column(xs, batch, b, L), dotLoss(column(upstream, batch, b, L), 1, finals.map((f) => rowOf(f, b))),
        { batch: 1, initialState: h0.map((m) => rowOf(m, b)), inputGrad: true });
      lossSum += one.loss;
      one.grad.forEach((v, i) => { gradSum[i] += v; });
      for (let t = 0; t < steps; t++) {
        for (let c = 0; c < O; c++) {
          const got = all.outputs.data[(t * batch + b) * O + c];
          if (t < L) assert.ok(Math.abs(got - one.outputs.data[t * O + c]) <= REORDERED, `output t=${t} b=${b}`);
          else assert.is(got, 0, `output past the length: t=${t} b=${b}`);
        }
        for (let c = 0; c < 3; c++) {
          const g = all.inputGrad!.data[(t * batch + b) * 3 + c];
          if (t < L) assert.ok(Math.abs(g - one.inputGrad!.data[t * 3 + c]) <= REORDERED * 10, `grad x t=${t} b=${b}`);
          else assert.is(g, 0, `padding gets no gradient: t=${t} b=${b}`);
        }
      }
      all.finalState.forEach((m, i) => {
        assert.ok(relErr(m.data.subarray(b * m.cols, (b + 1) * m.cols), one.finalState[i].data) <= REORDERED, `final state ${i} of sequence ${b}`);
        const gi = all.initialStateGrad![i].data.subarray(b * m.cols, (b + 1) * m.cols);
        assert.ok(relErr(gi, one.initialStateGrad![i].data) <= 1e-11, `initial state grad ${i} of sequence ${b}`);
      });
    }
    assert.ok(Math.abs(all.loss - lossSum) <= REORDERED * Math.abs(lossSum));
    assert.ok(relErr(all.grad, gradSum) <= 1e-11, `parameter gradient ${relErr(all.grad, gradSum)}`);
  });
}

test('packed: values in the padding change nothing', () => {
  const model = createModel(stacked([bidirectional(gru({ inputSize: 2, hiddenSize: 3 }))]), { seed: 2 });
  const batch = 3, steps = 5, lengths = [5, 2, 3];
  const xs = randomMat(rng, steps * batch, 2);
  const loss = dotLoss(randomMat(rng, steps * batch, 6), batch);
  const run = new Bptt(model);
  const a = run.run(xs, loss, { batch, lengths });
  const noisy = randomMat(rng, steps * batch, 2);
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < batch; b++) {
      if (t < lengths[b]) noisy.data.set(xs.data.subarray((t * batch + b) * 2, (t * batch + b + 1) * 2), (t * batch + b) * 2);
    }
  }
  const b = run.run(noisy, loss, { batch, lengths });
  assert.is(a.loss, b.loss);
  assert.equal(Array.from(a.grad), Array.from(b.grad));
  // Not even NaN and Infinity in the padding leak into the loss, the gradient or the final state.
  for (let t = 0; t < steps; t++) {
    for (let bb = 0; bb < batch; bb++) if (t >= lengths[bb]) noisy.data.fill(bb === 1 ? NaN : Infinity, (t * batch + bb) * 2, (t * batch + bb + 1) * 2);
  }
  const poisoned = run.run(noisy, loss, { batch, lengths, inputGrad: true });
  assert.is(poisoned.loss, a.loss);
  assert.equal(Array.from(poisoned.grad), Array.from(a.grad));
  assert.ok(poisoned.finalState.every((m) => m.data.every(Number.isFinite)));
  assert.ok(poisoned.inputGrad!.data.every(Number.isFinite));
  // Full lengths are the same as no lengths.
  const full = run.run(xs, loss, { batch, lengths: [5, 5, 5] });
  const none = run.run(xs, loss, { batch });
  assert.is(full.loss, none.loss);
});

test.run();
