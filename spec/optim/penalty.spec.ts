// L1/L2 penalties in the training loop: one full penalty per batch of
// sequences, whichever method makes the updates (bptt once, tbptt per
// window, rtrl per step with a loss term).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { elman } from '../../lib/cells/elman.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { Rng } from '../../lib/mat/rng.js';
import { type Penalty, applyPenalty } from '../../lib/optim/clip.js';
import type { Optimizer } from '../../lib/optim/optimizer.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { addingTask } from '../../lib/tasks/adding.js';
import { withReadout } from '../../lib/arch/readout.js';
import { type TrainBatch, train } from '../../lib/train/trainer.js';
import type { MethodSpec } from '../../lib/rnn/methods.js';

const T = 6, size = 3;
const penalty: Penalty = { l1: 0.02, l2: 0.3 };
const methods: MethodSpec[] = [{ kind: 'bptt' }, { kind: 'tbptt', k1: 2, k2: 3 }, { kind: 'rtrl' }];

/** An optimiser that records the gradients it is handed and leaves theta alone (so every update sees the same theta). */
function recorder(): { optimizer: Optimizer; grads: Float64Array[] } {
  const grads: Float64Array[] = [];
  const optimizer = { learningRate: () => 0, step: (_theta: Float64Array, grad: Float64Array) => { grads.push(grad.slice()); } };
  return { optimizer: optimizer as unknown as Optimizer, grads };
}

function model(): RecurrentModel {
  return createModel(withReadout(elman({ inputSize: 2, hiddenSize: 4 }), 1), { seed: 8 });
}

/** An adding batch with targets at the steps `targetAt` says (every sequence alike). */
function batch(targetAt: (t: number) => boolean): TrainBatch {
  const b = addingTask({ steps: T }).batch(new Rng(12), size);
  for (let t = 0; t < T; t++) for (let s = 0; s < size; s++) b.mask!.data[t * size + s] = targetAt(t) ? 1 : 0;
  return { xs: b.xs, batch: size, loss: sequenceLoss(b) };
}

/** Σ of the gradients of every update of `iterations` passes over b, and the number of updates. */
function summed(method: MethodSpec, b: TrainBatch, iterations: number, withPenalty: boolean): { sum: Float64Array; updates: number } {
  const m = model(), { optimizer, grads } = recorder();
  const result = train(m, { method, optimizer, iterations, next: () => b, penalty: withPenalty ? penalty : undefined });
  const sum = new Float64Array(m.params.theta.length);
  for (const g of grads) for (let i = 0; i < sum.length; i++) sum[i] += g[i];
  assert.is(result.updates, grads.length);
  return { sum, updates: result.updates };
}

function penaltyGradient(): Float64Array {
  const m = model(), grad = new Float64Array(m.params.theta.length);
  applyPenalty(m.params.theta, grad, penalty);
  return grad;
}

/** max_i |(with - without)_i - times · p_i| relative to max |p|. */
function penaltyMismatch(withP: Float64Array, without: Float64Array, p: Float64Array, times: number): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < p.length; i++) {
    diff = Math.max(diff, Math.abs(withP[i] - without[i] - times * p[i]));
    scale = Math.max(scale, Math.abs(p[i]));
  }
  return diff / scale;
}

test('penalty: a loss at every step: each method adds exactly one penalty per batch', () => {
  const b = batch(() => true), p = penaltyGradient();
  const expectedUpdates: Partial<Record<MethodSpec['kind'], number>> = { bptt: 2, tbptt: 6, rtrl: 12 };
  for (const method of methods) {
    const on = summed(method, b, 2, true), off = summed(method, b, 2, false);
    assert.is(on.updates, expectedUpdates[method.kind], `${method.kind} updates`);
    assert.is(on.updates, off.updates);
    const err = penaltyMismatch(on.sum, off.sum, p, 2);
    assert.ok(err < 1e-13, `${method.kind}: the penalty's total is off by ${err} (relative)`);
  }
});

test('penalty: steps after the last loss term carry their share to the next update, with no extra update', () => {
  // Targets at steps 1 and 3 only: rtrl updates at 1 and 3; tbptt's window [4, 6) has no loss.
  const b = batch((t) => t === 1 || t === 3), p = penaltyGradient();
  for (const method of methods) {
    const on = summed(method, b, 3, true), off = summed(method, b, 3, false);
    assert.is(on.updates, method.kind === 'bptt' ? 3 : 6, `${method.kind} updates`);
    // bptt: 3 penalties. The others: the last batch's steps 4 and 5 have no update after them.
    const times = method.kind === 'bptt' ? 3 : 3 - 2 / T;
    const err = penaltyMismatch(on.sum, off.sum, p, times);
    assert.ok(err < 1e-13, `${method.kind}: the penalty's total is off by ${err} (relative)`);
  }
});

test('penalty: rtrl with a loss only at the last step makes the bptt update, penalty included', () => {
  const b = batch((t) => t === T - 1);
  const a = summed({ kind: 'bptt' }, b, 1, true), r = summed({ kind: 'rtrl' }, b, 1, true);
  assert.is(r.updates, 1);
  let diff = 0;
  for (let i = 0; i < a.sum.length; i++) diff = Math.max(diff, Math.abs(a.sum[i] - r.sum[i]));
  assert.ok(diff < 1e-13, `rtrl vs bptt update differ by ${diff}`);
});

test('train: an empty batch is an Error for every method', () => {
  const b = batch(() => true);
  const empty: TrainBatch = { xs: { rows: 0, cols: b.xs.cols, data: new Float64Array(0), offset: 0 }, batch: size, loss: b.loss };
  for (const method of methods) {
    assert.throws(() => train(model(), { method, optimizer: recorder().optimizer, iterations: 1, next: () => empty }), /train: batch 1 is empty/);
  }
});

test.run();
