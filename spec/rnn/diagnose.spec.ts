import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { elman } from '../../lib/cells/elman.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { gradientFlow, recurrentSpectrum, spectralNorm, spectralRadius } from '../../lib/rnn/diagnose.js';
import { applyInit, parseInit, recurrentBlocks, formatInit } from '../../lib/train/init.js';
import { withReadout } from '../../lib/arch/readout.js';
import { type Mat, mat, matOf } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';

test('spectral radius: real, complex-pair and nilpotent cases; spectral norm', () => {
  assert.ok(Math.abs(spectralRadius(matOf([[3, 0], [0, 1]])) - 3) < 1e-9);
  // Eigenvalues ±2i: plain power iteration never settles, the growth rate does.
  assert.ok(Math.abs(spectralRadius(matOf([[0, -2], [2, 0]])) - 2) < 1e-9);
  // A rotation scaled by 0.5 plus a smaller real eigenvalue.
  const r = spectralRadius(matOf([[0.3, -0.4, 0], [0.4, 0.3, 0], [0, 0, 0.2]]));
  assert.ok(Math.abs(r - 0.5) < 1e-3, `radius ${r}`);
  assert.is(spectralRadius(matOf([[0, 1], [0, 0]])), 0);
  assert.ok(Math.abs(spectralNorm(matOf([[1, 2], [3, 4]])) - 5.464985704219043) < 1e-12);
  assert.throws(() => spectralRadius(mat(2, 3)), /spectralRadius: the matrix is 2x3, not square/);
});

test('init schemes set the recurrent blocks; identity is IRNN', () => {
  const model = createModel(elman({ inputSize: 2, hiddenSize: 4, activation: 'relu' }), { seed: 1 });
  applyInit(model.params, parseInit('identity'), new Rng(2));
  const [block] = recurrentBlocks(model.params);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.is(block.data[block.offset + i * 4 + j], i === j ? 1 : 0);
  const bias = model.params.mats[2];
  assert.ok(bias.data.subarray(bias.offset, bias.offset + 4).every((v) => v === 0));
  const wih = model.params.mats[0];
  assert.ok(Array.from(wih.data.subarray(wih.offset, wih.offset + 8)).every((v) => Math.abs(v) < 0.01 && v !== 0));
  const lstmModel = createModel(lstm({ inputSize: 2, hiddenSize: 8 }), { seed: 1 });
  applyInit(lstmModel.params, parseInit('orthogonal:0.5'), new Rng(3));
  const blocks = recurrentBlocks(lstmModel.params);
  assert.is(blocks.length, 4);
  for (const b of blocks) assert.ok(Math.abs(spectralNorm(b) - 0.5) < 1e-9);
  assert.equal(recurrentSpectrum(lstmModel.params, 'lstm').map((s) => s.block), ['i', 'f', 'g', 'o']);
  assert.is(formatInit(parseInit('he')), `he:${Math.SQRT2}`);
  assert.throws(() => parseInit('glorot'), /unknown scheme "glorot"/);
  assert.throws(() => parseInit('normal:-1'), /must be >= 0/);
  assert.throws(() => parseInit('normal:x'), /"x" is not a number/);
});

test('gradient flow: lag 0 is the identity; IRNN with all units active keeps norm 1 at every lag', () => {
  const model = createModel(elman({ inputSize: 1, hiddenSize: 5, activation: 'relu' }), { seed: 0 });
  applyInit(model.params, parseInit('identity'), new Rng(0));
  // Positive input weights and inputs: every unit stays active, so ∂h_T/∂h_k = I.
  const wih = model.params.mats[0];
  wih.data.fill(0.1, wih.offset, wih.offset + 5);
  const inputs = mat(30, 1);
  inputs.data.fill(1);
  const flow = gradientFlow(model, { steps: 30, inputs });
  flow.jacobianNorm.forEach((v, lag) => assert.ok(Math.abs(v - 1) < 1e-12, `lag ${lag}: ${v}`));
  assert.ok(Math.abs(flow.factorPerStep - 1) < 1e-12);
  assert.is(flow.lossGradNorm[0], 0);
});

test('gradient flow: tanh with small weights vanishes within ‖W‖^lag, large weights explode', () => {
  const small = createModel(elman({ inputSize: 2, hiddenSize: 16 }), { seed: 1 });
  applyInit(small.params, parseInit('normal:0.5'), new Rng(1));
  const bound = spectralNorm(recurrentBlocks(small.params)[0]);
  const flow = gradientFlow(small, { steps: 40, seed: 3 });
  flow.jacobianNorm.forEach((v, lag) => assert.ok(v <= Math.pow(bound, lag) * (1 + 1e-9), `lag ${lag}: ${v} > ${bound}^${lag}`));
  assert.ok(flow.jacobianNorm[40] < 1e-8);
  assert.ok(flow.factorPerStep < 0.8);
  const large = createModel(elman({ inputSize: 2, hiddenSize: 16 }), { seed: 1 });
  applyInit(large.params, parseInit('normal:3'), new Rng(1));
  const big = gradientFlow(large, { steps: 40, seed: 3 });
  assert.ok(big.jacobianNorm[40] > 1e3, `lag 40: ${big.jacobianNorm[40]}`);
  assert.ok(big.factorPerStep > 1.1);
});

test('gradient flow agrees with BPTT: ∂L/∂s_0 is the gradient of the final loss with respect to the initial state', () => {
  for (const cell of [lstm({ inputSize: 2, hiddenSize: 3 }), gru({ inputSize: 2, hiddenSize: 3 })]) {
    const model = createModel(withReadout(cell, 2), { seed: 4 });
    const steps = 6;
    const inputs = mat(steps, 2);
    new Rng(9).fillNormal(inputs);
    const flow = gradientFlow(model, { steps, seed: 0, inputs });
    // Rebuild the same loss: L = ½‖y_T - target‖², with the target drawn as gradientFlow draws it.
    const rng = new Rng(0);
    const target = mat(1, 2);
    for (let j = 0; j < 2; j++) target.data[j] = rng.normal();
    const zero: Mat[] = cell.stateSizes.map((n) => mat(1, n));
    const r = new Bptt(model).run(inputs, {
      step: (g, t, output) => {
        if (t !== steps - 1) return null;
        const d = g.sub(output, g.constant(target));
        return g.scale(g.dot(d, d), 0.5);
      },
    }, { initialState: zero });
    let sq = 0;
    for (const m of r.initialStateGrad!) for (let i = 0; i < m.cols; i++) sq += m.data[i] ** 2;
    assert.ok(Math.abs(Math.sqrt(sq) - flow.lossGradNorm[steps]) < 1e-12 * Math.max(1, Math.sqrt(sq)), `${cell.kind}: ${Math.sqrt(sq)} vs ${flow.lossGradNorm[steps]}`);
    assert.ok(Math.abs(flow.jacobianNorm[0] - 1) < 1e-12, `${cell.kind} lag 0: ${flow.jacobianNorm[0]}`);
  }
});

test('bad options throw', () => {
  const model = createModel(elman({ inputSize: 2, hiddenSize: 3 }));
  assert.throws(() => gradientFlow(model, { steps: 0 }), /steps must be an integer >= 1/);
  assert.throws(() => gradientFlow(model, { steps: 3, inputs: mat(2, 2) }), /inputs are 2x2, need 3x2/);
  assert.throws(() => gradientFlow(model, { steps: 3, inputStd: -1 }), /inputStd/);
});

test.run();
