// Bidirectional layers: the backward half is the cell run on the reversed
// sequence; the whole is differentiated by reverse mode only, and RTRL on it
// is a clear error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gru } from '../../lib/cells/gru.js';
import { lstm } from '../../lib/cells/lstm.js';
import { elman } from '../../lib/cells/elman.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { stacked } from '../../lib/arch/stacked.js';
import { dotLoss, fdError, randomMat, relErr, someIndices } from '../helpers.js';
import { FD_NETWORK, REORDERED } from '../tolerances.js';

const rng = new Rng(606);

/** The steps of a time-major sequence in reverse order. */
function reversed(xs: Mat, batch: number): Mat {
  const out = mat(xs.rows, xs.cols), steps = xs.rows / batch, width = batch * xs.cols;
  for (let t = 0; t < steps; t++) out.data.set(xs.data.subarray(t * width, (t + 1) * width), (steps - 1 - t) * width);
  return out;
}

test('bidirectional: names, sizes, and the output is [forward, backward on the reversed sequence]', () => {
  const cell = lstm({ inputSize: 3, hiddenSize: 4 });
  const layer = bidirectional(cell);
  assert.equal(layer.paramSpecs.map((s) => s.name), [
    'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh', 'weight_ih_reverse', 'weight_hh_reverse', 'bias_ih_reverse', 'bias_hh_reverse',
  ]);
  assert.equal(layer.stateNames, ['h', 'c', 'h_reverse', 'c_reverse']);
  assert.is(layer.outputSize, 8);
  const model = createModel(layer, { seed: 2 });
  const batch = 2, steps = 5;
  const xs = randomMat(rng, steps * batch, 3);
  const both = new Bptt(model).run(xs, {}, { batch });
  const half = model.params.offsets[4];
  const fwd = createModel(cell, { theta: model.params.theta.slice(0, half) });
  const bwd = createModel(cell, { theta: model.params.theta.slice(half) });
  const f = new Bptt(fwd).run(xs, {}, { batch });
  const b = new Bptt(bwd).run(reversed(xs, batch), {}, { batch });
  const bOut = reversed(b.outputs, batch);
  for (let r = 0; r < steps * batch; r++) {
    for (let c = 0; c < 4; c++) {
      assert.is(both.outputs.data[r * 8 + c], f.outputs.data[r * 4 + c]);
      assert.is(both.outputs.data[r * 8 + 4 + c], bOut.data[r * 4 + c]);
    }
  }
  // Final states: forward's after the last step, backward's after step 0.
  assert.equal(Array.from(both.finalState[0].data), Array.from(f.finalState[0].data));
  assert.equal(Array.from(both.finalState[3].data), Array.from(b.finalState[1].data));
});

test('bidirectional: RTRL and stepping refuse it with a clear error; BPTT runs it whole', () => {
  const layer = bidirectional(gru({ inputSize: 2, hiddenSize: 3 }));
  const xs = randomMat(rng, 4, 2);
  assert.throws(() => new Rtrl(createModel(layer)), /rtrl: the bidirectional model reads the future.*use Bptt/);
  assert.throws(() => layer.step(null as never, [], [], null as never), /bidirectional layer cannot be stepped.*RTRL/);
  const deep = stacked([elman({ inputSize: 2, hiddenSize: 3 }), bidirectional(gru({ inputSize: 3, hiddenSize: 2 }))]);
  assert.ok(deep.bidirectional);
  assert.throws(() => new Rtrl(createModel(deep)), /rtrl: the stacked model reads the future/);
  assert.ok(Number.isFinite(new Bptt(createModel(deep)).run(xs, { final: (g, s) => g.sum(s[1]) }).loss));
  assert.throws(() => bidirectional(lstm({ inputSize: 2, hiddenSize: 2 }), lstm({ inputSize: 3, hiddenSize: 2 })), /forward lstm takes 2 inputs, backward lstm takes 3/);
  assert.throws(() => bidirectional(layer), /cannot itself be bidirectional/);
});

test('bidirectional: 2-layer GRU gradients (parameters, inputs, initial state) match finite differences', () => {
  const cell = stacked([bidirectional(gru({ inputSize: 2, hiddenSize: 3 })), bidirectional(gru({ inputSize: 6, hiddenSize: 2 }))]);
  const model = createModel(cell, { seed: 9 });
  const batch = 2, steps = 4;
  const xs = randomMat(rng, steps * batch, 2);
  const h0 = cell.stateSizes.map((s) => randomMat(rng, batch, s, 0.5));
  const loss = dotLoss(randomMat(rng, steps * batch, 4), batch, cell.stateSizes.map((s) => randomMat(rng, batch, s)));
  const run = new Bptt(model);
  const options = { batch, initialState: h0, inputGrad: true };
  const r = run.run(xs, loss, options);
  const f = () => run.run(xs, loss, options).loss;
  const params = fdError(f, model.params.theta, r.grad, someIndices(rng, r.grad.length, 40));
  assert.ok(params.error < FD_NETWORK, params.worst);
  const inputs = fdError(f, xs.data, r.inputGrad!.data, someIndices(rng, xs.data.length, 10));
  assert.ok(inputs.error < FD_NETWORK, inputs.worst);
  const initial = fdError(f, h0[2].data, r.initialStateGrad![2].data, someIndices(rng, h0[2].data.length, 4));
  assert.ok(initial.error < FD_NETWORK, initial.worst);
});

test('bidirectional: a 1 x size initial state is broadcast and its gradient summed over the batch', () => {
  const model = createModel(bidirectional(elman({ inputSize: 2, hiddenSize: 3 })), { seed: 1 });
  const batch = 3, steps = 3;
  const xs = randomMat(rng, steps * batch, 2);
  const row = [randomMat(rng, 1, 3), randomMat(rng, 1, 3)];
  const full = row.map((m) => { const out = mat(batch, 3); for (let b = 0; b < batch; b++) out.data.set(m.data, b * 3); return out; });
  const loss = dotLoss(randomMat(rng, steps * batch, 6), batch);
  const a = new Bptt(model).run(xs, loss, { batch, initialState: row });
  const b = new Bptt(model).run(xs, loss, { batch, initialState: full });
  assert.is(a.loss, b.loss);
  const summed = new Float64Array(3);
  for (let r = 0; r < batch; r++) for (let c = 0; c < 3; c++) summed[c] += b.initialStateGrad![1].data[r * 3 + c];
  assert.ok(relErr(a.initialStateGrad![1].data, summed) <= REORDERED);
});

test.run();
