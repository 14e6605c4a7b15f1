// The unitInfluence hooks (LSTM with and without peepholes or biases, GRU, IndRNN, Elman with an
// output layer, and through a readout) and SnAp-1's fused update that uses them (lib/rnn/snap-fused.ts):
//   - the hook's I_t (rowDerivative · z over its parameter layout) equals I_t from reverse passes of
//     the step, one per (row, state entry), on every parameter (zero where the layout has none), and
//     its D blocks equal a forward-mode step's;
//   - Snap with the fused path equals Snap on the same cell without the hook (the old path: reverse
//     passes for I) and without any hook (the coloured forward step), on a packed batch with lengths,
//     a learned initial state, losses on the output and on the state, a final-state term, and
//     online without a step loss; it takes no reverse pass per row and no forward-mode step;
//   - SnAp-1 on IndRNN (fused) equals BPTT; a full-order SnAp keeps the generic path and equals RTRL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../../lib/ad/graph.js';
import { denseTangent } from '../../lib/ad/tangent.js';
import type { Cell } from '../../lib/cells/cell.js';
import { elman } from '../../lib/cells/elman.js';
import { gru } from '../../lib/cells/gru.js';
import { indrnn } from '../../lib/cells/indrnn.js';
import { lstm } from '../../lib/cells/lstm.js';
import { withReadout } from '../../lib/arch/readout.js';
import { stacked } from '../../lib/arch/stacked.js';
import { ShapeError } from '../../lib/errors.js';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Snap } from '../../lib/rnn/snap.js';
import { createModel } from '../../lib/rnn/model.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import type { RunResult } from '../../lib/rnn/unroll.js';
import { maxAbsDiff, randomMat } from '../helpers.js';

const rng = new Rng(1313);
const cells: [string, () => Cell][] = [
  ['lstm', () => lstm({ inputSize: 3, hiddenSize: 4 })],
  ['lstm peephole', () => lstm({ inputSize: 3, hiddenSize: 4, peephole: true })],
  ['lstm peephole no bias', () => lstm({ inputSize: 2, hiddenSize: 3, peephole: true, bias: false })],
  ['gru', () => gru({ inputSize: 3, hiddenSize: 4 })],
  ['gru no bias', () => gru({ inputSize: 2, hiddenSize: 3, bias: false })],
  ['indrnn relu', () => indrnn({ inputSize: 3, hiddenSize: 4 })],
  ['indrnn tanh no bias', () => indrnn({ inputSize: 2, hiddenSize: 3, activation: 'tanh', bias: false })],
  ['elman tanh', () => elman({ inputSize: 3, hiddenSize: 4 })],
  ['elman relu, output layer', () => elman({ inputSize: 2, hiddenSize: 4, activation: 'relu', outputSize: 2, outputActivation: 'tanh' })],
  ['elman sigmoid no bias, output layer', () => elman({ inputSize: 2, hiddenSize: 3, activation: 'sigmoid', bias: false, outputSize: 2 })],
  ['readout over lstm peephole', () => withReadout(lstm({ inputSize: 3, hiddenSize: 3, peephole: true }), 2)],
  ['readout over gru', () => withReadout(gru({ inputSize: 2, hiddenSize: 3 }), 2)],
];

function paramMats(cell: Cell): Mat[] {
  return cell.paramSpecs.map((s) => randomMat(rng, s.rows, s.cols));
}

/** I of row b, dense N x P (P = the cell's parameters), by reverse passes with one state entry's cotangent each. */
function reverseI(cell: Cell, params: readonly Mat[], state: readonly Mat[], x: Mat, b: number): Float64Array {
  const N = cell.stateSizes.reduce((a, c) => a + c, 0), P = params.reduce((a, m) => a + m.rows * m.cols, 0), batch = x.rows;
  const out = new Float64Array(N * P);
  const g = new Graph('reverse');
  const pv = params.map((m) => g.leaf(m, { requiresGrad: true }));
  const result = cell.step(g, pv, state.map((m) => g.leaf(m)), g.leaf(x));
  let k = 0;
  cell.stateSizes.forEach((n, a) => {
    for (let e = 0; e < n; e++, k++) {
      const cots = cell.stateSizes.map((size) => mat(batch, size));
      cots[a].data[b * n + e] = 1;
      g.backward(result.state, cots);
      let p = 0;
      for (const v of pv) {
        const size = v.value.rows * v.value.cols;
        for (let i = 0; i < size; i++, p++) out[k * P + p] = v.grad === null ? 0 : v.grad.data[v.grad.offset + i];
      }
    }
  });
  return out;
}

/** I of row b, dense N x P, from the hook: rowDerivative[r, a] · z on its layout. */
function hookI(cell: Cell, params: readonly Mat[], state: readonly Mat[], x: Mat, b: number, rowDerivative: Float64Array, next: readonly Mat[]): Float64Array {
  const hook = cell.unitInfluence!, m = cell.stateSizes.length, H = cell.stateSizes[0], N = m * H, R = hook.rows;
  const P = params.reduce((a, q) => a + q.rows * q.cols, 0), out = new Float64Array(N * P);
  let p0 = 0;
  params.forEach((q, qi) => {
    const d = hook.params[qi];
    if (d !== null) {
      const source = (j: number): number => {
        if (d.source === 'one') return 1;
        if (d.source === 'x') return x.data[x.offset + b * x.cols + j];
        const s = (d.source.time === 'prev' ? state : next)[d.source.state];
        return s.data[s.offset + b * s.cols + j];
      };
      for (let i = 0; i < q.rows; i++) {
        for (let j = 0; j < q.cols; j++) {
          const r = d.kind === 'matrix' ? d.rowOf[i] : d.rowOf[j], z = d.kind === 'vector' && d.source === 'one' ? 1 : source(j);
          for (let a = 0; a < m; a++) out[(a * H + hook.rowUnit[r]) * P + p0 + i * q.cols + j] = rowDerivative[(b * R + r) * m + a] * z;
        }
      }
    }
    p0 += q.rows * q.cols;
  });
  return out;
}

/** D's unit blocks by forward mode (N directions), laid out as unitJacobian writes them. */
function forwardBlocks(cell: Cell, params: readonly Mat[], state: readonly Mat[], x: Mat): Float64Array {
  const m = cell.stateSizes.length, H = cell.stateSizes[0], N = m * H, batch = x.rows;
  const g = new Graph('forward', N);
  const sv = state.map((s, a) => {
    const data = new Float64Array(batch * H * N);
    for (let b = 0; b < batch; b++) for (let e = 0; e < H; e++) data[(b * H + e) * N + a * H + e] = 1;
    return g.leaf(s, { tangent: denseTangent(data) });
  });
  const result = cell.step(g, params.map((q) => g.leaf(q)), sv, g.leaf(x));
  const out = new Float64Array(batch * N * m);
  result.state.forEach((v, a) => {
    const tg = v.tangent;
    if (tg === null || tg.kind !== 'dense') throw new Error(`state ${a} has no dense tangent`);
    for (let b = 0; b < batch; b++) for (let u = 0; u < H; u++) for (let c = 0; c < m; c++) out[((b * m + a) * H + u) * m + c] = tg.data[tg.offset + (b * H + u) * N + c * H + u];
  });
  return out;
}

for (const [name, make] of cells) {
  test(`unitInfluence: ${name}: the hook's I and D equal reverse passes and a forward-mode step`, () => {
    const cell = make(), batch = 3, m = cell.stateSizes.length;
    const params = paramMats(cell);
    const state = cell.stateSizes.map((s) => randomMat(rng, batch, s));
    const x = randomMat(rng, batch, cell.inputSize);
    const hook = cell.unitInfluence!;
    const jacobian = new Float64Array(batch * m * cell.stateSizes[0] * m).fill(NaN);
    const rowDerivative = new Float64Array(batch * hook.rows * m).fill(NaN);
    const g = new Graph('eval');
    const next = cell.step(g, params.map((q) => g.leaf(q)), state.map((s) => g.leaf(s)), g.leaf(x)).state.map((v) => v.value);
    hook.compute(params, state, next, x, jacobian, rowDerivative);
    for (let b = 0; b < batch; b++) {
      const want = reverseI(cell, params, state, x, b), got = hookI(cell, params, state, x, b, rowDerivative, next);
      const scale = Math.max(...want.map(Math.abs));
      assert.ok(scale > 1e-3, `${name}: the reference I is trivially small`);
      assert.ok(maxAbsDiff(got, want) <= 1e-12 * scale, `${name}, row ${b}: I differs by ${maxAbsDiff(got, want)}`);
    }
    const blocks = forwardBlocks(cell, params, state, x);
    assert.ok(maxAbsDiff(jacobian, blocks) <= 1e-12 * Math.max(1, ...blocks.map(Math.abs)), `${name}: D blocks differ by ${maxAbsDiff(jacobian, blocks)}`);
    // unitJacobian alone writes the same D.
    const alone = new Float64Array(jacobian.length);
    cell.unitJacobian!(params, state, x, alone);
    assert.ok(maxAbsDiff(alone, blocks) <= 1e-12 * Math.max(1, ...blocks.map(Math.abs)), `${name}: unitJacobian differs by ${maxAbsDiff(alone, blocks)}`);
  });
}

const T = 5, batch = 3, lengths = [5, 3, 1];

/** A packed batch (NaN padding), losses on every output and on the last state vector, and a final-state term. */
function problem(cell: Cell) {
  const m = cell.stateSizes.length;
  const xs = randomMat(rng, T * batch, cell.inputSize), targets = randomMat(rng, T * batch, cell.outputSize);
  for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) xs.data.fill(NaN, (t * batch + b) * cell.inputSize, (t * batch + b + 1) * cell.inputSize);
  const onState = randomMat(rng, batch, cell.stateSizes[m - 1]), finals = cell.stateSizes.map((s) => randomMat(rng, batch, s));
  const loss: SequenceLoss = {
    step: (g, t, out, state) => {
      const e = g.sub(out, g.constant(rowsView(targets, t * batch, batch)));
      return g.add(g.dot(e, e), g.dot(g.tanh(state[m - 1]), g.constant(onState)));
    },
    final: (g, state) => g.add(g.dot(g.tanh(state[0]), g.constant(finals[0])), g.dot(state[m - 1], g.constant(finals[m - 1]))),
  };
  return { xs, loss };
}

function assertSame(what: string, got: RunResult, want: RunResult): void {
  assert.ok(got.grad.some((v) => v !== 0) && got.grad.every(Number.isFinite), `${what}: grad is zero or not finite`);
  assert.ok(Math.abs(got.loss - want.loss) <= 1e-12 * Math.max(1, Math.abs(want.loss)), `${what}: loss ${got.loss} vs ${want.loss}`);
  const scale = Math.max(1, ...want.grad.map(Math.abs));
  assert.ok(maxAbsDiff(got.grad, want.grad) <= 1e-12 * scale, `${what}: grad differs by ${maxAbsDiff(got.grad, want.grad)}`);
  got.finalState.forEach((s, i) => assert.ok(maxAbsDiff(s.data, want.finalState[i].data) <= 1e-12, `${what}: final state ${i}`));
}

/** Nodes recorded on Snap's per-row reverse graph and its forward-mode graph (both untouched by the fused path). */
function genericNodes(snap: Snap): number {
  const inner = snap as unknown as { rowGraph: Graph; jvpGraph: Graph };
  return inner.rowGraph.size + inner.jvpGraph.size;
}

for (const [name, make] of cells) {
  test(`unitInfluence: ${name}: fused SnAp-1 equals the reverse-pass path and the generic path (lengths, learned initial state)`, () => {
    const cell = make();
    const model = createModel(cell, { seed: 5, initialState: 'learned' });
    for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
    const oldPath = createModel({ ...cell, unitInfluence: undefined }, { initialState: 'learned' });
    const generic = createModel({ ...cell, unitInfluence: undefined, unitJacobian: undefined }, { initialState: 'learned' });
    oldPath.params.theta.set(model.params.theta);
    generic.params.theta.set(model.params.theta);
    const { xs, loss } = problem(cell);
    const fast = new Snap(model, { order: 1 }), old = new Snap(oldPath, { order: 1 }), slow = new Snap(generic, { order: 1 });
    assert.ok(fast.fused !== null, `${name}: the fused path is not taken`);
    assert.ok(old.fused === null && slow.fused === null);
    const got = fast.run(xs, loss, { batch, lengths });
    assert.is(genericNodes(fast), 0, `${name}: the fused path recorded a per-row reverse pass or a forward-mode step`);
    assertSame(`${name} vs old`, got, old.run(xs, loss, { batch, lengths }));
    assertSame(`${name} vs generic`, got, slow.run(xs, loss, { batch, lengths }));
    // Online without a step loss (the state from a values-only step, only the final term's gradient).
    const finalOnly: SequenceLoss = { final: loss.final };
    assertSame(`${name} final only`, fast.run(xs, finalOnly, { batch, lengths }), old.run(xs, finalOnly, { batch, lengths }));
    // Stepped online with zeroGrad between steps: each step's gradient equals the old path's.
    fast.reset({ batch, lengths }); old.reset({ batch, lengths });
    for (let t = 0; t < 3; t++) {
      const x = rowsView(xs, t * batch, batch);
      fast.step(x, loss); old.step(x, loss);
      assert.ok(maxAbsDiff(fast.grad, old.grad) <= 1e-12 * Math.max(1, ...old.grad.map(Math.abs)), `${name}: online step ${t}`);
      fast.zeroGrad(); old.zeroGrad();
    }
  });
}

test('unitInfluence: SnAp-1 on IndRNN (fused) equals BPTT; a full-order SnAp keeps the generic path and equals RTRL', () => {
  for (const activation of ['relu', 'tanh'] as const) {
    const cell = indrnn({ inputSize: 3, hiddenSize: 4, activation });
    const model = createModel(cell, { seed: 8, initialState: 'learned' });
    for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
    const { xs, loss } = problem(cell);
    const snap = new Snap(model, { order: 1 });
    assert.ok(snap.fused !== null);
    assertSame(`indrnn ${activation} snap1 vs bptt`, snap.run(xs, loss, { batch, lengths }), new Bptt(model).run(xs, loss, { batch, lengths }));
  }
  const cell = lstm({ inputSize: 2, hiddenSize: 3, peephole: true });
  const model = createModel(cell, { seed: 9, initialState: 'learned' });
  const { xs, loss } = problem(cell);
  // Full order (T steps of reach: a learned c_0 needs more than 2 to reach every entry).
  const full = new Snap(model, { order: T });
  assert.ok(full.fused === null && !full.unitBlocks);
  assertSame('lstm full-order snap vs rtrl', full.run(xs, loss, { batch, lengths }), new Rtrl(model).run(xs, loss, { batch, lengths }));
});

test('unitInfluence: a stack (no hook: a lower layer reaches the upper layer within a step) keeps the generic path; a wrong description is a ShapeError', () => {
  const stack = createModel(stacked([indrnn({ inputSize: 2, hiddenSize: 3 }), gru({ inputSize: 3, hiddenSize: 2 })]), { seed: 1 });
  const snap = new Snap(stack, { order: 1 });
  assert.ok(snap.fused === null);
  const cell = lstm({ inputSize: 2, hiddenSize: 3 });
  const short = { ...cell, unitInfluence: { ...cell.unitInfluence!, params: cell.unitInfluence!.params.slice(1) } };
  assert.throws(() => new Snap(createModel(short, { seed: 1 }), { order: 1 }), (e: Error) => e instanceof ShapeError && /^snap: lstm\.unitInfluence describes 3 parameters, the cell has 4/.test(e.message));
  const d = cell.unitInfluence!.params[0]!;
  const wrongRows = { ...cell, unitInfluence: { ...cell.unitInfluence!, params: [{ ...d, rowOf: d.rowOf.slice(1) }, ...cell.unitInfluence!.params.slice(1)] } };
  assert.throws(() => new Snap(createModel(wrongRows, { seed: 1 }), { order: 1 }), (e: Error) => e instanceof ShapeError && /^snap: .*weight_ih: matrix with 11 rows for a 12x2 parameter/.test(e.message));
});

test('unitInfluence: SnAp-1 keeps at most two numbers per parameter (2 x 8 x P bytes of Ŝ), flat in the sequence length', () => {
  for (const cell of [lstm({ inputSize: 3, hiddenSize: 4, peephole: true }), gru({ inputSize: 3, hiddenSize: 4 }), indrnn({ inputSize: 3, hiddenSize: 4 })]) {
    const model = createModel(cell, { seed: 2 });
    const P = model.params.theta.length;
    const snap = new Snap(model, { order: 1 });
    assert.ok(snap.fused !== null);
    assert.ok(snap.sensitivityCount() <= 2 * P, `${cell.kind}: ${snap.sensitivityCount()} sensitivities for P = ${P}`);
    const loss: SequenceLoss = { step: (g, _t, out) => g.sum(g.mul(out, out)) };
    snap.reset({});
    const x = randomMat(rng, 1, cell.inputSize);
    snap.step(x, loss);
    const after1 = snap.stateBytes(), total1 = snap.totalBytes();
    for (let t = 0; t < 20; t++) snap.step(x, loss);
    assert.is(snap.stateBytes(), after1, `${cell.kind}: kept bytes grew with the sequence`);
    assert.is(snap.totalBytes(), total1, `${cell.kind}: held bytes grew with the sequence`);
  }
});

test('SnAp-1 keeps at most 2 x 8 x P bytes between steps (Ŝ, state and pending dL/ds) on every cell with a fused pass, and Elman', () => {
  const I = 5, H = 16;
  for (const cell of [lstm({ inputSize: I, hiddenSize: H }), gru({ inputSize: I, hiddenSize: H }), indrnn({ inputSize: I, hiddenSize: H }), elman({ inputSize: I, hiddenSize: H })]) {
    const model = createModel(cell, { seed: 3 });
    const P = model.params.theta.length;
    const snap = new Snap(model, { order: 1 });
    snap.reset({});
    snap.step(randomMat(rng, 1, I), { step: (g, _t, out) => g.sum(g.mul(out, out)) });
    assert.ok(snap.stateBytes() <= 16 * P, `${cell.kind}: ${snap.stateBytes()} bytes kept for P = ${P}`);
    assert.ok(snap.totalBytes() > snap.stateBytes(), `${cell.kind}: totalBytes ${snap.totalBytes()}`);
  }
});

test.run();
