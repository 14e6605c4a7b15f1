// CTC on top of a network: the generated speech task, gradients through a
// BiLSTM + readout + CTC, and a short training run that learns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../lib/mat/rng.js';
import { speechTask } from '../../lib/tasks/speech.js';
import { ctcNetwork, ctcSequenceLoss, ctcEvaluate, trainCtc } from '../../lib/train/ctc.js';
import { Bptt } from '../../lib/rnn/bptt.js';

test('the speech task is seeded, padded with zeros, and labels lie in 1..labels', () => {
  const task = speechTask({ labels: 5, features: 4, seed: 3 });
  const a = task.batch(6, new Rng(9)), b = task.batch(6, new Rng(9));
  assert.equal(a.targets, b.targets);
  assert.equal(Array.from(a.xs.data), Array.from(b.xs.data));
  assert.is(a.steps, Math.max(...a.lengths));
  for (let n = 0; n < 6; n++) {
    assert.ok(a.targets[n].length >= 2 && a.targets[n].length <= 5);
    for (const label of a.targets[n]) assert.ok(label >= 1 && label <= 5);
    // Each label is held at least minHold = 2 frames: the sequence is long enough for any alignment.
    assert.ok(a.lengths[n] >= 2 * a.targets[n].length);
    for (let t = a.lengths[n]; t < a.steps; t++) {
      for (let j = 0; j < 4; j++) assert.is(a.xs.data[(t * 6 + n) * 4 + j], 0);
    }
  }
  assert.throws(() => speechTask({ labels: 0 }), /speechTask: labels must be an integer >= 1, got 0/);
});

test('BiLSTM + readout + CTC: the BPTT gradient matches finite differences', () => {
  const task = speechTask({ labels: 3, features: 3, maxLabels: 3, seed: 2 });
  const model = ctcNetwork(task, 3, 1, 4);
  const batch = task.batch(3, new Rng(5));
  const loss = ctcSequenceLoss(batch, task.classes);
  const bptt = new Bptt(model);
  const run = () => bptt.run(batch.xs, loss, { batch: 3, lengths: batch.lengths });
  const { grad } = run();
  const theta = model.params.theta, rng = new Rng(8), eps = 1e-6;
  for (let n = 0; n < 25; n++) {
    const i = rng.int(theta.length), saved = theta[i];
    theta[i] = saved + eps; const plus = run().loss;
    theta[i] = saved - eps; const minus = run().loss;
    theta[i] = saved;
    const fd = (plus - minus) / (2 * eps);
    assert.ok(Math.abs(fd - grad[i]) < 1e-6 * Math.max(1, Math.abs(fd)), `theta[${i}]: finite difference ${fd}, BPTT ${grad[i]}`);
  }
});

test('a short CTC training run learns: loss falls and the label error rate beats the untrained network', () => {
  const config = { hidden: 12, batch: 8, iterations: 120, heldOut: 40, beamWidth: 0, seed: 3, task: { labels: 4, features: 6, noise: 0.5 } };
  const untrained = trainCtc({ ...config, iterations: 0 });
  const trained = trainCtc(config);
  const first = trained.curve.slice(0, 5).reduce((s, p) => s + p.loss, 0) / 5;
  const last = trained.curve.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
  assert.ok(last < 0.6 * first, `loss ${first} -> ${last}`);
  assert.ok(untrained.heldOut.greedyLabelErrorRate > 0.5, `untrained label error rate ${untrained.heldOut.greedyLabelErrorRate}`);
  assert.ok(trained.heldOut.greedyLabelErrorRate < 0.2, `label error rate ${untrained.heldOut.greedyLabelErrorRate} -> ${trained.heldOut.greedyLabelErrorRate}`);
  void ctcEvaluate;
});

test('bad training options are errors naming the option', () => {
  assert.throws(() => trainCtc({ lr: -1 }), /trainCtc: lr must be a positive number, got -1/);
  assert.throws(() => trainCtc({ hidden: 0 }), /trainCtc: hidden must be an integer >= 1, got 0/);
});

test.run();
