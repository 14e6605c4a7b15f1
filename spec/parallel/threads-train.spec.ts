// `threads` wired through: createMethod, train (the trainer's bptt drive), network.fit; the
// methods that cannot use threads refuse them by name, and a network that cannot cross to a
// worker says what can.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import '../../node/register.js';
import { type ModelSpec, modelFromSpec, specOf } from '../../lib/parallel/model-spec.js';
import { type MethodSpec, createMethod } from '../../lib/rnn/methods.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { train } from '../../lib/train/trainer.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { createNetwork, type NetworkData } from '../../lib/train/index.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat, relErr } from '../helpers.js';

const spec: ModelSpec = { cell: { kind: 'gru', options: { inputSize: 2, hiddenSize: 5 } }, readout: 2 };
const batch = 6, steps = 5;

test('createMethod(model, "bptt", { threads: 2 }) is a threaded Bptt with the same gradient; other methods refuse threads', () => {
  const model = modelFromSpec(spec, { seed: 2 });
  const rng = new Rng(3);
  const xs = randomMat(rng, steps * batch, 2), targets = randomMat(rng, steps * batch, 2);
  const loss = sequenceLoss({ kind: 'mse', targets, mask: null, batch });
  const threaded = createMethod(model, { kind: 'bptt' }, { threads: 2 });
  try {
    assert.ok(threaded instanceof Bptt);
    assert.is(threaded.threads, 2);
    const e = relErr(threaded.run(xs, loss, { batch }).grad, createMethod(model, 'bptt').run(xs, loss, { batch }).grad);
    assert.ok(e <= 1e-12, `relative difference ${e}`);
  } finally {
    threaded.close();
  }
  assert.throws(() => createMethod(model, 'uoro', { threads: 2 }), /^createMethod: threads: 2 is available for bptt, tbptt, rtrl and snapN with N >= 2 only; uoro\S* runs on one thread/);
  assert.throws(() => createMethod(model, 'bptt', { threads: 0 }), /^createMethod: threads must be an integer >= 1.*got 0/);
  assert.throws(() => createMethod(model, 'bptt', { thread: 2 } as never), /^createMethod: unknown option "thread"/);
  assert.is(createMethod(model, 'rtrl', { threads: 1 }).model, model);
});

test('train with threads: 2 takes the same steps as with one thread (to 1e-12), rtrl the same bits, snap2 to 1e-12, and refuses threads for snap1', () => {
  const run = (threads: number, method: MethodSpec = { kind: 'bptt' }) => {
    const model = modelFromSpec(spec, { seed: 5 });
    const rng = new Rng(8);
    const batches = Array.from({ length: 4 }, () => {
      const xs = randomMat(rng, steps * batch, 2), targets = randomMat(rng, steps * batch, 2);
      return { xs, batch, loss: sequenceLoss({ kind: 'mse', targets, mask: null, batch }) };
    });
    const r = train(model, { method, optimizer: new Optimizer({ kind: 'adam', lr: 0.05 }), iterations: 4, next: (i) => batches[i], threads });
    return { theta: model.params.theta, curve: r.curve.map((p) => p.loss) };
  };
  const one = run(1), two = run(2);
  assert.ok(relErr(two.theta, one.theta) <= 1e-12, `parameters differ by ${relErr(two.theta, one.theta)}`);
  assert.ok(relErr(two.curve, one.curve) <= 1e-12, `losses ${two.curve} vs ${one.curve}`);
  // tbptt: an update at every window, the windows' parameters changing under the threads.
  const one2 = run(1, { kind: 'tbptt', k1: 2, k2: 3 }), two2 = run(2, { kind: 'tbptt', k1: 2, k2: 3 });
  assert.ok(relErr(two2.theta, one2.theta) <= 1e-12, `tbptt parameters differ by ${relErr(two2.theta, one2.theta)}`);
  assert.ok(relErr(two2.theta, one.theta) > 1e-6, 'tbptt trained otherwise than bptt');
  const model = modelFromSpec(spec);
  // rtrl: its tangent columns split over the threads, the same bits as one thread.
  const one3 = run(1, { kind: 'rtrl' }), two3 = run(2, { kind: 'rtrl' });
  assert.equal(Array.from(two3.theta), Array.from(one3.theta), 'rtrl on 2 threads trained otherwise than on 1');
  // snap2: Ŝ's columns split over the threads, one thread's training to rounding.
  const one4 = run(1, { kind: 'snap', order: 2 }), two4 = run(2, { kind: 'snap', order: 2 });
  assert.ok(relErr(two4.theta, one4.theta) <= 1e-12, `snap2 parameters differ by ${relErr(two4.theta, one4.theta)}`);
  assert.ok(relErr(two4.theta, one.theta) > 1e-6, 'snap2 trained otherwise than bptt');
  assert.throws(() => train(model, { method: { kind: 'snap', order: 1 }, optimizer: new Optimizer({ kind: 'sgd', lr: 0.1 }), iterations: 1, next: () => { throw new Error('unused'); }, threads: 2 }),
    /^train: threads: 2 is available for the bptt, tbptt, rtrl and snapN with N >= 2 methods only; snap1 runs on one thread/);
  assert.throws(() => train(model, { method: { kind: 'bptt' }, optimizer: new Optimizer({ kind: 'sgd', lr: 0.1 }), iterations: 1, next: () => { throw new Error('unused'); }, threads: 2.5 }),
    /^train: threads must be an integer >= 1.*got 2.5/);
});

test('fit with threads: 2 equals fit on one thread: one layer, two stacked, bidirectional, over an embedding, with dropout', () => {
  const rng = new Rng(4);
  const data: NetworkData = {
    inputs: Array.from({ length: 10 }, () => Array.from({ length: 4 }, () => [rng.normal(0, 1), rng.normal(0, 1)])),
    targets: Array.from({ length: 10 }, () => Array.from({ length: 4 }, () => [rng.normal(0, 1)])),
  };
  const description = { inputSize: 2, cell: 'lstm' as const, hiddenSize: 4, output: { size: 1 }, loss: 'mse' as const, seed: 6 };
  const a = createNetwork(description), b = createNetwork(description);
  assert.ok(specOf(a.model) !== null, 'a one-layer network is made from a spec');
  const h1 = a.fit(data, { epochs: 2, batchSize: 5 });
  const h2 = b.fit(data, { epochs: 2, batchSize: 5, threads: 2 });
  assert.ok(relErr(b.model.params.theta, a.model.params.theta) <= 1e-12, `weights differ by ${relErr(b.model.params.theta, a.model.params.theta)}`);
  assert.ok(relErr(h2.epochs.map((e) => e.loss), h1.epochs.map((e) => e.loss)) <= 1e-12);
  // Deeper networks cross too (their spec rebuilds the same cell in the worker), with lengths.
  const lengths = Array.from({ length: 10 }, (_, i) => 2 + (i % 3));
  const symbols = { inputs: Array.from({ length: 10 }, (_, i) => Array.from({ length: 4 }, (_, t) => (i + 2 * t) % 5)), targets: data.targets, lengths };
  const cases: [string, Parameters<typeof createNetwork>[0], NetworkData][] = [
    ['two stacked GRU layers', { ...description, cell: 'gru', layers: 2, initialState: 'learned' }, { ...data, lengths }],
    ['two bidirectional LSTM layers', { ...description, layers: 2, bidirectional: true }, data],
    ['an embedding under an Elman layer', { embedding: { vocabSize: 5, size: 3 }, cell: 'elman', hiddenSize: 4, output: { size: 1 }, loss: 'mse', seed: 7 }, symbols],
  ];
  for (const [what, d, set] of cases) {
    const one = createNetwork(d), two = createNetwork(d);
    assert.ok(specOf(two.model) !== null, `${what}: made from a spec`);
    const l1 = one.fit(set, { epochs: 2, batchSize: 5 }), l2 = two.fit(set, { epochs: 2, batchSize: 5, threads: 2 });
    assert.ok(relErr(two.model.params.theta, one.model.params.theta) <= 1e-12, `${what}: weights differ by ${relErr(two.model.params.theta, one.model.params.theta)}`);
    assert.ok(relErr(l2.epochs.map((e) => e.loss), l1.epochs.map((e) => e.loss)) <= 1e-12, `${what}: losses`);
    assert.ok(relErr(two.model.params.theta, createNetwork(d).model.params.theta) > 1e-3, `${what}: it trained`);
  }
  // Dropout crosses too: the shards draw one thread's masks (spec/parallel/threads-dropout.spec.ts).
  const withDropout = { ...description, layers: 3, dropout: 0.3 };
  const d1 = createNetwork(withDropout), d2 = createNetwork(withDropout);
  assert.equal(specOf(d2.model)?.dropout, { p: 0.3, seed: 6 });
  const e1 = d1.fit(data, { epochs: 2, batchSize: 5 }), e2 = d2.fit(data, { epochs: 2, batchSize: 5, threads: 2 });
  assert.ok(relErr(d2.model.params.theta, d1.model.params.theta) <= 1e-12, `dropout: weights differ by ${relErr(d2.model.params.theta, d1.model.params.theta)}`);
  assert.ok(relErr(e2.epochs.map((e) => e.loss), e1.epochs.map((e) => e.loss)) <= 1e-12, 'dropout: losses');
});

test('seq2seq networks cross too: fit with threads: 2 trains as one thread (BPTT to 1e-12, RTRL bit for bit); with dropout they refuse', () => {
  const description = { shape: 'seq2seq' as const, embedding: { vocabSize: 5, size: 3 }, cell: 'lstm' as const, hiddenSize: 12, layers: 2, output: { size: 4 }, loss: 'softmax-ce' as const, decoder: { embeddingSize: 2 }, seed: 5 };
  const data: NetworkData = { inputs: [[1, 2, 3, 4], [0, 4], [3, 3, 1], [2, 0, 1], [4, 4]], targets: [[1, 2], [3], [0, 0, 2], [1], [2, 3, 1]] };
  assert.equal(specOf(createNetwork(description).model)?.seq2seq, { embeddingSize: 2 });
  for (const method of ['bptt', 'rtrl']) {
    const one = createNetwork(description), two = createNetwork(description);
    const h1 = one.fit(data, { epochs: 2, batchSize: 5, method }), h2 = two.fit(data, { epochs: 2, batchSize: 5, method, threads: 2 });
    const apart = relErr(two.model.params.theta, one.model.params.theta);
    if (method === 'rtrl') assert.equal(Array.from(two.model.params.theta), Array.from(one.model.params.theta), `rtrl: weights differ by ${apart}`);
    else assert.ok(apart <= 1e-12, `bptt: weights differ by ${apart}`);
    assert.ok(relErr(h2.epochs.map((e) => e.loss), h1.epochs.map((e) => e.loss)) <= 1e-12, `${method}: losses`);
    assert.ok(relErr(two.model.params.theta, createNetwork(description).model.params.theta) > 1e-3, `${method}: it trained`);
  }
  const dropout = createNetwork({ ...description, dropout: 0.2 });
  assert.is(specOf(dropout.model), null);
  assert.throws(() => dropout.fit(data, { threads: 2 }), /^bptt: threads: 2 needs a model that can cross to a worker as data/);
  assert.throws(() => modelFromSpec({ ...specOf(createNetwork(description).model)!, dropout: { p: 0.2 } }), /^modelFromSpec: seq2seq with dropout cannot be described/);
});

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const loopgrad = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });

test('loopgrad train --threads: 0, a non-integer, more than the cores, or with uoro exit 2 naming --threads; 2 threads train as 1', () => {
  const cores = availableParallelism();
  for (const bad of ['0', '1.5', String(cores + 1), 'two']) {
    const r = loopgrad('adding', '--steps', '5', '--iterations', '1', '--threads', bad, '--quiet');
    assert.is(r.status, 2, `--threads ${bad}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^loopgrad train: --threads: "${bad.replace('.', '\\.')}" is not an integer from 1 to ${cores}`));
  }
  const uoro = loopgrad('adding', '--steps', '5', '--iterations', '1', '--threads', '2', '--method', 'uoro', '--quiet');
  assert.is(uoro.status, 2);
  assert.match(uoro.stderr, /--threads 2 works with --method bptt, tbptt, rtrl and snapN with N >= 2 only \(got --method uoro\)/);
  const run = (threads: string) => {
    const r = loopgrad('adding', '--steps', '6', '--batch', '8', '--hidden', '6', '--iterations', '3', '--held-out', '20', '--threads', threads, '--json');
    assert.is(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { curve: { loss: number }[] }).curve.map((p) => p.loss);
  };
  const one = run('1'), two = run('2');
  assert.is(one.length, 3);
  assert.ok(relErr(two, one) <= 1e-12, `curves ${two} vs ${one}`);
});

test.run();
