// The shell every online method shares (lib/rnn/online.ts), checked once over all four of them:
// Rtrl, SnAp-1, UORO and KF-RTRL. An online stream (reset, then step per input) gives bit for bit
// what run gives; zeroGrad mid-stream keeps the state, and the gradients and losses before and
// after it add up to the uninterrupted stream's; a wrong input shape is a ShapeError naming the
// method that leaves the stream as it was; 'carry' before any step is the model's own rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { ShapeError } from '../../lib/mat/errors.js';
import { elman } from '../../lib/cells/elman.js';
import { createModel } from '../../lib/rnn/model.js';
import { OnlineMethod } from '../../lib/rnn/online.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Snap } from '../../lib/rnn/snap.js';
import { Uoro } from '../../lib/rnn/uoro.js';
import { KfRtrl } from '../../lib/rnn/kf-rtrl.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';

const T = 5, batch = 2, lengths = [5, 3], inputSize = 3;
// A learned initial state: Snap, Uoro and KfRtrl each start their sensitivity from it.
const model = createModel(elman({ inputSize, hiddenSize: 4, outputSize: 2 }), { seed: 3, initialState: 'learned' });
const makers: [string, () => OnlineMethod][] = [
  ['rtrl', () => new Rtrl(model)],
  ['snap', () => new Snap(model, { order: 1 })],
  ['uoro', () => new Uoro(model, { seed: 5 })],
  ['kf-rtrl', () => new KfRtrl(model, { seed: 5 })],
];

const xs = mat(T * batch, inputSize);
new Rng(11).fillNormal(xs, 0, 1);
const loss: SequenceLoss = {
  step: (g, _t, out) => g.dot(out, out),
  final: (g, state) => g.sum(g.tanh(state[0])),
};

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-300);
}

const stepInput = (t: number): Mat => rowsView(xs, t * batch, batch);

test('every online method is an OnlineMethod, and its stream stepped online is its run, bit for bit', () => {
  for (const [name, make] of makers) {
    const whole = make();
    assert.ok(whole instanceof OnlineMethod, name);
    const r = whole.run(xs, loss, { batch, lengths });
    const online = make();
    online.reset({ batch, lengths });
    assert.is(online.batch, batch, `${name}: batch`);
    for (let t = 0; t < T; t++) online.step(stepInput(t), loss, t === T - 1);
    assert.is(online.steps, T, `${name}: steps`);
    assert.ok(Object.is(online.loss, r.loss), `${name}: loss ${online.loss} vs ${r.loss}`);
    assert.ok(same(online.grad, r.grad), `${name}: grad`);
    assert.ok(same(online.state[0].data, r.finalState[0].data), `${name}: final state`);
    // run hands out a copy: the method's own grad keeps accumulating.
    assert.ok(r.grad !== whole.grad && same(r.grad, whole.grad), `${name}: run's grad is a copy`);
    // 'carry' before any step has nothing to carry: the model's rule (a learned state) starts the stream.
    const carried = make().run(xs, loss, { batch, lengths, initialState: 'carry' });
    assert.ok(same(carried.grad, r.grad) && Object.is(carried.loss, r.loss), `${name}: carry with no step taken`);
  }
});

test('zeroGrad mid-stream keeps the state; the gradients and losses before and after it add up to the whole stream\'s', () => {
  const k = 2;
  for (const [name, make] of makers) {
    const whole = make().run(xs, loss, { batch, lengths });
    const m = make();
    m.reset({ batch, lengths });
    for (let t = 0; t < k; t++) m.step(stepInput(t), loss);
    const gradBefore = m.grad.slice(), lossBefore = m.loss, stateBefore = m.state[0].data.slice();
    m.zeroGrad();
    assert.ok(m.grad.every((v) => v === 0) && m.loss === 0, `${name}: zeroed`);
    assert.ok(same(m.state[0].data, stateBefore) && m.steps === k, `${name}: state and step count kept`);
    for (let t = k; t < T; t++) m.step(stepInput(t), loss, t === T - 1);
    const sum = m.grad.map((v, i) => v + gradBefore[i]);
    assert.ok(relDiff(sum, whole.grad) < 1e-12, `${name}: grad ${relDiff(sum, whole.grad)}`);
    assert.ok(Math.abs(m.loss + lossBefore - whole.loss) <= 1e-12 * Math.abs(whole.loss), `${name}: loss`);
    assert.ok(same(m.state[0].data, whole.finalState[0].data), `${name}: final state`);
  }
});

test('a wrong input shape is a ShapeError naming the method, and the stream goes on as if it had not been tried', () => {
  for (const [name, make] of makers) {
    const m = make();
    m.reset({ batch });
    m.step(stepInput(0), loss);
    const lossAt1 = m.loss, gradAt1 = m.grad.slice();
    for (const bad of [mat(batch + 1, inputSize), mat(batch, inputSize + 1)]) {
      let caught: unknown = null;
      try { m.step(bad, loss); } catch (e) { caught = e; }
      assert.ok(caught instanceof ShapeError, `${name}: a ShapeError`);
      assert.is((caught as ShapeError).op, name);
      assert.is((caught as ShapeError).message, `${name}: input is ${bad.rows}x${bad.cols}, needs batch ${batch} x ${inputSize}`);
    }
    assert.is(m.steps, 1, `${name}: no step taken`);
    assert.ok(Object.is(m.loss, lossAt1) && same(m.grad, gradAt1), `${name}: nothing accumulated`);
    // The stream continues exactly as one never offered a bad input.
    const clean = make();
    clean.reset({ batch });
    for (let t = 0; t < 2; t++) clean.step(stepInput(t), loss);
    m.step(stepInput(1), loss);
    assert.ok(same(m.grad, clean.grad) && same(m.state[0].data, clean.state[0].data), `${name}: continues`);
  }
});

test.run();
