// IndRNN (Li et al. 2018): h_t = f(W x_t + b_ih + u ⊙ h_{t-1} + b_hh). Its step against the
// formula by hand, its gradient against finite differences and the dot-product identity, BPTT
// equal to RTRL on a packed batch, and training through the registry and the trainer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { indrnn } from '../../lib/cells/indrnn.js';
import { createCell } from '../../lib/cells/registry.js';
import { gradCheck } from '../../lib/ad/api.js';
import type { Graph, Var } from '../../lib/ad/graph.js';
import { get } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { createModel } from '../../lib/rnn/model.js';
import { trainTask } from '../../lib/train/run-task.js';
import { recurrentSpectrum, spectralNorm, spectralRadius } from '../../lib/rnn/diagnose.js';
import { mat } from '../../lib/mat/mat.js';
import { dotLoss, fdError, randomMat, relErr, someIndices } from '../helpers.js';
import { FD_NETWORK, FD_PRIMITIVE, FD_STEP, HAND_COMPUTED, METHODS_AGREE } from '../tolerances.js';

const rng = new Rng(2018);

test('indrnn: one step is f(x W_ihᵀ + b_ih + u ⊙ h + b_hh), element by element', () => {
  for (const activation of ['relu', 'tanh'] as const) {
    const I = 3, H = 5, batch = 2;
    const cell = indrnn({ inputSize: I, hiddenSize: H, activation });
    const model = createModel(cell, { seed: 4 });
    assert.equal(cell.paramSpecs.map((s) => `${s.name} ${s.rows}x${s.cols} ${s.role}`), [`weight_ih ${H}x${I} weight`, `weight_hh 1x${H} weight`, `bias_ih 1x${H} bias`, `bias_hh 1x${H} bias`]);
    const [W, u, bIh, bHh] = model.params.mats;
    for (let k = 0; k < H; k++) assert.ok(get(u, 0, k) >= 0 && get(u, 0, k) <= 1, `u_${k} = ${get(u, 0, k)} is in [0, 1]`);
    const h0 = randomMat(rng, batch, H), xs = randomMat(rng, batch, I);
    const out = new Bptt(model).run(xs, {}, { batch, initialState: [h0] }).outputs;
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < H; k++) {
        let pre = get(bIh, 0, k) + get(bHh, 0, k) + get(u, 0, k) * get(h0, b, k);
        for (let i = 0; i < I; i++) pre += get(W, k, i) * get(xs, b, i);
        const want = activation === 'relu' ? Math.max(0, pre) : Math.tanh(pre);
        assert.ok(Math.abs(get(out, b, k) - want) <= HAND_COMPUTED, `${activation} b=${b} k=${k}: ${get(out, b, k)} vs ${want}`);
      }
    }
  }
});

test('indrnn: gradCheck of one step (finite differences and the dot-product identity), without biases too', () => {
  for (const bias of [true, false]) {
    const cell = indrnn({ inputSize: 3, hiddenSize: 4, activation: 'tanh', bias });
    const model = createModel(cell, { seed: 5 });
    const f = (g: Graph, [x, h, ...params]: readonly Var[]) => cell.step(g, params, [h], x).output;
    const report = gradCheck(f, [randomMat(rng, 2, 3), randomMat(rng, 2, 4), ...model.params.mats], { seed: 6, epsilon: FD_STEP, tolerance: FD_PRIMITIVE, directions: 4 });
    assert.ok(report.ok, `bias ${bias}: ${report.worst} (fd ${report.finiteDifferenceError}, dot ${report.dotProductError})`);
  }
});

test('indrnn: BPTT equals RTRL on a packed batch with a learned initial state, and finite differences agree', () => {
  const cell = indrnn({ inputSize: 2, hiddenSize: 5 });
  const model = createModel(cell, { seed: 7, initialState: 'learned' });
  for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
  const batch = 3, steps = 6, lengths = [6, 3, 5];
  const xs = randomMat(rng, steps * batch, 2);
  const loss = dotLoss(randomMat(rng, steps * batch, 5), batch, [randomMat(rng, batch, 5)]);
  const options = { batch, lengths };
  const bptt = new Bptt(model).run(xs, loss, options);
  const rtrl = new Rtrl(model).run(xs, loss, options);
  assert.ok(Math.abs(bptt.loss - rtrl.loss) <= METHODS_AGREE * Math.max(1, Math.abs(bptt.loss)));
  assert.ok(relErr(rtrl.grad, bptt.grad) <= METHODS_AGREE, `grad: ${relErr(rtrl.grad, bptt.grad)}`);
  assert.ok(relErr(rtrl.finalState[0].data, bptt.finalState[0].data) <= METHODS_AGREE);
  const fd = fdError(() => new Bptt(model).run(xs, loss, options).loss, model.params.theta, bptt.grad, someIndices(rng, model.params.theta.length, 20));
  assert.ok(fd.error <= FD_NETWORK, fd.worst);
});

test('indrnn: built by kind through the registry, it trains on the adding task (loss falls, every number finite)', () => {
  const cell = createCell('indrnn', { inputSize: 2, hiddenSize: 3, activation: 'tanh' });
  assert.is(cell.kind, 'indrnn');
  assert.throws(() => indrnn({ inputSize: 2, hiddenSize: 3, activation: 'sigmoid' as 'tanh' }), /indrnn: activation "sigmoid" is not one of relu, tanh/);
  const report = trainTask({ task: 'adding', steps: 8, cell: 'indrnn', hidden: 8, lr: 0.01, batch: 16, iterations: 60, heldOut: 50, seed: 1, method: 'rtrl' });
  const mean = (points: { loss: number }[]) => points.reduce((a, p) => a + p.loss, 0) / points.length;
  const first = mean(report.curve.slice(0, 10)), last = mean(report.curve.slice(-10));
  assert.ok(report.curve.every((p) => Number.isFinite(p.loss)), 'every loss finite');
  assert.ok(last < first, `mean loss of the first 10 batches ${first}, of the last 10 ${last}`);
});

test('indrnn: the recurrent spectrum reads weight_hh as the diagonal matrix diag(u)', () => {
  const model = createModel(indrnn({ inputSize: 2, hiddenSize: 5 }), { seed: 9 });
  const u = model.params.mats[1];
  u.data[u.offset + 3] = -1.25; // the largest |u_k|, negative
  const dense = mat(5, 5);
  for (let k = 0; k < 5; k++) dense.data[k * 5 + k] = get(u, 0, k);
  const [spectrum] = recurrentSpectrum(model.params, 'indrnn');
  assert.is(spectrum.block, 'diag');
  // The dense estimates: power iteration for the norm (exact to rounding here), Gelfand's formula
  // for the radius (its error falls like 1/iterations: 1e-2 is loose enough and still tells 1.25 from 1).
  assert.ok(Math.abs(spectrum.norm - spectralNorm(dense)) <= 1e-9, `norm ${spectrum.norm} vs ${spectralNorm(dense)}`);
  assert.ok(Math.abs(spectrum.radius - spectralRadius(dense)) <= 1e-2, `radius ${spectrum.radius} vs ${spectralRadius(dense)}`);
  assert.is(spectrum.radius, 1.25);
});

test.run();
