// SnAp-n on threads (lib/rnn/snap.ts, the team of lib/parallel/rtrl-team.ts): each shard keeps a
// block of Ŝ's columns (restrictColumns in lib/rnn/snap-pattern.ts). A block alone is the whole
// computation's columns bit for bit; two threads equal one to rounding (every shard steps under
// the loss the cotangents define); refusals name what runs instead; a killed worker fails the step
// naming it, and reset() recovers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../../node/register.js';
import { mat, rowsView } from '../../lib/mat/mat.js';
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
const loss: SequenceLoss = {
  step: (g, t, out) => g.scale(g.dot(out, out), 1 + t),
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

test('threads are refused where a split cannot pay or cannot run, naming what does', () => {
  const model = modelFromSpec({ cell: { kind: 'gru', options: { inputSize, hiddenSize: 4 } } });
  assert.throws(() => new Snap(model, { order: 1, threads: 2 }), /^snap: threads: 2 splits the columns of SnAp-n for n >= 2; SnAp-1's whole step costs less/);
  const ind = modelFromSpec({ cell: { kind: 'indrnn', options: { inputSize, hiddenSize: 4 } } });
  assert.throws(() => new Snap(ind, { order: 2, threads: 2 }), /^snap: threads: 2 needs SnAp's general update, and SnAp-2 on indrnn takes a one-thread fast path.*run it without threads/);
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

test.run();
