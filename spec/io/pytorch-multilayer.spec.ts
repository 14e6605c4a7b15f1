// PyTorch multi-layer / bidirectional import and export (lib/io/pytorch.ts), and the golden
// files for deep, bidirectional, packed and 2-D networks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  fromPytorchStates, loadPytorchParams, pytorchNames, pytorchStateDict, pytorchRnn, pytorchStates,
} from '../../lib/io/pytorch.js';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { lstm } from '../../lib/cells/lstm.js';
import { Rng } from '../../lib/mat/rng.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createModel } from '../../lib/rnn/model.js';
import { checkMdrnnFile, checkRnnFile } from '../../scripts/golden-kinds.js';
import { GOLDEN_DIR, randomMat } from '../helpers.js';

const rng = new Rng(1212);
const goldenDir = process.env.LOOPGRAD_GOLDEN ?? GOLDEN_DIR;

test('pytorchRnn: the module PyTorch builds, with its parameter names', () => {
  const cell = pytorchRnn({ module: 'GRU', inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true });
  assert.equal(pytorchNames(cell.paramSpecs, 'rnn.'), [
    'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
    'rnn.weight_ih_l0_reverse', 'rnn.weight_hh_l0_reverse', 'rnn.bias_ih_l0_reverse', 'rnn.bias_hh_l0_reverse',
    'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1',
    'rnn.weight_ih_l1_reverse', 'rnn.weight_hh_l1_reverse', 'rnn.bias_ih_l1_reverse', 'rnn.bias_hh_l1_reverse',
  ]);
  assert.equal(cell.paramSpecs[8], { name: 'weight_ih_l1', rows: 15, cols: 10, role: 'weight' });
  assert.is(cell.outputSize, 10);
  // A lone bidirectional layer gets layer 0's names too.
  assert.equal(pytorchNames(bidirectional(lstm({ inputSize: 2, hiddenSize: 2 })).paramSpecs)[4], 'weight_ih_l0_reverse');
  assert.throws(() => pytorchRnn({ module: 'LSTM', inputSize: 2, hiddenSize: 2, numLayers: 0 }), /pytorchRnn: numLayers must be an integer >= 1, got 0/);
});

test('pytorch: a multi-layer state dict survives safetensors and loads back; missing or misshapen tensors are named', () => {
  const cell = pytorchRnn({ module: 'LSTM', inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
  const model = createModel(cell, { seed: 4, initialState: 'learned' });
  const bytes = writeSafetensors(pytorchStateDict(model.params, { prefix: 'lstm.', cell }));
  const { tensors } = readSafetensors(bytes);
  assert.equal(tensors.get('lstm.bias_hh_l1_reverse')!.shape, [12]);
  assert.is(tensors.size, cell.paramSpecs.length, 'with a cell, the learned initial state stays out');
  const copy = createModel(cell, { seed: 99, initialState: 'learned' });
  loadPytorchParams(copy.params, tensors, { prefix: 'lstm.', cell });
  const cellLength = copy.params.offsets[cell.paramSpecs.length];
  assert.equal(Array.from(copy.params.theta.subarray(0, cellLength)), Array.from(model.params.theta.subarray(0, cellLength)));
  // Without a cell, every parameter, a stack's by its own names and the initial state as layer 0's.
  assert.ok('lstm.init_h_l1_reverse' in pytorchStateDict(model.params, { prefix: 'lstm.' }));
  assert.throws(() => loadPytorchParams(copy.params, tensors, { prefix: 'lstm.', cell: lstm({ inputSize: 2, hiddenSize: 3 }) }), /parameter 0 of params is weight_ih_l0 12x2, but lstm's is weight_ih 12x2/);
  tensors.delete('lstm.weight_hh_l1');
  assert.throws(() => loadPytorchParams(copy.params, tensors, { prefix: 'lstm.', cell }), /tensor "lstm.weight_hh_l1" is missing \(needed for weight_hh_l1, 12x3\)/);
  tensors.set('lstm.weight_hh_l1', { dtype: 'F64', shape: [3, 12], data: new Float64Array(36) });
  assert.throws(() => loadPytorchParams(copy.params, tensors, { prefix: 'lstm.', cell }), /"lstm.weight_hh_l1" has shape \[3, 12\] but weight_hh_l1 needs \[12, 3\]/);
});

test('pytorch: (layers·directions, batch, hidden) states <-> loopgrad state lists', () => {
  const cell = pytorchRnn({ module: 'LSTM', inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
  const batch = 2;
  const h = randomMat(rng, 4 * batch, 3), c = randomMat(rng, 4 * batch, 3);
  const states = fromPytorchStates(cell, batch, h, c);
  assert.equal(cell.stateNames, ['h_l0', 'c_l0', 'h_l0_reverse', 'c_l0_reverse', 'h_l1', 'c_l1', 'h_l1_reverse', 'c_l1_reverse']);
  // slot 1 (layer 0, reverse) of h is state 2.
  assert.equal(Array.from(states[2].data), Array.from(h.data.subarray(6, 12)));
  assert.equal(Array.from(states[7].data), Array.from(c.data.subarray(18, 24)));
  const back = pytorchStates(cell, states);
  assert.equal(Array.from(back.h.data), Array.from(h.data));
  assert.equal(Array.from(back.c!.data), Array.from(c.data));
  assert.throws(() => fromPytorchStates(cell, batch, h), /has a cell state c but no c was given/);
  assert.throws(() => fromPytorchStates(cell, 3, h, c), /h is 8x3, needs 12x3/);
});

const newGolden = ['rnn_relu_2l', 'lstm_2l_bi', 'gru_2l_bi', 'lstm_bi_packed', 'mdrnn_2d'];
for (const name of newGolden) {
  const path = resolve(goldenDir, `${name}.safetensors`);
  test(`golden ${name}: forward, final states and every gradient within 1e-9`, () => {
    assert.ok(existsSync(path), `missing ${path}`);
    const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(path)));
    const comparisons = metadata.kind === 'mdrnn' ? checkMdrnnFile(tensors, metadata) : checkRnnFile(tensors, metadata);
    assert.ok(comparisons.length >= 6);
    for (const c of comparisons) assert.ok(c.relError <= 1e-9, `${c.name}: ${c.relError}`);
  });
}

test.run();
