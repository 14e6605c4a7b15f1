import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { elman } from '../../lib/cells/elman.js';
import { lstm } from '../../lib/cells/lstm.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { withReadout } from '../../lib/arch/readout.js';
import { type TrainBatch, train } from '../../lib/train/trainer.js';
import { createMethod, formatMethod, parseMethod } from '../../lib/rnn/methods.js';
import { trainTask } from '../../lib/train/run-task.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { addingTask } from '../../lib/tasks/adding.js';
import { Rng } from '../../lib/mat/rng.js';
import { mat, matOf } from '../../lib/mat/mat.js';

function smallModel(seed = 1): RecurrentModel {
  return createModel(withReadout(elman({ inputSize: 2, hiddenSize: 5 }), 1), { seed });
}

function addingBatches(seed: number, size = 8, steps = 5): (i: number) => TrainBatch {
  const task = addingTask({ steps });
  const rng = new Rng(seed);
  return () => {
    const b = task.batch(rng, size);
    return { xs: b.xs, batch: b.batch, loss: sequenceLoss(b) };
  };
}

/** The batch with every loss term times NaN: a NaN loss and gradient from finite inputs. */
function poisoned(b: TrainBatch): TrainBatch {
  const inner = b.loss;
  return { ...b, loss: { step: (g, t, out, state) => { const term = inner.step!(g, t, out, state); return term === null ? null : g.mul(term, g.constant(matOf([[NaN]]))); } } };
}

test('parseMethod / formatMethod / createMethod: one grammar, one factory', () => {
  assert.equal(parseMethod('bptt'), { kind: 'bptt' });
  assert.equal(parseMethod('rtrl'), { kind: 'rtrl' });
  assert.equal(parseMethod('tbptt:20'), { kind: 'tbptt', k1: 20, k2: 20 });
  assert.equal(parseMethod('tbptt:5:20'), { kind: 'tbptt', k1: 5, k2: 20 });
  assert.is(formatMethod(parseMethod('tbptt:5:20')), 'tbptt:5:20');
  assert.throws(() => parseMethod('tbptt:20:5'), /1 <= k1 <= k2/);
  assert.is(formatMethod(parseMethod('tbptt:7:7')), 'tbptt:7');
  assert.throws(() => parseMethod('tbptt:0'), /method: "tbptt:0" needs integers 1 <= k1 <= k2/);
  for (const bad of ['bptt2', 'tbptt', 'tbptt:x', 'tbptt:1:2:3', 'rtrl:3', '']) {
    assert.throws(() => parseMethod(bad), /is not one of bptt, tbptt:K, tbptt:K1:K2, rtrl, snapN, snap:N, uoro, uoro:SEED, kf-rtrl, kf-rtrl:SEED$/);
  }
  const model = createModel(elman({ inputSize: 1, hiddenSize: 2 }));
  assert.ok(createMethod(model, parseMethod('bptt')) instanceof Bptt);
  const tbptt = createMethod(model, parseMethod('tbptt:2:5'));
  assert.ok(tbptt instanceof Tbptt && tbptt.k1 === 2 && tbptt.k2 === 5);
  assert.ok(createMethod(model, 'rtrl') instanceof Rtrl);
  assert.throws(() => createMethod(model, { kind: 'tbptt', k1: 3, k2: 2 }), /createMethod: method tbptt needs integers 1 <= k1 <= k2/);
});

test('a short training run measurably reduces the held-out error (adding, T = 10)', () => {
  const report = trainTask({ task: 'adding', steps: 10, cell: 'elman', hidden: 16, lr: 0.01, batch: 32, iterations: 600, heldOut: 200, evalEvery: 600, seed: 0 });
  const first = report.curve.slice(0, 50).reduce((s, p) => s + p.loss, 0) / 50;
  const last = report.curve.slice(-50).reduce((s, p) => s + p.loss, 0) / 50;
  assert.ok(last < 0.5 * first, `training loss ${first} -> ${last}`);
  assert.ok(report.heldOut.value < 0.05, `held-out mse ${report.heldOut.value} (baseline 0.167)`);
  assert.is(report.heldOut.metric, 'mse');
  assert.is(report.curve.length, 600);
});

test('one RTRL iteration with a loss only at the end makes the same update as BPTT', () => {
  const make = () => createModel(withReadout(lstm({ inputSize: 2, hiddenSize: 3 }), 1), { seed: 4 });
  const a = make(), b = make();
  const batch = addingBatches(7, 3, 6)(0);
  const run = (model: RecurrentModel, method: 'bptt' | 'rtrl') => train(model, {
    method: { kind: method }, optimizer: new Optimizer({ kind: 'sgd', lr: 0.5 }), iterations: 1, next: () => batch,
  });
  const ra = run(a, 'bptt'), rb = run(b, 'rtrl');
  assert.is(ra.updates, 1); assert.is(rb.updates, 1);
  assert.ok(Math.abs(ra.curve[0].loss - rb.curve[0].loss) < 1e-14);
  let diff = 0;
  for (let i = 0; i < a.params.theta.length; i++) diff = Math.max(diff, Math.abs(a.params.theta[i] - b.params.theta[i]));
  assert.ok(diff < 1e-13, `parameters differ by ${diff}`);
});

test('online RTRL updates at every step that has a loss term', () => {
  const model = smallModel();
  const task = addingTask({ steps: 4 });
  const b = task.batch(new Rng(1), 2);
  b.mask!.data.fill(1); // a target at every step
  const result = train(model, {
    method: { kind: 'rtrl' }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 2,
    next: () => ({ xs: b.xs, batch: 2, loss: sequenceLoss(b) }),
  });
  assert.is(result.updates, 8);
});

test('TBPTT training updates once per window', () => {
  const model = smallModel();
  const result = train(model, {
    method: { kind: 'tbptt', k1: 2, k2: 3 }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 3,
    next: () => {
      const b = addingTask({ steps: 6 }).batch(new Rng(3), 2);
      b.mask!.data.fill(1);
      return { xs: b.xs, batch: 2, loss: sequenceLoss(b) };
    },
  });
  assert.is(result.updates, 9);
});

test('the guard stops on a NaN loss and restores the last parameters with a finite loss and gradient', () => {
  const model = smallModel();
  const good = addingBatches(3);
  const seen: Float64Array[] = [model.params.theta.slice()];
  const result = train(model, {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 10,
    next: (i) => {
      const b = good(i);
      return i === 3 ? poisoned(b) : b; // a NaN loss (a NaN input is refused at the call, before any guard)
    },
    onProgress: () => { seen.push(model.params.theta.slice()); },
  });
  assert.is(result.stop.reason, 'guard');
  assert.is(result.guard!.what, 'loss');
  assert.is(result.guard!.iteration, 4);
  assert.is(result.updates, 3);
  assert.is(result.iterations, 3);
  assert.match(result.guard!.message, /the loss is NaN/);
  // Iteration 3's update used the parameters seen after iteration 2, which gave a finite loss and gradient.
  assert.equal(Array.from(model.params.theta), Array.from(seen[2]));
  assert.is(result.curve.length, 3);
});

test('the guard stops on an infinite loss and on parameters that overflow', () => {
  const model = smallModel();
  const result = train(model, {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 0.1 }), iterations: 5,
    next: () => ({
      xs: mat(2, 2), batch: 1,
      loss: { step: (g, t, output) => (t === 1 ? g.exp(g.affine(g.sum(output), 0, 1000)) : null) }, // e^1000 = Infinity
    }),
  });
  assert.is(result.stop.reason, 'guard');
  assert.is(result.guard!.what, 'loss');
  assert.is(result.guard!.value, Infinity);
  assert.is(result.updates, 0);

  const model2 = smallModel();
  const before = model2.params.theta.slice();
  const batches = addingBatches(4);
  const result2 = train(model2, {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 1e308 }), iterations: 5,
    next: (i) => {
      const b = batches(i);
      const inner = b.loss;
      // A finite loss and gradient (about 1e10) that the huge step sends past the largest double.
      return { ...b, loss: { step: (g, t, output, state) => { const v = inner.step!(g, t, output, state); return v === null ? null : g.scale(v, 1e10); } } };
    },
  });
  assert.is(result2.guard!.what, 'parameters');
  assert.equal(Array.from(model2.params.theta), Array.from(before));
  assert.match(result2.guard!.message, /parameter \d+ became -?Infinity/);
});

test('without the guard a NaN flows into the parameters', () => {
  const model = smallModel();
  const good = addingBatches(3);
  train(model, {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 0.01 }), iterations: 2, guard: false,
    next: (i) => poisoned(good(i)),
  });
  assert.ok(model.params.theta.some((v) => Number.isNaN(v)));
});

test('early stopping after `patience` evaluations without improvement restores the best parameters', () => {
  const model = smallModel();
  const values = [0.5, 0.4, 0.45, 0.41, 0.42, 0.1];
  let k = 0, atBest: Float64Array | null = null;
  const result = train(model, {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 20, next: addingBatches(1),
    evaluate: () => {
      const v = values[k++];
      if (v === 0.4) atBest = model.params.theta.slice();
      return v;
    },
    evalEvery: 2, earlyStopping: { patience: 3 },
  });
  assert.is(result.stop.reason, 'early-stopping');
  assert.is(result.iterations, 10);
  assert.equal(result.best, { step: 4, value: 0.4 });
  assert.equal(Array.from(model.params.theta), Array.from(atBest!));
});

test('target and callback stops', () => {
  const byTarget = train(smallModel(), {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 50, next: addingBatches(1),
    evaluate: () => 0.9, evalEvery: 5, higherIsBetter: true, target: 0.9,
  });
  assert.is(byTarget.stop.reason, 'target');
  assert.is(byTarget.iterations, 5);
  const byCallback = train(smallModel(), {
    method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 50, next: addingBatches(1),
    onProgress: (p) => (p.iteration === 7 ? 'stop' : undefined),
  });
  assert.is(byCallback.stop.reason, 'callback');
  assert.is(byCallback.iterations, 7);
  assert.is(byCallback.curve.length, 7);
});

test('clipping and penalties reach the update', () => {
  const a = smallModel(), b = smallModel();
  const batch = addingBatches(9)(0);
  const grad = new Bptt(a).run(batch.xs, batch.loss, { batch: batch.batch }).grad;
  let norm = 0;
  for (const g of grad) norm += g * g;
  norm = Math.sqrt(norm);
  const before = a.params.theta.slice();
  train(a, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 1 }), iterations: 1, next: () => batch, clipNorm: norm / 2 });
  for (let i = 0; i < grad.length; i++) assert.ok(Math.abs(before[i] - a.params.theta[i] - grad[i] / 2) < 1e-14);
  train(b, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 1 }), iterations: 1, next: () => batch, penalty: { l2: 0.5 } });
  for (let i = 0; i < grad.length; i++) assert.ok(Math.abs(before[i] - b.params.theta[i] - (grad[i] + 0.5 * before[i])) < 1e-14);
});

test('bad training options throw Errors naming the option', () => {
  const opt = new Optimizer({ kind: 'sgd', lr: 0.1 });
  const next = addingBatches(1);
  assert.throws(() => train(smallModel(), { method: { kind: 'bptt' }, optimizer: opt, iterations: 1, next, clipNorm: 0 }), /clipNorm must be a positive number/);
  assert.throws(() => train(smallModel(), { method: { kind: 'bptt' }, optimizer: opt, iterations: 1, next, clipValue: -2 }), /clipValue/);
  assert.throws(() => train(smallModel(), { method: { kind: 'tbptt', k1: 3, k2: 1 }, optimizer: opt, iterations: 1, next }), /k1 <= k2/);
  assert.throws(() => train(smallModel(), { method: { kind: 'sgd' } as never, optimizer: opt, iterations: 1, next }), /unknown method "sgd"/);
  assert.throws(() => train(smallModel(), { method: { kind: 'bptt' }, optimizer: opt, iterations: -1, next }), /iterations/);
  assert.throws(() => train(smallModel(), { method: { kind: 'bptt' }, optimizer: opt, iterations: 1, next, earlyStopping: { patience: 2 } }), /needs an evaluate/);
  const base = { task: 'adding', cell: 'elman' as const, hidden: 4, batch: 4, iterations: 1 };
  assert.throws(() => trainTask({ ...base, lr: -1 }), /trainTask: lr must be a number >= 0/);
  assert.throws(() => trainTask({ ...base, lr: 0.1, clip: 0 }), /trainTask: clip must be a positive number/);
  assert.throws(() => trainTask({ ...base, lr: 0.1, task: 'addng' }), /unknown task "addng"/);
  assert.throws(() => trainTask({ ...base, lr: 0.1, method: 'tbtt:3' }), /method: "tbtt:3"/);
  assert.throws(() => trainTask({ ...base, lr: 0.1, cell: 'lstm', activation: 'relu' }), /activation applies to elman only/);
  assert.throws(() => trainTask({ ...base, lr: 0.1, iterations: undefined, epochs: 2 }), /epochs needs trainSize/);
});

test('epochs over a fixed training set: iterations = epochs · batches per epoch', () => {
  const report = trainTask({ task: 'parity', steps: 3, cell: 'gru', hidden: 3, lr: 0.01, batch: 4, trainSize: 10, epochs: 2, heldOut: 20 });
  assert.is(report.curve.length, 6);
  assert.is(report.config.epochs, 2);
});

test('trainTask is deterministic for a seed', () => {
  const config = { task: 'adding', steps: 5, cell: 'gru' as const, hidden: 3, lr: 0.01, batch: 4, iterations: 5, heldOut: 10, seed: 7 };
  const a = trainTask(config), b = trainTask(config), c = trainTask({ ...config, seed: 8 });
  assert.equal(a.curve, b.curve);
  assert.equal(Array.from(a.model.params.theta), Array.from(b.model.params.theta));
  assert.not.equal(a.curve, c.curve);
});

test.run();
