// RTRL on blocks of columns (lib/rnn/rtrl-columns.ts): Rtrl({ columns }) run block after block
// and laid side by side is the unsplit Rtrl bit for bit (S, gradient, loss, final state, output),
// on LSTM and GRU with a readout, lengths and a learned initial state; boundaries inside the big
// recurrent matrix, inside the readout and inside the learned state (cut matrices) included. The
// splitter's halves cost the same number of flops to within a few percent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mat, matOf, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { flopCounter } from '../../lib/mat/gemm.js';
import { ConfigError } from '../../lib/mat/errors.js';
import { withReadout } from '../../lib/arch/readout.js';
import { createCell } from '../../lib/cells/registry.js';
import { type RecurrentModel, createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { type ColumnRange, MIN_BITWISE_COLUMNS, columnBlocks } from '../../lib/rnn/rtrl-columns.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';

const T = 4, batch = 2, lengths = [4, 2], inputSize = 3;

function make(kind: 'lstm' | 'gru', hiddenSize: number, outputs = 2): RecurrentModel {
  return createModel(withReadout(createCell(kind, { inputSize, hiddenSize }), outputs), { seed: 7, initialState: 'learned' });
}

const loss: SequenceLoss = {
  step: (g, t, out) => g.mul(g.constant(matOf([[1 + t]])), g.dot(out, out)),
  final: (g, state) => g.sum(g.tanh(state[0])),
};

function inputs(seed: number) {
  const xs = mat(T * batch, inputSize);
  new Rng(seed).fillNormal(xs, 0, 1);
  return xs;
}

/** The first index where a and b differ as bits (Object.is), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function checkBlocks(name: string, model: RecurrentModel, blocks: readonly ColumnRange[]): void {
  const P = model.params.theta.length;
  const xs = inputs(5);
  const whole = new Rtrl(model);
  whole.reset({ batch, lengths });
  const parts = blocks.map((columns) => new Rtrl(model, { columns }));
  for (const p of parts) p.reset({ batch, lengths });
  for (let t = 0; t < T; t++) {
    const x = rowsView(xs, t * batch, batch);
    const last = t === T - 1;
    const out = Array.from(whole.step(x, loss, last).data);
    for (const p of parts) {
      const o = p.step(x, loss, last).data;
      assert.is(firstDiff(o, out), -1, `${name} step ${t}: output of block ${p.columns.start}..${p.columns.end}`);
    }
    // S: block b's columns are columns [start, end) of the whole S.
    for (let s = 0; s < whole.sensitivity.length; s++) {
      const W = whole.sensitivity[s];
      for (const p of parts) {
        const B = p.sensitivity[s], K = p.directions;
        for (let r = 0; r < W.rows; r++) {
          const a = W.data.subarray(r * P + p.columns.start, r * P + p.columns.end), b = B.data.subarray(r * K, (r + 1) * K);
          assert.is(firstDiff(b, a), -1, `${name} step ${t}: S[${s}] row ${r} of block ${p.columns.start}..${p.columns.end}`);
        }
      }
    }
  }
  const grad = new Float64Array(P);
  for (const p of parts) {
    // Outside its columns a block's gradient is zero.
    for (let k = 0; k < P; k++) if (k < p.columns.start || k >= p.columns.end) assert.is(p.grad[k], 0);
    grad.set(p.grad.subarray(p.columns.start, p.columns.end), p.columns.start);
    assert.ok(Object.is(p.loss, whole.loss), `${name}: loss ${p.loss} vs ${whole.loss}`);
    for (let s = 0; s < whole.state.length; s++) assert.is(firstDiff(p.state[s].data, whole.state[s].data), -1, `${name}: final state ${s}`);
  }
  assert.is(firstDiff(grad, whole.grad), -1, `${name}: gradient`);
  assert.ok(whole.grad.some((v) => v !== 0));
}

/** Blocks with boundaries at the given columns. */
function cutAt(P: number, at: readonly number[]): ColumnRange[] {
  const edges = [0, ...at, P];
  return edges.slice(1).map((end, i) => ({ start: edges[i], end }));
}

for (const [kind, hidden] of [['lstm', 16], ['gru', 20]] as const) {
  test(`${kind}: blocks side by side are the unsplit Rtrl bit for bit (S, grad, loss, state)`, () => {
    // The splitter's halves: each at least MIN_BITWISE_COLUMNS wide.
    const model = make(kind, hidden);
    const P = model.params.theta.length;
    const halves = columnBlocks(P, 2);
    assert.is(halves.length, 2);
    checkBlocks(`${kind} halves`, model, halves);
    // Narrow blocks with boundaries inside weight_ih, weight_hh, the readout's weight and the learned
    // initial state (cut matrices): exact too, since a readout of 6 outputs leaves no tangent
    // product with 5 rows or fewer (lib/rnn/rtrl-columns.ts).
    const wide = make(kind, 8, 6);
    const { offsets } = wide.params;
    const readout = offsets[wide.cellParamCount - 2], init = offsets[wide.cellParamCount];
    checkBlocks(`${kind} cut`, wide, cutAt(wide.params.theta.length, [offsets[0] + 20, offsets[1] + 37, readout + 17, init + 3]));
  });
}

test('the splitter: equal widths, no block narrower than the minimum, costs counted in flops', () => {
  assert.equal(columnBlocks(10, 3, 1), [{ start: 0, end: 3 }, { start: 3, end: 6 }, { start: 6, end: 10 }]);
  assert.equal(columnBlocks(2 * MIN_BITWISE_COLUMNS - 1, 2), [{ start: 0, end: 2 * MIN_BITWISE_COLUMNS - 1 }]);
  assert.equal(columnBlocks(5, 1), [{ start: 0, end: 5 }]);
  assert.is(columnBlocks(2 * MIN_BITWISE_COLUMNS, 4).length, 2);
  // Both halves of an LSTM with a readout do the same flops per step to within 5%.
  const model = make('lstm', 16);
  const P = model.params.theta.length;
  const xs = inputs(9);
  const flops = columnBlocks(P, 2, 1).map((columns) => {
    const r = new Rtrl(model, { columns });
    r.reset({ batch });
    r.step(rowsView(xs, 0, batch), loss);
    const before = flopCounter.count;
    r.step(rowsView(xs, batch, batch), loss);
    return flopCounter.count - before;
  });
  assert.ok(Math.abs(flops[0] - flops[1]) / Math.max(...flops) < 0.05, `flops per step ${flops.join(' vs ')}`);
});

test('bad columns are refused, naming them', () => {
  const model = make('gru', 4);
  const P = model.params.theta.length;
  for (const columns of [{ start: 0, end: P + 1 }, { start: 3, end: 3 }, { start: -1, end: 2 }, { start: 0.5, end: 2 }]) {
    assert.throws(() => new Rtrl(model, { columns }), (e: unknown) => e instanceof ConfigError && /rtrl: columns must be/.test((e as Error).message));
  }
  assert.throws(() => new Rtrl(model, { threads: 0 }), /rtrl: threads must be an integer >= 1 .*, got 0/);
  assert.throws(() => new Rtrl(model, { threads: 1.5 }), /rtrl: threads must be an integer >= 1 .*, got 1.5/);
});

test.run();
