import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import { gradCheck } from '../../lib/ad/api.js';
import { type Mat, mat, matOf } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { binaryCrossEntropy, lossValue, mseLoss, sequenceLoss, softmaxCrossEntropy, stepLoss, targetCount, type LossKind } from '../../lib/loss/losses.js';
import { lstm } from '../../lib/cells/lstm.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { withReadout } from '../../lib/arch/readout.js';
import { Forward } from '../../lib/rnn/forward.js';

const value = (f: (g: Graph) => ReturnType<typeof mseLoss>): number => {
  const g = new Graph('eval');
  const v = f(g).value;
  return v.data[v.offset];
};

test('hand-computed values with a mask', () => {
  const y = matOf([[1, 2], [3, 5]]), t = matOf([[0, 2], [1, 1]]);
  const maskFirst = matOf([[1], [0]]);
  // mse: row 0 only: (1 + 0) / (1 row · 2 cols)
  assert.is(value((g) => mseLoss(g, g.constant(y), t, { mask: maskFirst })), 0.5);
  // all rows: (1 + 0 + 4 + 16) / 4
  assert.is(value((g) => mseLoss(g, g.constant(y), t)), 21 / 4);
  // softmax-ce with one-hot targets: -log softmax(z)_class, mean over rows
  const z = matOf([[0, Math.log(3)], [2, 2]]), onehot = matOf([[0, 1], [1, 0]]);
  const ce = value((g) => softmaxCrossEntropy(g, g.constant(z), onehot));
  assert.ok(Math.abs(ce - (-Math.log(3 / 4) - Math.log(1 / 2)) / 2) < 1e-15);
  // bce on logits: -t log σ(z) - (1 - t) log(1 - σ(z))
  const logits = matOf([[0.3, -2]]), bits = matOf([[1, 0]]);
  const s = (x: number) => 1 / (1 + Math.exp(-x));
  const bce = value((g) => binaryCrossEntropy(g, g.constant(logits), bits));
  assert.ok(Math.abs(bce - (-Math.log(s(0.3)) - Math.log(1 - s(-2))) / 2) < 1e-15);
  // scale overrides the mean
  assert.is(value((g) => mseLoss(g, g.constant(y), t, { scale: 1 })), 21);
  // an all-zero mask gives 0, not NaN
  assert.is(value((g) => mseLoss(g, g.constant(y), t, { mask: matOf([[0], [0]]) })), 0);
});

test('gradients of every loss pass finite differences and the dot-product identity', () => {
  const rng = new Rng(3);
  const y = mat(3, 4);
  rng.fillNormal(y);
  const soft = mat(3, 4);
  for (let r = 0; r < 3; r++) { const k = rng.int(4); soft.data[r * 4 + k] = 1; }
  const bits = mat(3, 4);
  for (let i = 0; i < 12; i++) bits.data[i] = rng.int(2);
  const mask = matOf([[1], [0], [0.5]]);
  for (const [kind, target] of [['mse', soft], ['softmax-ce', soft], ['bce', bits]] as [LossKind, Mat][]) {
    for (const m of [null, mask]) {
      const report = gradCheck((g, [x]) => stepLoss(kind, g, x, target, { mask: m }), [y], { tolerance: 1e-7 });
      assert.ok(report.ok, `${kind} ${m ? 'masked' : ''}: ${report.worst}`);
    }
  }
});

test('lossValue on plain matrices equals the graph loss over a sequence', () => {
  const rng = new Rng(5);
  const batch = 3, steps = 4;
  const outputs = mat(steps * batch, 5);
  rng.fillNormal(outputs);
  const targets = mat(steps * batch, 5);
  for (let r = 0; r < targets.rows; r++) targets.data[r * 5 + rng.int(5)] = 1;
  const mask = mat(steps * batch, 1);
  for (let r = 0; r < mask.rows; r++) mask.data[r] = rng.int(2);
  for (const kind of ['mse', 'softmax-ce', 'bce'] as LossKind[]) {
    const loss = sequenceLoss({ kind, targets, mask, batch });
    const g = new Graph('eval');
    let total = 0;
    for (let t = 0; t < steps; t++) {
      const out = g.constant({ rows: batch, cols: 5, data: outputs.data, offset: t * batch * 5 });
      const term = loss.step!(g, t, out, []);
      if (term !== null) total += term.value.data[term.value.offset];
    }
    const plain = lossValue(kind, outputs, targets, mask);
    assert.ok(Math.abs(total - plain) < 1e-14, `${kind}: ${total} vs ${plain}`);
  }
  assert.is(targetCount({ kind: 'mse', targets, mask, batch }), mask.data.reduce((a, v) => a + v, 0) * 5);
});

test('a masked sequence loss gives BPTT and RTRL the same gradient; Forward gives BPTT outputs', () => {
  const model = createModel(withReadout(lstm({ inputSize: 2, hiddenSize: 3 }), 2), { seed: 2 });
  const rng = new Rng(8);
  const batch = 2, steps = 5;
  const xs = mat(steps * batch, 2);
  rng.fillNormal(xs);
  const targets = mat(steps * batch, 2);
  for (let r = 0; r < targets.rows; r++) targets.data[r * 2 + rng.int(2)] = 1;
  const mask = mat(steps * batch, 1);
  mask.data.set([0, 0, 1, 0, 0, 1, 1, 1, 0, 0]);
  const loss = sequenceLoss({ kind: 'softmax-ce', targets, mask, batch });
  const b = new Bptt(model).run(xs, loss, { batch });
  const r = new Rtrl(model);
  const rLoss = r.run(xs, loss, { batch }).loss;
  assert.ok(Math.abs(b.loss - rLoss) < 1e-14);
  let diff = 0;
  for (let i = 0; i < b.grad.length; i++) diff = Math.max(diff, Math.abs(b.grad[i] - r.grad[i]));
  assert.ok(diff < 1e-13, `BPTT and RTRL differ by ${diff}`);
  assert.ok(Math.abs(lossValue('softmax-ce', b.outputs, targets, mask) - b.loss) < 1e-14);
  const f = new Forward(model).run(xs, { batch }).outputs;
  assert.equal(Array.from(f.data), Array.from(b.outputs.data));
});

test('shape errors name the operation and the shapes', () => {
  const g = new Graph('eval');
  assert.throws(() => mseLoss(g, g.constant(mat(2, 3)), mat(3, 2)), /mseLoss: output is 2x3 but target is 3x2/);
  assert.throws(() => softmaxCrossEntropy(g, g.constant(mat(2, 3)), mat(2, 3), { mask: mat(2, 2) }), /softmaxCrossEntropy: mask is 2x2, needs 2x1/);
  assert.throws(() => sequenceLoss({ kind: 'mse', targets: mat(5, 1), mask: null, batch: 2 }), /5 rows, not a multiple of batch 2/);
  assert.throws(() => sequenceLoss({ kind: 'hinge' as never, targets: mat(2, 1), mask: null, batch: 1 }), /unknown loss kind "hinge"/);
  assert.throws(() => sequenceLoss({ kind: 'mse', targets: mat(2, 1), mask: null, batch: 1 }).step!(g, 2, g.constant(mat(1, 1)), []), /step 2 is outside the 2 steps/);
});

test.run();
