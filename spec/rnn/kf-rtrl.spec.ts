// KF-RTRL (lib/rnn/kf-rtrl.ts) against the paper's definition computed another way: per step a
// forward-mode pass with H + P directions gives dense D_t = ∂h_t/∂h_{t-1}, I_t = ∂h_t/∂θ and the loss
// term's derivatives; the spec checks that I_t's recurrent block is a_t ⊗ diag(f') (the form the
// method assumes), reads f' off it, and runs the Kronecker update with dense products and the same
// random signs. Then unbiasedness against exact RTRL, seeds, online, batches, refusals and training.
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
import { KfRtrl } from '../../lib/rnn/kf-rtrl.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';
import { createMethod, formatMethod, parseMethod } from '../../lib/rnn/methods.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { ConfigError } from '../../lib/errors.js';
import { train } from '../../lib/train/trainer.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { randomMat, relErr, squaredLoss } from '../helpers.js';
import { REORDERED } from '../tolerances.js';
import { checkUnbiased } from './unbiased.js';

const rng = new Rng(2018);

const sign = (r: Rng) => (r.nextUint32() >= 2 ** 31 ? -1 : 1);
const EPS = 1e-7;
const ratio = (a: number, b: number) => Math.sqrt((a + EPS) / (b + EPS));
const norm = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const frob = (A: readonly (readonly number[])[]) => norm(A.flat());
const matmul = (A: number[][], B: number[][]) => A.map((row) => B[0].map((_, j) => row.reduce((s, a, m) => s + a * B[m][j], 0)));

/** KF-RTRL for one sequence, dense (see the file comment). Returns the gradient, the loss and the last u, A. */
function denseKf(model: RecurrentModel, xs: Mat, loss: SequenceLoss, seed: number): { grad: Float64Array; loss: number; u: number[]; A: number[][]; factorized: number } {
  const { cell, params } = model;
  const H = cell.stateSizes[0], I = cell.inputSize, P = params.theta.length, W = H + P;
  const [ih, hh, bih, bhh] = params.offsets;
  const r = new Rng(seed);
  const learned = model.initialState === 'learned';
  const init = learned ? params.offsets[model.cellParamCount] : -1;
  let h = learned ? Array.from(params.theta.subarray(init, init + H)) : new Array<number>(H).fill(0);
  let u = new Array<number>(I + H + 2).fill(0);
  let A = Array.from({ length: H }, () => new Array<number>(H).fill(0));
  let M: number[][] = Array.from({ length: H }, (_, i) => Array.from({ length: H }, (_, j) => (i === j ? 1 : 0)));
  const grad = new Float64Array(P);
  let total = 0, factorized = 0;
  const T = xs.rows;
  for (let t = 0; t < T; t++) {
    const g = new Graph('forward', W);
    const pv = params.mats.slice(0, model.cellParamCount).map((m, i) => g.leaf(m, { tangent: seedTangent(H + params.offsets[i]) }));
    const tan = new Float64Array(H * W);
    for (let j = 0; j < H; j++) tan[j * W + j] = 1;
    const hv = g.leaf({ rows: 1, cols: H, data: Float64Array.from(h), offset: 0 }, { tangent: denseTangent(tan) });
    const result = cell.step(g, pv, [hv], g.leaf(rowsView(xs, t, 1)));
    const at = (v: Var, e: number, k: number) => {
      const tg = v.tangent;
      if (tg === null) return 0;
      if (tg.kind === 'seed') return k === tg.start + e ? 1 : 0;
      return tg.data[tg.offset + e * W + k];
    };
    const terms: Var[] = [];
    const stepTerm = loss.step?.(g, t, result.output, result.state) ?? null;
    if (stepTerm !== null) terms.push(stepTerm);
    if (t === T - 1) { const f = loss.final?.(g, result.state) ?? null; if (f !== null) terms.push(f); }
    for (const term of terms) {
      total += term.value.data[term.value.offset];
      const delta = Array.from({ length: H }, (_, i) => at(term, 0, i));
      const v = A[0].map((_, j) => delta.reduce((s, d, i) => s + d * A[i][j], 0));
      for (let j = 0; j < H; j++) {
        for (let k = 0; k < I; k++) grad[ih + j * I + k] += v[j] * u[k];
        for (let m = 0; m < H; m++) grad[hh + j * H + m] += v[j] * u[I + m];
        grad[bih + j] += v[j] * u[I + H];
        grad[bhh + j] += v[j] * u[I + H + 1];
        if (learned) grad[init + j] += delta.reduce((s, d, i) => s + d * M[i][j], 0);
      }
      for (let k = 0; k < P; k++) grad[k] += at(term, 0, H + k);
    }
    const hNew = result.state[0];
    const D = Array.from({ length: H }, (_, i) => Array.from({ length: H }, (_, m) => at(hNew, i, m)));
    const fp = Array.from({ length: H }, (_, i) => at(hNew, i, H + bhh + i));
    const a = [...Array.from(xs.data.subarray(t * I, (t + 1) * I)), ...h, 1, 1];
    // I_t's recurrent block is a ⊗ diag(f'): ∂h_i/∂W_jk = δ_ij f'_i a_k.
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        const want = (k: number) => (i === j ? fp[i] * a[k] : 0);
        for (let k = 0; k < I; k++) factorized = Math.max(factorized, Math.abs(at(hNew, i, H + ih + j * I + k) - want(k)));
        for (let m = 0; m < H; m++) factorized = Math.max(factorized, Math.abs(at(hNew, i, H + hh + j * H + m) - want(I + m)));
        factorized = Math.max(factorized, Math.abs(at(hNew, i, H + bih + j) - want(I + H)));
      }
    }
    const DA = matmul(D, A);
    const c1 = sign(r), c2 = sign(r);
    const p1 = ratio(frob(DA), norm(u)), p2 = ratio(norm(fp), norm(a));
    u = u.map((x, k) => c1 * p1 * x + c2 * p2 * a[k]);
    A = DA.map((row, i) => row.map((x, j) => c1 * x / p1 + (i === j ? c2 * fp[i] / p2 : 0)));
    M = matmul(D, M);
    h = Array.from(hNew.value.data.subarray(hNew.value.offset, hNew.value.offset + H));
  }
  return { grad, loss: total, u, A, factorized };
}

const models: [string, () => Cell, 'zero' | 'learned'][] = [
  ['elman tanh', () => elman({ inputSize: 2, hiddenSize: 3 }), 'zero'],
  ['elman relu with its output layer', () => elman({ inputSize: 2, hiddenSize: 3, activation: 'relu', outputSize: 2, outputActivation: 'tanh' }), 'zero'],
  ['elman sigmoid + readout, learned initial state', () => withReadout(elman({ inputSize: 3, hiddenSize: 4, activation: 'sigmoid' }), 2), 'learned'],
];

for (const [name, make, initial] of models) {
  test(`kf-rtrl, ${name}: equals the dense definition (D_t, I_t from H + P forward directions, same signs) to 1e-12`, () => {
    const cell = make();
    const model = createModel(cell, { seed: 5, initialState: initial });
    if (initial === 'learned') for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
    const T = 5;
    const xs = randomMat(rng, T, cell.inputSize);
    const loss = squaredLoss(randomMat(rng, T, cell.outputSize), 1, [randomMat(rng, 1, cell.stateSizes[0])]);
    for (const seed of [0, 77]) {
      const kf = new KfRtrl(model, { seed });
      const got = kf.run(xs, loss);
      const want = denseKf(model, xs, loss, seed);
      assert.ok(want.factorized <= 1e-15, `I_t is a ⊗ diag(f') up to ${want.factorized}`);
      assert.ok(Math.abs(got.loss - want.loss) <= REORDERED * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
      assert.ok(relErr(got.grad, want.grad) <= REORDERED, `seed ${seed}: grad differs by ${relErr(got.grad, want.grad)}`);
      const est = kf.estimate(0);
      assert.ok(relErr(est.u, want.u) <= REORDERED, `u differs by ${relErr(est.u, want.u)}`);
      assert.ok(relErr(est.A, want.A.flat()) <= REORDERED, `A differs by ${relErr(est.A, want.A.flat())}`);
    }
  });
}

// (A' without the 1/p1, tried by hand, is rejected at about 200 standard errors.)
test('kf-rtrl is unbiased: the mean of 2000 seeds\' estimates is within the derived bound of exact RTRL; a biased estimator of the same noise is rejected', () => {
  const model = createModel(elman({ inputSize: 2, hiddenSize: 2 }), { seed: 12 });
  for (let i = 0; i < model.params.theta.length; i++) model.params.theta[i] *= 2;
  const T = 4, K = 2000;
  const xs = randomMat(rng, T, 2);
  const loss = squaredLoss(randomMat(rng, T, 2), 1, null);
  const exact = new Rtrl(model).run(xs, loss).grad;
  const samples: Float64Array[] = [];
  for (let k = 0; k < K; k++) samples.push(new KfRtrl(model, { seed: k }).run(xs, loss).grad);
  const report = checkUnbiased(samples, exact);
  assert.ok(report.pass, `components ${report.failed} off; worst ${report.worst.toFixed(2)} standard errors at ${report.worstAt}, z = ${report.z.toFixed(2)}`);
  assert.ok(samples.some((s) => relErr(s, exact) > 1e-3), 'the estimates are noisy');
  const truncated = new Tbptt(model, { k1: 1 }).run(xs, loss).grad;
  const biased = samples.slice(0, K / 2).map((s, k) => truncated.map((g, i) => g + (s[i] - samples[K / 2 + k][i]) / Math.SQRT2));
  const rejected = checkUnbiased(biased, exact);
  assert.ok(!rejected.pass, 'the check accepted a biased estimator');
});

test('kf-rtrl: repeatable per seed, different seeds differ, finite; online step equals run; a packed batch row by row equals each sequence alone with seed + b', () => {
  const model = createModel(withReadout(elman({ inputSize: 2, hiddenSize: 3 }), 2), { seed: 6, initialState: 'learned' });
  const T = 5, xs = randomMat(rng, T, 2), loss = squaredLoss(randomMat(rng, T, 2), 1, null);
  const a = new KfRtrl(model, { seed: 3 }).run(xs, loss);
  assert.equal(Array.from(new KfRtrl(model, { seed: 3 }).run(xs, loss).grad), Array.from(a.grad));
  assert.ok(relErr(new KfRtrl(model, { seed: 4 }).run(xs, loss).grad, a.grad) > 1e-6);
  assert.ok(a.grad.every(Number.isFinite));
  const online = new KfRtrl(model, { seed: 3 });
  online.reset();
  for (let t = 0; t < T; t++) online.step(rowsView(xs, t, 1), loss, t === T - 1);
  assert.equal(Array.from(online.grad), Array.from(a.grad));
  // O(H²) per sequence: h, u (I + H + 2), A and M (H x H each) in a tangent of 2H + 1 directions.
  assert.is(online.stateBytes(), 8 * (3 + 7 + 3 * 7));

  const batch = 3, lengths = [4, 5, 1];
  const bx = randomMat(rng, T * batch, 2), targets = randomMat(rng, T * batch, 2);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) {
      if (t < lengths[b]) continue;
      bx.data.fill(NaN, (t * batch + b) * 2, (t * batch + b + 1) * 2);
      targets.data.fill(0, (t * batch + b) * 2, (t * batch + b + 1) * 2);
    }
  }
  const kf = new KfRtrl(model, { seed: 30 });
  const whole = kf.run(bx, squaredLoss(targets, batch, null), { batch, lengths });
  const sum = new Float64Array(whole.grad.length);
  lengths.forEach((L, b) => {
    const col = (m: Mat) => { const out = mat(L, m.cols); for (let t = 0; t < L; t++) out.data.set(m.data.subarray((t * batch + b) * m.cols, (t * batch + b + 1) * m.cols), t * m.cols); return out; };
    const alone = new KfRtrl(model, { seed: 30 + b });
    const r = alone.run(col(bx), squaredLoss(col(targets), 1, null));
    for (let i = 0; i < sum.length; i++) sum[i] += r.grad[i];
    assert.ok(relErr(kf.estimate(b).A, alone.estimate(0).A) <= REORDERED, `sequence ${b}: A`);
    assert.ok(relErr(kf.estimate(b).u, alone.estimate(0).u) <= REORDERED, `sequence ${b}: u`);
    assert.ok(relErr(r.finalState[0].data, whole.finalState[0].data.slice(b * 3, b * 3 + 3)) <= REORDERED, `sequence ${b}: final h`);
  });
  assert.ok(relErr(whole.grad, sum) <= REORDERED, `grad vs the sum of each sequence alone: ${relErr(whole.grad, sum)}`);
});

test('kf-rtrl refuses what it is not defined on, naming the cell and the methods that take it', () => {
  const refusals: [string, Cell][] = [
    ['lstm', lstm({ inputSize: 2, hiddenSize: 2 })],
    ['gru', withReadout(gru({ inputSize: 2, hiddenSize: 2 }), 1)],
    ['jordan', jordan({ inputSize: 2, hiddenSize: 2, outputSize: 1 })],
    ['stacked', stacked([elman({ inputSize: 2, hiddenSize: 2 }), elman({ inputSize: 2, hiddenSize: 2 })])],
    ['stacked', withReadout(stacked([bidirectional(elman({ inputSize: 2, hiddenSize: 2 }))]), 1)],
  ];
  for (const [kind, cell] of refusals) {
    const model = createModel(cell);
    assert.throws(() => new KfRtrl(model), (e: unknown) => e instanceof ConfigError
      && new RegExp(`^kf-rtrl: the ${kind} cell is not of the form h_t = f\\(W \\[x_t; h_\\{t-1\\}; 1\\]\\).*${kind} trains with rtrl, snap1, snap2, uoro, tbptt or bptt`).test((e as Error).message), kind);
    assert.throws(() => createMethod(model, 'kf-rtrl'), new RegExp(`kf-rtrl: the ${kind} cell`));
  }
  assert.throws(() => new KfRtrl(createModel(elman({ inputSize: 2, hiddenSize: 2, bias: false }))), /kf-rtrl: the elman cell's parameters start weight_ih, weight_hh, not weight_ih, weight_hh, bias_ih, bias_hh: .*bias: true/);
  const model = createModel(elman({ inputSize: 2, hiddenSize: 2 }));
  assert.throws(() => new KfRtrl(model, { seed: 2.5 }), /kf-rtrl: seed must be an integer, got 2.5/);
  assert.throws(() => new KfRtrl(createModel(elman({ inputSize: 2, hiddenSize: 64 })), { maxBytes: 10000 }), /kf-rtrl: a batch of 1 needs .* over the limit/);
  assert.equal(parseMethod('kf-rtrl:9'), { kind: 'kf-rtrl', seed: 9 });
  assert.is(formatMethod(parseMethod('kf-rtrl')), 'kf-rtrl');
  assert.is(formatMethod({ kind: 'kf-rtrl', seed: 9 }), 'kf-rtrl:9');
  assert.throws(() => parseMethod('kf-rtrl:1:2'), /method: "kf-rtrl:1:2" is not one of .*kf-rtrl, kf-rtrl:SEED/);
});

test('kf-rtrl: the trainer trains with it online (finite loss, the parameters move)', () => {
  const model = createModel(withReadout(elman({ inputSize: 2, hiddenSize: 4 }), 1), { seed: 2 });
  const before = model.params.theta.slice();
  const data = new Rng(10);
  const result = train(model, {
    method: parseMethod('kf-rtrl:4'), optimizer: new Optimizer({ kind: 'adam', lr: 0.01 }), iterations: 4,
    next: () => {
      const xs = mat(6 * 2, 2), targets = mat(6 * 2, 1);
      data.fillNormal(xs);
      for (let r = 0; r < 12; r++) targets.data[r] = xs.data[2 * r] * 0.5;
      return { xs, batch: 2, loss: squaredLoss(targets, 2, null) };
    },
  });
  assert.is(result.updates, 4 * 6);
  assert.ok(result.curve.every((p) => Number.isFinite(p.loss)));
  assert.ok(relErr(model.params.theta, before) > 0);
});

test.run();
