// The eval-mode forward pass against Bptt's outputs: stateless cells, and a
// cell that passes state vectors through (the case a copy in place gets wrong).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Graph, Var } from '../../lib/ad/graph.js';
import type { Cell } from '../../lib/cells/cell.js';
import { dense } from '../../lib/cells/dense.js';
import { elman } from '../../lib/cells/elman.js';
import { tdnn } from '../../lib/cells/tdnn.js';
import { uniformInit } from '../../lib/mat/init.js';
import type { Mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat } from '../helpers.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { Forward } from '../../lib/rnn/forward.js';

const rng = new Rng(77);

/**
 * A delay line: a' = tanh(x Wᵀ + b), b' = a (the old Var itself), c' = b[:, 1]
 * (a view of old b); output [a', b', c']. Old a and old b are read after
 * new state 0 and 1 are known, so copying the new state over the old in
 * order corrupts b' and c' from the second step on.
 */
function delayLine(inputSize: number): Cell {
  return {
    kind: 'delay-line',
    inputSize,
    stateSizes: [2, 2, 1],
    stateNames: ['a', 'b', 'c'],
    outputSize: 5,
    paramSpecs: [{ name: 'weight', rows: 2, cols: inputSize, role: 'weight' }, { name: 'bias', rows: 1, cols: 2, role: 'bias' }],
    step(g: Graph, [weight, bias]: readonly Var[], [a, b]: readonly Var[], x: Var) {
      const next = [g.tanh(g.linear(x, weight, bias)), a, g.sliceCols(b, 1, 1)];
      return { state: next, output: g.concatCols(next) };
    },
    init(mats: readonly Mat[], r: Rng) {
      for (const m of mats) uniformInit(m, r, -1, 1);
    },
  };
}

function bpttOutputs(model: RecurrentModel, xs: Mat, batch: number): Mat {
  return new Bptt(model).run(xs, { step: (g, _t, out) => g.sum(out) }, { batch }).outputs;
}

function assertSame(actual: Mat, expected: Mat, what: string): void {
  assert.is(actual.rows, expected.rows, `${what}: rows`);
  assert.is(actual.cols, expected.cols, `${what}: cols`);
  for (let i = 0; i < expected.rows * expected.cols; i++) {
    const a = actual.data[actual.offset + i], e = expected.data[expected.offset + i];
    assert.ok(Math.abs(a - e) <= 1e-14 * Math.max(1, Math.abs(e)), `${what}: entry ${i}: ${a} vs ${e}`);
  }
}

test('forward: a cell that passes its state through gives Bptt\'s outputs', () => {
  const model = createModel(delayLine(3), { seed: 1 });
  for (const batch of [1, 3]) {
    const xs = randomMat(rng, 6 * batch, 3);
    const expected = bpttOutputs(model, xs, batch);
    assertSame(new Forward(model).run(xs, { batch }).outputs, expected, `batch ${batch}`);
    // By hand for the first sequence: b'_t = a'_{t-1}, c'_t = b'_{t-1}[1] = a'_{t-2}[1].
    const out = expected.data, row = (t: number) => t * batch * 5;
    for (let t = 1; t < 6; t++) {
      assert.is(out[row(t) + 2], out[row(t - 1)]);
      assert.is(out[row(t) + 3], out[row(t - 1) + 1]);
      if (t >= 2) assert.is(out[row(t) + 4], out[row(t - 2) + 1]);
    }
  }
  // A reused Forward, with batch sizes changing between runs.
  const f = new Forward(model);
  for (const batch of [2, 1, 2]) {
    const xs = randomMat(rng, 5 * batch, 3);
    assertSame(f.run(xs, { batch }).outputs, bpttOutputs(model, xs, batch), `reused, batch ${batch}`);
  }
});

test('forward: stateless cells (dense, tdnn with one tap) run', () => {
  for (const cell of [dense({ inputSize: 3, outputSize: 2, activation: 'tanh' }), tdnn({ inputSize: 3, outputSize: 2, taps: 1 })]) {
    assert.equal(cell.stateSizes, []);
    const model = createModel(cell, { seed: 2 });
    const xs = randomMat(rng, 4 * 2, 3);
    assertSame(new Forward(model).run(xs, { batch: 2 }).outputs, bpttOutputs(model, xs, 2), cell.kind);
  }
});

test('forward: a tdnn delay line and an elman cell give Bptt\'s outputs', () => {
  for (const cell of [tdnn({ inputSize: 2, outputSize: 3, taps: 3, dilation: 2 }), elman({ inputSize: 2, hiddenSize: 3 })]) {
    const model = createModel(cell, { seed: 3 });
    const xs = randomMat(rng, 9 * 2, 2);
    assertSame(new Forward(model).run(xs, { batch: 2 }).outputs, bpttOutputs(model, xs, 2), cell.kind);
  }
});

test.run();
