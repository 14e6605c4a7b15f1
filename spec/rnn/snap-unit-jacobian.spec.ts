// The unitJacobian hooks (GRU, LSTM with and without peepholes or biases) that SnAp-1 uses for D:
//   - each equals the unit-block diagonal of D = d s_t / d s_{t-1} from a forward-mode step of the
//     cell with N directions (the generic route), at random parameters, states and inputs;
//   - Snap with the hook equals Snap on the same cell with the hook removed (the coloured forward
//     step) on a packed batch with lengths and a learned initial state, step and final losses;
//   - the hook is used exactly when the pattern needs only unit blocks (SnAp-1, not SnAp-2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import { denseTangent } from '../../lib/ad/tangent.js';
import type { Cell } from '../../lib/cells/cell.js';
import { jordan } from '../../lib/cells/jordan.js';
import { gru } from '../../lib/cells/gru.js';
import { lstm } from '../../lib/cells/lstm.js';
import { type Mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Snap } from '../../lib/rnn/snap.js';
import { createModel } from '../../lib/rnn/model.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { maxAbsDiff, randomMat } from '../helpers.js';

const rng = new Rng(64);
const cells: [string, () => Cell][] = [
  ['gru', () => gru({ inputSize: 3, hiddenSize: 5 })],
  ['gru no bias', () => gru({ inputSize: 3, hiddenSize: 4, bias: false })],
  ['lstm', () => lstm({ inputSize: 3, hiddenSize: 5 })],
  ['lstm peephole', () => lstm({ inputSize: 3, hiddenSize: 4, peephole: true })],
  ['lstm peephole no bias', () => lstm({ inputSize: 2, hiddenSize: 3, peephole: true, bias: false })],
];

/** D of one step for every row, dense: d[b][k·N + j], by forward mode with N directions. */
function denseD(cell: Cell, params: readonly Mat[], state: readonly Mat[], x: Mat): Float64Array[] {
  const N = cell.stateSizes.reduce((a, b) => a + b, 0), batch = x.rows;
  const g = new Graph('forward', N);
  let start = 0;
  const stateVars = state.map((m, i) => {
    const size = cell.stateSizes[i], data = new Float64Array(batch * size * N);
    for (let b = 0; b < batch; b++) for (let e = 0; e < size; e++) data[(b * size + e) * N + start + e] = 1;
    start += size;
    return g.leaf(m, { tangent: denseTangent(data) });
  });
  const result = cell.step(g, params.map((m) => g.leaf(m)), stateVars, g.leaf(x));
  const out = Array.from({ length: batch }, () => new Float64Array(N * N));
  let k0 = 0;
  result.state.forEach((v, a) => {
    const size = cell.stateSizes[a], tg = v.tangent;
    if (tg === null || tg.kind !== 'dense') throw new Error(`state ${a} has no dense tangent`);
    for (let b = 0; b < batch; b++) for (let e = 0; e < size; e++) for (let j = 0; j < N; j++) out[b][(k0 + e) * N + j] = tg.data[tg.offset + (b * size + e) * N + j];
    k0 += size;
  });
  return out;
}

for (const [name, make] of cells) {
  test(`unitJacobian: ${name} equals the unit blocks of D from a forward-mode step`, () => {
    const cell = make(), batch = 3, H = cell.stateSizes[0], m = cell.stateSizes.length, N = m * H;
    const params = cell.paramSpecs.map((s) => randomMat(rng, s.rows, s.cols));
    const state = cell.stateSizes.map((s) => randomMat(rng, batch, s));
    const x = randomMat(rng, batch, cell.inputSize);
    const out = new Float64Array(batch * N * m).fill(NaN);
    cell.unitJacobian!(params, state, x, out);
    const d = denseD(cell, params, state, x);
    let worst = 0, size = 0;
    for (let b = 0; b < batch; b++) {
      for (let a = 0; a < m; a++) for (let u = 0; u < H; u++) for (let c = 0; c < m; c++) {
        const want = d[b][(a * H + u) * N + c * H + u], got = out[((b * m + a) * H + u) * m + c];
        worst = Math.max(worst, Math.abs(got - want));
        size = Math.max(size, Math.abs(want));
      }
    }
    assert.ok(size > 1e-3, `${name}: the reference D is trivially small`);
    assert.ok(worst <= 1e-12, `${name}: hook vs forward mode differ by ${worst}`);
  });

  test(`unitJacobian: ${name}, Snap order 1 with the hook equals Snap without it (lengths, learned initial state)`, () => {
    const T = 5, batch = 3, lengths = [5, 3, 1];
    const cell = make(), m = cell.stateSizes.length;
    const model = createModel(cell, { seed: 3, initialState: 'learned' });
    for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
    const plain = createModel({ ...cell, unitJacobian: undefined }, { initialState: 'learned' });
    plain.params.theta.set(model.params.theta);
    const xs = randomMat(rng, T * batch, cell.inputSize), targets = randomMat(rng, T * batch, cell.outputSize);
    // Padding past a sequence's end is NaN: it must never be read.
    for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) xs.data.fill(NaN, (t * batch + b) * cell.inputSize, (t * batch + b + 1) * cell.inputSize);
    const finals = cell.stateSizes.map((s) => randomMat(rng, batch, s));
    const loss: SequenceLoss = {
      step: (g, t, out) => { const e = g.sub(out, g.constant(rowsView(targets, t * batch, batch))); return g.dot(e, e); },
      final: (g, state) => g.add(g.dot(g.tanh(state[0]), g.constant(finals[0])), g.dot(state[m - 1], g.constant(finals[m - 1]))),
    };
    const fast = new Snap(model, { order: 1 }), slow = new Snap(plain, { order: 1 });
    assert.ok(fast.unitBlocks, `${name}: the hook is not used`);
    assert.not.ok(slow.unitBlocks);
    const got = fast.run(xs, loss, { batch, lengths }), want = slow.run(xs, loss, { batch, lengths });
    assert.ok(got.grad.some((v) => v !== 0) && got.grad.every(Number.isFinite));
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-12 * Math.max(1, Math.abs(want.loss)), `${name}: loss ${got.loss} vs ${want.loss}`);
    const scale = Math.max(1, ...want.grad.map(Math.abs));
    assert.ok(maxAbsDiff(got.grad, want.grad) <= 1e-12 * scale, `${name}: grad differs by ${maxAbsDiff(got.grad, want.grad)}`);
    got.finalState.forEach((s, i) => assert.ok(maxAbsDiff(s.data, want.finalState[i].data) <= 1e-12));
    // Online, without a step loss (the state then comes from a values-only step).
    const finalOnly: SequenceLoss = { final: loss.final };
    const a = fast.run(xs, finalOnly, { batch, lengths }), b = slow.run(xs, finalOnly, { batch, lengths });
    assert.ok(maxAbsDiff(a.grad, b.grad) <= 1e-12 * Math.max(1, ...b.grad.map(Math.abs)), `${name}: final-only grad differs`);
  });
}

test('unitJacobian: SnAp-2 on a dense cell needs D off the unit blocks, so the generic step is kept', () => {
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 3 }), { seed: 1 });
  assert.ok(new Snap(model, { order: 1 }).unitBlocks);
  assert.not.ok(new Snap(model, { order: 2 }).unitBlocks);
  // A cell without the hook (Jordan: its state is its output) takes the generic route.
  assert.not.ok(new Snap(createModel(jordan({ inputSize: 2, hiddenSize: 3, outputSize: 2 }), { seed: 1 }), { order: 1 }).unitBlocks);
});

test.run();
