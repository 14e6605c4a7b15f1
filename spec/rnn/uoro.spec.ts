// UORO (lib/rnn/uoro.ts) against the paper's definition computed another way: dense D_t and I_t
// from a forward-mode pass with N + P directions (identity on the state, seeds on the parameters),
// dense loss derivatives from the same pass, the update written out with the same random signs in
// the same order. Then unbiasedness against exact RTRL (derived tolerance, spec/rnn/unbiased.ts),
// seeds, the online form, batches with lengths, refusals and training.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Var } from '../../lib/ad/graph.js';
import { seedTangent, denseTangent } from '../../lib/ad/tangent.js';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import type { Cell } from '../../lib/cells/cell.js';
import { elman } from '../../lib/cells/elman.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { jordan } from '../../lib/cells/jordan.js';
import { stacked } from '../../lib/arch/stacked.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { withReadout } from '../../lib/arch/readout.js';
import { type RecurrentModel, createModel } from '../../lib/rnn/model.js';
import { Uoro } from '../../lib/rnn/uoro.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createMethod, formatMethod, parseMethod } from '../../lib/rnn/methods.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { ConfigError } from '../../lib/errors.js';
import { train } from '../../lib/train/trainer.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { randomMat, relErr, squaredLoss } from '../helpers.js';
import { REORDERED } from '../tolerances.js';
import { checkUnbiased } from './unbiased.js';

const rng = new Rng(2017);

/** The paper's sign draw, written again: +1 or -1 from the top bit of one 32-bit word. */
const sign = (r: Rng) => (r.nextUint32() >= 2 ** 31 ? -1 : 1);
const EPS = 1e-7;
const ratio = (a: number, b: number) => Math.sqrt((a + EPS) / (b + EPS));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/**
 * UORO for one sequence (batch 1, every step), dense: each step a forward pass with N + P
 * directions gives D (N x N), I (N x P) and the loss term's derivative [δs, ∂L/∂θ].
 */
function denseUoro(model: RecurrentModel, xs: Mat, loss: SequenceLoss, seed: number): { grad: Float64Array; loss: number; stateTilde: number[]; thetaTilde: number[] } {
  const { cell, params } = model;
  const N = cell.stateSizes.reduce((a, b) => a + b, 0), P = params.theta.length, W = N + P;
  const r = new Rng(seed);
  const starts: number[] = [];
  cell.stateSizes.reduce((at, size) => { starts.push(at); return at + size; }, 0);
  let state: Float64Array[] = cell.stateSizes.map((size) => new Float64Array(size));
  const sT = new Float64Array(N), tT = new Float64Array(P), grad = new Float64Array(P);
  if (model.initialState === 'learned') {
    cell.stateSizes.forEach((size, i) => {
      const at = params.offsets[model.cellParamCount + i];
      for (let j = 0; j < size; j++) {
        state[i][j] = params.theta[at + j];
        const s = sign(r);
        sT[starts[i] + j] = s;
        tT[at + j] = s;
      }
    });
  }
  let total = 0;
  const T = xs.rows;
  for (let t = 0; t < T; t++) {
    const g = new Graph('forward', W);
    const pv = params.mats.slice(0, model.cellParamCount).map((m, i) => g.leaf(m, { tangent: seedTangent(N + params.offsets[i]) }));
    const sv = state.map((s, i) => {
      const tan = new Float64Array(s.length * W);
      for (let j = 0; j < s.length; j++) tan[j * W + starts[i] + j] = 1;
      return g.leaf({ rows: 1, cols: s.length, data: s, offset: 0 }, { tangent: denseTangent(tan) });
    });
    const result = cell.step(g, pv, sv, g.leaf(rowsView(xs, t, 1)));
    const tangentRow = (v: Var, e: number, k: number) => {
      const tan = v.tangent;
      if (tan === null) return 0;
      if (tan.kind === 'seed') return k === tan.start + e ? 1 : 0;
      return tan.data[tan.offset + e * W + k];
    };
    // Loss terms: their tangents are [δs, ∂L/∂θ].
    const terms: Var[] = [];
    const stepTerm = loss.step?.(g, t, result.output, result.state) ?? null;
    if (stepTerm !== null) terms.push(stepTerm);
    if (t === T - 1) { const f = loss.final?.(g, result.state) ?? null; if (f !== null) terms.push(f); }
    for (const term of terms) {
      total += term.value.data[term.value.offset];
      let c = 0;
      for (let n = 0; n < N; n++) c += tangentRow(term, 0, n) * sT[n];
      for (let k = 0; k < P; k++) grad[k] += c * tT[k] + tangentRow(term, 0, N + k);
    }
    // Dense D and I of the new state.
    const D: number[][] = [], I: number[][] = [];
    result.state.forEach((v) => {
      for (let e = 0; e < v.value.cols; e++) {
        D.push(Array.from({ length: N }, (_, n) => tangentRow(v, e, n)));
        I.push(Array.from({ length: P }, (_, k) => tangentRow(v, e, N + k)));
      }
    });
    const nu = Array.from({ length: N }, () => sign(r));
    const Ds = D.map((row) => row.reduce((s, d, n) => s + d * sT[n], 0));
    const nuI = Array.from({ length: P }, (_, k) => I.reduce((s, row, n) => s + nu[n] * row[k], 0));
    const rho0 = ratio(norm(tT), norm(Ds)), rho1 = ratio(norm(nuI), norm(nu));
    for (let n = 0; n < N; n++) sT[n] = rho0 * Ds[n] + rho1 * nu[n];
    for (let k = 0; k < P; k++) tT[k] = tT[k] / rho0 + nuI[k] / rho1;
    state = result.state.map((v) => Float64Array.from(v.value.data.subarray(v.value.offset, v.value.offset + v.value.cols)));
  }
  return { grad, loss: total, stateTilde: Array.from(sT), thetaTilde: Array.from(tT) };
}

/**
 * A cell whose recurrent weight is read by two linear ops and by an elementwise op in one step:
 * its gradient is no single outer product, so the batch-1 pass writes it out densely
 * (lib/rnn/uoro-pass.ts) instead of folding gyᵀ·x into the update.
 */
function tiedCell(): Cell {
  const H = 3, I = 2;
  return {
    kind: 'tied', inputSize: I, stateSizes: [H], stateNames: ['h'], outputSize: H,
    paramSpecs: [{ name: 'weight_ih', rows: H, cols: I, role: 'weight' }, { name: 'weight_hh', rows: H, cols: H, role: 'weight' }],
    step(g, [wIh, wHh], [h], x) {
      const a = g.tanh(g.linearSum([[x, wIh], [h, wHh]]));
      const hNew = g.tanh(g.add(g.linear(a, wHh), g.mulRow(a, g.sliceRows(wHh, 0, 1))));
      return { state: [hNew], output: hNew };
    },
    init(params, r) { for (const m of params) r.fillNormal(m, 0, 0.5); },
  };
}

const cells: [string, () => Cell, 'zero' | 'learned'][] = [
  ['elman', () => elman({ inputSize: 2, hiddenSize: 3 }), 'zero'],
  ['elman + readout, learned initial state', () => withReadout(elman({ inputSize: 2, hiddenSize: 3 }), 2), 'learned'],
  ['lstm, learned initial state', () => lstm({ inputSize: 2, hiddenSize: 2 }), 'learned'],
  ['gru', () => gru({ inputSize: 2, hiddenSize: 3 }), 'zero'],
  ['jordan', () => jordan({ inputSize: 2, hiddenSize: 3, outputSize: 2 }), 'zero'],
  ['stack elman -> gru', () => stacked([elman({ inputSize: 2, hiddenSize: 2 }), gru({ inputSize: 2, hiddenSize: 2 })]), 'zero'],
  ['a weight read three times in a step', tiedCell, 'zero'],
];

function randomized(model: RecurrentModel): RecurrentModel {
  if (model.initialState === 'learned') {
    for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
  }
  return model;
}

for (const [name, make, initial] of cells) {
  test(`uoro, ${name}: equals the dense definition (D_t, I_t from N + P forward directions, same signs) to 1e-12`, () => {
    const cell = make();
    const model = randomized(createModel(cell, { seed: 3, initialState: initial }));
    const T = 5;
    const xs = randomMat(rng, T, cell.inputSize);
    const loss = squaredLoss(randomMat(rng, T, cell.outputSize), 1, cell.stateSizes.map((s) => randomMat(rng, 1, s)));
    for (const seed of [0, 41]) {
      const uoro = new Uoro(model, { seed });
      const got = uoro.run(xs, loss);
      const want = denseUoro(model, xs, loss, seed);
      assert.ok(Math.abs(got.loss - want.loss) <= REORDERED * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
      assert.ok(relErr(got.grad, want.grad) <= REORDERED, `seed ${seed}: grad differs by ${relErr(got.grad, want.grad)}`);
      const est = uoro.estimate(0);
      assert.ok(relErr(est.stateTilde, want.stateTilde) <= REORDERED, `s̃ differs by ${relErr(est.stateTilde, want.stateTilde)}`);
      assert.ok(relErr(est.thetaTilde, want.thetaTilde) <= REORDERED, `θ̃ differs by ${relErr(est.thetaTilde, want.thetaTilde)}`);
    }
  });
}

// Steps without a loss term (then no δs, no ∂L/∂θ: the batch-1 pass's zero parts) and a final term.
test('uoro, gru + readout, a loss term at odd steps only plus a final term: equals the dense definition to 1e-12', () => {
  const cell = withReadout(gru({ inputSize: 2, hiddenSize: 3 }), 2);
  const model = createModel(cell, { seed: 8 });
  const T = 6, xs = randomMat(rng, T, 2);
  const base = squaredLoss(randomMat(rng, T, 2), 1, cell.stateSizes.map((size) => randomMat(rng, 1, size)));
  const loss: SequenceLoss = { step: (g, t, out, state) => (t % 2 === 1 ? base.step!(g, t, out, state) : null), final: base.final };
  const got = new Uoro(model, { seed: 3 }).run(xs, loss), want = denseUoro(model, xs, loss, 3);
  assert.ok(Math.abs(got.loss - want.loss) <= REORDERED * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
  assert.ok(relErr(got.grad, want.grad) <= REORDERED, `grad differs by ${relErr(got.grad, want.grad)}`);
});

/** The gradient estimates of K runs with seeds 0..K-1 on one sequence. */
function samplesOf(make: (seed: number) => { run: Uoro['run'] }, xs: Mat, loss: SequenceLoss, K: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let k = 0; k < K; k++) out.push(make(k).run(xs, loss).grad);
  return out;
}

// K = 4000: with 2000 a subtly biased UORO (θ̃ not divided by ρ0, tried by hand) came out at 5.0
// standard errors against z = 5.37; at 4000 it is rejected (6.3), while the correct one stays near 1.5.
test('uoro is unbiased: the mean of 4000 seeds\' estimates is within the derived bound of exact RTRL; a biased estimator of the same noise is rejected', () => {
  const model = createModel(elman({ inputSize: 2, hiddenSize: 2 }), { seed: 11 });
  for (let i = 0; i < model.params.theta.length; i++) model.params.theta[i] *= 2; // strong recurrence: long-range terms matter
  const T = 4, K = 4000;
  const xs = randomMat(rng, T, 2);
  const loss = squaredLoss(randomMat(rng, T, 2), 1, null);
  const exact = new Rtrl(model).run(xs, loss).grad;
  const samples = samplesOf((seed) => new Uoro(model, { seed }), xs, loss, K);
  const report = checkUnbiased(samples, exact);
  assert.ok(report.pass, `components ${report.failed} off; worst ${report.worst.toFixed(2)} standard errors at ${report.worstAt}, z = ${report.z.toFixed(2)}`);
  assert.ok(samples.some((s) => relErr(s, exact) > 1e-3), 'the estimates are noisy (else the check tests nothing)');
  // A biased estimator with UORO's own noise: truncated BPTT(1)'s gradient plus the centred
  // difference of two independent UORO estimates (zero mean, comparable spread).
  const truncated = new Tbptt(model, { k1: 1 }).run(xs, loss).grad;
  const biased = samples.slice(0, K / 2).map((s, k) => {
    const other = samples[K / 2 + k];
    return truncated.map((g, i) => g + (s[i] - other[i]) / Math.SQRT2);
  });
  const rejected = checkUnbiased(biased, exact);
  assert.ok(!rejected.pass, `the check accepted a biased estimator (bias ${relErr(truncated, exact)})`);
});

test('uoro: repeatable per seed, different seeds differ, finite; an online step equals run', () => {
  const model = createModel(withReadout(lstm({ inputSize: 2, hiddenSize: 3 }), 2), { seed: 4 });
  const T = 6, xs = randomMat(rng, T, 2), loss = squaredLoss(randomMat(rng, T, 2), 1, null);
  const a = new Uoro(model, { seed: 5 }).run(xs, loss), b = new Uoro(model, { seed: 5 }).run(xs, loss);
  assert.equal(Array.from(a.grad), Array.from(b.grad), 'same seed, same bits');
  const c = new Uoro(model, { seed: 6 }).run(xs, loss);
  assert.ok(relErr(a.grad, c.grad) > 1e-6, 'another seed draws other signs');
  assert.ok(a.grad.every(Number.isFinite) && Number.isFinite(a.loss));
  const online = new Uoro(model, { seed: 5 });
  online.reset();
  for (let t = 0; t < T; t++) online.step(rowsView(xs, t, 1), loss, t === T - 1);
  assert.equal(Array.from(online.grad), Array.from(a.grad), 'online == run');
  assert.is(online.loss, a.loss);
  assert.ok(online.stateBytes() === 8 * (2 * 6 + model.params.theta.length), `stateBytes ${online.stateBytes()}`);
  // The streams continue: a second run on the same object draws new signs.
  assert.ok(relErr(online.run(xs, loss).grad, a.grad) > 1e-6);
});

// Without a final-state term: a finished row's final term is taken at the batch's last step, through
// the estimate after its own last step (s̃_L θ̃_Lᵀ), while alone it is taken within that last step
// (through s̃_{L-1} θ̃_{L-1}ᵀ and the step's exact Jacobian): equal in expectation, not in bits.
test('uoro: a packed batch gives, row by row, what each sequence gives alone with seed + b; the gradient sums', () => {
  const batch = 3, lengths = [5, 2, 4], T = 5;
  for (const [cell, initialState] of [[gru({ inputSize: 2, hiddenSize: 3 }), 'zero'], [lstm({ inputSize: 2, hiddenSize: 2 }), 'learned']] as const) {
    const model = randomized(createModel(cell, { seed: 8, initialState }));
    const xs = randomMat(rng, T * batch, 2);
    for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) xs.data.fill(NaN, (t * batch + b) * 2, (t * batch + b + 1) * 2);
    const targets = randomMat(rng, T * batch, cell.outputSize);
    for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) targets.data.fill(0, (t * batch + b) * cell.outputSize, (t * batch + b + 1) * cell.outputSize);
    const uoro = new Uoro(model, { seed: 20 });
    const whole = uoro.run(xs, squaredLoss(targets, batch, null), { batch, lengths });
    const sum = new Float64Array(whole.grad.length);
    let total = 0;
    for (let b = 0; b < batch; b++) {
      const L = lengths[b];
      const col = (m: Mat) => { const out = mat(L, m.cols); for (let t = 0; t < L; t++) out.data.set(m.data.subarray((t * batch + b) * m.cols, (t * batch + b + 1) * m.cols), t * m.cols); return out; };
      const row = (m: Mat) => ({ rows: 1, cols: m.cols, data: m.data.slice(b * m.cols, (b + 1) * m.cols), offset: 0 });
      const alone = new Uoro(model, { seed: 20 + b });
      const r = alone.run(col(xs), squaredLoss(col(targets), 1, null));
      total += r.loss;
      for (let i = 0; i < sum.length; i++) sum[i] += r.grad[i];
      r.finalState.forEach((m, i) => assert.ok(relErr(m.data, row(whole.finalState[i]).data) <= REORDERED, `sequence ${b} final state ${i}`));
      const mine = uoro.estimate(b), its = alone.estimate(0);
      assert.ok(relErr(mine.thetaTilde, its.thetaTilde) <= REORDERED, `sequence ${b}: θ̃`);
      assert.ok(relErr(mine.stateTilde, its.stateTilde) <= REORDERED, `sequence ${b}: s̃`);
    }
    assert.ok(Math.abs(total - whole.loss) <= REORDERED * Math.max(1, total), `${cell.kind}: loss`);
    assert.ok(relErr(whole.grad, sum) <= REORDERED, `${cell.kind}: grad vs the sum of each sequence alone: ${relErr(whole.grad, sum)}`);
  }
});

// Covers the paths the batch-1 step does not fuse: a step without a loss term, and a single
// sequence stepped past its length (it runs no update), against a batch's per-row path.
test('uoro: loss terms at some steps only, and a single sequence stepped past its end, give what a batch gives row by row', () => {
  const batch = 2, lengths = [5, 3], T = 5;
  const sparse = (targets: Mat, rows: number): SequenceLoss => {
    const dense = squaredLoss(targets, rows, null);
    return { step: (g, t, out, state) => (t % 2 === 1 ? null : dense.step!(g, t, out, state)) };
  };
  for (const [cell, initialState] of [[gru({ inputSize: 2, hiddenSize: 3 }), 'zero'], [lstm({ inputSize: 2, hiddenSize: 2 }), 'learned']] as const) {
    const model = randomized(createModel(cell, { seed: 9, initialState }));
    const xs = randomMat(rng, T * batch, 2);
    const targets = randomMat(rng, T * batch, cell.outputSize);
    for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) targets.data.fill(0, (t * batch + b) * cell.outputSize, (t * batch + b + 1) * cell.outputSize);
    const whole = new Uoro(model, { seed: 30 });
    const all = whole.run(xs, sparse(targets, batch), { batch, lengths });
    const sum = new Float64Array(all.grad.length);
    for (let b = 0; b < batch; b++) {
      const col = (m: Mat, L: number) => { const out = mat(L, m.cols); for (let t = 0; t < L; t++) out.data.set(m.data.subarray((t * batch + b) * m.cols, (t * batch + b + 1) * m.cols), t * m.cols); return out; };
      // All T steps with its length given (the steps past it do nothing), and only its own steps.
      const padded = new Uoro(model, { seed: 30 + b }), own = new Uoro(model, { seed: 30 + b });
      const p = padded.run(col(xs, T), sparse(col(targets, T), 1), { lengths: [lengths[b]] });
      const o = own.run(col(xs, lengths[b]), sparse(col(targets, lengths[b]), 1));
      assert.ok(relErr(p.grad, o.grad) <= REORDERED, `${cell.kind} sequence ${b}: grad past the end ${relErr(p.grad, o.grad)}`);
      assert.ok(Math.abs(p.loss - o.loss) <= REORDERED * Math.max(1, Math.abs(o.loss)), `${cell.kind} sequence ${b}: loss`);
      const mine = whole.estimate(b), its = padded.estimate(0), short = own.estimate(0);
      assert.ok(relErr(its.thetaTilde, short.thetaTilde) <= REORDERED && relErr(its.stateTilde, short.stateTilde) <= REORDERED, `${cell.kind} sequence ${b}: estimate past the end`);
      assert.ok(relErr(mine.thetaTilde, its.thetaTilde) <= REORDERED, `${cell.kind} sequence ${b}: θ̃ in the batch`);
      assert.ok(relErr(mine.stateTilde, its.stateTilde) <= REORDERED, `${cell.kind} sequence ${b}: s̃ in the batch`);
      for (let i = 0; i < sum.length; i++) sum[i] += o.grad[i];
    }
    assert.ok(sum.some((v) => v !== 0), `${cell.kind}: a gradient at all`);
    assert.ok(relErr(all.grad, sum) <= REORDERED, `${cell.kind}: grad vs the sum of each sequence alone: ${relErr(all.grad, sum)}`);
  }
});

test('uoro and kf-rtrl: an explicit initial state and \'carry\' mean what they mean in Bptt (same loss and final state)', () => {
  const model = createModel(withReadout(elman({ inputSize: 2, hiddenSize: 3 }), 1), { seed: 12 });
  const T = 4, batch = 2, xs = randomMat(rng, 2 * T * batch, 2), loss = squaredLoss(randomMat(rng, 2 * T * batch, 1), batch, null);
  const first = rowsView(xs, 0, T * batch), second = rowsView(xs, T * batch, T * batch);
  const firstLoss = squaredLoss(randomMat(rng, T * batch, 1), batch, null);
  for (const method of [new Uoro(model, { seed: 1 }), createMethod(model, 'kf-rtrl:1')]) {
    const a = method.run(first, firstLoss, { batch });
    const carried = method.run(second, loss, { batch, initialState: 'carry' });
    const reference = new Bptt(model).run(second, loss, { batch, initialState: a.finalState });
    assert.ok(Math.abs(carried.loss - reference.loss) <= REORDERED * Math.max(1, reference.loss), `${method.constructor.name}: carry loss`);
    assert.ok(relErr(carried.finalState[0].data, reference.finalState[0].data) <= REORDERED, `${method.constructor.name}: carry final state`);
    const explicit = method.run(second, loss, { batch, initialState: [a.finalState[0]] });
    assert.is(explicit.loss, carried.loss, `${method.constructor.name}: explicit = carry`);
  }
});

test('uoro: refusals and the method table', () => {
  const model = createModel(gru({ inputSize: 2, hiddenSize: 2 }));
  assert.throws(() => new Uoro(model, { seed: 1.5 }), (e: unknown) => e instanceof ConfigError && /^uoro: seed must be an integer, got 1.5/.test((e as Error).message));
  assert.throws(() => new Uoro(model, { seed: '3' as never }), /uoro: seed must be an integer, got "3"/);
  assert.throws(() => new Uoro(model, { sed: 1 } as never), /uoro: unknown option "sed" \(accepted: seed, maxBytes\)/);
  assert.throws(() => new Uoro(createModel(withReadout(bidirectional(lstm({ inputSize: 2, hiddenSize: 2 })), 1))), /uoro: .*reads the future.*use bptt/);
  assert.throws(() => new Uoro(createModel(stacked([gru({ inputSize: 2, hiddenSize: 2 }), gru({ inputSize: 2, hiddenSize: 2 })], { dropout: 0.5 }))), /uoro: the stacked model uses dropout 0.5/);
  assert.throws(() => new Uoro(createModel(gru({ inputSize: 2, hiddenSize: 40 })), { maxBytes: 1000 }), /uoro: a batch of 1 needs .* MiB .* over the limit/);
  assert.equal(parseMethod('uoro'), { kind: 'uoro', seed: 0 });
  assert.equal(parseMethod('uoro:12'), { kind: 'uoro', seed: 12 });
  assert.is(formatMethod({ kind: 'uoro', seed: 12 }), 'uoro:12');
  assert.is(formatMethod(parseMethod('uoro')), 'uoro');
  assert.throws(() => parseMethod('uoro:x'), /method: "uoro:x" is not one of .*uoro, uoro:SEED/);
  assert.throws(() => parseMethod('uoro:1.5'), /method: "uoro:1.5" needs an integer seed, got 1.5 \(uoro or uoro:SEED\)/);
  assert.throws(() => createMethod(model, { kind: 'uoro', seed: 0.5 }), /createMethod: method uoro needs an integer seed, got 0.5/);
  const made = createMethod(model, 'uoro:3');
  assert.ok(made instanceof Uoro && made.seed === 3);
});

test('uoro: the trainer trains with it online (a few iterations, finite loss, the parameters move)', () => {
  const model = createModel(withReadout(gru({ inputSize: 2, hiddenSize: 3 }), 1), { seed: 2 });
  const before = model.params.theta.slice();
  const data = new Rng(9);
  const result = train(model, {
    method: { kind: 'uoro', seed: 1 }, optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 4,
    next: () => {
      const xs = mat(6 * 2, 2), targets = mat(6 * 2, 1);
      data.fillNormal(xs);
      for (let r = 0; r < 12; r++) targets.data[r] = xs.data[2 * r] * 0.5;
      return { xs, batch: 2, loss: squaredLoss(targets, 2, null) };
    },
  });
  assert.is(result.updates, 4 * 6);
  assert.ok(result.curve.every((p) => Number.isFinite(p.loss)), 'finite losses');
  assert.ok(relErr(model.params.theta, before) > 0, 'the parameters moved');
});

test.run();
