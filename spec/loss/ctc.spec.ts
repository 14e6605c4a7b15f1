import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ctcLoss, ctcLossFromLogits, ctcLossGradLogProbs, ctcLossGradLogits, logSoftmaxRows,
  type CtcOptions,
} from '../../lib/loss/ctc.js';
import { matFrom } from '../../lib/mat/mat.js';
import { readSafetensors, type Tensor } from '../../lib/io/safetensors.js';
import { Rng } from '../../lib/mat/rng.js';
import { GOLDEN_DIR } from '../helpers.js';
import { GOLDEN_F64 } from '../tolerances.js';

// ---------------------------------------------------------------------------------------------
// Helpers: a tiny seeded generator.

function seeded(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.uniform();
}

const goldenDir = process.env.LOOPGRAD_GOLDEN ?? GOLDEN_DIR;

/** |actual - expected| <= tol * max |expected| elementwise; NaN must match NaN, infinities exactly. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = GOLDEN_F64): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(expected[i]);
    if (Number.isFinite(e) && e > scale) scale = e;
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: ${a} vs ${e}`);
      continue;
    }
    if (!(Math.abs(a - e) <= tol * Math.max(scale, 1e-300))) {
      assert.unreachable(`${what}[${i}]: ${a} vs ${e} (scale ${scale})`);
    }
  }
}

function randomScores(rand: () => number, size: number, spread = 3): Float64Array {
  const z = new Float64Array(size);
  for (let i = 0; i < size; i++) z[i] = spread * (2 * rand() - 1);
  return z;
}

function logSoftmax(z: Float64Array, C: number): Float64Array {
  const y = new Float64Array(z.length);
  logSoftmaxRows(z, 0, z.length / C, C, y);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Golden files written by PyTorch.

const goldenFiles = existsSync(goldenDir)
  ? readdirSync(goldenDir).filter((f) => f.startsWith('ctc_') && f.endsWith('.safetensors')).sort()
  : [];

test('golden: the ctc_* files are present', () => {
  assert.ok(goldenFiles.length >= 7, `found ${goldenFiles.length} ctc files in ${goldenDir}`);
});

for (const file of goldenFiles) {
  test(`golden ${file}: loss, grad/log_probs, grad/logits (padded, concatenated and nested targets)`, () => {
    const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(join(goldenDir, file))));
    const t = (name: string): Tensor => {
      const v = tensors.get(name);
      if (!v) throw new Error(`${file}: no tensor ${name}`);
      return v;
    };
    assert.is(metadata.kind, 'ctc');
    assert.is(metadata.reduction, 'none');
    const [T, N, C] = t('input/log_probs').shape;
    const targets = t('input/targets');
    const S = targets.shape[1];
    const targetLengths = t('input/target_lengths').data;
    const base: CtcOptions = {
      T, N, C,
      targets: targets.data, paddedTargetLength: S,
      inputLengths: t('input/input_lengths').data,
      targetLengths,
      blank: Number(metadata.blank),
      zeroInfinity: metadata.zero_infinity === 'true',
      reduction: 'none',
    };
    const expectedLoss = t('expected/loss').data;
    const expectedGradLp = t('grad/log_probs').data;
    const expectedGradLogits = t('grad/logits').data;

    const concatenated: number[] = [];
    const nested: number[][] = [];
    for (let n = 0; n < N; n++) {
      const row = Array.from(targets.data.subarray(n * S, n * S + targetLengths[n]));
      concatenated.push(...row);
      nested.push(row);
    }
    const layouts: CtcOptions[] = [
      base,
      { ...base, targets: concatenated, paddedTargetLength: undefined },
      { ...base, targets: nested, paddedTargetLength: undefined },
    ];
    for (const options of layouts) {
      const onlyLoss = ctcLoss(t('input/log_probs').data, options);
      assertClose(onlyLoss.losses, expectedLoss, `${file} loss`);
      const lp = ctcLossGradLogProbs(t('input/log_probs').data, options);
      assertClose(lp.losses, expectedLoss, `${file} loss (with grad)`);
      assertClose(lp.grad, expectedGradLp, `${file} grad/log_probs`);
      const lg = ctcLossGradLogits(t('input/logits').data, options);
      assertClose(lg.losses, expectedLoss, `${file} loss from logits`);
      assertClose(lg.grad, expectedGradLogits, `${file} grad/logits`);
      assertClose(ctcLossFromLogits(t('input/logits').data, options).losses, expectedLoss, `${file} loss from logits (forward)`);
    }

    // The same data under 'sum' and 'mean': the gradient scales by the reduction's weights.
    const sum = ctcLossGradLogits(t('input/logits').data, { ...base, reduction: 'sum' });
    let total = 0;
    for (let n = 0; n < N; n++) total += expectedLoss[n];
    assertClose([sum.loss], [total], `${file} sum loss`);
    assertClose(sum.grad, expectedGradLogits, `${file} sum grad`);
    const mean = ctcLossGradLogits(t('input/logits').data, { ...base, reduction: 'mean' }, { gy: 0.5 });
    let meanLoss = 0;
    const scaled = new Float64Array(expectedGradLogits.length);
    for (let n = 0; n < N; n++) {
      const d = Math.max(1, targetLengths[n]);
      meanLoss += expectedLoss[n] / d / N;
      for (let tt = 0; tt < T; tt++) {
        for (let k = 0; k < C; k++) {
          const i = (tt * N + n) * C + k;
          scaled[i] = (0.5 / (d * N)) * expectedGradLogits[i];
        }
      }
    }
    assertClose([mean.loss], [meanLoss], `${file} mean loss`);
    assertClose(mean.grad, scaled, `${file} mean grad`);
  });
}

// ---------------------------------------------------------------------------------------------
// Brute force: every path of C^T, collapse repeats, drop blanks.

function collapse(path: readonly number[], blank: number): number[] {
  const out: number[] = [];
  let prev = -1;
  for (const k of path) {
    if (k !== prev && k !== blank) out.push(k);
    prev = k;
  }
  return out;
}

function bruteForceProbability(y: Float64Array, T: number, N: number, C: number, n: number, Tn: number, target: readonly number[], blank: number): number {
  let total = 0;
  const path = new Array<number>(Tn).fill(0);
  const count = C ** Tn;
  for (let code = 0; code < count; code++) {
    let rest = code;
    let logP = 0;
    for (let t = 0; t < Tn; t++) {
      path[t] = rest % C;
      rest = Math.floor(rest / C);
      logP += y[(t * N + n) * C + path[t]];
    }
    const labels = collapse(path, blank);
    if (labels.length === target.length && labels.every((v, i) => v === target[i])) total += Math.exp(logP);
  }
  return total;
}

test('brute force: exp(-loss) is the sum over all alignments (repeats, blanks, short inputs)', () => {
  const rand = seeded(7);
  const cases: { C: number; blank: number; Tn: number[]; targets: number[][] }[] = [
    { C: 3, blank: 0, Tn: [5, 5, 4, 3, 5, 2], targets: [[1, 2], [1, 1], [2, 2, 2], [1, 1], [], [1, 2, 1]] },
    { C: 4, blank: 2, Tn: [5, 4, 1, 0, 0], targets: [[3, 3, 1], [0, 1, 0], [3], [], [1]] },
    { C: 2, blank: 1, Tn: [6, 6], targets: [[0, 0, 0], [0]] },
  ];
  for (const { C, blank, Tn, targets } of cases) {
    const N = Tn.length;
    const T = Math.max(...Tn);
    const y = logSoftmax(randomScores(rand, T * N * C), C);
    const options: CtcOptions = { T, N, C, blank, targets, inputLengths: Tn, targetLengths: targets.map((r) => r.length), reduction: 'none' };
    const { losses } = ctcLoss(y, options);
    const withGrad = ctcLossGradLogProbs(y, options);
    for (let n = 0; n < N; n++) {
      const p = bruteForceProbability(y, T, N, C, n, Tn[n], targets[n], blank);
      const message = `C ${C} blank ${blank} item ${n}: exp(-loss) ${Math.exp(-losses[n])} vs ${p}`;
      if (p === 0) {
        assert.is(losses[n], Infinity, message);
      } else {
        assert.ok(Math.abs(Math.exp(-losses[n]) - p) <= 1e-12 * p, message);
      }
      assert.is(withGrad.losses[n], losses[n]);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Finite differences.

function finiteDifference(f: (x: Float64Array) => number, x: Float64Array, i: number, h = 1e-5): number {
  const keep = x[i];
  x[i] = keep + h;
  const up = f(x);
  x[i] = keep - h;
  const down = f(x);
  x[i] = keep;
  return (up - down) / (2 * h);
}

function fdCheck(f: (x: Float64Array) => number, x: Float64Array, grad: Float64Array, what: string): void {
  let scale = 0;
  for (const g of grad) scale = Math.max(scale, Math.abs(g));
  for (let i = 0; i < x.length; i++) {
    const numeric = finiteDifference(f, x, i);
    if (!(Math.abs(numeric - grad[i]) <= 1e-6 * Math.max(scale, 1))) {
      assert.unreachable(`${what}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`);
    }
  }
}

const fdCase = (): CtcOptions => ({
  T: 7, N: 3, C: 4, blank: 1,
  targets: [2, 2, 3, 0, 3, 0, 0, 0, 0], paddedTargetLength: 3,
  inputLengths: [7, 5, 6], targetLengths: [3, 1, 0],
});

test('finite differences: logits gradient, reductions none (per-item upstream), sum, mean', () => {
  const rand = seeded(11);
  const base = fdCase();
  const z = randomScores(rand, base.T * base.N * base.C);
  const gy = [0.7, -1.3, 2.1];
  const none = { ...base, reduction: 'none' as const };
  const g1 = ctcLossGradLogits(z, none, { gy });
  fdCheck((x) => {
    const { losses } = ctcLossFromLogits(x, none);
    return losses[0] * gy[0] + losses[1] * gy[1] + losses[2] * gy[2];
  }, z, g1.grad, 'none');
  for (const reduction of ['sum', 'mean'] as const) {
    const options = { ...base, reduction };
    const g = ctcLossGradLogits(z, options, { gy: 0.9 });
    fdCheck((x) => 0.9 * ctcLossFromLogits(x, options).loss, z, g.grad, reduction);
  }
});

test('finite differences: log_probs gradient, exact (free input) and torch (through log_softmax)', () => {
  const rand = seeded(12);
  const base = { ...fdCase(), reduction: 'mean' as const };
  // exact: unnormalised free inputs
  const free = randomScores(rand, base.T * base.N * base.C, 1);
  const exact = ctcLossGradLogProbs(free, base, { convention: 'exact' });
  fdCheck((x) => ctcLoss(x, base).loss, free, exact.grad, 'exact');
  // torch: at normalised y, the gradient of y -> ctc(log_softmax(y))
  const y = logSoftmax(randomScores(rand, base.T * base.N * base.C), base.C);
  const torch = ctcLossGradLogProbs(y, base);
  fdCheck((x) => ctcLossFromLogits(x, base).loss, y, torch.grad, 'torch');
});

// ---------------------------------------------------------------------------------------------
// Behaviour.

test('frames past the input length get zero gradient; accumulate adds; Mat input works', () => {
  const rand = seeded(3);
  const options = { ...fdCase(), reduction: 'sum' as const };
  const { T, N, C } = options;
  const z = randomScores(rand, T * N * C);
  const gx = new Float64Array(T * N * C).fill(5);
  const r = ctcLossGradLogits(z, options, { gx });
  assert.is(r.grad, gx);
  for (let n = 0; n < N; n++) {
    for (let t = options.inputLengths[n] as number; t < T; t++) {
      for (let k = 0; k < C; k++) assert.is(gx[(t * N + n) * C + k], 0);
    }
  }
  const acc = new Float64Array(T * N * C).fill(1);
  ctcLossGradLogits(z, options, { gx: acc, accumulate: true });
  const expected = gx.map((v) => v + 1);
  assertClose(acc, expected, 'accumulate');
  const m = ctcLossGradLogits(matFrom(T * N, C, z), options);
  assertClose(m.grad, gx, 'Mat input');
  const padded = new Float64Array(3 + z.length);
  padded.set(z, 3);
  assertClose(ctcLossGradLogits(matFrom(T * N, C, padded, 3), options).grad, gx, 'Mat with offset');
});

test('impossible alignment: +Infinity and NaN gradient; zeroInfinity: 0 and zero gradient', () => {
  const rand = seeded(5);
  // target 1 1 needs 3 frames (1 blank 1); only 2 given for item 0. Item 1 is fine.
  const base: CtcOptions = { T: 2, N: 2, C: 3, targets: [1, 1, 2], inputLengths: [2, 2], targetLengths: [2, 1], reduction: 'none' };
  const z = randomScores(rand, 2 * 2 * 3);
  const r = ctcLossGradLogits(z, base);
  assert.is(r.losses[0], Infinity);
  assert.ok(Number.isFinite(r.losses[1]));
  assert.ok(Number.isNaN(r.grad[0]) && Number.isNaN(r.grad[6 + 2]));
  assert.ok(Number.isFinite(r.grad[3]));
  const zi = ctcLossGradLogits(z, { ...base, zeroInfinity: true, reduction: 'mean' });
  assert.is(zi.losses[0], 0);
  for (const i of [0, 1, 2, 6, 7, 8]) assert.is(zi.grad[i], 0);
  assert.ok(Math.abs(zi.loss - zi.losses[1] / 2) < 1e-15);
  assert.is(ctcLoss(z, { ...base, reduction: 'mean' }).loss, Infinity);
});

test('long sequence stays finite in log space', () => {
  const rand = seeded(9);
  const T = 2000, N = 1, C = 6, L = 600;
  const targets = Array.from({ length: L }, () => 1 + Math.floor(rand() * (C - 1)));
  const z = randomScores(rand, T * N * C);
  const r = ctcLossGradLogits(z, { T, N, C, targets, inputLengths: [T], targetLengths: [L], reduction: 'sum' });
  assert.ok(Number.isFinite(r.loss) && r.loss > 745, `loss ${r.loss} (probability below the float64 range)`);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let k = 0; k < C; k++) s += r.grad[t * C + k];
    assert.ok(Math.abs(s) < 1e-9, `frame ${t}: gradient sums to ${s}`);
  }
});

test('bad input names the batch item', () => {
  const ok: CtcOptions = { T: 4, N: 3, C: 5, targets: [1, 2, 0, 3, 0, 0, 4, 4, 0], paddedTargetLength: 3, inputLengths: [4, 4, 3], targetLengths: [2, 1, 2], blank: 0 };
  const y = new Float64Array(4 * 3 * 5).fill(Math.log(1 / 5));
  ctcLoss(y, ok);
  const throwsWith = (options: CtcOptions, pattern: RegExp, input = y): void => {
    assert.throws(() => ctcLoss(input, options), pattern);
    assert.throws(() => ctcLossGradLogits(input, options), pattern);
  };
  throwsWith({ ...ok, targets: [1, 2, 0, 3, 0, 0, 4, 0, 0] }, /item 2: target label 0 equals the blank index/);
  throwsWith({ ...ok, blank: 3 }, /item 1: target label 3 equals the blank index/);
  throwsWith({ ...ok, targets: [1, 2, 0, 3, 0, 0, 4, 5, 0] }, /item 2: target label 5 is not a class in \[0, 5\)/);
  throwsWith({ ...ok, targets: [1, -1, 0, 3, 0, 0, 4, 4, 0] }, /item 0: target label -1/);
  throwsWith({ ...ok, inputLengths: [4, -1, 3] }, /item 1: input length -1/);
  throwsWith({ ...ok, targetLengths: [2, -2, 2] }, /item 1: target length -2/);
  throwsWith({ ...ok, inputLengths: [4, 4, 5] }, /item 2: input length 5 exceeds the 4 frames/);
  throwsWith({ ...ok, targetLengths: [2, 4, 2] }, /item 1: target length 4 exceeds the padded target length 3/);
  throwsWith({ ...ok, targets: [1, 2, 3, 4], paddedTargetLength: undefined }, /concatenated targets hold 4 labels but the target lengths sum to 5/);
  throwsWith({ ...ok, targets: [[1, 2], [3], [4]], paddedTargetLength: undefined }, /item 2: target length 2 exceeds its 1 targets/);
  throwsWith({ ...ok, blank: 5 }, /blank index 5/);
  throwsWith({ ...ok, inputLengths: [4, 4] }, /2 input lengths for a batch of 3/);
  throwsWith(ok, /input of 59 values, expected T\*N\*C/, y.subarray(1));
  assert.throws(() => ctcLossGradLogits(y, { ...ok, reduction: 'mean' }, { gy: [1, 2, 3] }), /gy must be a number/);
  assert.throws(() => ctcLossGradLogits(y, { ...ok, reduction: 'none' }, { gy: [1, 2] }), /2 upstream values for a batch of 3/);
  assert.throws(() => ctcLossGradLogits(y, ok, { gx: new Float64Array(3) }), /gx has 3 values/);
});

test('empty target and zero-length input', () => {
  const C = 3;
  const y = logSoftmax(randomScores(seeded(2), 3 * 2 * C), C);
  const r = ctcLoss(y, { T: 3, N: 2, C, targets: [], inputLengths: [3, 0], targetLengths: [0, 0], reduction: 'none' });
  const expected = -(y[0] + y[2 * C] + y[4 * C]);
  assert.ok(Math.abs(r.losses[0] - expected) < 1e-12);
  assert.is(r.losses[1], 0);
  const g = ctcLossGradLogProbs(y, { T: 3, N: 2, C, targets: [], inputLengths: [3, 0], targetLengths: [0, 0], reduction: 'none' }, { convention: 'exact' });
  assert.is(g.grad[0], -1);
  assert.is(g.grad[1], -0);
  assert.is(g.grad[C], 0);
});

test.run();
