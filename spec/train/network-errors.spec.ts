// Every bad input to the network API is a typed error (lib/errors.ts) whose message starts with the
// operation and names the argument, the values found and what was expected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetwork, loadNetwork, Vocabulary, type NetworkDescription } from '../../lib/train/index.js';
import { ConfigError, FormatError, LoopgradError, ShapeError } from '../../lib/errors.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../../lib/io/safetensors.js';

type ErrorClass = new (...args: never[]) => LoopgradError;

function throwsTyped(f: () => unknown, kind: ErrorClass, message: RegExp): void {
  let caught: unknown = null;
  try { f(); } catch (e) { caught = e; }
  assert.ok(caught !== null, `expected a ${kind.name} matching ${message}, nothing was thrown`);
  assert.ok(caught instanceof kind, `expected a ${kind.name}, got ${(caught as Error).constructor.name}: ${(caught as Error).message}`);
  assert.match((caught as Error).message, message);
}

const base: NetworkDescription = { inputSize: 3, hiddenSize: 4, output: { size: 2 }, loss: 'softmax-ce' };

test('a bad description: unknown field, bad values, conflicts — ConfigError naming the field and the accepted values', () => {
  throwsTyped(() => createNetwork({ ...base, hidden: 4 } as unknown as NetworkDescription), ConfigError, /^createNetwork: unknown field "hidden" \(accepted: inputSize, embedding, cell, hiddenSize/);
  throwsTyped(() => createNetwork({ ...base, cell: 'lstn' as never }), ConfigError, /^createNetwork: cell must be one of elman, jordan, lstm, gru, indrnn, got "lstn"/);
  throwsTyped(() => createNetwork({ ...base, embedding: { vocabSize: 3, size: 2 } }), ConfigError, /give exactly one of inputSize .* and embedding .*got both/);
  throwsTyped(() => createNetwork({ ...base, hiddenSize: 2.5 }), ConfigError, /^createNetwork: hiddenSize must be an integer >= 1, got 2.5/);
  throwsTyped(() => createNetwork({ ...base, output: { size: 2, activation: 'tanh' } }), ConfigError, /output.activation \(with loss softmax-ce\) must be one of softmax, got "tanh"/);
  throwsTyped(() => createNetwork({ ...base, output: { size: 2, units: 3 } as never }), ConfigError, /unknown field "output.units" \(accepted: size, activation\)/);
  throwsTyped(() => createNetwork({ ...base, dropout: 0.2 }), ConfigError, /dropout acts between layers, so it needs layers >= 2/);
  throwsTyped(() => createNetwork({ ...base, loss: 'nll' as never }), ConfigError, /loss must be one of softmax-ce, mse, bce, ctc, got "nll"/);
  throwsTyped(() => createNetwork({ ...base, loss: 'ctc', shape: 'many-to-one' }), ConfigError, /shape must be many-to-many with loss ctc/);
  throwsTyped(() => createNetwork({ ...base, vocabulary: ['a', 'b'] }), ConfigError, /vocabulary has 2 symbols but the network reads 3/);
});

test('data of the wrong shape, out-of-range classes and symbols, lengths past the padding', () => {
  const net = createNetwork(base);
  const seq = (T: number, F = 3) => Array.from({ length: T }, () => new Array<number>(F).fill(0.5));
  throwsTyped(() => net.fit({ inputs: [seq(3), [[1, 2, 3], [1, 2, 3, 4], [1, 2, 3]]], targets: [[0, 0, 0], [0, 0, 0]] }), ShapeError, /^fit: inputs\[1\]\[1\] has 4 features, the network takes 3/);
  throwsTyped(() => net.fit({ inputs: [seq(4)], targets: [[0, 1, 0, 7]] }), ConfigError, /^fit: targets\[0\]\[3\] is class 7, outside \[0, 2\) \(output.size 2\)/);
  throwsTyped(() => net.fit({ inputs: [seq(4)], targets: [[0, 1, [1, 0, 0], 0]] }), ShapeError, /^fit: targets\[0\]\[2\] has 3 values, the network has 2 outputs/);
  throwsTyped(() => net.fit({ inputs: [seq(4), seq(4)], targets: [[0, 0, 0, 0], [0, 0, 0, 0]], lengths: [4, 9] }), ShapeError, /^fit: lengths\[1\] is 9, longer than the padded sequence inputs\[1\] of 4 steps/);
  throwsTyped(() => net.fit({ inputs: [seq(4)] }), ConfigError, /^fit: data.targets is missing/);
  throwsTyped(() => net.fit({ inputs: [seq(4)], targets: [[0, 1, 0, 1, 1]] }), ShapeError, /^fit: targets\[0\] has 5 steps, inputs\[0\] has 4/);
  throwsTyped(() => net.fit({ inputs: [seq(2)], targets: [[0, 0]], batch_first: true } as never), ConfigError, /unknown data field "batch_first"/);
  throwsTyped(() => net.predict({ data: new Float64Array(10), shape: [2, 2, 3] }), ShapeError, /^predict: inputs.data holds 10 numbers but shape \[2, 2, 3\] needs 12/);
  throwsTyped(() => net.predict([seq(2), [[1, NaN, 0]]]), ConfigError, /^predict: inputs\[1\]\[0\]\[1\] must be a finite number, got NaN/);
  throwsTyped(() => net.predict([seq(2)], { batchfirst: false } as never), ConfigError, /^predict: unknown option "batchfirst"/);
  const words = createNetwork({ embedding: { vocabSize: 4, size: 2 }, hiddenSize: 3, output: { size: 4 }, loss: 'softmax-ce' });
  throwsTyped(() => words.predict([[0, 1], [2, 9]]), ConfigError, /^predict: inputs\[1\]\[1\] is symbol 9, outside \[0, 4\)/);
  throwsTyped(() => words.step(4), ConfigError, /^step: x must be a symbol index in \[0, 4\), got 4/);
  throwsTyped(() => net.step([1, 2]), ShapeError, /^step: x must be a vector of 3 features, got 2 values/);
  throwsTyped(() => net.step([1, Infinity, 2]), ConfigError, /^step: x\[1\] must be a finite number, got Infinity/);
});

test('bad fit, generate and step options', () => {
  const net = createNetwork(base);
  const data = { inputs: [[[1, 2, 3]]], targets: [[1]] };
  throwsTyped(() => net.fit(data, { epoch: 3 } as never), ConfigError, /^fit: unknown option "epoch" \(accepted: method, optimizer/);
  throwsTyped(() => net.fit(data, { method: 'bppt' }), ConfigError, /^fit: method: "bppt" is not one of bptt, tbptt:K, tbptt:K1:K2, rtrl/);
  throwsTyped(() => net.fit(data, { batchSize: 0 }), ConfigError, /^fit: batchSize must be an integer >= 1, got 0/);
  throwsTyped(() => net.fit(data, { earlyStopping: { patience: 2 } }), ConfigError, /^fit: earlyStopping needs validation data/);
  const ctc = createNetwork({ ...base, output: { size: 3 }, loss: 'ctc' });
  throwsTyped(() => ctc.fit({ inputs: [[[1, 2, 3]]], targets: [[1]] }, { method: 'rtrl' }), ConfigError, /^fit: loss ctc scores the whole sequence at its end/);
  throwsTyped(() => ctc.fit({ inputs: [[[1, 2, 3]]], targets: [[3]] }), ConfigError, /^fit: targets\[0\]\[0\] is label 3, outside \[1, 3\) \(0 is the blank\)/);
  const bi = createNetwork({ ...base, bidirectional: true });
  throwsTyped(() => bi.step([1, 2, 3]), ConfigError, /^step: a bidirectional network reads the future/);
  throwsTyped(() => bi.fit(data, { method: 'rtrl' }), ConfigError, /^fit: a bidirectional network reads the future of the sequence; rtrl steps through it, use bptt/);
  throwsTyped(() => net.generate({ prime: 'a', length: 3 }), ConfigError, /^generate: the network has no vocabulary/);
  const text = createNetwork({ embedding: { vocabSize: 3, size: 2 }, hiddenSize: 3, output: { size: 3 }, loss: 'softmax-ce', vocabulary: ['a', 'b', 'c'] });
  throwsTyped(() => text.generate({ prime: 'abz', length: 3 }), ConfigError, /^Vocabulary.encode: symbol "z" at position 2 is not in the vocabulary of 3 symbols/);
  throwsTyped(() => text.generate({ prime: '', length: 3 }), ConfigError, /^generate: prime must hold at least one symbol/);
  throwsTyped(() => text.generate({ prime: 'a', length: 3, topK: 0 }), ConfigError, /^generate: topK must be an integer >= 1, got 0/);
  throwsTyped(() => text.generate({ prime: 'a', length: 3, temperature: 0 }), ConfigError, /^generate: temperature must be a finite number > 0, got 0/);
  throwsTyped(() => text.generate({ prime: 'a', length: 3, temprature: 2 } as never), ConfigError, /^generate: unknown option "temprature"/);
  throwsTyped(() => text.generate({ prime: 'a' } as never), ConfigError, /^generate: length is required \(an integer >= 0\)/);
  throwsTyped(() => net.fit(data, { optimizer: { kind: 'adam', lr: -1 } }), ConfigError, /^fit: adam: lr must be a number/);
  throwsTyped(() => net.fit(data, { clipNorm: 0 }), ConfigError, /^fit: clipNorm must be a positive number, got 0/);
  throwsTyped(() => new Vocabulary(['a', 'a']), ConfigError, /^Vocabulary: symbol "a" appears twice/);
});

test('one-to-many: one step per sequence, steps required to predict, no lengths', () => {
  const net = createNetwork({ ...base, shape: 'one-to-many' });
  throwsTyped(() => net.predict([[1, 2, 3]]), ConfigError, /^predict: a one-to-many network needs steps/);
  throwsTyped(() => net.predict([[1, 2]], { steps: 3 }), ShapeError, /^predict: inputs\[0\] has 2 features, the network takes 3/);
  throwsTyped(() => net.fit({ inputs: [[1, 2, 3]], targets: [[0, 1]], lengths: [2] }), ConfigError, /^fit: lengths do not apply to one-to-many data/);
  throwsTyped(() => net.predict({ data: [1, 2, 3], shape: [1, 1, 3] }, { steps: 2 }), ShapeError, /^predict: inputs.shape is \[1, 1, 3\], needs 2 dimensions here/);
  throwsTyped(() => createNetwork(base).predict([[[1, 2, 3]]], { steps: 2 }), ConfigError, /^predict: steps applies to one-to-many networks; this one is many-to-many/);
});

test('loadNetwork: bytes that are not a saved network, and weights that do not match the description — FormatError naming the tensor', () => {
  throwsTyped(() => loadNetwork(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), FormatError, /^loadNetwork: the bytes are not a safetensors file/);
  const plain = writeSafetensors({ w: { dtype: 'F64', shape: [1], data: [1] } });
  throwsTyped(() => loadNetwork(plain), FormatError, /^loadNetwork: the file is safetensors but not a saved network: its metadata format is missing/);
  const net = createNetwork({ ...base, layers: 2 });
  const saved = readSafetensors(net.save());
  const rewrite = (edit: (tensors: Record<string, TensorInput>, metadata: Record<string, string>) => void) => {
    const tensors: Record<string, TensorInput> = {};
    for (const [name, t] of saved.tensors) tensors[name] = { dtype: t.dtype, shape: t.shape, data: t.data };
    const metadata = { ...saved.metadata };
    edit(tensors, metadata);
    return writeSafetensors(tensors, metadata);
  };
  // The description says 5 hidden units, the weights hold 4.
  const wider = rewrite((_, m) => { m.description = JSON.stringify({ ...JSON.parse(m.description), hiddenSize: 5 }); });
  throwsTyped(() => loadNetwork(wider), FormatError, /^loadNetwork: tensor "rnn.weight_ih_l0" has shape \[16, 3\] but the description needs \[20, 3\]/);
  const missing = rewrite((t) => { delete t['rnn.bias_hh_l1']; });
  throwsTyped(() => loadNetwork(missing), FormatError, /^loadNetwork: tensor "rnn.bias_hh_l1" is missing \(the description needs it, shape \[16\]\)/);
  const extra = rewrite((t) => { t['rnn.weight_ih_l2'] = { dtype: 'F64', shape: [1], data: [0] }; });
  throwsTyped(() => loadNetwork(extra), FormatError, /^loadNetwork: tensor "rnn.weight_ih_l2" is not a parameter of the described network/);
  const badDescription = rewrite((_, m) => { m.description = '{"inputSize": 3}'; });
  throwsTyped(() => loadNetwork(badDescription), FormatError, /^loadNetwork: the saved description is not valid: createNetwork: hiddenSize must be an integer >= 1/);
  const notJson = rewrite((_, m) => { m.description = '{'; });
  throwsTyped(() => loadNetwork(notJson), FormatError, /^loadNetwork: the saved description is not valid/);
});

test.run();
