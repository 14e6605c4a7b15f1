// The seq2seq network (N to M): its gradient is the two-model chained Bptt of
// spec/rnn/seq2seq.spec.ts (encoder and decoder as separate models, the decoder's d loss / d h_0
// fed back as the encoder's final-state cotangent) and finite differences; every method agrees;
// beam search equals an exhaustive search over every sequence (width >= V^maxLength) and greedy
// decoding (width 1); a reversal toy is learned; save/load is exact; bad input is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetwork, loadNetwork, type Network, type NetworkData, type NetworkDescription } from '../../lib/train/index.js';
import { checkDescription } from '../../lib/train/network-description.js';
import { seq2seqParts } from '../../lib/train/network-build.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { ConfigError, ShapeError } from '../../lib/mat/errors.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { relErr } from '../helpers.js';
import { FD_NETWORK, FD_STEP, METHODS_AGREE, REORDERED } from '../tolerances.js';

/** Random pairs: sources of 2..5 steps (symbols in [0, V) or vectors of F), targets of 1..4 symbols in [0, C). */
function pairs(count: number, r: Rng, source: { V?: number; F?: number }, C: number): NetworkData {
  const inputs: (number[] | number[][])[] = [], targets: number[][] = [];
  for (let b = 0; b < count; b++) {
    const N = 2 + r.int(4), M = 1 + r.int(4);
    inputs.push(source.V !== undefined
      ? Array.from({ length: N }, () => r.int(source.V!))
      : Array.from({ length: N }, () => Array.from({ length: source.F! }, () => r.normal(0, 1))));
    targets.push(Array.from({ length: M }, () => r.int(C)));
  }
  return { inputs: inputs as NetworkData['inputs'], targets };
}

/**
 * The same loss and gradient by two separate models chained through the handed-over state:
 * Bptt on the encoder (its final state), Bptt on the decoder from it (initialStateGrad), Bptt on
 * the encoder again with that cotangent on its final state. Returns the gradient laid out like
 * the network's theta (encoder, decoder, learned initial state).
 */
function chainedGradient(net: Network, data: NetworkData): { loss: number; grad: Float64Array } {
  const full = net.description;
  const { encoder, decoder } = seq2seqParts(full);
  const theta = net.model.params.theta;
  const nEnc = encoder.paramSpecs.reduce((n, s) => n + s.rows * s.cols, 0);
  const nDec = decoder.paramSpecs.reduce((n, s) => n + s.rows * s.cols, 0);
  const learned = full.initialState === 'learned';
  // The encoder model owns the learned initial state: its theta is the encoder's then the init's.
  const encTheta = new Float64Array(theta.length - nDec);
  encTheta.set(theta.subarray(0, nEnc));
  encTheta.set(theta.subarray(nEnc + nDec), nEnc);
  const encModel: RecurrentModel = createModel(encoder, { initialState: full.initialState, theta: encTheta });
  const decModel: RecurrentModel = createModel(decoder, { theta: theta.slice(nEnc, nEnc + nDec) });
  const sources = data.inputs as (number[] | number[][])[], targets = data.targets as number[][];
  const N = sources.length, C = full.output.size, F = encoder.inputSize;
  const Ls = Int32Array.from(sources, (s) => s.length), Lt = Int32Array.from(targets, (t) => t.length);
  const Ts = Math.max(...Ls), Tt = Math.max(...Lt);
  const xs = mat(Ts * N, F);
  sources.forEach((s, b) => s.forEach((v, t) => {
    if (typeof v === 'number') xs.data[(t * N + b) * F] = v;
    else xs.data.set(v, (t * N + b) * F);
  }));
  const ys = mat(Tt * N, 1), tg = mat(Tt * N, C), mask = mat(Tt * N, 1);
  targets.forEach((s, b) => s.forEach((c, j) => {
    ys.data[j * N + b] = j === 0 ? C : s[j - 1];
    tg.data[(j * N + b) * C + c] = 1;
    mask.data[j * N + b] = 1;
  }));
  const encoded = new Bptt(encModel).run(xs, {}, { batch: N, lengths: Ls });
  const decoded = new Bptt(decModel).run(ys, sequenceLoss({ kind: 'softmax-ce', targets: tg, mask, batch: N }), { batch: N, lengths: Lt, initialState: encoded.finalState });
  const carried = decoded.initialStateGrad! as readonly Mat[];
  const back = new Bptt(encModel).run(xs, {
    final: (g, state) => {
      let total = g.dot(state[0], g.constant(carried[0]));
      for (let i = 1; i < state.length; i++) total = g.add(total, g.dot(state[i], g.constant(carried[i])));
      return total;
    },
  }, { batch: N, lengths: Ls });
  const grad = new Float64Array(theta.length);
  grad.set(back.grad.subarray(0, nEnc));
  grad.set(decoded.grad, nEnc);
  if (learned) grad.set(back.grad.subarray(nEnc), nEnc + nDec);
  return { loss: decoded.loss, grad };
}

const CASES: { name: string; description: NetworkDescription; source: { V?: number; F?: number } }[] = [
  { name: 'two LSTM layers, symbols in (embedding)', description: { shape: 'seq2seq', embedding: { vocabSize: 5, size: 3 }, cell: 'lstm', hiddenSize: 4, layers: 2, output: { size: 4 }, loss: 'softmax-ce', decoder: { embeddingSize: 2 }, seed: 5 }, source: { V: 5 } },
  { name: 'a GRU over feature vectors, learned initial state', description: { shape: 'seq2seq', inputSize: 3, cell: 'gru', hiddenSize: 5, output: { size: 3 }, loss: 'softmax-ce', initialState: 'learned', seed: 6 }, source: { F: 3 } },
];

for (const { name, description, source } of CASES) {
  test(`seq2seq gradient (${name}) = the two-model chained Bptt, and finite differences`, () => {
    const net = createNetwork(description);
    // A learned initial state starts at zero: move it so its gradient path is exercised.
    const theta = net.model.params.theta, r = new Rng(7);
    for (let i = 0; i < theta.length; i++) theta[i] += 0.1 * r.normal(0, 1);
    const data = pairs(4, new Rng(8), source, description.output.size);
    const viaNetwork = net.gradient(data);
    const chained = chainedGradient(net, data);
    assert.ok(Math.abs(viaNetwork.loss - chained.loss) <= REORDERED * chained.loss, `loss ${viaNetwork.loss} vs ${chained.loss}`);
    assert.ok(relErr(viaNetwork.grad, chained.grad) < REORDERED, `gradient vs chained Bptt: relErr ${relErr(viaNetwork.grad, chained.grad)}`);
    // Every part of theta gets a gradient (encoder, decoder, initial state).
    const { encoder } = seq2seqParts(net.description);
    const nEnc = encoder.paramSpecs.reduce((n, s) => n + s.rows * s.cols, 0);
    assert.ok(viaNetwork.grad.subarray(0, nEnc).some((v) => v !== 0) && viaNetwork.grad.subarray(nEnc).some((v) => v !== 0));
    // Central differences of evaluate's loss (the same mean over target symbols), 12 coordinates.
    for (let n = 0; n < 12; n++) {
      const i = r.int(theta.length), saved = theta[i];
      theta[i] = saved + FD_STEP; const plus = net.evaluate(data).loss;
      theta[i] = saved - FD_STEP; const minus = net.evaluate(data).loss;
      theta[i] = saved;
      const fd = (plus - minus) / (2 * FD_STEP);
      assert.ok(Math.abs(fd - viaNetwork.grad[i]) <= FD_NETWORK * Math.max(1, Math.abs(fd)), `theta[${i}]: fd ${fd} vs ${viaNetwork.grad[i]}`);
    }
  });
}

test('seq2seq: rtrl and tbptt (one window) give bptt\'s gradient through the handed-over state', () => {
  const net = createNetwork(CASES[0].description);
  const data = pairs(3, new Rng(9), CASES[0].source, 4);
  const bptt = net.gradient(data);
  for (const method of ['rtrl', 'tbptt:9']) {
    const other = net.gradient(data, { method });
    assert.ok(relErr(other.grad, bptt.grad) < METHODS_AGREE * 10, `${method}: relErr ${relErr(other.grad, bptt.grad)}`);
  }
});

test('seq2seq sources in every form give the same gradient: nested, time major padded, flat padded; strings with a vocabulary', () => {
  const net = createNetwork(CASES[0].description);
  const sources = [[1, 2, 3, 4], [0, 4], [3, 3, 1]], targets = [[1, 2], [3], [0, 0, 2]];
  const nested = net.gradient({ inputs: sources, targets });
  const lengths = sources.map((s) => s.length), T = Math.max(...lengths);
  const padded = sources.map((s) => [...s, ...Array<number>(T - s.length).fill(0)]);
  const timeMajor = net.gradient({ inputs: Array.from({ length: T }, (_, t) => padded.map((s) => s[t])), batchFirst: false, lengths, targets });
  const flat = net.gradient({ inputs: { data: padded.flat(), shape: [3, T] }, lengths, targets });
  for (const [what, r] of [['time major', timeMajor], ['flat', flat]] as const) {
    assert.ok(Math.abs(r.loss - nested.loss) <= REORDERED * nested.loss && relErr(r.grad, nested.grad) <= REORDERED, what);
  }
  // A vocabulary without an embedding: the source one-hot; a string is its symbols' indices.
  const text = createNetwork({ shape: 'seq2seq', inputSize: 3, vocabulary: ['a', 'b', 'c'], cell: 'gru', hiddenSize: 4, output: { size: 3 }, loss: 'softmax-ce', seed: 2 });
  assert.equal(text.decode(['abc', 'ca'], { maxLength: 4, beamWidth: 2 }), text.decode([[0, 1, 2], [2, 0]], { maxLength: 4, beamWidth: 2 }));
  const a = text.gradient({ inputs: ['abc', 'ca'], targets: [[1], [2, 0]] }), b = text.gradient({ inputs: [[0, 1, 2], [2, 0]], targets: [[1], [2, 0]] });
  assert.equal(Array.from(a.grad), Array.from(b.grad));
  assert.ok(a.grad.some((v) => v !== 0));
});

test('seq2seq dropout: on in both halves in train mode, off in eval mode and in decode', () => {
  const base = { ...CASES[0].description, seed: 17 };
  const plain = createNetwork(base), dropped = createNetwork({ ...base, dropout: 0.5 });
  assert.equal(Array.from(dropped.model.params.theta), Array.from(plain.model.params.theta));
  const data = pairs(4, new Rng(18), CASES[0].source, 4);
  const reference = plain.gradient(data).grad, inTrain = dropped.gradient(data).grad;
  const { encoder } = seq2seqParts(plain.description);
  const nEnc = encoder.paramSpecs.reduce((n, sp) => n + sp.rows * sp.cols, 0);
  // Each half's own gradient changes: dropout acts between the encoder's layers and the decoder's.
  assert.ok(relErr(inTrain.subarray(0, nEnc), reference.subarray(0, nEnc)) > 1e-3, 'train mode: the encoder\'s gradient changes');
  assert.ok(relErr(inTrain.subarray(nEnc), reference.subarray(nEnc)) > 1e-3, 'train mode: the decoder\'s gradient changes');
  dropped.eval();
  assert.equal(Array.from(dropped.gradient(data).grad), Array.from(reference), 'eval mode: no dropout');
  dropped.train();
  const sources = data.inputs as number[][];
  assert.equal(dropped.decode(sources, { maxLength: 4, beamWidth: 2 }), plain.decode(sources, { maxLength: 4, beamWidth: 2 }), 'decode never drops');
  assert.ok(dropped.training, 'decode puts the mode back');
});

// ---- decoding ----

/** log p(symbols [+ end]) rescored with teacher forcing through the whole stream: -loss · count. */
function logProbOf(net: Network, source: number[], symbols: ArrayLike<number>, end: number | null): number {
  const target = end === null ? Array.from(symbols) : [...Array.from(symbols), end];
  return -net.evaluate({ inputs: [source], targets: [target] }).loss * target.length;
}

/** Every sequence over V symbols up to maxLength: those closed by end, and the unended ones of exactly maxLength. */
function bruteForce(net: Network, source: number[], V: number, end: number, maxLength: number): { symbols: number[]; logProb: number; ended: boolean } {
  let best = { symbols: [] as number[], logProb: -Infinity, ended: false };
  const visit = (prefix: number[]) => {
    const closed = logProbOf(net, source, prefix, end);
    if (closed > best.logProb) best = { symbols: prefix, logProb: closed, ended: true };
    if (prefix.length === maxLength - 1) {
      for (let c = 0; c < V; c++) {
        if (c === end) continue;
        const open = logProbOf(net, source, [...prefix, c], null);
        if (open > best.logProb) best = { symbols: [...prefix, c], logProb: open, ended: false };
      }
      return;
    }
    for (let c = 0; c < V; c++) if (c !== end) visit([...prefix, c]);
  };
  visit([]);
  return best;
}

test('beam search with width >= V^maxLength is the exhaustive search; width 1 is greedy decoding', () => {
  const V = 3, end = 0, maxLength = 4;
  const net = createNetwork({ shape: 'seq2seq', embedding: { vocabSize: 4, size: 3 }, cell: 'gru', hiddenSize: 6, output: { size: V }, loss: 'softmax-ce', seed: 11 });
  // Larger weights: sharper, more varied distributions, where greedy and the best sequence part.
  const theta = net.model.params.theta;
  for (let i = 0; i < theta.length; i++) theta[i] *= 3;
  const r = new Rng(12);
  const sources = Array.from({ length: 12 }, () => Array.from({ length: 2 + r.int(3) }, () => r.int(4)));
  const exhaustive = net.decode(sources, { maxLength, end, beamWidth: V ** maxLength });
  const greedy = net.decode(sources, { maxLength, end });
  const widthOne = net.decode(sources, { maxLength, end, beamWidth: 1 });
  let parted = 0;
  sources.forEach((source, b) => {
    const want = bruteForce(net, source, V, end, maxLength);
    const got = exhaustive[b];
    assert.equal(Array.from(got.symbols), want.symbols, `source ${b}: beam ${Array.from(got.symbols)} vs brute force ${want.symbols}`);
    assert.is(got.ended, want.ended);
    assert.ok(Math.abs(got.logProb - want.logProb) <= 1e-12 * Math.abs(want.logProb), `source ${b}: log p ${got.logProb} vs ${want.logProb}`);
    assert.equal(Array.from(widthOne[b].symbols), Array.from(greedy[b].symbols), `source ${b}: width 1 vs greedy`);
    assert.is(widthOne[b].ended, greedy[b].ended);
    assert.ok(Math.abs(widthOne[b].logProb - greedy[b].logProb) <= 1e-12 * Math.abs(greedy[b].logProb));
    // Greedy's score is its sequence's probability, rescored by teacher forcing.
    const rescored = logProbOf(net, source, greedy[b].symbols, greedy[b].ended ? end : null);
    assert.ok(Math.abs(greedy[b].logProb - rescored) <= 1e-12 * Math.abs(rescored), `source ${b}: greedy log p ${greedy[b].logProb} vs ${rescored}`);
    assert.ok(got.logProb >= greedy[b].logProb - 1e-12 * Math.abs(got.logProb), 'the best sequence is at least as likely as greedy\'s');
    if (Array.from(got.symbols).join() !== Array.from(greedy[b].symbols).join()) parted++;
  });
  // The check has teeth: on some sources the most likely sequence is not greedy's.
  assert.ok(parted > 0, 'greedy found the best sequence on every source: the comparison would not tell beam search from greedy');
});

test('decode without an end symbol emits maxLength symbols; a narrow beam scores between greedy and exhaustive', () => {
  const net = createNetwork({ shape: 'seq2seq', embedding: { vocabSize: 4, size: 3 }, cell: 'lstm', hiddenSize: 5, output: { size: 3 }, loss: 'softmax-ce', seed: 13 });
  const sources = [[1, 2, 3], [0, 0], [3, 1, 2, 0, 1]];
  for (const d of net.decode(sources, { maxLength: 5 })) {
    assert.is(d.symbols.length, 5);
    assert.is(d.ended, false);
  }
  const greedy = net.decode(sources, { maxLength: 3 }), beam = net.decode(sources, { maxLength: 3, beamWidth: 2 }), all = net.decode(sources, { maxLength: 3, beamWidth: 27 });
  sources.forEach((_, b) => {
    assert.ok(beam[b].logProb >= greedy[b].logProb - 1e-12 && all[b].logProb >= beam[b].logProb - 1e-12, `source ${b}: ${greedy[b].logProb} <= ${beam[b].logProb} <= ${all[b].logProb}`);
  });
});

// ---- learning ----

/** Reverse a sequence of 2..4 symbols from 1..5, then the end symbol 0. */
function reversal(count: number, r: Rng): NetworkData & { inputs: number[][]; targets: number[][] } {
  const inputs: number[][] = [], targets: number[][] = [];
  for (let b = 0; b < count; b++) {
    const s = Array.from({ length: 2 + r.int(3) }, () => 1 + r.int(5));
    inputs.push(s);
    targets.push([...s].reverse().concat([0]));
  }
  return { inputs, targets };
}

test('fit learns to reverse a sequence: decoded exactly far above chance', () => {
  const net = createNetwork({ shape: 'seq2seq', embedding: { vocabSize: 6, size: 8 }, cell: 'gru', hiddenSize: 32, output: { size: 6 }, loss: 'softmax-ce', seed: 1 });
  const train = reversal(256, new Rng(1)), held = reversal(100, new Rng(2));
  const before = net.evaluate(held);
  const history = net.fit(train, { epochs: 14, batchSize: 32, optimizer: { kind: 'adam', lr: 0.02 } });
  const after = net.evaluate(held);
  assert.is(history.stop.reason, 'completed');
  assert.ok(after.loss < 0.3 * before.loss, `held-out loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy! > 0.85, `teacher-forced symbol accuracy ${after.accuracy}`);
  const decoded = net.decode(held.inputs, { maxLength: 6, end: 0 });
  const exact = decoded.filter((d, b) => d.ended && Array.from(d.symbols).join() === held.targets[b].slice(0, -1).join()).length / decoded.length;
  // Chance of one exact reversal is at most 5^-2 · 1/6.
  assert.ok(exact > 0.6, `exactly reversed ${exact} of the held-out sequences`);
});

// ---- files and errors ----

test('seq2seq save/load: the same weights bit for bit, encoder and decoder under their module names, the same decoding', () => {
  const net = createNetwork({ shape: 'seq2seq', embedding: { vocabSize: 5, size: 3 }, cell: 'lstm', hiddenSize: 4, layers: 2, output: { size: 4 }, loss: 'softmax-ce', initialState: 'learned', seed: 21 });
  const bytes = net.save();
  const names = [...readSafetensors(bytes).tensors.keys()];
  for (const n of ['encoder.embedding.weight', 'encoder.rnn.weight_ih_l0', 'encoder.rnn.weight_hh_l1', 'decoder.embedding.weight', 'decoder.rnn.weight_ih_l1', 'decoder.linear.weight', 'decoder.linear.bias']) {
    assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  }
  const back = loadNetwork(bytes);
  assert.equal(back.description, net.description);
  const a = net.model.params.theta, b = back.model.params.theta;
  assert.is(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `theta[${i}]`);
  const sources = [[1, 2, 3], [4, 0]];
  assert.equal(back.decode(sources, { maxLength: 4, beamWidth: 3 }), net.decode(sources, { maxLength: 4, beamWidth: 3 }));
});

test('seq2seq refuses what it cannot do, naming the field', () => {
  const base: NetworkDescription = { shape: 'seq2seq', embedding: { vocabSize: 5, size: 3 }, hiddenSize: 4, output: { size: 4 }, loss: 'softmax-ce' };
  assert.throws(() => createNetwork({ ...base, loss: 'mse' }), (e: Error) => e instanceof ConfigError && /loss must be softmax-ce with shape seq2seq/.test(e.message));
  assert.throws(() => createNetwork({ ...base, bidirectional: true }), (e: Error) => e instanceof ConfigError && /bidirectional/.test(e.message));
  assert.throws(() => createNetwork({ ...base, shape: 'many-to-many', decoder: { embeddingSize: 2 } }), (e: Error) => e instanceof ConfigError && /decoder applies to shape seq2seq only/.test(e.message));
  assert.throws(() => createNetwork({ ...base, decoder: { size: 2 } as never }), (e: Error) => e instanceof ConfigError && /unknown field "decoder.size"/.test(e.message));
  assert.is(checkDescription(base).decoder!.embeddingSize, 3);
  const net = createNetwork(base);
  assert.throws(() => net.fit({ inputs: [[1, 2]], targets: [[1, 4]] }), (e: Error) => e instanceof ConfigError && /^fit: targets\[0\]\[1\] is 4, not a symbol in \[0, 4\)/.test(e.message));
  assert.throws(() => net.fit({ inputs: [[1, 2]], targets: [[]] }), (e: Error) => e instanceof ShapeError && /targets\[0\] is empty/.test(e.message));
  assert.throws(() => net.fit({ inputs: [[1, 2], [3]], targets: [[1]] }), (e: Error) => e instanceof ShapeError && /targets has 1 sequences for 2 sources/.test(e.message));
  assert.throws(() => net.predict([[1, 2]]), (e: Error) => e instanceof ConfigError && /^predict: .*use decode/.test(e.message));
  assert.throws(() => net.step(1), (e: Error) => e instanceof ConfigError && /^step: .*use decode/.test(e.message));
  assert.throws(() => net.decode([[1, 2]], { maxLength: 0 }), (e: Error) => e instanceof ConfigError && /maxLength must be an integer >= 1/.test(e.message));
  assert.throws(() => net.decode([[1, 2]], { maxLength: 3, end: 4 }), (e: Error) => e instanceof ConfigError && /end must be a target symbol in \[0, 4\)/.test(e.message));
  assert.throws(() => net.decode([[1, 2]], { maxLength: 3, beam: 2 } as never), (e: Error) => e instanceof ConfigError && /unknown option "beam"/.test(e.message));
  assert.throws(() => createNetwork({ ...base, shape: 'many-to-many' }).decode([[1]], { maxLength: 2 }), (e: Error) => e instanceof ConfigError && /decode is for seq2seq networks/.test(e.message));
});

test.run();
