// SnAp-n on threads (lib/rnn/snap.ts, the team of lib/parallel/rtrl-team.ts): each shard keeps a
// block of Ŝ's columns (restrictColumns in lib/rnn/snap-pattern.ts). A block alone is the whole
// computation's columns bit for bit; two threads equal one to rounding (every shard steps under
// the loss the cotangents define); refusals name what runs instead; a killed worker fails the step
// naming it, and reset() recovers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../../node/register.js';
import { mat, matOf, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Snap } from '../../lib/rnn/snap.js';
import { createModel } from '../../lib/rnn/model.js';
import { gru } from '../../lib/cells/gru.js';
import { createMethod } from '../../lib/rnn/methods.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { type ModelSpec, modelFromSpec } from '../../lib/parallel/model-spec.js';
import { WorkerError } from '../../lib/parallel/pool.js';
import type { RtrlWorkers } from '../../lib/parallel/rtrl-team.js';

const T = 5, batch = 3, lengths = [5, 3, 4], inputSize = 3;
// The step term reads the output and the state (both kinds of cotangent cross), the final term the state.
const loss: SequenceLoss = {
  step: (g, t, out, state) => g.add(g.scale(g.dot(out, out), 1 + t), g.scale(g.sum(g.tanh(state[state.length - 1])), 0.3)),
  final: (g, state) => g.sum(g.tanh(state[0])),
};
const xs = mat(T * batch, inputSize);
new Rng(5).fillNormal(xs, 0, 1);

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i])); }
  return diff / scale;
}

test('a block of columns is the whole pattern\'s columns bit for bit, and zero elsewhere', () => {
  const model = modelFromSpec({ cell: { kind: 'lstm', options: { inputSize, hiddenSize: 4 } }, readout: 2, initialState: 'learned' }, { seed: 2 });
  const P = model.params.theta.length;
  const whole = new Snap(model, { order: 2 }).run(xs, loss, { batch, lengths });
  for (const [start, end] of [[0, 37], [37, P - 5], [P - 5, P]]) {
    const part = new Snap(model, { order: 2, columns: { start, end } });
    const r = part.run(xs, loss, { batch, lengths });
    for (let p = 0; p < P; p++) {
      const expected = p >= start && p < end ? whole.grad[p] : 0;
      assert.ok(Object.is(r.grad[p], expected), `columns ${start}..${end - 1}: parameter ${p}: ${r.grad[p]} vs ${expected}`);
    }
    assert.ok(part.sensitivityCount() < new Snap(model, { order: 2 }).sensitivityCount(), 'a block keeps only its columns');
  }
});

test('two threads equal one to 1e-12: SnAp-2 on GRU and LSTM with lengths and a final term, SnAp-3 on a stack, step by step and run()', () => {
  const specs: ModelSpec[] = [
    { cell: { kind: 'gru', options: { inputSize, hiddenSize: 6 } }, readout: 2 },
    { cell: { kind: 'lstm', options: { inputSize, hiddenSize: 5 } }, initialState: 'learned' },
    { cell: { kind: 'elman', options: { inputSize, hiddenSize: 4 } }, layers: 2 },
  ];
  for (const [i, spec] of specs.entries()) {
    const model = modelFromSpec(spec, { seed: 4 + i });
    const order = i === 2 ? 3 : 2;
    const one = new Snap(model, { order }), two = new Snap(model, { order, threads: 2 });
    try {
      assert.is(two.shards, 2);
      const what = `${spec.cell.kind}${spec.layers === undefined ? '' : ' x2'} SnAp-${order}`;
      one.reset({ batch, lengths });
      two.reset({ batch, lengths });
      for (let t = 0; t < T; t++) {
        const x = rowsView(xs, t * batch, batch), last = t === T - 1;
        const a = Array.from(one.step(x, loss, last).data), b = two.step(x, loss, last).data;
        assert.ok(a.every((v, k) => Object.is(v, b[k])), `${what} step ${t}: output`);
        assert.ok(Object.is(one.loss, two.loss), `${what} step ${t}: loss ${one.loss} vs ${two.loss}`);
        assert.ok(maxRelDiff(one.grad, two.grad) < 1e-12, `${what} step ${t}: gradient ${maxRelDiff(one.grad, two.grad)}`);
        if (t === 1) { one.zeroGrad(); two.zeroGrad(); }
      }
      assert.ok(one.grad.some((v) => v !== 0));
      const r1 = one.run(xs, loss, { batch, lengths }), r2 = two.run(xs, loss, { batch, lengths });
      assert.ok(Object.is(r1.loss, r2.loss) && maxRelDiff(r1.grad, r2.grad) < 1e-12, `${what}: run`);
    } finally {
      two.close();
    }
  }
});

test('a one-row initial state shared by the batch crosses to the workers', () => {
  const model = modelFromSpec({ cell: { kind: 'lstm', options: { inputSize, hiddenSize: 5 } } }, { seed: 6 });
  const initial = [mat(1, 5), mat(1, 5)];
  new Rng(11).fillNormal(initial[0], 0, 1);
  new Rng(12).fillNormal(initial[1], 0, 1);
  const one = new Snap(model, { order: 2 }), two = new Snap(model, { order: 2, threads: 2 });
  try {
    const r1 = one.run(xs, loss, { batch, lengths, initialState: initial }), r2 = two.run(xs, loss, { batch, lengths, initialState: initial });
    assert.ok(Object.is(r1.loss, r2.loss) && maxRelDiff(r1.grad, r2.grad) < 1e-12, `gradient ${maxRelDiff(r1.grad, r2.grad)}`);
  } finally {
    two.close();
  }
});

test('threads are refused where a split cannot pay, and run on one thread where the step takes a fast path', () => {
  const model = modelFromSpec({ cell: { kind: 'gru', options: { inputSize, hiddenSize: 4 } } });
  assert.throws(() => new Snap(model, { order: 1, threads: 2 }), /^snap: threads: 2 splits the columns of SnAp-n for n >= 2; SnAp-1's whole step costs less/);
  // SnAp-2 on IndRNN is SnAp-1 (D is diagonal): its short fast path runs here alone, as RTRL does with too few columns.
  const ind = modelFromSpec({ cell: { kind: 'indrnn', options: { inputSize, hiddenSize: 4 } } });
  const alone = new Snap(ind, { order: 2, threads: 2 });
  assert.is(alone.shards, 1);
  assert.is(alone.team, null);
  const a = alone.run(xs, loss, { batch, lengths }), b = new Snap(ind, { order: 2 }).run(xs, loss, { batch, lengths });
  assert.ok(Object.is(a.loss, b.loss) && a.grad.every((v, i) => Object.is(v, b.grad[i])), 'as one thread, bit for bit');
  assert.throws(() => new Snap(ind, { order: 1, columns: { start: 0, end: 3 } }), /^snap: columns need SnAp's general update/);
  assert.throws(() => new Snap(model, { order: 2, threads: 2, columns: { start: 0, end: 3 } }), /^snap: columns and threads exclude each other/);
  assert.throws(() => new Snap(model, { order: 2, columns: { start: 3, end: 3 } }), /^snap: columns must be \{ start, end \} with integers 0 <= start < end/);
  assert.throws(() => new Snap(createModel(gru({ inputSize, hiddenSize: 4 })), { order: 2, threads: 2 }), /^snap: threads: 2 needs the model as data for the workers/);
  assert.throws(() => createMethod(model, 'snap1', { threads: 2 }), /^createMethod: threads: 2 is available for bptt, tbptt, rtrl and snapN with N >= 2 only; snap1 runs on one thread/);
  const made = createMethod(model, 'snap2', { threads: 2 });
  try {
    assert.ok(made instanceof Snap && made.shards === 2);
  } finally {
    (made as Snap).close();
  }
});

test('a killed worker fails the step naming it, adds nothing; reset() brings a new worker', async () => {
  const model = modelFromSpec({ cell: { kind: 'gru', options: { inputSize, hiddenSize: 5 } } }, { seed: 9 });
  const P = model.params.theta.length;
  const one = new Snap(model, { order: 2 }), two = new Snap(model, { order: 2, threads: 2 });
  try {
    const team = two.team as RtrlWorkers;
    const x = rowsView(xs, 0, batch);
    two.reset({ batch });
    two.step(x, loss);
    await team.kill(1);
    const before = two.grad.slice(), lossBefore = two.loss;
    const died = new RegExp(`^snap: worker 1 \\(columns ${(P / 2) | 0}\\.\\.${P - 1}\\) died.*the step is not taken`);
    assert.throws(() => two.step(x, loss), (e: unknown) => e instanceof WorkerError && died.test((e as Error).message));
    assert.ok(two.grad.every((v, i) => Object.is(v, before[i])) && Object.is(two.loss, lossBefore), 'nothing added');
    assert.throws(() => two.step(x, loss), /^snap: a step failed earlier in this stream .*reset\(\) starts a new one/);
    const r1 = one.run(xs, loss, { batch, lengths }), r2 = two.run(xs, loss, { batch, lengths });
    assert.ok(maxRelDiff(r1.grad, r2.grad) < 1e-12, 'after the kill');
  } finally {
    two.close();
  }
  assert.throws(() => two.step(rowsView(xs, 0, batch), loss), /snap: a step failed earlier in this stream \(the learner was closed\)/);
});

test('a worker killed during a step fails it: nothing added, the state before it kept (a carried stream continues from there)', async () => {
  // A step long enough (several ms) for the kill to land inside it.
  const model = modelFromSpec({ cell: { kind: 'gru', options: { inputSize, hiddenSize: 24 } } }, { seed: 10 });
  const one = new Snap(model, { order: 2 }), two = new Snap(model, { order: 2, threads: 2 });
  try {
    const team = two.team as RtrlWorkers;
    const x = rowsView(xs, 0, batch);
    let failure: unknown = null, before = new Float64Array(0), state: number[][] = [], steps = 0;
    // Should the kill land between two steps, the next step is refused before it runs: start again.
    for (let attempt = 0; attempt < 4; attempt++) {
      two.reset({ batch });
      two.step(x, loss);
      const killed = team.kill(1, 0);
      failure = null;
      for (let i = 0; i < 200 && failure === null; i++) {
        before = two.grad.slice();
        state = two.state.map((m) => Array.from(m.data));
        steps = two.steps;
        try { two.step(x, loss); } catch (e) { failure = e; }
      }
      await killed;
      if (failure instanceof WorkerError && /the step is not taken/.test(failure.message)) continue;
      break;
    }
    assert.ok(failure instanceof WorkerError && /^snap: worker 1 \(columns \d+\.\.\d+\) died in the step/.test((failure as Error).message), String(failure));
    assert.ok(two.grad.every((v, i) => Object.is(v, before[i])), 'the failed step added nothing');
    assert.is(two.steps, steps);
    two.state.forEach((m, k) => assert.equal(Array.from(m.data), state[k], `state ${k} is the one before the failed step`));
    assert.throws(() => two.step(x, loss), /^snap: a step failed earlier in this stream/);
    // A carried stream starts from that state on both.
    const carried = two.state.map((m) => matOf(Array.from({ length: m.rows }, (_, r) => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)))));
    two.reset({ batch, initialState: 'carry' });
    one.reset({ batch, initialState: carried });
    for (let t = 0; t < 2; t++) { one.step(x, loss); two.step(x, loss); }
    assert.ok(maxRelDiff(one.grad, two.grad) < 1e-12, `after the carry: ${maxRelDiff(one.grad, two.grad)}`);
  } finally {
    two.close();
  }
});

test.run();
