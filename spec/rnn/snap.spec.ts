// SnAp-n (Menick et al. 2021) under the one contract:
//   - with its pattern full it is exact RTRL (n past the number of steps; n = 2 already fills the
//     pattern of a dense cell, Elman, LSTM, GRU), on packed batches with a learned initial state;
//   - SnAp-1 on IndRNN is exact (D is diagonal), equal to BPTT;
//   - SnAp-1 and SnAp-2 equal the paper's definition computed another way: dense D_t and I_t per
//     step from one forward pass with N + P directions, a mask built from their dense supports,
//     the masked recurrence and contraction written out densely, each sequence alone;
//   - storage is the pattern (P numbers per sequence for SnAp-1 on Elman, GRU, IndRNN), online
//     equals run, runs repeat, errors name what is wrong, and the trainer trains with it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Var } from '../../lib/ad/graph.js';
import { denseTangent, seedTangent } from '../../lib/ad/tangent.js';
import type { Cell } from '../../lib/cells/cell.js';
import { elman } from '../../lib/cells/elman.js';
import { gru } from '../../lib/cells/gru.js';
import { indrnn } from '../../lib/cells/indrnn.js';
import { jordan } from '../../lib/cells/jordan.js';
import { lstm } from '../../lib/cells/lstm.js';
import { stacked } from '../../lib/arch/stacked.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { withReadout } from '../../lib/arch/readout.js';
import { withEmbedding } from '../../lib/arch/embedding.js';
import { ConfigError, ResourceError } from '../../lib/errors.js';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { flopCounter } from '../../lib/mat/gemm.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Snap } from '../../lib/rnn/snap.js';
import { createMethod, formatMethod, methodDrive, parseMethod } from '../../lib/rnn/methods.js';
import { type RecurrentModel, createModel } from '../../lib/rnn/model.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import type { RunResult } from '../../lib/rnn/unroll.js';
import { trainTask } from '../../lib/train/run-task.js';
import { randomMat, relErr, squaredLoss } from '../helpers.js';
import { METHODS_AGREE } from '../tolerances.js';

const rng = new Rng(2021);
const T = 5, batch = 3, lengths = [5, 3, 1];

interface Problem { model: RecurrentModel; xs: Mat; targets: Mat; finals: Mat[]; loss: SequenceLoss }

/** A model (learned initial state set to random values when asked) and a packed batch with NaN padding. */
function problem(cell: Cell, learned: boolean): Problem {
  const model = createModel(cell, { seed: rng.int(1000), initialState: learned ? 'learned' : 'zero' });
  if (learned) for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
  const xs = randomMat(rng, T * batch, cell.inputSize);
  const targets = randomMat(rng, T * batch, cell.outputSize);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) {
      if (t < lengths[b]) continue;
      xs.data.fill(NaN, (t * batch + b) * cell.inputSize, (t * batch + b + 1) * cell.inputSize);
      targets.data.fill(0, (t * batch + b) * cell.outputSize, (t * batch + b + 1) * cell.outputSize);
    }
  }
  const finals = cell.stateSizes.map((s) => randomMat(rng, batch, s));
  return { model, xs, targets, finals, loss: squaredLoss(targets, batch, finals) };
}

function assertAgree(what: string, got: RunResult, want: RunResult): void {
  assert.ok(Number.isFinite(got.loss) && got.grad.every(Number.isFinite), `${what}: not finite`);
  assert.ok(Math.abs(got.loss - want.loss) <= METHODS_AGREE * Math.max(1, Math.abs(want.loss)), `${what}: loss ${got.loss} vs ${want.loss}`);
  assert.ok(relErr(got.grad, want.grad) <= METHODS_AGREE, `${what}: grad differs by ${relErr(got.grad, want.grad)}`);
  got.finalState.forEach((m, i) => assert.ok(relErr(m.data, want.finalState[i].data) <= METHODS_AGREE, `${what}: final state ${i}`));
}

const cells: [string, () => Cell, boolean][] = [
  ['elman', () => elman({ inputSize: 2, hiddenSize: 3 }), true],
  ['jordan', () => jordan({ inputSize: 2, hiddenSize: 3, outputSize: 2 }), true],
  ['lstm', () => lstm({ inputSize: 2, hiddenSize: 3 }), true],
  ['gru', () => gru({ inputSize: 2, hiddenSize: 3 }), true],
  ['indrnn', () => indrnn({ inputSize: 2, hiddenSize: 3 }), false],
  ['stack indrnn -> gru', () => stacked([indrnn({ inputSize: 2, hiddenSize: 3 }), gru({ inputSize: 3, hiddenSize: 2 })]), false],
  ['readout over a stack elman -> indrnn', () => withReadout(stacked([elman({ inputSize: 2, hiddenSize: 3 }), indrnn({ inputSize: 3, hiddenSize: 2, activation: 'tanh' })]), 2), false],
];

test('snap: an embedding under the cell is probed with every symbol; a full pattern is exact RTRL, and SnAp-1 keeps every table row', () => {
  const vocab = 20; // more symbols than the probe's 16 random rows: every one must still be probed
  const model = createModel(withReadout(withEmbedding(gru({ inputSize: 3, hiddenSize: 3 }), vocab), 2), { seed: 4 });
  const steps = 4, rows = 2;
  const xs = mat(steps * rows, 1);
  [19, 17, 0, 3, 19, 8, 11, 19].forEach((v, i) => { xs.data[i] = v; }); // the last symbol, read by both sequences
  const targets = randomMat(rng, steps * rows, 2);
  const loss = squaredLoss(targets, rows, [randomMat(rng, rows, 3)]);
  const rtrl = new Rtrl(model).run(xs, loss, { batch: rows });
  assertAgree('snap5 over an embedding', new Snap(model, { order: steps + 1 }).run(xs, loss, { batch: rows }), rtrl);
  // One step: SnAp-1's Ŝ_1 = M_1 ⊙ I_1 = I_1, so it is exact there, the final-state term included,
  // only if the pattern holds every table row the step reads (19 and 17 lie past the probe's 16 rows).
  const first = rowsView(xs, 0, rows), finals = [randomMat(rng, rows, 3)];
  const oneStep = squaredLoss(targets, rows, finals);
  assertAgree('snap1 on one step over an embedding', new Snap(model, { order: 1 }).run(first, oneStep, { batch: rows }), new Bptt(model).run(first, oneStep, { batch: rows }));
});

const P = (model: RecurrentModel) => model.params.theta.length;
const stateNumbers = (cell: Cell) => cell.stateSizes.reduce((a, b) => a + b, 0);

for (const [name, make, dense] of cells) {
  test(`snap: ${name}, packed batch [${lengths}], learned initial state: a full pattern is exact RTRL${dense ? ' (n = 2 fills it)' : ''}`, () => {
    const { model, xs, loss } = problem(make(), true);
    const options = { batch, lengths };
    const rtrl = new Rtrl(model).run(xs, loss, options);
    // n = T + 1: a parameter's influence after T steps reaches T steps of D (the learned initial
    // state's one more, since it is in s_0), so nothing exact RTRL holds is masked.
    assertAgree(`snap${T + 1}`, new Snap(model, { order: T + 1 }).run(xs, loss, options), rtrl);
    if (dense) {
      // A dense cell: every state entry depends on every h in one step, so M_2 holds every entry for
      // every parameter of the cell (not for a learned init_c_j, which reaches only unit j's entries
      // by then: so this part runs from a zero initial state).
      const zero = problem(make(), false);
      const snap2 = new Snap(zero.model, { order: 2 });
      assert.is(snap2.sensitivityCount(), stateNumbers(zero.model.cell) * P(zero.model), `${name}: M_2 is full`);
      assertAgree('snap2', snap2.run(zero.xs, zero.loss, options), new Rtrl(zero.model).run(zero.xs, zero.loss, options));
    }
  });
}

test('snap: SnAp-2 on wider dense cells (N >= 8: the update by gemm over blocks of columns) is exact RTRL on a packed batch', () => {
  for (const cell of [elman({ inputSize: 2, hiddenSize: 8 }), lstm({ inputSize: 2, hiddenSize: 4 }), gru({ inputSize: 2, hiddenSize: 9 })]) {
    const { model, xs, loss } = problem(cell, false);
    const snap = new Snap(model, { order: 2 });
    assert.ok(snap.pattern.classes === 1 && snap.pattern.classDense[0] === 1, `${cell.kind}: one dense class`);
    assertAgree(`${cell.kind} snap2 (gemm)`, snap.run(xs, loss, { batch, lengths }), new Rtrl(model).run(xs, loss, { batch, lengths }));
  }
});

test('snap: SnAp-1 on IndRNN is exact (D diagonal: one forward direction), equal to BPTT on a packed batch with a learned initial state', () => {
  for (const activation of ['relu', 'tanh'] as const) {
    const { model, xs, loss } = problem(indrnn({ inputSize: 2, hiddenSize: 4, activation }), true);
    const snap = new Snap(model, { order: 1 });
    assert.ok(snap.pattern.diagonal && snap.pattern.dColours === 1 && snap.pattern.iColours === 1, 'diagonal D, one colour each way');
    assertAgree(`snap1 indrnn ${activation}`, snap.run(xs, loss, { batch, lengths }), new Bptt(model).run(xs, loss, { batch, lengths }));
  }
});

// ---- The paper's definition, written densely (each sequence alone, unpadded) ----

/** Dense D_t (N x N) and I_t (N x P) of one batch-1 step at state s, by forward mode with N + P directions. */
function denseJacobians(model: RecurrentModel, state: Mat[], x: Mat): { D: Float64Array; I: Float64Array; next: Mat[] } {
  const { cell, params } = model;
  const N = stateNumbers(cell), Pn = P(model), K = N + Pn;
  const g = new Graph('forward', K);
  const paramVars = params.mats.slice(0, model.cellParamCount).map((m, q) => g.leaf(m, { tangent: seedTangent(N + params.offsets[q]) }));
  let at = 0;
  const stateVars = state.map((m) => {
    const t = new Float64Array(m.cols * K);
    for (let e = 0; e < m.cols; e++) t[e * K + at + e] = 1;
    at += m.cols;
    return g.leaf(m, { tangent: denseTangent(t) });
  });
  const result = cell.step(g, paramVars, stateVars, g.leaf(x));
  const D = new Float64Array(N * N), I = new Float64Array(N * Pn);
  let k = 0;
  const next = result.state.map((v) => {
    for (let e = 0; e < v.value.cols; e++, k++) {
      for (let j = 0; j < K; j++) {
        const d = v.tangent === null ? 0 : v.tangent.kind === 'dense' ? v.tangent.data[v.tangent.offset + e * K + j] : (j === v.tangent.start + e ? 1 : 0);
        if (j < N) D[k * N + j] = d; else I[k * Pn + j - N] = d;
      }
    }
    return { rows: 1, cols: v.value.cols, data: v.value.data.slice(v.value.offset, v.value.offset + v.value.cols), offset: 0 };
  });
  return { D, I, next };
}

/** The gradient of a loss term at batch 1 by forward mode: d/ds (N numbers) and d/dθ with s fixed (P). */
function lossTangent(model: RecurrentModel, state: Mat[], term: (g: Graph, params: Var[], state: Var[]) => Var | null): { value: number; ds: Float64Array; dtheta: Float64Array } {
  const N = stateNumbers(model.cell), Pn = P(model), K = N + Pn;
  const g = new Graph('forward', K);
  const paramVars = model.params.mats.slice(0, model.cellParamCount).map((m, q) => g.leaf(m, { tangent: seedTangent(N + model.params.offsets[q]) }));
  let at = 0;
  const stateVars = state.map((m) => { const v = g.leaf(m, { tangent: seedTangent(at) }); at += m.cols; return v; });
  const out = term(g, paramVars, stateVars);
  const ds = new Float64Array(N), dtheta = new Float64Array(Pn);
  if (out === null) return { value: 0, ds, dtheta };
  for (let j = 0; j < K; j++) {
    const d = out.tangent === null ? 0 : out.tangent.kind === 'dense' ? out.tangent.data[out.tangent.offset + j] : (j === out.tangent.start ? 1 : 0);
    if (j < N) ds[j] = d; else dtheta[j - N] = d;
  }
  return { value: out.value.data[out.value.offset], ds, dtheta };
}

function rowOf(m: Mat, b: number): Mat {
  return { rows: 1, cols: m.cols, data: m.data.slice(m.offset + b * m.cols, m.offset + (b + 1) * m.cols), offset: 0 };
}

/** The initial state of sequence alone and d s_0 / d theta (dense N x P). */
function initialOf(model: RecurrentModel): { state: Mat[]; S0: Float64Array } {
  const N = stateNumbers(model.cell), Pn = P(model);
  const S0 = new Float64Array(N * Pn);
  let at = 0;
  const state = model.cell.stateSizes.map((n, i) => {
    const m = mat(1, n);
    if (model.initialState === 'learned') {
      const off = model.params.offsets[model.cellParamCount + i];
      for (let e = 0; e < n; e++) { m.data[e] = model.params.theta[off + e]; S0[(at + e) * Pn + off + e] = 1; }
    }
    at += n;
    return m;
  });
  return { state, S0 };
}

/**
 * SnAp-n by its definition, densely: the mask from the dense supports of D_t and I_t over every
 * step of every sequence (M_1 = supp I ∪ supp d s_0/dθ, M_n = M_{n-1} ∪ supp(D·M_{n-1})), then per
 * sequence Ŝ_t = M ⊙ (D_t Ŝ_{t-1} + I_t) and the gradient dL_t/ds_{t-1}·Ŝ_{t-1} + dL_t/dθ, plus dL_final/ds_T·Ŝ_T.
 */
function denseSnap(p: Problem, order: number): { result: RunResult; mask: Uint8Array } {
  const { model, xs, targets, finals } = p;
  const N = stateNumbers(model.cell), Pn = P(model);
  // Pass 1: the exact trajectory's Jacobians (they do not depend on the approximation).
  const steps: { D: Float64Array; I: Float64Array; state: Mat[]; x: Mat }[][] = [];
  const suppI = new Uint8Array(N * Pn), suppD = new Uint8Array(N * N);
  const { S0 } = initialOf(model);
  for (let b = 0; b < batch; b++) {
    let state = initialOf(model).state;
    const seqSteps = [];
    for (let t = 0; t < lengths[b]; t++) {
      const x = rowOf(rowsView(xs, t * batch, batch), b);
      const { D, I, next } = denseJacobians(model, state, x);
      for (let a = 0; a < D.length; a++) if (D[a] !== 0) suppD[a] = 1;
      for (let a = 0; a < I.length; a++) if (I[a] !== 0) suppI[a] = 1;
      seqSteps.push({ D, I, state, x });
      state = next;
    }
    seqSteps.push({ D: new Float64Array(0), I: new Float64Array(0), state, x: mat(1, 1) });
    steps.push(seqSteps);
  }
  let mask = suppI.slice();
  for (let a = 0; a < S0.length; a++) if (S0[a] !== 0) mask[a] = 1;
  for (let level = 1; level < order; level++) {
    const grown = mask.slice();
    for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) if (suppD[k * N + j]) for (let q = 0; q < Pn; q++) if (mask[j * Pn + q]) grown[k * Pn + q] = 1;
    mask = grown;
  }
  // Pass 2: the masked recurrence and the contraction, sequence by sequence.
  const grad = new Float64Array(Pn);
  let loss = 0;
  const finalState: Mat[] = model.cell.stateSizes.map((n) => mat(batch, n));
  for (let b = 0; b < batch; b++) {
    let S = S0.map((v, a) => v * mask[a]);
    const target = (t: number) => rowOf(rowsView(targets, t * batch, batch), b);
    for (let t = 0; t <= lengths[b]; t++) {
      const { D, I, state, x } = steps[b][t];
      const term = t < lengths[b]
        ? lossTangent(model, state, (g, params, s) => {
          const out = model.cell.step(g, params, s, g.leaf(x)).output;
          const d = g.sub(out, g.constant(target(t)));
          return g.dot(d, d);
        })
        : lossTangent(model, state, (g, _params, s) => {
          let total = null;
          for (let i = 0; i < s.length; i++) {
            const f = g.dot(g.tanh(s[i]), g.constant(rowOf(finals[i], b)));
            total = total === null ? f : g.add(total, f);
          }
          return total;
        });
      loss += term.value;
      for (let q = 0; q < Pn; q++) {
        let acc = term.dtheta[q];
        for (let k = 0; k < N; k++) acc += term.ds[k] * S[k * Pn + q];
        grad[q] += acc;
      }
      if (t === lengths[b]) {
        state.forEach((m, i) => finalState[i].data.set(m.data.subarray(0, m.cols), b * m.cols));
        break;
      }
      const next = new Float64Array(N * Pn);
      for (let k = 0; k < N; k++) {
        for (let q = 0; q < Pn; q++) {
          if (!mask[k * Pn + q]) continue;
          let acc = I[k * Pn + q];
          for (let j = 0; j < N; j++) acc += D[k * N + j] * S[j * Pn + q];
          next[k * Pn + q] = acc;
        }
      }
      S = next;
    }
  }
  return { result: { loss, grad, finalState }, mask };
}

function patternMask(snap: Snap): Uint8Array {
  const { pattern: p } = snap;
  const mask = new Uint8Array(p.stateNumbers * p.params);
  for (let q = 0; q < p.params; q++) {
    const c = p.colClass[q];
    if (c < 0) continue;
    for (let r = p.classRowStart[c]; r < p.classRowStart[c + 1]; r++) mask[p.classRows[r] * p.params + q] = 1;
  }
  return mask;
}

const referenceCells: [string, () => Cell, boolean][] = [
  ['elman', () => elman({ inputSize: 2, hiddenSize: 3 }), false],
  ['lstm', () => lstm({ inputSize: 2, hiddenSize: 3 }), true],
  ['gru', () => gru({ inputSize: 2, hiddenSize: 3 }), false],
  ['lstm peephole', () => lstm({ inputSize: 2, hiddenSize: 2, peephole: true }), false],
];

for (const [name, make, learned] of referenceCells) {
  test(`snap: SnAp-1 and SnAp-2 on ${name} equal the definition computed densely (pattern and gradient)${learned ? ', learned initial state' : ''}`, () => {
    const p = problem(make(), learned);
    for (const order of [1, 2]) {
      const snap = new Snap(p.model, { order });
      const reference = denseSnap(p, order);
      const got = patternMask(snap);
      let differ = 0;
      for (let a = 0; a < got.length; a++) if (got[a] !== reference.mask[a]) differ++;
      assert.is(differ, 0, `${name} snap${order}: ${differ} pattern entries differ from the dense supports' mask`);
      assertAgree(`${name} snap${order}`, snap.run(p.xs, p.loss, { batch, lengths }), reference.result);
    }
    // SnAp-1 is an approximation on these cells: it must differ from exact RTRL somewhere.
    const exact = new Rtrl(p.model).run(p.xs, p.loss, { batch, lengths });
    assert.ok(relErr(new Snap(p.model, { order: 1 }).run(p.xs, p.loss, { batch, lengths }).grad, exact.grad) > 1e-6, `${name}: SnAp-1 is not RTRL`);
  });
}

test('snap: SnAp-1 keeps P sensitivities per sequence on Elman, GRU, IndRNN and 2P less the output gate on LSTM, fewer than the dense N·P', () => {
  const H = 4, I = 3;
  const cases: [string, Cell, (P: number) => number][] = [
    ['elman', elman({ inputSize: I, hiddenSize: H }), (n) => n],
    ['gru', gru({ inputSize: I, hiddenSize: H }), (n) => n],
    ['indrnn', indrnn({ inputSize: I, hiddenSize: H }), (n) => n],
    // Every LSTM parameter of unit k reaches h_k and c_k in one step, except the output gate's (H·I + H·H + 2H = P/4), which reaches h_k only.
    ['lstm', lstm({ inputSize: I, hiddenSize: H }), (n) => 2 * n - n / 4],
  ];
  for (const [name, cell, expected] of cases) {
    const model = createModel(cell, { seed: 1 });
    const snap = new Snap(model, { order: 1 });
    const Pn = P(model), N = stateNumbers(cell);
    assert.is(snap.sensitivityCount(), expected(Pn), `${name}: SnAp-1 count`);
    assert.is(snap.sensitivity.length, expected(Pn), `${name}: Ŝ of one sequence`);
    assert.ok(snap.sensitivityCount() < N * Pn, `${name}: sparse`);
    assert.ok(snap.pattern.iColours === (name === 'lstm' ? 2 : 1), `${name}: colours of I: ${snap.pattern.iColours}`);
    // Batch 4 keeps 4 times the sensitivities; the bytes between steps are Ŝ, the state and the pending dL/ds.
    snap.reset({ batch: 4 });
    assert.is(snap.sensitivity.length, 4 * expected(Pn));
    assert.is(snap.stateBytes(), 8 * 4 * (expected(Pn) + 2 * N), `${name}: stateBytes`);
    // Everything held also has the gradient, the second state set and the indices.
    assert.ok(snap.totalBytes() >= snap.stateBytes() + 8 * (Pn + 4 * N), `${name}: totalBytes ${snap.totalBytes()}`);
  }
});

test('snap: the work of a run is affine in the batch (counted flops: no term grows with batch²)', () => {
  for (const [cell, order] of [[lstm({ inputSize: 2, hiddenSize: 3 }), 1], [gru({ inputSize: 2, hiddenSize: 8 }), 2]] as const) {
    const model = createModel(cell, { seed: 1 });
    const snap = new Snap(model, { order });
    const flops = (B: number): number => {
      const xs = randomMat(rng, T * B, 2);
      const loss = squaredLoss(randomMat(rng, T * B, cell.outputSize), B, cell.stateSizes.map((n) => randomMat(rng, B, n)));
      snap.run(xs, loss, { batch: B }); // buffers sized for B first
      const before = flopCounter.count;
      snap.run(xs, loss, { batch: B });
      return flopCounter.count - before;
    };
    const f4 = flops(4), f8 = flops(8), f16 = flops(16);
    assert.ok(f8 > f4 && Math.abs((f16 - f8) / (f8 - f4) - 2) < 1e-12, `${cell.kind} snap${order}: flops ${f4}, ${f8}, ${f16} at batch 4, 8, 16`);
  }
});

test('snap: online step by step equals run, runs repeat bit for bit, carry continues the state', () => {
  const { model, xs, loss } = problem(lstm({ inputSize: 2, hiddenSize: 3 }), true);
  const snap = new Snap(model, { order: 1 });
  const first = snap.run(xs, loss, { batch, lengths });
  const again = snap.run(xs, loss, { batch, lengths });
  assert.equal(Array.from(again.grad), Array.from(first.grad), 'repeatable');
  assert.is(again.loss, first.loss);
  const online = new Snap(model, { order: 1 });
  online.reset({ batch, lengths });
  for (let t = 0; t < T; t++) online.step(rowsView(xs, t * batch, batch), loss, t === T - 1);
  assertAgree('online', { loss: online.loss, grad: online.grad, finalState: online.state.slice() }, first);
  // 'carry': the next run starts from the final state with Ŝ_0 = 0, as from that state given explicitly.
  const xs2 = randomMat(rng, T * batch, 2);
  const carried = snap.run(xs2, loss, { batch, initialState: 'carry' });
  assertAgree('carry', carried, new Snap(model, { order: 1 }).run(xs2, loss, { batch, initialState: first.finalState }));
  assert.ok(relErr(carried.grad, new Snap(model, { order: 1 }).run(xs2, loss, { batch }).grad) > 1e-6, 'carry starts from another state than the model\'s rule');
});

test('snap: errors name the method and what is wrong', () => {
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 2 }), { seed: 1 });
  for (const order of [0, -1, 1.5, '2', Number.NaN]) {
    assert.throws(() => new Snap(model, { order: order as number }), (e: Error) => e instanceof ConfigError && /^snap: order must be an integer >= 1/.test(e.message), `order ${String(order)}`);
  }
  const bi = createModel(bidirectional(lstm({ inputSize: 2, hiddenSize: 2 }), lstm({ inputSize: 2, hiddenSize: 2 })), { seed: 1 });
  assert.throws(() => new Snap(bi, { order: 1 }), (e: Error) => e instanceof ConfigError && /^snap: .*bidirectional.*SnAp-1.*use Bptt/.test(e.message));
  const deep = createModel(stacked([lstm({ inputSize: 2, hiddenSize: 2 }), lstm({ inputSize: 2, hiddenSize: 2 })], { dropout: 0.5 }), { seed: 1 });
  assert.throws(() => new Snap(deep), /snap: the stacked model has dropout 0.5/);
  assert.throws(() => new Snap(model, { order: 1, maxBytes: 100 }), (e: Error) => e instanceof ResourceError && /snap: SnAp-1 keeps \d+ sensitivities .* MiB, over the limit/.test(e.message));
  assert.throws(() => new Snap(model, { ordre: 1 } as never), /snap: unknown option "ordre"/);
  const snap = new Snap(model);
  assert.throws(() => snap.step(mat(2, 2)), /snap: input is 2x2, needs batch 1 x 2/);
  assert.throws(() => snap.run(mat(3, 2), {}, { batch: 2 }), /snap: input has 3 rows, not a multiple of batch 2/);
});

test('snap: the method table reads snapN and snap:N, prints snapN, drives online', () => {
  assert.equal(parseMethod('snap1'), { kind: 'snap', order: 1 });
  assert.equal(parseMethod('snap:2'), { kind: 'snap', order: 2 });
  assert.is(formatMethod(parseMethod('snap:3')), 'snap3');
  assert.is(formatMethod({ kind: 'snap', order: 2 }), 'snap2');
  assert.is(methodDrive({ kind: 'snap', order: 1 }), 'online');
  assert.throws(() => parseMethod('snap0'), /method: "snap0" needs an integer order N >= 1, got 0/);
  assert.throws(() => parseMethod('snap:1.5'), /method: "snap:1.5" needs an integer order N >= 1, got 1.5/);
  assert.throws(() => parseMethod('snap'), /method: "snap" is not one of .*snapN, snap:N/);
  const model = createModel(gru({ inputSize: 2, hiddenSize: 2 }), { seed: 1 });
  const method = createMethod(model, 'snap2');
  assert.ok(method instanceof Snap && method.order === 2);
});

test('snap: the trainer trains with SnAp-1 (online drive) on the adding task: loss falls, every number finite', () => {
  for (const cell of ['indrnn', 'gru'] as const) {
    const report = trainTask({ task: 'adding', steps: 6, cell, hidden: 6, lr: 0.01, batch: 8, iterations: 40, heldOut: 50, seed: 3, method: 'snap1' });
    const mean = (points: { loss: number }[]) => points.reduce((a, p) => a + p.loss, 0) / points.length;
    assert.ok(report.curve.every((p) => Number.isFinite(p.loss)), `${cell}: every loss finite`);
    const first = mean(report.curve.slice(0, 8)), last = mean(report.curve.slice(-8));
    assert.ok(last < first, `${cell}: mean loss of the first 8 batches ${first}, of the last 8 ${last}`);
  }
});

test.run();
