// One contract for every gradient method: run(xs, loss, { batch, lengths, initialState }) gives
// { loss, grad, finalState }, and on a packed batch (sequences of different lengths, NaN in the
// padding) Rtrl, Tbptt with k >= T and Bptt give the same three things to 1e-12, for every cell,
// for stacks and for a learned initial state. Each is also checked against an independent
// reference: every sequence run alone at its own length, unpadded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, matOf, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import type { Cell } from '../../lib/cells/cell.js';
import { elman } from '../../lib/cells/elman.js';
import { jordan } from '../../lib/cells/jordan.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { tdnn } from '../../lib/cells/tdnn.js';
import { narx } from '../../lib/cells/narx.js';
import { stacked } from '../../lib/arch/stacked.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { withReadout } from '../../lib/arch/readout.js';
import { type InitialState, type RecurrentModel, createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';
import { Forward } from '../../lib/rnn/forward.js';
import type { GradientMethod, RunResult } from '../../lib/rnn/unroll.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { squaredLoss } from '../helpers.js';
import { METHODS_AGREE } from '../tolerances.js';

const rng = new Rng(77);

const cells: [string, () => Cell][] = [
  ['elman tanh', () => elman({ inputSize: 3, hiddenSize: 4 })],
  ['elman relu + output layer', () => elman({ inputSize: 3, hiddenSize: 4, activation: 'relu', outputSize: 2, outputActivation: 'tanh' })],
  ['jordan', () => jordan({ inputSize: 3, hiddenSize: 4, outputSize: 2 })],
  ['lstm', () => lstm({ inputSize: 3, hiddenSize: 4 })],
  ['lstm peephole', () => lstm({ inputSize: 3, hiddenSize: 3, peephole: true, forgetBias: 1 })],
  ['gru', () => gru({ inputSize: 3, hiddenSize: 4 })],
  ['tdnn', () => tdnn({ inputSize: 3, outputSize: 3, taps: 3 })],
  ['narx', () => narx({ inputSize: 3, outputSize: 2, hiddenSize: 3, inputDelays: 1, outputDelays: 2 })],
  ['stack lstm -> gru', () => stacked([lstm({ inputSize: 3, hiddenSize: 4 }), gru({ inputSize: 4, hiddenSize: 3 })])],
  ['readout over a stack', () => withReadout(stacked([elman({ inputSize: 3, hiddenSize: 4 }), lstm({ inputSize: 4, hiddenSize: 3 })]), 2)],
];

const T = 6, batch = 3, lengths = [6, 4, 1];

function randomMat(rows: number, cols: number, scale = 1): Mat {
  const m = mat(rows, cols);
  rng.fillNormal(m, 0, scale);
  return m;
}

/** xs with NaN in every padded row: if padding leaked anywhere, the loss or gradient would be NaN. */
function packedInputs(inputSize: number): Mat {
  const xs = randomMat(T * batch, inputSize);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) if (t >= lengths[b]) xs.data.fill(NaN, (t * batch + b) * inputSize, (t * batch + b + 1) * inputSize);
  }
  return xs;
}

/** Rows of sequence b, steps [0, L), out of a time-major batch. */
function column(m: Mat, b: number, L: number): Mat {
  const out = mat(L, m.cols);
  for (let t = 0; t < L; t++) out.data.set(m.data.subarray((t * batch + b) * m.cols, (t * batch + b + 1) * m.cols), t * m.cols);
  return out;
}

function rowOf(m: Mat, b: number): Mat {
  return { rows: 1, cols: m.cols, data: m.data.slice(b * m.cols, (b + 1) * m.cols), offset: 0 };
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 1;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / scale : Infinity;
}

function assertAgree(what: string, got: RunResult, want: RunResult): void {
  assert.ok(Number.isFinite(got.loss) && got.grad.every(Number.isFinite), `${what}: not finite`);
  const lossDiff = Math.abs(got.loss - want.loss) / Math.max(1, Math.abs(want.loss));
  assert.ok(lossDiff <= METHODS_AGREE, `${what}: loss ${got.loss} vs ${want.loss}`);
  assert.ok(relDiff(got.grad, want.grad) <= METHODS_AGREE, `${what}: grad differs by ${relDiff(got.grad, want.grad)}`);
  assert.is(got.finalState.length, want.finalState.length, `${what}: state vectors`);
  got.finalState.forEach((m, i) => {
    assert.is(`${m.rows}x${m.cols}`, `${want.finalState[i].rows}x${want.finalState[i].cols}`, `${what}: final state ${i} shape`);
    assert.ok(relDiff(m.data.subarray(m.offset, m.offset + m.rows * m.cols), want.finalState[i].data.subarray(want.finalState[i].offset)) <= METHODS_AGREE, `${what}: final state ${i}`);
  });
}

const initials: [string, (cell: Cell) => InitialState][] = [
  ['zero', () => 'zero'],
  ['learned', () => 'learned'],
];

for (const [name, make] of cells) {
  for (const [initName, initial] of initials) {
    test(`${name}, ${initName} initial state, packed batch [${lengths}]: Rtrl, Tbptt(k >= T) and Bptt agree, and equal each sequence run alone`, () => {
      const cell = make();
      const model = createModel(cell, { seed: rng.int(1000), initialState: initial(cell) });
      if (model.initialState === 'learned') {
        for (let i = model.params.offsets[model.cellParamCount]; i < model.params.theta.length; i++) model.params.theta[i] = rng.normal(0, 0.5);
      }
      const xs = packedInputs(cell.inputSize);
      // Zero targets past a sequence's end, where the output is zero: the padding adds no loss.
      const targets = randomMat(T * batch, cell.outputSize);
      for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) if (t >= lengths[b]) targets.data.fill(0, (t * batch + b) * cell.outputSize, (t * batch + b + 1) * cell.outputSize);
      const finals = cell.stateSizes.map((s) => randomMat(batch, s));
      const loss = squaredLoss(targets, batch, finals);
      const options = { batch, lengths };
      const reference = new Bptt(model).run(xs, loss, options);
      const methods: [string, GradientMethod][] = [
        ['rtrl', new Rtrl(model)],
        ['tbptt k1 = k2 = T', new Tbptt(model, { k1: T })],
        ['tbptt k1 = 2, k2 = T', new Tbptt(model, { k1: 2, k2: T })],
        ['tbptt k1 = k2 = 2T', new Tbptt(model, { k1: 2 * T })],
      ];
      for (const [label, method] of methods) assertAgree(label, method.run(xs, loss, options), reference);
      // The online form of RTRL: reset with the lengths, then one step at a time.
      const online = new Rtrl(model);
      online.reset(options);
      for (let t = 0; t < T; t++) online.step(rowsView(xs, t * batch, batch), loss, t === T - 1);
      assertAgree('rtrl online', { loss: online.loss, grad: online.grad, finalState: online.state.slice() }, reference);
      // Independent reference: each sequence alone, unpadded, at its own length; losses and
      // gradients add up over the batch, final states are row b.
      const grad = new Float64Array(reference.grad.length);
      let total = 0;
      lengths.forEach((L, b) => {
        const alone = new Bptt(model).run(column(xs, b, L), squaredLoss(column(targets, b, L), 1, finals.map((f) => rowOf(f, b))));
        total += alone.loss;
        for (let i = 0; i < grad.length; i++) grad[i] += alone.grad[i];
        alone.finalState.forEach((m, i) => assert.ok(relDiff(m.data, rowOf(reference.finalState[i], b).data) <= METHODS_AGREE, `sequence ${b} final state ${i}`));
      });
      assert.ok(Math.abs(total - reference.loss) <= METHODS_AGREE * Math.max(1, Math.abs(total)), `bptt loss ${reference.loss} vs sum alone ${total}`);
      assert.ok(relDiff(reference.grad, grad) <= METHODS_AGREE, `bptt grad vs each sequence alone: ${relDiff(reference.grad, grad)}`);
      // Forward gives BPTT's outputs and final state.
      const fwd = new Forward(model).run(xs, options);
      assert.ok(relDiff(fwd.outputs.data, reference.outputs.data) <= METHODS_AGREE, 'forward outputs');
      fwd.finalState.forEach((m, i) => assert.ok(relDiff(m.data, reference.finalState[i].data) <= METHODS_AGREE, `forward final state ${i}`));
    });
  }
}

test('an explicit initial state (batch rows or one shared row) means the same in every method', () => {
  const model = createModel(lstm({ inputSize: 3, hiddenSize: 4 }), { seed: 5 });
  const xs = packedInputs(3);
  const loss = squaredLoss(randomMat(T * batch, 4), batch, [randomMat(batch, 4), randomMat(batch, 4)]);
  for (const initialState of [[randomMat(batch, 4), randomMat(batch, 4)], [randomMat(1, 4), randomMat(1, 4)]]) {
    const options = { batch, lengths, initialState };
    const reference = new Bptt(model).run(xs, loss, options);
    assertAgree(`rtrl, ${initialState[0].rows} row(s)`, new Rtrl(model).run(xs, loss, options), reference);
    assertAgree(`tbptt, ${initialState[0].rows} row(s)`, new Tbptt(model, { k1: 4, k2: T }).run(xs, loss, options), reference);
  }
});

test('a stream continues: a run from the previous final state (or \'carry\') gives the second half of the whole run', () => {
  const model = createModel(gru({ inputSize: 3, hiddenSize: 4 }), { seed: 6 });
  const xs = randomMat(T * batch, 3);
  const first = rowsView(xs, 0, 2 * batch), second = rowsView(xs, 2 * batch, (T - 2) * batch);
  const whole = new Forward(model).run(xs, { batch });
  const rest = whole.outputs.data.subarray(2 * batch * 4);
  const f = new Forward(model);
  const a = f.run(first, { batch });
  const explicit = new Forward(model).run(second, { batch, initialState: a.finalState });
  assert.ok(relDiff(explicit.outputs.data, rest) === 0, 'explicit initial state');
  const carried = f.run(second, { batch, initialState: 'carry' });
  assert.ok(relDiff(carried.outputs.data, rest) === 0, 'carry');
  assert.ok(relDiff(carried.finalState[0].data, whole.finalState[0].data) === 0, 'final state');
  // Step by step, the online form gives the same outputs.
  const online = new Forward(model);
  online.reset({ batch });
  for (let t = 0; t < T; t++) {
    const y = online.step(rowsView(xs, t * batch, batch));
    assert.ok(relDiff(y.data, whole.outputs.data.subarray(t * batch * 4, (t + 1) * batch * 4)) === 0, `step ${t}`);
  }
  // The gradient methods carry too: the second half's loss from the carried state.
  const loss: SequenceLoss = { step: (g, _t, out) => g.sum(out) };
  for (const method of [new Bptt(model), new Rtrl(model), new Tbptt(model, { k1: 4 })]) {
    method.run(first, loss, { batch });
    const carriedRun = method.run(second, loss, { batch, initialState: 'carry' });
    const fromState = new Bptt(model).run(second, loss, { batch, initialState: a.finalState });
    assertAgree(`${method.constructor.name} carry`, carriedRun, fromState);
  }
});

test('a bidirectional model: Bptt and Forward run it under the same contract, Rtrl refuses at creation naming Bptt', () => {
  const model = createModel(withReadout(stacked([bidirectional(lstm({ inputSize: 3, hiddenSize: 3 })), gru({ inputSize: 6, hiddenSize: 3 })]), 2), { seed: 8 });
  const xs = packedInputs(3);
  const loss = squaredLoss(randomMat(T * batch, 2), batch, model.cell.stateSizes.map((s) => randomMat(batch, s)));
  const result = new Bptt(model).run(xs, loss, { batch, lengths });
  assert.ok(Number.isFinite(result.loss) && result.grad.every(Number.isFinite));
  const fwd = new Forward(model).run(xs, { batch, lengths });
  assert.ok(relDiff(fwd.outputs.data, result.outputs.data) <= METHODS_AGREE);
  // The readout over the stack's own scan emits zeros past each sequence's end, as a stepped cell does.
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) {
      const row = Array.from(result.outputs.data.subarray((t * batch + b) * 2, (t * batch + b + 1) * 2));
      if (t >= lengths[b]) assert.equal(row, [0, 0], `step ${t}, sequence ${b}`);
      else assert.ok(row.some((v) => v !== 0), `step ${t}, sequence ${b} is active`);
    }
  }
  assert.throws(() => new Rtrl(model), /rtrl: .*reads the future.*use Bptt/);
  assert.throws(() => new Forward(model).step(mat(1, 3)), /forward: .*cannot be stepped; use run\(\)/);
});

test('bad run options are clear errors at the call, naming the method', () => {
  const model: RecurrentModel = createModel(lstm({ inputSize: 3, hiddenSize: 4 }));
  const xs = randomMat(4 * 2, 3);
  const methods: [string, GradientMethod][] = [['bptt', new Bptt(model)], ['rtrl', new Rtrl(model)], ['tbptt', new Tbptt(model, { k1: 2 })]];
  for (const [op, method] of methods) {
    assert.throws(() => method.run(xs, {}, { batch: 2, initialState: [mat(2, 4)] }), new RegExp(`${op}: a fixed initial state needs 2 matrices \\(h, c\\), got 1`));
    assert.throws(() => method.run(xs, {}, { batch: 2, initialState: [mat(2, 4), mat(2, 5)] }), new RegExp(`${op}: initial c is 2x5, needs 4 columns`));
    assert.throws(() => method.run(xs, {}, { batch: 2, initialState: [mat(3, 4), mat(3, 4)] }), new RegExp(`${op}: initial h is 3x4; it needs 1 row \\(shared by the batch\\) or batch 2 rows`));
    assert.throws(() => method.run(xs, {}, { batch: 2, lengths: [4, 5] }), new RegExp(`${op}: sequence 1 has length 5`));
    assert.throws(() => method.run(xs, {}, { batch: 2, lengths: [4] }), new RegExp(`${op}: 1 lengths for a batch of 2`));
    assert.throws(() => method.run(xs, {}, { batch: 3 }), new RegExp(`${op}: input has 8 rows, not a multiple of batch 3`));
    assert.throws(() => method.run(xs, {}, { batch: 2, length: [4, 4] } as never), new RegExp(`${op}: unknown option "length" \\(accepted: batch, lengths, initialState, checkFinite`));
  }
  assert.throws(() => new Rtrl(model, { maxbytes: 1 } as never), /rtrl: unknown option "maxbytes" \(accepted: maxBytes, columns, threads, spec\)/);
  assert.throws(() => new Tbptt(model, { k1: 2, batch: 2 } as never), /tbptt: unknown option "batch" \(accepted: k1, k2, threads, timeoutMs\)/);
  assert.throws(() => new Forward(model).run(xs, { batch: 2, outputs: mat(8, 4) } as never), /forward: unknown option "outputs" \(accepted: batch, lengths, initialState, checkFinite, out\)/);
});

test('NaN or Inf in an input a sequence reads is an error naming the step and sequence, in every method and online; checkFinite: false skips the scan', () => {
  const model = createModel(gru({ inputSize: 3, hiddenSize: 2 }), { seed: 9 });
  const xs = packedInputs(3); // NaN in the padding, which is never read: accepted (the tests above)
  xs.data[(3 * batch + 1) * 3 + 2] = Infinity; // step 3, sequence 1 (length 4): read
  const loss: SequenceLoss = { step: (g, _t, out) => g.sum(out) };
  const options = { batch, lengths };
  const methods: [string, GradientMethod][] = [['bptt', new Bptt(model)], ['rtrl', new Rtrl(model)], ['tbptt', new Tbptt(model, { k1: 2 })]];
  for (const [op, method] of methods) {
    assert.throws(() => method.run(xs, loss, options), new RegExp(`${op}: input at step 3, sequence 1, feature 2 is Infinity \\(inputs must be finite; pass checkFinite: false`));
  }
  assert.throws(() => new Forward(model).run(xs, options), /forward: input at step 3, sequence 1, feature 2 is Infinity/);
  const online = new Rtrl(model);
  online.reset(options);
  for (let t = 0; t < 3; t++) online.step(rowsView(xs, t * batch, batch), loss);
  assert.throws(() => online.step(rowsView(xs, 3 * batch, batch), loss), /rtrl: input at step 3, sequence 1, feature 2 is Infinity/);
  const stream = new Forward(model);
  stream.reset({ batch });
  assert.throws(() => stream.step(matOf([[0, 0, 0], [0, NaN, 0], [0, 0, 0]])), /forward: input at step 0, sequence 1, feature 1 is NaN/);
  assert.throws(() => new Bptt(model).run(mat(2, 3), loss, { initialState: [matOf([[0, NaN]])] }), /bptt: initial h holds NaN at row 0, column 1/);
  // Opting out: the run goes ahead and the NaN shows in the result.
  xs.data[(3 * batch + 1) * 3 + 2] = NaN;
  assert.ok(Number.isNaN(new Bptt(model).run(xs, loss, { ...options, checkFinite: false }).loss));
});

test.run();
