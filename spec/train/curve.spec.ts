import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BoundedCurve } from '../../lib/train/curve.js';
import { elman } from '../../lib/cells/elman.js';
import { withReadout } from '../../lib/arch/readout.js';
import { createModel } from '../../lib/rnn/model.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { addingTask } from '../../lib/tasks/adding.js';
import { Rng } from '../../lib/mat/rng.js';
import { train } from '../../lib/train/trainer.js';

test('BoundedCurve: 10^6 points held in at most cap, each the exact mean of the iterations it covers', () => {
  const cap = 100;
  const curve = new BoundedCurve(cap);
  const n = 1_000_000;
  for (let i = 1; i <= n; i++) {
    curve.add(i, i); // loss = iteration: a point covering a..b has mean (a + b) / 2
    assert.ok(curve.length <= cap);
  }
  const points = curve.toArray();
  assert.ok(points.length <= cap && points.length > cap / 4, `${points.length} points`);
  assert.equal(points[0], { step: 1, loss: 1 });
  assert.is(points[points.length - 1].step, n);
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1].step + 1, b = points[k].step;
    assert.ok(b >= a);
    assert.is(points[k].loss, (a + b) / 2, `point ${k} covers ${a}..${b}`);
  }
  // Under the cap nothing is merged.
  const small = new BoundedCurve(cap);
  for (let i = 1; i <= 50; i++) small.add(i, 2 * i);
  assert.equal(small.toArray(), Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 2 * (i + 1) })));
  assert.throws(() => new BoundedCurve(2), /cap must be an integer >= 4/);
});

test('train: a 10^5-iteration run keeps at most 2048 curve points, first and last iteration exact', () => {
  const model = createModel(withReadout(elman({ inputSize: 2, hiddenSize: 1 }), 1), { seed: 1 });
  const b = addingTask({ steps: 2 }).batch(new Rng(0), 1);
  const batch = { xs: b.xs, batch: 1, loss: sequenceLoss(b) };
  const iterations = 100_000;
  const result = train(model, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 1e-3 }), iterations, next: () => batch });
  assert.is(result.iterations, iterations);
  assert.ok(result.curve.length <= 2048, `${result.curve.length} points`);
  assert.ok(result.curve.length >= 1024);
  assert.is(result.curve[0].step, 1);
  assert.is(result.curve[result.curve.length - 1].step, iterations);
  for (let k = 1; k < result.curve.length; k++) assert.ok(result.curve[k].step > result.curve[k - 1].step);
});

test('train: a loss past 1e4 times the first batch\'s stops the run with the reason (Adam at lr 1e6)', () => {
  const model = createModel(withReadout(elman({ inputSize: 2, hiddenSize: 4 }), 1), { seed: 1 });
  const initial = model.params.theta.slice();
  const task = addingTask({ steps: 5 });
  const rng = new Rng(0);
  const next = () => { const b = task.batch(rng, 8); return { xs: b.xs, batch: 8, loss: sequenceLoss(b) }; };
  const result = train(model, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 1e6 }), iterations: 50, next });
  assert.is(result.stop.reason, 'guard');
  assert.ok(result.guard !== null && result.guard.what === 'loss');
  assert.match(result.stop.message, /is over 1e\+4 times the first batch's .*: training diverged/);
  assert.ok(result.iterations < 50);
  // Diverged in batch 2: the parameters go back to those before batch 1's update, the initial ones.
  assert.is(result.guard!.iteration, 2);
  assert.match(result.stop.message, /restored to those before batch 1/);
  assert.equal([...model.params.theta], [...initial]);
  // Switched off, the same run goes on (and its loss is huge).
  const off = train(createModel(withReadout(elman({ inputSize: 2, hiddenSize: 4 }), 1), { seed: 1 }), {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 1e6 }), iterations: 5, next, divergenceFactor: Infinity,
  });
  assert.is(off.stop.reason, 'completed');
  assert.throws(() => train(model, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 1 }), iterations: 1, next, divergenceFactor: 0.5 }), /divergenceFactor must be a number > 1/);
});

test.run();
