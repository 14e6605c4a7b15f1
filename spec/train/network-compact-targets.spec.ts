// Class-index targets (softmax-ce) stay indices in the prepared data (4 bytes a step) and become
// one-hot rows only per batch, in a buffer the next batch reuses. Checked against the one-hot form:
// the batches are the same bit for bit, and so are fit, evaluate and gradient.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetwork, type NetworkData } from '../../lib/train/index.js';
import { type Batch, type DataLayout, type Prepared, assembleBatch, prepareData, preparedBytes } from '../../lib/train/network-data.js';
import { Rng } from '../../lib/mat/rng.js';

const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
  assert.is(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}: entry ${i} ${a[i]} vs ${b[i]}`);
};
const oneHotOf = (c: number, C: number) => Array.from({ length: C }, (_, k) => (k === c ? 1 : 0));

const layout = (outputs: number, shape: DataLayout['shape'] = 'many-to-many'): DataLayout => ({
  indices: true, inputs: outputs, width: 1, oneHot: false, vocabulary: null, outputs, loss: 'softmax-ce', shape,
});

function sameBatch(a: Batch, b: Batch, what: string): void {
  assert.is(a.steps, b.steps, `${what}: steps`);
  same(a.xs.data.subarray(a.xs.offset, a.xs.offset + a.xs.rows * a.xs.cols), b.xs.data.subarray(b.xs.offset, b.xs.offset + b.xs.rows * b.xs.cols), `${what}: xs`);
  const ta = a.targets!, tb = b.targets!;
  assert.is(ta.rows, tb.rows, `${what}: target rows`);
  assert.is(ta.cols, tb.cols, `${what}: target cols`);
  same(ta.data.subarray(ta.offset, ta.offset + ta.rows * ta.cols), tb.data.subarray(tb.offset, tb.offset + tb.rows * tb.cols), `${what}: targets`);
  assert.is(a.mask === null, b.mask === null, `${what}: mask present`);
  if (a.mask !== null) same(a.mask.data, b.mask!.data, `${what}: mask`);
  assert.equal(a.lengths, b.lengths, `${what}: lengths`);
}

test('a large class-index target set is prepared as indices: no per-step one-hot row, a batch buffer reused', () => {
  const C = 89, N = 2000, T = 100, steps = N * T;
  const r = new Rng(5);
  const inputs = new Int32Array(steps), targets = new Int32Array(steps);
  for (let i = 0; i < steps; i++) { inputs[i] = r.int(C); targets[i] = r.int(C); }
  const prepared = prepareData('fit', layout(C), { inputs: { data: inputs, shape: [N, T] }, targets: { data: targets, shape: [N, T] } }, true);
  assert.is(prepared.targets, null, 'no dense target rows');
  assert.ok(prepared.classes !== null && prepared.classes !== undefined, 'class indices kept');
  // Inputs (one Float64 index a step), classes (one Int32 a step), lengths: 12 bytes a step and 4 a sequence.
  const bytes = preparedBytes(prepared);
  assert.is(bytes, 12 * steps + 4 * N, `prepared bytes ${bytes}`);
  const oneHotBytes = 8 * C * steps;
  assert.ok(bytes * 50 < oneHotBytes, `prepared ${bytes} bytes against ${oneHotBytes} for one-hot rows of every step`);
  // Batches: the one-hot rows of one batch only, in one buffer for every batch of this size.
  const order = Int32Array.from({ length: N }, (_, i) => N - 1 - i), B = 32;
  const first = assembleBatch(layout(C), prepared, order, 0, B);
  const buffer = first.targets!.data;
  assert.is(buffer.length, T * B * C, 'buffer holds one batch');
  for (let j = 1; j < 5; j++) {
    const b = assembleBatch(layout(C), prepared, order, j * B, B);
    assert.ok(b.targets!.data === buffer, `batch ${j} reuses the buffer`);
    // Each row is the one-hot of its class: sum 1, the one at the target.
    for (let t = 0; t < T; t += 17) {
      for (let i = 0; i < B; i++) {
        const row = (t * B + i) * C, seq = order[j * B + i];
        let sum = 0;
        for (let c = 0; c < C; c++) sum += buffer[row + c];
        assert.is(sum, 1, `batch ${j} step ${t} sequence ${i}: one 1`);
        assert.is(buffer[row + targets[seq * T + t]], 1, `batch ${j} step ${t} sequence ${i}: at its class`);
      }
    }
  }
  assert.is(preparedBytes(prepared), bytes, 'batches add nothing to the prepared data');
});

test('batches from indices equal batches from one-hot rows (padded lengths, buffer reused, many-to-one)', () => {
  const C = 5, r = new Rng(6);
  const lengths = [7, 3, 7, 5, 2, 6, 1, 4];
  const seqs = lengths.map((L) => Array.from({ length: 7 }, (_, t) => (t < L ? r.int(C) : 0)));
  const classes = lengths.map(() => Array.from({ length: 7 }, () => r.int(C)));
  for (const shape of ['many-to-many', 'many-to-one'] as const) {
    const targets = shape === 'many-to-one' ? classes.map((s) => s[0]) : classes;
    const oneHot = shape === 'many-to-one' ? classes.map((s) => oneHotOf(s[0], C)) : classes.map((s) => s.map((c) => oneHotOf(c, C)));
    const compact: Prepared = prepareData('fit', layout(C, shape), { inputs: seqs, targets, lengths }, true);
    const dense: Prepared = prepareData('fit', layout(C, shape), { inputs: seqs, targets: oneHot, lengths }, true);
    assert.ok(compact.targets === null && dense.classes === null, `${shape}: the two forms`);
    const order = Int32Array.from([3, 0, 7, 5, 1, 2, 6, 4]);
    // Sizes 3, 3, 2 and the whole set, longest first then shorter: stale ones of a bigger batch must not show.
    for (const [start, size] of [[0, 3], [3, 3], [6, 2], [0, 8], [4, 3]]) {
      sameBatch(assembleBatch(layout(C, shape), compact, order, start, size), assembleBatch(layout(C, shape), dense, order, start, size), `${shape} [${start}, ${start + size})`);
    }
  }
});

test('fit, evaluate and gradient on class indices equal the one-hot form bit for bit (and a mix of both)', () => {
  const C = 6, r = new Rng(7);
  const lengths = Array.from({ length: 24 }, () => 2 + r.int(9));
  const inputs = lengths.map((L) => Array.from({ length: L }, () => r.int(C)));
  const classes = lengths.map((L) => Array.from({ length: L }, () => r.int(C)));
  const oneHot = classes.map((s) => s.map((c) => oneHotOf(c, C)));
  const mixed = classes.map((s, b) => s.map((c, t) => ((b + t) % 3 === 0 ? oneHotOf(c, C) : c)));
  const description = { embedding: { vocabSize: C, size: 4 }, cell: 'gru' as const, hiddenSize: 8, output: { size: C }, loss: 'softmax-ce' as const, seed: 11 };
  const run = (targets: NetworkData['targets']) => {
    const net = createNetwork(description);
    const data = { inputs, targets };
    const grad = net.gradient(data);
    const history = net.fit(data, { epochs: 2, batchSize: 5, optimizer: { kind: 'adam', lr: 0.02 }, validation: data });
    return { grad, history, theta: net.model.params.theta, metrics: net.evaluate(data, { batchSize: 7 }) };
  };
  const a = run(classes);
  for (const [name, targets] of [['one-hot', oneHot], ['mixed', mixed]] as const) {
    const b = run(targets as NetworkData['targets']);
    assert.ok(Object.is(a.grad.loss, b.grad.loss), `${name}: gradient loss`);
    same(a.grad.grad, b.grad.grad, `${name}: gradient`);
    assert.is(a.history.epochs.length, 2);
    a.history.epochs.forEach((e, i) => {
      assert.ok(Object.is(e.loss, b.history.epochs[i].loss), `${name}: epoch ${i + 1} loss ${e.loss} vs ${b.history.epochs[i].loss}`);
      assert.equal(e.validation, b.history.epochs[i].validation, `${name}: epoch ${i + 1} validation`);
    });
    same(a.theta, b.theta, `${name}: trained weights`);
    assert.equal(a.metrics, b.metrics, `${name}: evaluate`);
  }
  assert.ok(Number.isFinite(a.metrics.loss) && a.metrics.loss > 0, `a real loss ${a.metrics.loss}`);
});

test('class-index errors are the same as before: a class out of range, a bad vector after indices', () => {
  const net = createNetwork({ embedding: { vocabSize: 3, size: 2 }, hiddenSize: 3, output: { size: 3 }, loss: 'softmax-ce', seed: 1 });
  assert.throws(() => net.evaluate({ inputs: [[0, 1], [2, 0]], targets: [[0, 1], [2, 3]] }), /^evaluate: targets\[1\]\[1\] is class 3, outside \[0, 3\) \(output\.size 3\)$/);
  assert.throws(() => net.evaluate({ inputs: [[0, 1], [2, 0]], targets: [[0, 1], [2, [1, 0]]] }), /^evaluate: targets\[1\]\[1\] has 2 values, the network has 3 outputs$/);
  assert.throws(() => net.evaluate({ inputs: [[0, 1], [2, 0]], targets: [[0, 1.5], [2, 0]] }), /^evaluate: targets\[0\]\[1\] is class 1\.5, outside/);
});

test.run();
