// Deep networks: a stack is a Cell, so Bptt, Rtrl and the layer-by-layer
// SequenceBptt must all agree on it, with and without dropout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import { elman } from '../../lib/cells/elman.js';
import { gru } from '../../lib/cells/gru.js';
import { lstm } from '../../lib/cells/lstm.js';
import { jordan } from '../../lib/cells/jordan.js';
import { mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { layerParamName, stacked } from '../../lib/arch/stacked.js';
import { dotLoss, fdError, randomMat, relErr, someIndices } from '../helpers.js';
import { FD_NETWORK, REORDERED, SAME_MATH } from '../tolerances.js';

const rng = new Rng(505);

test('stacked: PyTorch names, state layout and sizes', () => {
  const cell = stacked([lstm({ inputSize: 3, hiddenSize: 4 }), gru({ inputSize: 4, hiddenSize: 5 })]);
  assert.is(cell.kind, 'stacked');
  assert.equal(cell.paramSpecs.map((s) => s.name), [
    'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l1', 'weight_hh_l1', 'bias_ih_l1', 'bias_hh_l1',
  ]);
  assert.equal(cell.stateNames, ['h_l0', 'c_l0', 'h_l1']);
  assert.equal(cell.stateSizes, [4, 4, 5]);
  assert.is(cell.inputSize, 3);
  assert.is(cell.outputSize, 5);
  assert.equal(cell.paramStarts, [0, 4, 8]);
  assert.equal(cell.stateStarts, [0, 2, 3]);
  assert.is(layerParamName('weight_ih_reverse', 2), 'weight_ih_l2_reverse');
  assert.is(layerParamName('bias', 0), 'bias_l0');
});

test('stacked: bad stacks are clear errors', () => {
  assert.throws(() => stacked([]), /at least one layer/);
  assert.throws(() => stacked([lstm({ inputSize: 3, hiddenSize: 4 }), gru({ inputSize: 5, hiddenSize: 5 })]),
    /layer 1 \(gru\) takes 5 inputs but layer 0 \(lstm\) emits 4/);
  assert.throws(() => stacked([elman({ inputSize: 2, hiddenSize: 2 })], { dropout: 1 }), /dropout must be in \[0, 1\), got 1/);
  const inner = stacked([elman({ inputSize: 2, hiddenSize: 2 })]);
  assert.throws(() => stacked([inner]), /itself a stack/);
});

test('stacked: Bptt (step by step), SequenceBptt (layer by layer) and RTRL give the same loss and gradient', () => {
  const cell = stacked([
    elman({ inputSize: 3, hiddenSize: 4 }),
    lstm({ inputSize: 4, hiddenSize: 3, peephole: true }),
    jordan({ inputSize: 3, hiddenSize: 3, outputSize: 2 }),
  ]);
  const model = createModel(cell, { initialState: 'learned', seed: 3 });
  const batch = 2, steps = 5;
  const xs = randomMat(rng, steps * batch, 3);
  const loss = dotLoss(randomMat(rng, steps * batch, 2), batch, cell.stateSizes.map((s) => randomMat(rng, batch, s)));
  const a = new Bptt(model).run(xs, loss, { batch });
  const b = new Bptt(model).run(xs, loss, { batch });
  assert.ok(Math.abs(a.loss - b.loss) <= REORDERED * Math.abs(a.loss), `loss ${a.loss} vs ${b.loss}`);
  assert.ok(relErr(b.grad, a.grad) <= REORDERED, `grad ${relErr(b.grad, a.grad)}`);
  assert.ok(relErr(b.outputs.data, a.outputs.data) <= REORDERED);
  a.finalState.forEach((m, i) => assert.ok(relErr(b.finalState[i].data, m.data) <= REORDERED));
  const rtrl = new Rtrl(model);
  const rl = rtrl.run(xs, loss, { batch }).loss;
  assert.ok(Math.abs(rl - a.loss) <= REORDERED * Math.abs(a.loss));
  const err = relErr(rtrl.grad, a.grad);
  assert.ok(err < SAME_MATH, `RTRL vs BPTT ${err}`);
  assert.ok(a.grad.some((v, i) => i >= model.params.offsets[model.cellParamCount] && v !== 0), 'learned initial state gets a gradient');
});

test('stacked: SequenceBptt gradient matches finite differences (2-layer LSTM -> GRU)', () => {
  const cell = stacked([lstm({ inputSize: 2, hiddenSize: 3 }), gru({ inputSize: 3, hiddenSize: 3 })]);
  const model = createModel(cell, { seed: 4 });
  const batch = 2, steps = 4;
  const xs = randomMat(rng, steps * batch, 2);
  const loss = dotLoss(randomMat(rng, steps * batch, 3), batch, cell.stateSizes.map((s) => randomMat(rng, batch, s)));
  const run = new Bptt(model);
  const { grad } = run.run(xs, loss, { batch });
  const { error, worst } = fdError(() => run.run(xs, loss, { batch }).loss, model.params.theta, grad, someIndices(rng, grad.length, 40));
  assert.ok(error < FD_NETWORK, worst);
});

test('stacked: seeded dropout is the same mask stream in BPTT and RTRL, and off when not training', () => {
  const cell = stacked([gru({ inputSize: 3, hiddenSize: 6 }), elman({ inputSize: 6, hiddenSize: 4 })], { dropout: 0.5, seed: 11 });
  const model = createModel(cell, { seed: 5 });
  const batch = 3, steps = 4;
  const xs = randomMat(rng, steps * batch, 3);
  const loss = dotLoss(randomMat(rng, steps * batch, 4), batch);
  cell.resetDropout();
  const a = new Bptt(model).run(xs, loss, { batch });
  cell.resetDropout();
  const rtrl = new Rtrl(model);
  rtrl.run(xs, loss, { batch });
  assert.ok(relErr(rtrl.grad, a.grad) < SAME_MATH, `RTRL vs BPTT with dropout ${relErr(rtrl.grad, a.grad)}`);
  // Without a reset the stream moves on: new masks, another loss.
  const next = new Bptt(model).run(xs, loss, { batch });
  assert.not.equal(next.loss, a.loss);
  // A reset replays it exactly.
  cell.resetDropout();
  assert.is(new Bptt(model).run(xs, loss, { batch }).loss, a.loss);
  // Not training: no dropout, the same as a stack without it.
  cell.training = false;
  const off = new Bptt(model).run(xs, loss, { batch });
  const plain = createModel(stacked([gru({ inputSize: 3, hiddenSize: 6 }), elman({ inputSize: 6, hiddenSize: 4 })]), { theta: model.params.theta });
  assert.is(off.loss, new Bptt(plain).run(xs, loss, { batch }).loss);
  assert.not.equal(off.loss, a.loss);
  cell.training = true;
});

test('stacked: a dropout mask keeps about 1-p of the elements, scaled by 1/(1-p)', () => {
  const cell = stacked([elman({ inputSize: 2, hiddenSize: 50 }), elman({ inputSize: 50, hiddenSize: 2 })], { dropout: 0.25, seed: 3 });
  const g = new Graph('eval');
  const ones = mat(40, 50);
  ones.data.fill(1);
  const y = cell.applyDropout(g, g.constant(ones), 1).value;
  let zeros = 0;
  for (const v of y.data) {
    assert.ok(v === 0 || Math.abs(v - 4 / 3) < 1e-15, `mask value ${v}`);
    if (v === 0) zeros++;
  }
  assert.ok(zeros > 0.2 * 2000 && zeros < 0.3 * 2000, `${zeros} of 2000 dropped at p = 0.25`);
});

test('stacked: 4 layers (3 dropout masks per step): Bptt (step by step), SequenceBptt (layer by layer) and RTRL see the same masks', () => {
  const cell = stacked([
    elman({ inputSize: 3, hiddenSize: 5 }),
    gru({ inputSize: 5, hiddenSize: 4 }),
    lstm({ inputSize: 4, hiddenSize: 3 }),
    elman({ inputSize: 3, hiddenSize: 2 }),
  ], { dropout: 0.4, seed: 21 });
  const model = createModel(cell, { seed: 6 });
  const batch = 2, steps = 5;
  const xs = randomMat(rng, steps * batch, 3);
  const loss = dotLoss(randomMat(rng, steps * batch, 2), batch, cell.stateSizes.map((s) => randomMat(rng, batch, s)));
  const bptt = new Bptt(model), seq = new Bptt(model);
  cell.resetDropout();
  const a = bptt.run(xs, loss, { batch });
  const a2 = bptt.run(xs, loss, { batch });   // no reset: the masks of steps 5..9
  cell.resetDropout();
  const b = seq.run(xs, loss, { batch });
  const b2 = seq.run(xs, loss, { batch });
  for (const [x, y] of [[a, b], [a2, b2]]) {
    assert.ok(Math.abs(x.loss - y.loss) <= REORDERED * Math.abs(x.loss), `loss ${x.loss} vs ${y.loss}`);
    assert.ok(relErr(y.grad, x.grad) <= REORDERED, `grad ${relErr(y.grad, x.grad)}`);
    assert.ok(relErr(y.outputs.data, x.outputs.data) <= REORDERED);
  }
  assert.not.equal(a2.loss, a.loss);
  cell.resetDropout();
  const rtrl = new Rtrl(model);
  const rl = rtrl.run(xs, loss, { batch }).loss;
  assert.ok(Math.abs(rl - a.loss) <= REORDERED * Math.abs(a.loss), `RTRL loss ${rl} vs ${a.loss}`);
  assert.ok(relErr(rtrl.grad, a.grad) < SAME_MATH, `RTRL vs BPTT ${relErr(rtrl.grad, a.grad)}`);
  // Dropout really acts: without it the loss differs.
  cell.training = false;
  const off = bptt.run(xs, loss, { batch });
  cell.training = true;
  assert.ok(Math.abs(off.loss - a.loss) > 1e-6 * Math.abs(a.loss));
  // A new seed gives new masks; resetting to the old one replays the first.
  cell.resetDropout(22);
  assert.not.equal(seq.run(xs, loss, { batch }).loss, a.loss);
  cell.resetDropout(21);
  assert.is(seq.run(xs, loss, { batch }).loss, b.loss);
});

test('stacked: the mask of a layer and step does not depend on the batch drawn before it', () => {
  const cell = stacked([elman({ inputSize: 2, hiddenSize: 6 }), elman({ inputSize: 6, hiddenSize: 2 }), elman({ inputSize: 2, hiddenSize: 2 })],
    { dropout: 0.5, seed: 9 });
  const g = new Graph('eval');
  const ones = (rows: number, cols: number) => { const m = mat(rows, cols); m.data.fill(1); return g.constant(m); };
  // Layer 2's first mask is the same whether layer 1 drew zero, one or many masks before it.
  const first = Array.from(cell.applyDropout(g, ones(3, 2), 2).value.data);
  cell.resetDropout();
  cell.applyDropout(g, ones(7, 6), 1);
  cell.applyDropout(g, ones(1, 6), 1);
  assert.equal(Array.from(cell.applyDropout(g, ones(3, 2), 2).value.data), first);
  assert.throws(() => cell.applyDropout(g, ones(3, 2), 0), /layer must be an integer in \[1, 2\]/);
  assert.throws(() => cell.applyDropout(g, ones(3, 2), 3), /layer must be an integer in \[1, 2\]/);
  assert.throws(() => stacked([elman({ inputSize: 2, hiddenSize: 2 })], { dropout: 0.1, seed: 0.5 }), /seed must be a safe integer, got 0.5/);
});

test.run();
