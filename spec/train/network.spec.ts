// The network API: fit learns (checked by accuracy, not only "it ran"), the network adds no error
// (its gradient is a hand-built model's Bptt gradient), the data forms agree with each other
// (class indices = one-hot, batch first = time major, padded = each sequence alone, flat = nested),
// save/load is exact, dropout follows train()/eval(), streaming equals predict.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetwork, loadNetwork, nextSymbolData, Vocabulary, type NetworkData, type NetworkDescription } from '../../lib/train/index.js';
import { lstm } from '../../lib/cells/lstm.js';
import { withReadout } from '../../lib/arch/readout.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { relErr } from '../helpers.js';
import { METHODS_AGREE, REORDERED } from '../tolerances.js';

const rng = new Rng(99);
const vectors = (T: number, F: number) => Array.from({ length: T }, () => Array.from({ length: F }, () => rng.normal(0, 1)));
const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
  assert.is(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}: entry ${i} ${a[i]} vs ${b[i]}`);
};

// Delayed copy over 4 symbols: the target at step t is the input at t - 1 (0 at t = 0). Chance is 1/4.
function delayedCopy(count: number, T: number, r: Rng): NetworkData {
  const inputs: number[][] = [], targets: number[][] = [];
  for (let b = 0; b < count; b++) {
    const s = Array.from({ length: T }, () => r.int(4));
    inputs.push(s);
    targets.push(s.map((_, t) => (t === 0 ? 0 : s[t - 1])));
  }
  return { inputs, targets };
}

test('fit learns a many-to-many task over symbols (embedding): accuracy far above chance, loss down', () => {
  const net = createNetwork({ embedding: { vocabSize: 4, size: 4 }, cell: 'lstm', hiddenSize: 12, output: { size: 4 }, loss: 'softmax-ce', seed: 3 });
  const data = delayedCopy(48, 8, new Rng(1));
  const held = delayedCopy(32, 8, new Rng(2));
  const before = net.evaluate(held);
  const history = net.fit(data, { epochs: 25, batchSize: 16, optimizer: { kind: 'adam', lr: 0.05 }, validation: held });
  const after = net.evaluate(held);
  assert.is(history.epochs.length, 25);
  assert.is(history.stop.reason, 'completed');
  assert.ok(history.epochs[24].loss < 0.5 * history.epochs[0].loss, `epoch loss ${history.epochs[0].loss} -> ${history.epochs[24].loss}`);
  assert.ok(after.loss < 0.5 * before.loss, `held-out loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy! > 0.9, `held-out accuracy ${after.accuracy} (chance 0.25)`);
  assert.ok(Math.abs(after.bitsPerSymbol! - after.loss / Math.LN2) < 1e-15);
  // The history's validation metrics are evaluate's on the same data at that point.
  assert.equal(history.epochs[24].validation, after);
});

// Many-to-one: is the sum of a variable-length sequence positive? Chance is 1/2.
function signOfSum(count: number, r: Rng): NetworkData & { lengths: number[] } {
  const inputs: number[][][] = [], targets: number[] = [], lengths: number[] = [];
  for (let b = 0; b < count; b++) {
    const L = 3 + r.int(5);
    const s = Array.from({ length: L }, () => [r.normal(0, 1)]);
    inputs.push(s);
    lengths.push(L);
    targets.push(s.reduce((a, x) => a + x[0], 0) > 0 ? 1 : 0);
  }
  return { inputs, targets, lengths };
}

test('fit learns a many-to-one task on variable-length sequences, with bptt, tbptt and rtrl', () => {
  const data = signOfSum(64, new Rng(5));
  const held = signOfSum(64, new Rng(6));
  const train = { inputs: data.inputs, targets: data.targets };
  const heldOut = { inputs: held.inputs, targets: held.targets };
  for (const method of ['bptt', 'tbptt:4:8', 'rtrl']) {
    const net = createNetwork({ inputSize: 1, cell: 'gru', hiddenSize: 6, output: { size: 2 }, loss: 'softmax-ce', shape: 'many-to-one', seed: 2 });
    const before = net.evaluate(heldOut);
    net.fit(train, { method, epochs: method === 'rtrl' ? 6 : 12, batchSize: 8, optimizer: { kind: 'adam', lr: 0.05 } });
    const after = net.evaluate(heldOut);
    assert.ok(after.loss < before.loss, `${method}: held-out loss ${before.loss} -> ${after.loss}`);
    assert.ok(after.accuracy! > 0.8, `${method}: held-out accuracy ${after.accuracy} (chance 0.5)`);
  }
});

test('the network adds no error: its gradient is a hand-built model\'s Bptt gradient, bit for bit', () => {
  const net = createNetwork({ inputSize: 3, hiddenSize: 5, output: { size: 2 }, loss: 'mse', seed: 4 });
  const T = 6, batch = 2;
  const inputs = [vectors(T, 3), vectors(T, 3)], targets = [vectors(T, 2), vectors(T, 2)];
  const viaNetwork = net.gradient({ inputs, targets });
  const model = createModel(withReadout(lstm({ inputSize: 3, hiddenSize: 5 }), 2), { theta: net.model.params.theta.slice() });
  assert.equal(model.params.specs, net.model.params.specs);
  const xs = mat(T * batch, 3), ys = mat(T * batch, 2);
  for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) {
    xs.data.set(inputs[b][t], (t * batch + b) * 3);
    ys.data.set(targets[b][t], (t * batch + b) * 2);
  }
  const r = new Bptt(model).run(xs, sequenceLoss({ kind: 'mse', targets: ys, mask: null, batch }), { batch });
  assert.ok(Object.is(viaNetwork.loss, r.loss), `${viaNetwork.loss} vs ${r.loss}`);
  same(viaNetwork.grad, r.grad, 'gradient');
  // And the same description (same seed) gives the same weights.
  same(createNetwork(net.description).model.params.theta, net.model.params.theta, 'rebuilt weights');
});

test('class-index targets equal one-hot targets; batch first equals time major; flat equals nested', () => {
  const net = createNetwork({ inputSize: 2, cell: 'elman', hiddenSize: 4, output: { size: 3 }, loss: 'softmax-ce', seed: 8 });
  const T = 5;
  const inputs = [vectors(T, 2), vectors(T, 2), vectors(T, 2)];
  const classes = inputs.map(() => Array.from({ length: T }, () => rng.int(3)));
  const oneHot = classes.map((s) => s.map((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0))));
  const a = net.gradient({ inputs, targets: classes });
  const b = net.gradient({ inputs, targets: oneHot });
  same(a.grad, b.grad, 'class indices vs one-hot');
  const timeMajor = <E,>(x: E[][]): E[][] => Array.from({ length: T }, (_, t) => x.map((s) => s[t]));
  const c = net.gradient({ inputs: timeMajor(inputs), targets: timeMajor(classes), batchFirst: false });
  same(a.grad, c.grad, 'batch first vs time major');
  const flat = { data: inputs.flat(2), shape: [3, T, 2] };
  const d = net.gradient({ inputs: flat, targets: { data: classes.flat(), shape: [3, T] } });
  same(a.grad, d.grad, 'flat vs nested');
  const p = net.predict(inputs) as Float64Array[][], q = net.predict(timeMajor(inputs), { batchFirst: false }) as Float64Array[][];
  for (let s = 0; s < 3; s++) for (let t = 0; t < T; t++) same(p[s][t], q[t][s], `predict ${s},${t}`);
  // Softmax outputs: each row sums to 1.
  for (const row of p[0]) assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-15);
});

test('padded variable-length data equals each sequence alone (outputs and the mean-loss gradient)', () => {
  const net = createNetwork({ inputSize: 2, hiddenSize: 4, layers: 2, output: { size: 2 }, loss: 'bce', seed: 9 });
  const lengths = [5, 2, 4];
  const seqs = lengths.map((L) => vectors(L, 2));
  const targets = lengths.map((L) => Array.from({ length: L }, () => [rng.int(2), rng.int(2)]));
  // Padded to 5 steps with NaN: the padding must never be read.
  const padded = seqs.map((s) => [...s, ...Array.from({ length: 5 - s.length }, () => [NaN, NaN])]);
  const paddedTargets = targets.map((s) => [...s, ...Array.from({ length: 5 - s.length }, () => [0, 0])]);
  const all = net.predict(padded, { lengths }) as Float64Array[][];
  const ragged = net.predict(seqs) as Float64Array[][];
  const together = net.gradient({ inputs: padded, targets: paddedTargets, lengths });
  const expected = new Float64Array(together.grad.length);
  let n = 0;
  seqs.forEach((s, b) => {
    const alone = net.predict([s]) as Float64Array[][];
    assert.is(all[b].length, lengths[b]);
    for (let t = 0; t < lengths[b]; t++) {
      assert.ok(relErr(all[b][t], alone[0][t]) < REORDERED, `sequence ${b} step ${t}`);
      same(ragged[b][t], all[b][t], `ragged vs padded ${b},${t}`);
    }
    const g = net.gradient({ inputs: [s], targets: [targets[b]] });
    // The mean over all targets is the targets-weighted mean of each sequence's mean.
    for (let i = 0; i < g.grad.length; i++) expected[i] += g.grad[i] * lengths[b] * 2;
    n += lengths[b] * 2;
  });
  for (let i = 0; i < expected.length; i++) expected[i] /= n;
  assert.ok(relErr(together.grad, expected) < REORDERED, `gradient ${relErr(together.grad, expected)}`);
});

test('the embedding is differentiated in both modes: Rtrl and Tbptt give Bptt\'s gradient, and finite differences agree', () => {
  const net = createNetwork({ embedding: { vocabSize: 5, size: 3 }, cell: 'gru', hiddenSize: 4, output: { size: 5 }, loss: 'softmax-ce', initialState: 'learned', seed: 6 });
  const data = { inputs: [[1, 4, 4, 0, 2], [3, 3, 1, 0, 0]], targets: [[4, 4, 0, 2, 1], [3, 1, 0, 0, 2]], lengths: [5, 3] };
  const bptt = net.gradient(data);
  const rtrl = net.gradient(data, { method: 'rtrl' });
  const tbptt = net.gradient(data, { method: 'tbptt:5' });
  assert.ok(relErr(rtrl.grad, bptt.grad) < METHODS_AGREE, `rtrl ${relErr(rtrl.grad, bptt.grad)}`);
  assert.ok(relErr(tbptt.grad, bptt.grad) < METHODS_AGREE, `tbptt ${relErr(tbptt.grad, bptt.grad)}`);
  const spec = net.model.params.specs.findIndex((s) => s.name === 'embedding_weight');
  const at = net.model.params.offsets[spec];
  const theta = net.model.params.theta;
  let touched = 0;
  for (let i = at; i < at + 15; i++) {
    const keep = theta[i], h = 1e-6;
    theta[i] = keep + h; const up = net.gradient(data).loss;
    theta[i] = keep - h; const down = net.gradient(data).loss;
    theta[i] = keep;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - bptt.grad[i]) < 1e-7 * (1 + Math.abs(fd)), `embedding entry ${i - at}: fd ${fd} vs ${bptt.grad[i]}`);
    if (bptt.grad[i] !== 0) touched++;
  }
  // Rows 0-4 are all read except none: every row appears in the inputs, so every entry moves.
  assert.is(touched, 15);
});

test('save -> load: identical predictions bit for bit, identical description, PyTorch names; the loaded network continues fitting', () => {
  const vocab = Vocabulary.fromText('hello world');
  const description: NetworkDescription = { embedding: { vocabSize: vocab.size, size: 5 }, hiddenSize: 6, layers: 2, output: { size: vocab.size }, loss: 'softmax-ce', seed: 12, vocabulary: [...vocab.symbols] };
  const net = createNetwork(description);
  const data = nextSymbolData(vocab.encode('hello world hello world'), 6, 3);
  net.fit(data, { epochs: 2, batchSize: 2 });
  const bytes = net.save();
  const loaded = loadNetwork(bytes);
  assert.equal(loaded.description, net.description);
  const inputs = ['hello', 'world ', 'o'];
  const a = net.predict(inputs) as Float64Array[][], b = loaded.predict(inputs) as Float64Array[][];
  a.forEach((seq, s) => seq.forEach((row, t) => same(row, b[s][t], `sequence ${s} step ${t}`)));
  const names = [...readSafetensors(bytes).tensors.keys()].sort();
  assert.equal(names, ['embedding.weight', 'linear.bias', 'linear.weight',
    'rnn.bias_hh_l0', 'rnn.bias_hh_l1', 'rnn.bias_ih_l0', 'rnn.bias_ih_l1', 'rnn.weight_hh_l0', 'rnn.weight_hh_l1', 'rnn.weight_ih_l0', 'rnn.weight_ih_l1']);
  const metadata = readSafetensors(bytes).metadata;
  assert.equal(JSON.parse(metadata.vocabulary), vocab.symbols);
  // Fitting on from the loaded copy goes exactly as fitting on from the original.
  const h1 = net.fit(data, { epochs: 2, batchSize: 2, seed: 7 });
  const h2 = loaded.fit(data, { epochs: 2, batchSize: 2, seed: 7 });
  assert.equal(h1.epochs.map((e) => e.loss), h2.epochs.map((e) => e.loss));
  same(net.model.params.theta, loaded.model.params.theta, 'weights after fitting on');
  assert.ok(h2.epochs[1].loss < h2.epochs[0].loss + 1, 'finite losses');
});

test('every cell kind, deep and bidirectional, with a learned initial state: save -> load gives the same predictions bit for bit', async () => {
  const { CELL_KINDS } = await import('../../lib/cells/registry.js');
  const inputs = [vectors(4, 2), vectors(3, 2)];
  for (const cell of CELL_KINDS) {
    for (const variant of [{}, { layers: 2, bidirectional: true }, { initialState: 'learned' as const, layers: 2 }]) {
      const net = createNetwork({ inputSize: 2, cell, hiddenSize: 3, output: { size: 2 }, loss: 'mse', seed: 5, ...variant });
      net.fit({ inputs, targets: [vectors(4, 2), vectors(3, 2)] }, { epochs: 1 });
      const loaded = loadNetwork(net.save());
      assert.equal(loaded.description, net.description);
      const a = net.predict(inputs) as Float64Array[][], b = loaded.predict(inputs) as Float64Array[][];
      a.forEach((seq, i) => seq.forEach((row, t) => same(row, b[i][t], `${cell} ${JSON.stringify(variant)} ${i},${t}`)));
    }
  }
});

test('train() / eval(): dropout on in train mode, off in eval mode and always off in predict', () => {
  const base: NetworkDescription = { inputSize: 2, hiddenSize: 5, layers: 3, output: { size: 2 }, loss: 'mse', seed: 21 };
  const dropped = createNetwork({ ...base, dropout: 0.5 });
  const plain = createNetwork(base);
  same(dropped.model.params.theta, plain.model.params.theta, 'same weights (dropout does not touch the initialisation)');
  const data = { inputs: [vectors(4, 2), vectors(4, 2)], targets: [vectors(4, 2), vectors(4, 2)] };
  assert.ok(dropped.training);
  const p1 = dropped.predict(data.inputs) as Float64Array[][], p2 = dropped.predict(data.inputs) as Float64Array[][], p0 = plain.predict(data.inputs) as Float64Array[][];
  p1.forEach((s, b) => s.forEach((row, t) => { same(row, p2[b][t], 'predict twice'); same(row, p0[b][t], 'predict vs no dropout'); }));
  const reference = plain.gradient(data).grad;
  const inTrain = dropped.gradient(data).grad;
  assert.ok(relErr(inTrain, reference) > 1e-3, 'train mode: dropout changes the gradient');
  dropped.eval();
  assert.not.ok(dropped.training);
  same(dropped.gradient(data).grad, reference, 'eval mode: no dropout');
  // fit trains with dropout (also when the network is in eval mode) and puts the mode back; the
  // validation after each epoch runs without dropout and changes nothing of the training.
  const twin = createNetwork({ ...base, dropout: 0.5 }), other = createNetwork({ ...base, dropout: 0.5 });
  twin.eval();
  const withValidation = twin.fit(data, { epochs: 3, batchSize: 1, seed: 4, validation: data });
  other.fit(data, { epochs: 3, batchSize: 1, seed: 4 });
  assert.not.ok(twin.training);
  assert.ok(other.training);
  same(twin.model.params.theta, other.model.params.theta, 'fit with and without validation');
  assert.ok(withValidation.epochs.every((e) => e.validation !== null));
  const noDropout = createNetwork(base);
  noDropout.fit(data, { epochs: 3, batchSize: 1, seed: 4 });
  assert.ok(relErr(noDropout.model.params.theta, other.model.params.theta) > 1e-6, 'fit used dropout');
  dropped.fit(data, { epochs: 1 });
  assert.not.ok(dropped.training);
  assert.ok(dropped.train().training);
});

test('step() / resetState() equal predict on the same sequence; generate is seeded, greedy at topK 1, within topK', () => {
  const vocab = Vocabulary.fromText('abcde');
  const net = createNetwork({ embedding: { vocabSize: 5, size: 4 }, hiddenSize: 8, output: { size: 5 }, loss: 'softmax-ce', seed: 31, vocabulary: [...vocab.symbols] });
  const seq = [0, 3, 1, 4, 4, 2];
  const whole = (net.predict([seq]) as Float64Array[][])[0];
  for (let round = 0; round < 2; round++) {
    net.resetState();
    seq.forEach((s, t) => same(net.step(s), whole[t], `round ${round} step ${t}`));
  }
  const a = net.generate({ prime: 'ab', length: 40, seed: 5 });
  const b = net.generate({ prime: 'ab', length: 40, seed: 5 });
  const c = net.generate({ prime: 'ab', length: 40, seed: 6 });
  assert.is(a.length, 40);
  assert.is(a, b);
  assert.is.not(a, c);
  // topK 1: the argmax of every step's output, replayed by hand with step().
  const greedy = net.generateIndices({ prime: [0, 1], length: 15, topK: 1, seed: 9 });
  net.resetState();
  let out = net.step(0);
  out = net.step(1);
  for (let i = 0; i < 15; i++) {
    let best = 0;
    for (let k = 1; k < 5; k++) if (out[k] > out[best]) best = k;
    assert.is(greedy[i], best, `greedy symbol ${i}`);
    out = net.step(best);
  }
  // topK 2: every symbol is among the two most likely after what came before.
  const two = net.generateIndices({ prime: [2], length: 30, topK: 2, temperature: 3, seed: 1 });
  net.resetState();
  out = net.step(2);
  for (let i = 0; i < 30; i++) {
    const rank = Array.from(out).filter((p) => p > out[two[i]]).length;
    assert.ok(rank < 2, `symbol ${i} has rank ${rank}`);
    out = net.step(two[i]);
  }
});

test('temperature: sampling frequencies follow softmax(logits / T)', async () => {
  const { sampleSymbol } = await import('../../lib/train/network.js');
  const z = new Float64Array([0, 1, 2, -1]);
  for (const T of [0.5, 1, 3]) {
    const r = new Rng(17), counts = [0, 0, 0, 0], n = 40000;
    const order = new Int32Array(4), weights = new Float64Array(4);
    for (let i = 0; i < n; i++) counts[sampleSymbol(z, 0, 4, T, 4, r, order, weights)]++;
    const e = Array.from(z, (v) => Math.exp(v / T)), s = e.reduce((a, b) => a + b, 0);
    e.forEach((p, k) => assert.ok(Math.abs(counts[k] / n - p / s) < 0.01, `T ${T}, symbol ${k}: ${counts[k] / n} vs ${p / s}`));
  }
});

test('fit stops cleanly on an aborted signal and by early stopping, returning what was done', () => {
  const net = createNetwork({ inputSize: 1, hiddenSize: 3, output: { size: 2 }, loss: 'softmax-ce', shape: 'many-to-one', seed: 1 });
  const data = signOfSum(40, new Rng(3));
  const train = { inputs: data.inputs, targets: data.targets };
  const signal = { aborted: false };
  let batches = 0;
  const h = net.fit(train, { epochs: 5, batchSize: 8, signal, onProgress: () => { if (++batches === 3) signal.aborted = true; } });
  assert.is(h.stop.reason, 'aborted');
  assert.is(h.iterations, 3);
  assert.is(h.epochs.length, 1);
  assert.is(h.epochs[0].batches, 3);
  const none = net.fit(train, { signal: { aborted: true } });
  assert.is(none.iterations, 0);
  // lr 0: the validation loss never improves after the first epoch, so patience 2 stops after epoch 3.
  const early = net.fit(train, { epochs: 10, batchSize: 8, optimizer: { kind: 'sgd', lr: 0 }, validation: train, earlyStopping: { patience: 2 } });
  assert.is(early.stop.reason, 'early-stopping');
  assert.is(early.epochs.length, 3);
  assert.ok(early.epochs.every((e) => e.validation !== null && e.validation.loss === early.epochs[0].validation!.loss));
});

test('ctc: fit lowers the loss and the label error rate of greedy decoding', () => {
  // Frames: each label k in 1..3 shows as two frames of one-hot k, with a blank frame (one-hot 0) between labels.
  const r = new Rng(4);
  const make = (count: number) => {
    const inputs: number[][][] = [], targets: number[][] = [];
    for (let b = 0; b < count; b++) {
      const labels = Array.from({ length: 1 + r.int(3) }, () => 1 + r.int(3));
      const frames: number[][] = [];
      for (const k of labels) { frames.push([0, 1, 2, 3].map((j) => (j === k ? 1 : 0)), [0, 1, 2, 3].map((j) => (j === k ? 1 : 0)), [1, 0, 0, 0]); }
      inputs.push(frames);
      targets.push(labels);
    }
    return { inputs, targets };
  };
  const net = createNetwork({ inputSize: 4, hiddenSize: 8, output: { size: 4 }, loss: 'ctc', seed: 2 });
  const data = make(40), held = make(20);
  const before = net.evaluate(held);
  net.fit(data, { epochs: 30, batchSize: 10, optimizer: { kind: 'adam', lr: 0.05 } });
  const after = net.evaluate(held);
  assert.ok(after.loss < 0.5 * before.loss, `ctc loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.labelErrorRate! < 0.2 && after.labelErrorRate! < before.labelErrorRate!, `label error rate ${before.labelErrorRate} -> ${after.labelErrorRate}`);
});

test('a vocabulary without embedding reads one-hot symbols: predict and step equal a vector network given the one-hot rows', () => {
  const symbols = ['x', 'y', 'z'];
  const text = createNetwork({ inputSize: 3, hiddenSize: 4, output: { size: 3 }, loss: 'softmax-ce', seed: 13, vocabulary: symbols });
  const vec = createNetwork({ inputSize: 3, hiddenSize: 4, output: { size: 3 }, loss: 'softmax-ce', seed: 13 });
  const oneHot = (s: string) => Array.from(s, (c) => symbols.map((v) => (v === c ? 1 : 0)));
  const words = ['xyzzy', 'zx'];
  const a = text.predict(words) as Float64Array[][], b = vec.predict(words.map(oneHot)) as Float64Array[][];
  a.forEach((seq, i) => seq.forEach((row, t) => same(row, b[i][t], `${words[i]} step ${t}`)));
  for (const w of words) {
    text.resetState();
    const whole = (text.predict([w]) as Float64Array[][])[0];
    Array.from(w).forEach((c, t) => same(text.step(symbols.indexOf(c)), whole[t], `stream ${w} step ${t}`));
  }
  assert.is(text.generate({ prime: 'xy', length: 5, seed: 2 }).length, 5);
});

test('one-to-many: one symbol in, a counting sequence out (its own length per sequence); predict makes `steps` outputs', () => {
  const r = new Rng(8);
  const make = (count: number) => {
    const inputs: number[] = [], targets: number[][] = [];
    for (let b = 0; b < count; b++) {
      const k = r.int(4), L = 2 + r.int(4);
      inputs.push(k);
      targets.push(Array.from({ length: L }, (_, t) => (k + t) % 4));
    }
    return { inputs, targets };
  };
  const net = createNetwork({ embedding: { vocabSize: 4, size: 3 }, hiddenSize: 10, output: { size: 4 }, loss: 'softmax-ce', shape: 'one-to-many', seed: 5 });
  const before = net.evaluate(make(40));
  net.fit(make(60), { epochs: 20, batchSize: 12, optimizer: { kind: 'adam', lr: 0.05 } });
  const after = net.evaluate(make(40));
  assert.ok(after.accuracy! > 0.9 && after.loss < 0.5 * before.loss, `accuracy ${before.accuracy} -> ${after.accuracy}, loss ${before.loss} -> ${after.loss}`);
  const out = net.predict([2, 0], { steps: 4 }) as Float64Array[][];
  assert.is(out.length, 2);
  assert.is(out[0].length, 4);
  // The same as a many-to-many network with the same weights reading the symbol at every step.
  const m2m = createNetwork({ ...net.description, shape: 'many-to-many' });
  m2m.model.params.theta.set(net.model.params.theta);
  const ref = m2m.predict([[2, 2, 2, 2], [0, 0, 0, 0]]) as Float64Array[][];
  out.forEach((seq, b) => seq.forEach((row, t) => same(row, ref[b][t], `sequence ${b} step ${t}`)));
  const argmax = (row: Float64Array) => row.indexOf(Math.max(...row));
  assert.equal(out[0].map(argmax), [2, 3, 0, 1]);
});

test('Vocabulary: sorted distinct characters, encode/decode round trip', () => {
  const v = Vocabulary.fromText('banana!');
  assert.equal(v.symbols, ['!', 'a', 'b', 'n']);
  assert.equal(Array.from(v.encode('nab')), [3, 1, 2]);
  assert.is(v.decode(v.encode('banana')), 'banana');
});

test.run();
