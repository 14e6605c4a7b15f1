// The master test: for every cell, RTRL (forward mode) and BPTT (reverse mode)
// give the same gradient to float64 precision, and both match finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import type { Cell } from '../../lib/cells/cell.js';
import { elman } from '../../lib/cells/elman.js';
import { jordan } from '../../lib/cells/jordan.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { createModel, type InitialState, type RecurrentModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl, estimateRtrlBytes } from '../../lib/rnn/rtrl.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { Graph } from '../../lib/ad/graph.js';
import { randomMat, relErr } from '../helpers.js';
import { FD_NETWORK, FD_STEP, SAME_MATH } from '../tolerances.js';

const rng = new Rng(2024);
const size = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);

const cellMakers: [string, (inputSize: number, hiddenSize: number) => Cell][] = [
  ['elman tanh', (i, h) => elman({ inputSize: i, hiddenSize: h })],
  ['elman relu + output layer', (i, h) => elman({ inputSize: i, hiddenSize: h, activation: 'relu', outputSize: 2, outputActivation: 'tanh' })],
  ['elman sigmoid, no bias', (i, h) => elman({ inputSize: i, hiddenSize: h, activation: 'sigmoid', bias: false })],
  ['jordan', (i, h) => jordan({ inputSize: i, hiddenSize: h, outputSize: 3 })],
  ['lstm', (i, h) => lstm({ inputSize: i, hiddenSize: h })],
  ['lstm peephole + forget bias', (i, h) => lstm({ inputSize: i, hiddenSize: h, peephole: true, forgetBias: 1 })],
  ['gru', (i, h) => gru({ inputSize: i, hiddenSize: h })],
];

/** Squared error of every step's output against a random target: a loss at every step. */
function everyStepLoss(targets: Mat, batch: number): SequenceLoss {
  return {
    step: (g, t, out) => {
      const diff = g.sub(out, g.constant(rowsView(targets, t * batch, batch)));
      return g.dot(diff, diff);
    },
  };
}

/** A loss on the final state only: Σ_i dot(tanh(state_i), G_i). */
function finalOnlyLoss(cotangents: Mat[]): SequenceLoss {
  return {
    final: (g, state) => {
      let total = null;
      for (let i = 0; i < state.length; i++) {
        const term = g.dot(g.tanh(state[i]), g.constant(cotangents[i]));
        total = total === null ? term : g.add(total, term);
      }
      return total;
    },
  };
}

function lossOnly(model: RecurrentModel, xs: Mat, loss: SequenceLoss, batch: number): number {
  return new Bptt(model).run(xs, loss, { batch }).loss;
}

function finiteDifferenceError(model: RecurrentModel, xs: Mat, loss: SequenceLoss, batch: number, grad: Float64Array, picks: number): number {
  const theta = model.params.theta, eps = FD_STEP;
  let worst = 0;
  for (let n = 0; n < picks; n++) {
    const i = rng.int(theta.length), saved = theta[i];
    theta[i] = saved + eps;
    const plus = lossOnly(model, xs, loss, batch);
    theta[i] = saved - eps;
    const minus = lossOnly(model, xs, loss, batch);
    theta[i] = saved;
    const fd = (plus - minus) / (2 * eps);
    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(1, Math.abs(fd)));
  }
  return worst;
}

const initialStates: [string, (cell: Cell, batch: number) => InitialState][] = [
  ['zero h0', () => 'zero'],
  ['fixed h0', (cell, batch) => cell.stateSizes.map((s) => randomMat(rng, batch, s, 0.5))],
  ['learned h0', () => 'learned'],
];

for (const [name, makeCell] of cellMakers) {
  for (const [initName, makeInitial] of initialStates) {
    for (const lossKind of ['loss at every step', 'loss at the end only'] as const) {
      test(`${name}, ${initName}, ${lossKind}: RTRL = BPTT < 1e-10, both = finite differences`, () => {
        const inputSize = size(1, 4), hiddenSize = size(2, 5), steps = size(3, 9), batch = size(1, 3);
        const cell = makeCell(inputSize, hiddenSize);
        const model = createModel(cell, { initialState: makeInitial(cell, batch), seed: rng.int(1000) });
        if (model.initialState === 'learned') {
          for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
        }
        const xs = randomMat(rng, steps * batch, inputSize);
        const loss = lossKind === 'loss at every step'
          ? everyStepLoss(randomMat(rng, steps * batch, cell.outputSize), batch)
          : finalOnlyLoss(cell.stateSizes.map((s) => randomMat(rng, batch, s)));
        const viaBptt = new Bptt(model).run(xs, loss, { batch });
        const rtrl = new Rtrl(model);
        const rtrlLoss = rtrl.run(xs, loss, { batch }).loss;
        assert.ok(Math.abs(rtrlLoss - viaBptt.loss) <= 1e-12 * Math.max(1, Math.abs(viaBptt.loss)), `losses ${rtrlLoss} vs ${viaBptt.loss}`);
        const err = relErr(rtrl.grad, viaBptt.grad);
        assert.ok(err < SAME_MATH, `RTRL vs BPTT relative error ${err}`);
        assert.ok(viaBptt.grad.some((v) => v !== 0), 'the gradient is not identically zero');
        const fd = finiteDifferenceError(model, xs, loss, batch, viaBptt.grad, 12);
        assert.ok(fd < FD_NETWORK, `finite differences off by ${fd}`);
      });
    }
  }
}

test('RTRL is exact online: after every step its gradient equals BPTT over the prefix', () => {
  const cell = lstm({ inputSize: 3, hiddenSize: 4 });
  const model = createModel(cell, { seed: 5 });
  const steps = 7;
  const xs = randomMat(rng, steps, 3), targets = randomMat(rng, steps, 4);
  const loss = everyStepLoss(targets, 1);
  const rtrl = new Rtrl(model);
  rtrl.reset();
  for (let t = 0; t < steps; t++) {
    rtrl.step(rowsView(xs, t, 1), loss);
    const prefix = new Bptt(model).run(rowsView(xs, 0, t + 1), loss);
    assert.ok(relErr(rtrl.grad, prefix.grad) < SAME_MATH, `step ${t}`);
  }
});

test('RTRL carries a state passed through unchanged (new b is the old a) exactly as BPTT', () => {
  // A two-stage delay line: a' = tanh(x·Wᵀ + a·Uᵀ + b·Vᵀ), b' = a (the old Var itself), output b'.
  const delay: Cell = {
    kind: 'delay', inputSize: 2, stateSizes: [3, 3], stateNames: ['a', 'b'], outputSize: 3,
    paramSpecs: [{ name: 'W', rows: 3, cols: 2, role: 'weight' }, { name: 'U', rows: 3, cols: 3, role: 'weight' }, { name: 'V', rows: 3, cols: 3, role: 'weight' }],
    step: (g, [W, U, V], [a, b], x) => {
      const aNew = g.tanh(g.linearSum([[x, W], [a, U], [b, V]]));
      return { state: [aNew, a], output: a };
    },
    init: (mats, r) => { for (const m of mats) r.fillNormal(m, 0, 0.6); },
  };
  const model = createModel(delay, { seed: 4, initialState: 'learned' });
  for (let i = model.params.offsets[3]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
  const xs = randomMat(rng, 6, 2), loss = everyStepLoss(randomMat(rng, 6, 3), 1);
  const viaBptt = new Bptt(model).run(xs, loss);
  const rtrl = new Rtrl(model);
  assert.ok(Math.abs(rtrl.run(xs, loss).loss - viaBptt.loss) < 1e-12);
  assert.ok(relErr(rtrl.grad, viaBptt.grad) < SAME_MATH, `RTRL vs BPTT ${relErr(rtrl.grad, viaBptt.grad)}`);
});

test('RTRL refuses a model whose sensitivities would not fit the memory limit', () => {
  const model = createModel(lstm({ inputSize: 4, hiddenSize: 8 }));
  assert.throws(() => new Rtrl(model, { maxBytes: 1e5 }), /rtrl: 1 x 16 state numbers and one step's values, each with P = 448 tangent directions, need \d+\.\d MiB, over the limit of 0\.1 MiB/);
  assert.throws(() => new Rtrl(model, { maxBytes: NaN }), /rtrl: maxBytes must be a positive number, got NaN/);
  // The estimate covers what a run really allocates (S twice, the step's tangents) to within 10%.
  for (const m of [model, createModel(gru({ inputSize: 4, hiddenSize: 16 }))]) {
    const rtrl = new Rtrl(m);
    rtrl.run(mat(8, 4), { step: (g, _t, out) => g.sum(out) }, { batch: 4 });
    const estimate = estimateRtrlBytes(m, 4), actual = rtrl.totalBytes();
    assert.ok(Math.abs(estimate - actual) < 0.1 * actual, `estimate ${estimate} vs ${actual} bytes`);
  }
  assert.throws(() => new Bptt(model).run(mat(0, 4), {}), /bptt: the sequence is empty/);
  assert.throws(() => new Rtrl(model).run(mat(0, 4), {}), /rtrl: the sequence is empty/);
});

test('RTRL memory does not grow with the sequence length', () => {
  const model = createModel(gru({ inputSize: 2, hiddenSize: 5 }), { seed: 1 });
  const rtrl = new Rtrl(model);
  const loss = everyStepLoss(randomMat(rng, 60, 5), 1);
  rtrl.run(randomMat(rng, 5, 2), loss);
  const after5 = rtrl.totalBytes();
  rtrl.run(randomMat(rng, 60, 2), loss);
  assert.is(rtrl.totalBytes(), after5);
  assert.is(rtrl.stateBytes(), 8 * 5 * model.params.theta.length);
});

test('BPTT gives gradients for the inputs and the initial state (finite differences)', () => {
  const cell = elman({ inputSize: 2, hiddenSize: 3 });
  const model = createModel(cell, { seed: 3 });
  const batch = 2, steps = 4;
  const xs = randomMat(rng, steps * batch, 2), h0 = randomMat(rng, 1, 3, 0.5);
  const loss = everyStepLoss(randomMat(rng, steps * batch, 3), batch);
  const run = () => new Bptt(model).run(xs, loss, { batch, initialState: [h0], inputGrad: true });
  const result = run();
  const eps = FD_STEP;
  for (const [m, g] of [[xs, result.inputGrad!], [h0, result.initialStateGrad![0]]] as const) {
    for (let i = 0; i < m.data.length; i++) {
      const saved = m.data[i];
      m.data[i] = saved + eps; const plus = run().loss;
      m.data[i] = saved - eps; const minus = run().loss;
      m.data[i] = saved;
      const fd = (plus - minus) / (2 * eps);
      assert.ok(Math.abs(fd - g.data[i]) < FD_NETWORK * Math.max(1, Math.abs(fd)), `element ${i}: ${fd} vs ${g.data[i]}`);
    }
  }
});

test('an RTRL step allocates no new buffers once warm (the arena is reused)', () => {
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 3 }), { seed: 9 });
  const rtrl = new Rtrl(model);
  const loss = everyStepLoss(randomMat(rng, 20, 3), 1);
  rtrl.run(randomMat(rng, 3, 2), loss);
  const before = rtrl.totalBytes();
  rtrl.run(randomMat(rng, 20, 2), loss);
  assert.is(rtrl.totalBytes(), before);
});

test('bad input: wrong feature count, batch mismatch and non-1x1 losses are clear errors', () => {
  const model = createModel(elman({ inputSize: 3, hiddenSize: 2 }));
  assert.throws(() => new Bptt(model).run(mat(4, 2), {}), /bptt: input is 4x2 but the cell takes 3 features per step/);
  assert.throws(() => new Bptt(model).run(mat(5, 3), {}, { batch: 2 }), /not a multiple of batch 2/);
  assert.throws(() => new Rtrl(model).step(mat(1, 2)), /rtrl: input is 1x2, needs batch 1 x 3/);
  assert.throws(() => new Rtrl(model).run(mat(2, 3), { step: (_g, _t, out) => out }), /a loss term must be 1x1/);
  assert.throws(() => elman({ inputSize: 0, hiddenSize: 2 }), /elman: inputSize must be an integer >= 1, got 0/);
  assert.throws(() => lstm({ inputSize: 2, hiddenSize: 2.5 }), /lstm: hiddenSize must be an integer >= 1, got 2.5/);
  assert.throws(() => createModel(lstm({ inputSize: 2, hiddenSize: 2 }), { initialState: [mat(1, 2)] }), /needs 2 matrices/);
  void Graph;
});

test.run();
