// NARX: the definition, open loop (teacher forcing) vs closed loop, both
// differentiation modes, and forecasting from a known history.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { narx, narxState, runClosedLoop, teacherInputs } from '../../lib/cells/narx.js';
import { get, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { fdError, randomMat, relErr, someIndices, squaredLoss } from '../helpers.js';
import { FD_NETWORK, REORDERED, SAME_MATH } from '../tolerances.js';

const rng = new Rng(909);
const options = { inputSize: 2, outputSize: 2, hiddenSize: 4, inputDelays: 2, outputDelays: 3 };

test('narx: closed loop computes y_t = V tanh(Σ A_k x_{t-k} + Σ B_k y_{t-k} + b) + c from zero history', () => {
  const cell = narx(options);
  assert.equal(cell.paramSpecs.map((s) => s.name), ['weight_x', 'weight_y', 'bias_h', 'weight_out', 'bias_out']);
  assert.equal(cell.stateSizes, [4, 6]);
  const model = createModel(cell, { seed: 1 });
  const [A, B, bh, V, c] = model.params.mats;
  const steps = 6, I = 2, O = 2, H = 4, p = 2, q = 3;
  const xs = randomMat(rng, steps, I);
  const out = new Bptt(model).run(xs, {}, { batch: 1 }).outputs;
  const ys: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const y = new Array<number>(O).fill(0);
    const h = new Array<number>(H).fill(0);
    for (let j = 0; j < H; j++) {
      let acc = get(bh, 0, j);
      for (let k = 0; k <= p; k++) if (t - k >= 0) for (let i = 0; i < I; i++) acc += get(A, j, k * I + i) * xs.data[(t - k) * I + i];
      for (let k = 1; k <= q; k++) if (t - k >= 0) for (let i = 0; i < O; i++) acc += get(B, j, (k - 1) * O + i) * ys[t - k][i];
      h[j] = Math.tanh(acc);
    }
    for (let o = 0; o < O; o++) {
      y[o] = get(c, 0, o);
      for (let j = 0; j < H; j++) y[o] += get(V, o, j) * h[j];
      assert.ok(Math.abs(out.data[t * O + o] - y[o]) <= REORDERED, `t=${t} o=${o}`);
    }
    ys.push(y);
  }
});

test('narx: teacher forcing with the model\'s own outputs as targets reproduces the closed loop', () => {
  const closed = narx(options);
  const teacher = narx({ ...options, feedback: 'teacher' });
  assert.equal(teacher.paramSpecs, closed.paramSpecs);
  assert.is(teacher.inputSize, 4);
  const model = createModel(closed, { seed: 2 });
  const open = createModel(teacher, { theta: model.params.theta });
  const batch = 2, steps = 7;
  const xs = randomMat(rng, steps * batch, 2);
  const y = new Bptt(model).run(xs, {}, { batch }).outputs;
  const forced = new Bptt(open).run(teacherInputs(xs, y, batch), {}, { batch }).outputs;
  assert.ok(relErr(forced.data, y.data) <= REORDERED);
});

test('narx: RTRL equals BPTT in closed and open loop, and matches finite differences', () => {
  for (const feedback of ['closed', 'teacher'] as const) {
    for (const shape of [options, { inputSize: 0, outputSize: 1, hiddenSize: 3, outputDelays: 2 }]) {
      const cell = narx({ ...shape, feedback });
      const model = createModel(cell, { seed: 5 });
      const batch = 2, steps = 6;
      const targets = randomMat(rng, steps * batch, shape.outputSize);
      const exo = randomMat(rng, steps * batch, shape.inputSize);
      const xs = feedback === 'teacher' ? teacherInputs(exo, targets, batch) : exo;
      const loss = squaredLoss(targets, batch);
      const bptt = new Bptt(model);
      const a = bptt.run(xs, loss, { batch });
      const rtrl = new Rtrl(model);
      rtrl.run(xs, loss, { batch });
      const label = `${feedback}, inputSize ${shape.inputSize}`;
      assert.ok(relErr(rtrl.grad, a.grad) < SAME_MATH, `${label}: RTRL vs BPTT ${relErr(rtrl.grad, a.grad)}`);
      const { error, worst } = fdError(() => bptt.run(xs, loss, { batch }).loss, model.params.theta, a.grad, someIndices(rng, a.grad.length, 20));
      assert.ok(error < FD_NETWORK, `${label}: ${worst}`);
    }
  }
});

test('narx: forecasting from a history continues the closed loop exactly', () => {
  const cell = narx(options);
  const model = createModel(cell, { seed: 7 });
  const batch = 2, known = 5, ahead = 4;
  const xs = randomMat(rng, (known + ahead) * batch, 2);
  const y = new Bptt(model).run(xs, {}, { batch }).outputs;
  const past = (m: typeof xs) => ({ rows: known * batch, cols: m.cols, data: m.data, offset: 0 });
  const state = narxState(cell, batch, past(xs), past(y));
  const future = { rows: ahead * batch, cols: 2, data: xs.data, offset: known * batch * 2 };
  const forecast = runClosedLoop(cell, model.params.mats, state, future, batch);
  assert.ok(relErr(forecast.data, y.data.subarray(known * batch * 2)) <= REORDERED);
  // A purely autoregressive model forecasts from its outputs alone.
  const ar = narx({ inputSize: 0, outputSize: 1, hiddenSize: 3, outputDelays: 2 });
  const arModel = createModel(ar, { seed: 8 });
  const all = new Bptt(arModel).run(mat(6, 0), {}, { batch: 1 }).outputs;
  const arState = narxState(ar, 1, null, { rows: 3, cols: 1, data: all.data, offset: 0 });
  const arForecast = runClosedLoop(ar, arModel.params.mats, arState, null, 1, 3);
  assert.ok(relErr(arForecast.data, all.data.subarray(3)) <= REORDERED);
});

test('narx: bad options are clear errors', () => {
  assert.throws(() => narx({ ...options, outputDelays: 0 }), /narx: outputDelays must be an integer >= 1, got 0/);
  assert.throws(() => narx({ ...options, feedback: 'open' as never }), /feedback must be 'closed' or 'teacher'/);
  assert.throws(() => teacherInputs(randomMat(rng, 4, 2), randomMat(rng, 6, 2), 2), /need the same number of rows/);
});

test.run();
