// Threaded RTRL (Rtrl({ threads: 2, spec }), lib/parallel/rtrl-team.ts over Node's workers): the
// same bits as one thread, step by step (output, loss, gradient, state), with lengths, a learned
// initial state, zeroGrad mid-stream, a carried and an explicit initial state, and run(); a killed
// worker fails the step naming it, adds nothing, and reset() brings a new worker that agrees
// again; bad thread counts and specs are refused. One threaded learner (two threads) is made once
// and reused by every test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeRtrlTeam } from '../../node/rtrl-threads.js';
import { availableParallelism } from 'node:os';
import { type Mat, mat, matOf, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { ConfigError } from '../../lib/mat/errors.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { createModel } from '../../lib/rnn/model.js';
import { lstm } from '../../lib/cells/lstm.js';
import { createMethod } from '../../lib/rnn/methods.js';
import { provideRtrlTeams } from '../../lib/rnn/rtrl-threads.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { type ModelSpec, modelFromSpec } from '../../lib/parallel/model-spec.js';
import { WorkerError } from '../../lib/parallel/pool.js';
import type { RtrlWorkers } from '../../lib/parallel/rtrl-team.js';

const T = 5, batch = 2, lengths = [5, 3], inputSize = 3;
const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize, hiddenSize: 16 } }, readout: 2, initialState: 'learned' };
const model = modelFromSpec(spec);
const P = model.params.theta.length;
const one = new Rtrl(model);
const two = new Rtrl(model, { threads: 2 }); // the spec: specOf(model)

const loss: SequenceLoss = {
  step: (g, t, out) => g.mul(g.constant(matOf([[1 + t]])), g.dot(out, out)),
  final: (g, state) => g.sum(g.tanh(state[1])),
};
const xs = mat(T * batch, inputSize);
new Rng(5).fillNormal(xs, 0, 1);

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
}

function agree(what: string): void {
  assert.ok(Object.is(one.loss, two.loss), `${what}: loss ${one.loss} vs ${two.loss}`);
  assert.ok(same(one.grad, two.grad), `${what}: gradient`);
  for (let s = 0; s < one.state.length; s++) assert.ok(same(one.state[s].data, two.state[s].data), `${what}: state ${s}`);
}

function stepBoth(from: number, to: number, what: string): void {
  for (let t = from; t < to; t++) {
    const x = rowsView(xs, t * batch, batch), last = t === T - 1;
    const a = Array.from(one.step(x, loss, last).data), b = two.step(x, loss, last).data;
    assert.ok(same(a, b), `${what} step ${t}: output`);
    agree(`${what} step ${t}`);
  }
}

test('two threads split the columns in two, the workers holding the second block', () => {
  assert.is(two.shards, 2);
  assert.equal(two.columns, { start: 0, end: (P / 2) | 0 });
  assert.ok(one.grad.length === P && two.directions < P);
});

test('two threads are one thread bit for bit, step by step, with lengths and a learned initial state', () => {
  one.reset({ batch, lengths });
  two.reset({ batch, lengths });
  stepBoth(0, 2, 'first stream');
  // zeroGrad keeps the state; a carried state continues it (S from zero).
  one.zeroGrad();
  two.zeroGrad();
  stepBoth(2, T, 'after zeroGrad');
  assert.ok(one.grad.some((v) => v !== 0));
  one.reset({ batch, lengths: [2, 2], initialState: 'carry' });
  two.reset({ batch, lengths: [2, 2], initialState: 'carry' });
  stepBoth(0, 2, 'carried');
  const initial: Mat[] = [mat(batch, 16), mat(batch, 16)];
  new Rng(8).fillNormal(initial[0], 0, 1);
  one.reset({ batch, initialState: initial });
  two.reset({ batch, initialState: initial });
  stepBoth(0, 3, 'explicit initial state');
  const r1 = one.run(xs, loss, { batch, lengths }), r2 = two.run(xs, loss, { batch, lengths });
  assert.ok(Object.is(r1.loss, r2.loss) && same(r1.grad, r2.grad), 'run');
  r1.finalState.forEach((m, i) => assert.ok(same(m.data, r2.finalState[i].data), `run: final state ${i}`));
});

test('a one-row initial state shared by the batch crosses to the workers: two threads are one thread bit for bit', () => {
  const initial: Mat[] = [mat(1, 16), mat(1, 16)];
  new Rng(9).fillNormal(initial[0], 0, 1);
  new Rng(10).fillNormal(initial[1], 0, 1);
  const r1 = one.run(xs, loss, { batch, lengths, initialState: initial }), r2 = two.run(xs, loss, { batch, lengths, initialState: initial });
  assert.ok(Object.is(r1.loss, r2.loss) && same(r1.grad, r2.grad), 'run');
});

test('a stack of two GRU layers over an embedding crosses as a spec: two threads are one thread bit for bit', () => {
  const deep: ModelSpec = { cell: { kind: 'gru', options: { inputSize: 3, hiddenSize: 5 } }, layers: 2, embedding: { vocabSize: 4 }, readout: 2 };
  const m = modelFromSpec(deep, { seed: 3 });
  const a = new Rtrl(m), b = new Rtrl(m, { threads: 2 });
  try {
    const symbols = mat(T * batch, 1);
    for (let i = 0; i < symbols.data.length; i++) symbols.data[i] = (i * 3) % 4;
    const r1 = a.run(symbols, loss, { batch, lengths }), r2 = b.run(symbols, loss, { batch, lengths });
    assert.ok(Object.is(r1.loss, r2.loss), `loss ${r1.loss} vs ${r2.loss}`);
    assert.ok(same(r1.grad, r2.grad), 'gradient');
    assert.ok(r1.grad.some((v) => v !== 0));
  } finally {
    b.close();
  }
});

test('a killed worker fails the step naming it, adds nothing; reset() brings a new worker', async () => {
  const team = two.team as RtrlWorkers;
  const died = new RegExp(`rtrl: worker 1 \\(columns ${(P / 2) | 0}\\.\\.${P - 1}\\) died.*thread \\d+ exited with code 1`);
  const x = rowsView(xs, batch, batch);
  // Killed between steps: the next step is refused before anything runs.
  two.reset({ batch, lengths });
  one.reset({ batch, lengths });
  stepBoth(0, 1, 'before the kill');
  await team.kill(1);
  const before = two.grad.slice(), lossBefore = two.loss;
  assert.throws(() => two.step(x, loss), (e: unknown) => e instanceof WorkerError && died.test((e as Error).message) && /the step is not taken/.test((e as Error).message));
  assert.ok(same(two.grad, before) && Object.is(two.loss, lossBefore), 'nothing added');
  assert.throws(() => two.step(x, loss), /rtrl: a step failed earlier in this stream .*reset\(\) starts a new one/);
  // A new stream on the new worker agrees with one thread again.
  one.reset({ batch, lengths });
  two.reset({ batch, lengths });
  stepBoth(0, T, 'after the kill');
});

test('a worker killed during a step fails that step (the blocked caller wakes), and reset() recovers', async () => {
  // A step long enough (a few ms at least) for the kill to land inside it.
  const bigSpec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize, hiddenSize: 40 } } };
  const big = modelFromSpec(bigSpec);
  const threaded = new Rtrl(big, { threads: 2 }), single = new Rtrl(big);
  try {
    const team = threaded.team as RtrlWorkers;
    threaded.reset({ batch });
    single.reset({ batch });
    const x = rowsView(xs, 0, batch);
    threaded.step(x, loss);
    single.step(x, loss);
    // The kill lands while this thread is blocked in a step (almost always: the steps run back to
    // back); should it land between two steps, that is refused as before, and the kill is retried.
    let failure: unknown = null;
    for (let attempt = 0; attempt < 4; attempt++) {
      const killed = team.kill(1, 0);
      failure = null;
      for (let i = 0; i < 200 && failure === null; i++) {
        try { threaded.step(x, loss); } catch (e) { failure = e; }
      }
      await killed;
      if (failure instanceof WorkerError && /the step is not taken/.test(failure.message)) { threaded.reset({ batch }); continue; }
      break;
    }
    assert.ok(failure instanceof WorkerError && /rtrl: worker 1 \(columns \d+\.\.\d+\) died in the step: thread \d+ exited with code 1/.test((failure as Error).message), String(failure));
    assert.throws(() => threaded.step(x, loss), /a step failed earlier/);
    threaded.reset({ batch });
    single.reset({ batch });
    for (let t = 0; t < 2; t++) { threaded.step(x, loss); single.step(x, loss); }
    assert.ok(same(threaded.grad, single.grad), 'after recovery');
  } finally {
    threaded.close();
  }
});

test('bad threads and specs are refused, naming them', () => {
  const cores = availableParallelism();
  for (const threads of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new Rtrl(model, { threads, spec }), (e: unknown) => e instanceof ConfigError && /rtrl: threads must be an integer >= 1 \(and at most the machine's cores\)/.test((e as Error).message));
  }
  assert.throws(() => new Rtrl(model, { threads: '2' as unknown as number, spec }), /rtrl: threads must be an integer >= 1 .*, got 2/);
  assert.throws(() => new Rtrl(model, { threads: cores + 1, spec }), new RegExp(`rtrl: threads must be an integer from 1 to ${cores} \\(the cores of this machine\\), got ${cores + 1}`));
  const plain = createModel(lstm({ inputSize, hiddenSize: 20 }));
  assert.throws(() => new Rtrl(plain, { threads: 2 }), /rtrl: threads: 2 needs the model as data for the workers: a model made by modelFromSpec, or the spec option/);
  const gru: ModelSpec = { cell: { kind: 'gru', options: { inputSize, hiddenSize: 16 } } };
  assert.throws(() => new Rtrl(model, { threads: 2, spec: gru }), /rtrl: spec describes a gru model with \d+ parameters .* but the model is a lstm/);
  assert.throws(() => new Rtrl(model, { threads: 2, spec, columns: { start: 0, end: 10 } }), /rtrl: columns and threads exclude each other/);
  // Without a platform's workers, threads are refused (and nothing is started).
  provideRtrlTeams(null);
  try {
    assert.throws(() => new Rtrl(model, { threads: 2, spec }), /rtrl: threads: 2 needs workers, and no platform has provided them/);
  } finally {
    provideRtrlTeams(nodeRtrlTeam);
  }
  // A model too small for two blocks of MIN_BITWISE_COLUMNS runs on one thread.
  const small: ModelSpec = { cell: { kind: 'elman', options: { inputSize, hiddenSize: 4 } } };
  const r = new Rtrl(modelFromSpec(small), { threads: 2, spec: small });
  assert.is(r.shards, 1);
  assert.is(r.team, null);
});

test('createMethod passes threads to rtrl', () => {
  const m = createMethod(model, 'rtrl', { threads: 2 });
  try {
    assert.ok(m instanceof Rtrl);
    assert.is((m as Rtrl).shards, 2);
    one.reset({ batch, lengths });
    (m as Rtrl).reset({ batch, lengths });
    for (let t = 0; t < 2; t++) {
      one.step(rowsView(xs, t * batch, batch), loss);
      (m as Rtrl).step(rowsView(xs, t * batch, batch), loss);
    }
    assert.ok(same(one.grad, (m as Rtrl).grad));
  } finally {
    (m as Rtrl).close();
  }
});

test('closed threads refuse to step', () => {
  two.close();
  two.close();
  assert.throws(() => two.reset({ batch }), /rtrl: the threads were closed/);
});

test.run();
