// PyTorch state-dict names: weights saved by PyTorch load by name, a state dict
// round-trips, and one that does not fit the model is refused, naming the tensor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { loadPytorchParams, pytorchStateDict, pytorchName, pytorchRnn } from '../../lib/io/pytorch.js';
import { createModel } from '../../lib/rnn/model.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { GOLDEN_DIR } from '../helpers.js';

const golden = GOLDEN_DIR;

test('names follow PyTorch: layer 0 unless a stack named the layer, direction suffix, optional prefix', () => {
  assert.is(pytorchName('weight_ih'), 'weight_ih_l0');
  assert.is(pytorchName('bias_hh_reverse'), 'bias_hh_l0_reverse');
  assert.is(pytorchName('bias_hh_l2_reverse'), 'bias_hh_l2_reverse');
  assert.is(pytorchName('weight_hh_l1'), 'weight_hh_l1');
  assert.is(pytorchName('weight_hh', 'param/'), 'param/weight_hh_l0');
});

test('a single layer is the one-layer case: a lone cell and pytorchRnn of one layer share their names', () => {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(resolve(golden, 'lstm_1l.safetensors'))));
  const lone = createModel(lstm({ inputSize: 5, hiddenSize: 4 }));
  loadPytorchParams(lone.params, tensors, { prefix: 'param/' });
  const cell = pytorchRnn({ module: 'LSTM', inputSize: 5, hiddenSize: 4 });
  const one = createModel(cell);
  loadPytorchParams(one.params, tensors, { prefix: 'param/', cell });
  assert.equal(Array.from(one.params.theta), Array.from(lone.params.theta));
  assert.equal(Object.keys(pytorchStateDict(one.params)), Object.keys(pytorchStateDict(lone.params)));
});

test("PyTorch's LSTM weights load by name, and the state dict round-trips through safetensors", () => {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(resolve(golden, 'lstm_1l.safetensors'))));
  const model = createModel(lstm({ inputSize: 5, hiddenSize: 4 }));
  loadPytorchParams(model.params, tensors, { prefix: 'param/' });
  const w = tensors.get('param/weight_hh_l0')!;
  assert.equal(Array.from(model.params.mats[1].data.subarray(model.params.offsets[1], model.params.offsets[1] + 64)), Array.from(w.data));
  const bytes = writeSafetensors(pytorchStateDict(model.params));
  const again = createModel(lstm({ inputSize: 5, hiddenSize: 4 }), { seed: 99 });
  loadPytorchParams(again.params, readSafetensors(bytes).tensors);
  assert.equal(Array.from(again.params.theta), Array.from(model.params.theta));
  assert.equal(readSafetensors(bytes).tensors.get('bias_ih_l0')!.shape, [16]);
});

test('a state dict that does not fit the model is an error naming the tensor', () => {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(resolve(golden, 'gru_1l.safetensors'))));
  const tooBig = createModel(gru({ inputSize: 5, hiddenSize: 5 }));
  assert.throws(() => loadPytorchParams(tooBig.params, tensors, { prefix: 'param/' }),
    /tensor "param\/weight_ih_l0" has shape \[12, 5\] but weight_ih needs \[15, 5\]/);
  const model = createModel(gru({ inputSize: 5, hiddenSize: 4 }));
  assert.throws(() => loadPytorchParams(model.params, tensors, { prefix: 'rnn.' }),
    /tensor "rnn.weight_ih_l0" is missing \(needed for weight_ih, 12x5\)/);
  const lstmModel = createModel(lstm({ inputSize: 5, hiddenSize: 4 }));
  assert.throws(() => loadPytorchParams(lstmModel.params, tensors, { prefix: 'param/' }), /weight_ih_l0" has shape \[12, 5\] but weight_ih needs \[16, 5\]/);
});

test.run();
