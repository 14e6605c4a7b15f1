import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstm } from '../../lib/cells/lstm.js';
import { elman } from '../../lib/cells/elman.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Tbptt, type TbpttWindow } from '../../lib/rnn/tbptt.js';
import { Forward } from '../../lib/rnn/forward.js';
import { withReadout } from '../../lib/arch/readout.js';
import { sequenceLoss, type SequenceTargets } from '../../lib/loss/losses.js';
import { type Mat, mat, matFrom, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { maxAbsDiff } from '../helpers.js';

const batch = 2, T = 6;

function setup(learned = false): { model: RecurrentModel; xs: Mat; spec: SequenceTargets } {
  const model = createModel(withReadout(lstm({ inputSize: 3, hiddenSize: 4, forgetBias: 1 }), 2), { seed: 3, initialState: learned ? 'learned' : 'zero' });
  if (learned) {
    const rng = new Rng(9);
    for (let i = model.cellParamCount; i < model.params.mats.length; i++) rng.fillNormal(model.params.mats[i], 0, 0.5);
  }
  const rng = new Rng(5);
  const xs = mat(T * batch, 3);
  rng.fillNormal(xs);
  const targets = mat(T * batch, 2);
  rng.fillNormal(targets);
  const mask = mat(T * batch, 1);
  for (let r = 0; r < T * batch; r++) mask.data[r] = r % 3 === 0 ? 0 : 1; // some steps, some sequences
  return { model, xs, spec: { kind: 'mse', targets, mask, batch } };
}

function collect(tb: Tbptt, xs: Mat, spec: SequenceTargets): { windows: Omit<TbpttWindow, 'grad'>[]; grads: Float64Array[]; total: Float64Array; loss: number } {
  const windows: Omit<TbpttWindow, 'grad'>[] = [], grads: Float64Array[] = [];
  const total = new Float64Array(tb.model.params.theta.length);
  let loss = 0;
  const result = tb.run(xs, sequenceLoss(spec), { batch, onWindow: (w) => {
    const { grad, ...rest } = w;
    windows.push(rest);
    grads.push(grad.slice());
    for (let i = 0; i < grad.length; i++) total[i] += grad[i];
    loss += w.loss;
  } });
  // run() returns what the windows add up to.
  assert.is(result.loss, loss);
  assert.ok(maxAbsDiff(result.grad, total) === 0);
  return { windows, grads, total, loss };
}

for (const learned of [false, true]) {
  test(`TBPTT with k1 = k2 = T is full BPTT (${learned ? 'learned' : 'zero'} initial state)`, () => {
    const { model, xs, spec } = setup(learned);
    const full = new Bptt(model).run(xs, sequenceLoss(spec), { batch });
    const { windows, total, loss } = collect(new Tbptt(model, { k1: T }), xs, spec);
    assert.is(windows.length, 1);
    assert.equal({ start: windows[0].start, end: windows[0].end, lossStart: windows[0].lossStart }, { start: 0, end: T, lossStart: 0 });
    assert.ok(Math.abs(loss - full.loss) < 1e-14, `loss ${loss} vs ${full.loss}`);
    assert.ok(maxAbsDiff(total, full.grad) < 1e-13, `grad differs by ${maxAbsDiff(total, full.grad)}`);
    if (learned) assert.ok(full.grad[full.grad.length - 1] !== 0, 'the learned initial state gets a gradient');
  });
}

test('k2 >= T with k1 < T: the windows sum to the full gradient (no truncation happens)', () => {
  const { model, xs, spec } = setup();
  const full = new Bptt(model).run(xs, sequenceLoss(spec), { batch });
  const { windows, total, loss } = collect(new Tbptt(model, { k1: 2, k2: T }), xs, spec);
  assert.equal(windows.map((w) => [w.start, w.lossStart, w.end]), [[0, 0, 2], [0, 2, 4], [0, 4, 6]]);
  assert.ok(Math.abs(loss - full.loss) < 1e-14);
  assert.ok(maxAbsDiff(total, full.grad) < 1e-13, `grad differs by ${maxAbsDiff(total, full.grad)}`);
});

test('a truncated window equals BPTT from the stored state over its k2 steps, loss on its last k1', () => {
  const { model, xs, spec } = setup();
  const k1 = 2, k2 = 3;
  const { windows, grads } = collect(new Tbptt(model, { k1, k2 }), xs, spec);
  assert.equal(windows.map((w) => [w.start, w.lossStart, w.end]), [[0, 0, 2], [1, 2, 4], [3, 4, 6]]);
  // The state entering step `start`, from a plain forward pass (parameters are not updated here).
  const cell = model.cell;
  for (let w = 1; w < windows.length; w++) {
    const { start, lossStart, end } = windows[w];
    const prefix = rowsView(xs, 0, start * batch);
    const stateModel = createModel(cell, { theta: model.params.theta });
    const bareState = stateAfter(stateModel, prefix);
    // Targets of the window, masked to its loss steps.
    const steps = end - start;
    const targets = matFrom(steps * batch, 2, spec.targets.data.slice(start * batch * 2, end * batch * 2));
    const mask = matFrom(steps * batch, 1, spec.mask!.data.slice(start * batch, end * batch));
    for (let s = 0; s < lossStart - start; s++) for (let b = 0; b < batch; b++) mask.data[s * batch + b] = 0;
    const fullCount = spec.mask!.data.reduce((a, v) => a + v, 0) * 2;
    const loss = sequenceLoss({ kind: 'mse', targets, mask, batch }, { scale: 1 / fullCount });
    const ref = new Bptt(model).run(rowsView(xs, start * batch, steps * batch), loss, { batch, initialState: bareState });
    assert.ok(maxAbsDiff(grads[w], ref.grad) < 1e-13, `window ${w} differs by ${maxAbsDiff(grads[w], ref.grad)}`);
  }
});

function stateAfter(model: RecurrentModel, xs: Mat): Mat[] {
  // Run BPTT with no loss just for its final state.
  return new Bptt(model).run(xs, {}, { batch }).finalState;
}

test('a leftover tail gets its own window; feeding a stream in pieces gives the same windows', () => {
  const { model, xs, spec } = setup();
  const whole = collect(new Tbptt(model, { k1: 4 }), xs, spec);
  // The tail's gradient flows back k2 = 4 steps from its end, into the first window's steps.
  assert.equal(whole.windows.map((w) => [w.start, w.lossStart, w.end]), [[0, 0, 4], [2, 4, 6]]);
  const tb = new Tbptt(model, { k1: 4 });
  const pieces: Float64Array[] = [];
  tb.reset({ batch });
  const loss = sequenceLoss(spec);
  tb.feed(rowsView(xs, 0, 3 * batch), loss, (w) => pieces.push(w.grad.slice()));
  tb.feed(rowsView(xs, 3 * batch, 3 * batch), loss, (w) => pieces.push(w.grad.slice()), true);
  assert.is(pieces.length, 2);
  pieces.forEach((g, i) => assert.ok(maxAbsDiff(g, whole.grads[i]) < 1e-15));
});

test('the state carried across windows is the forward state', () => {
  const model = createModel(elman({ inputSize: 2, hiddenSize: 3 }), { seed: 1 });
  const xs = mat(7, 2);
  new Rng(2).fillNormal(xs);
  const tb = new Tbptt(model, { k1: 3 });
  let state: Mat[] = [];
  const result = tb.run(xs, {}, { onWindow: () => { state = tb.state(); } });
  const outputs = new Forward(model).run(xs).outputs;
  assert.equal(Array.from(result.finalState[0].data), Array.from(state[0].data));
  // Elman's output is h: the state after the last step is the last output row.
  assert.equal(Array.from(state[0].data), Array.from(outputs.data.subarray(6 * 3, 7 * 3)));
});

test('bad options throw', () => {
  const { model } = setup();
  assert.throws(() => new Tbptt(model, { k1: 0 }), /k1 must be an integer >= 1/);
  assert.throws(() => new Tbptt(model, { k1: 3, k2: 2 }), /k2 must be an integer >= k1 = 3/);
  const tb = new Tbptt(model, { k1: 2 });
  assert.throws(() => tb.run(mat(4, 3), {}, { batch: 0 }), /tbptt: batch must be an integer >= 1, got 0/);
  assert.throws(() => tb.run(mat(3, 3), {}, { batch: 2 }), /not a multiple of batch 2/);
  assert.throws(() => tb.run(mat(4, 5), {}, { batch: 2 }), /takes 3 features/);
});

test('an empty sequence is an Error, not a silent run without windows', () => {
  const { model, spec } = setup();
  const tb = new Tbptt(model, { k1: 2 });
  let windows = 0;
  assert.throws(() => tb.run(mat(0, 3), sequenceLoss(spec), { batch, onWindow: () => { windows++; } }), /tbptt: the sequence is empty \(input 0x3\)/);
  tb.reset({ batch });
  assert.throws(() => tb.feed(mat(0, 3), sequenceLoss(spec), () => { windows++; }, true), /tbptt: the sequence is empty/);
  assert.is(windows, 0);
  // Mid-stream, an empty piece is a no-op, and ending after steps were fed is fine.
  tb.reset({ batch });
  tb.feed(mat(0, 3), sequenceLoss(spec), () => { windows++; });
  tb.feed(mat(batch, 3), sequenceLoss(spec), () => { windows++; });
  tb.feed(mat(0, 3), sequenceLoss(spec), () => { windows++; }, true);
  assert.is(windows, 1);
});

test('tapeBytes: the latest window\'s tape, O(k2) and equal to BPTT\'s over the same steps', () => {
  const { model, xs, spec } = setup();
  const tb = new Tbptt(model, { k1: T });
  assert.is(tb.tapeBytes(), 0);
  let seen = 0;
  tb.run(xs, sequenceLoss(spec), { batch, onWindow: () => { seen = tb.tapeBytes(); } });
  assert.ok(seen > 0);
  assert.is(seen, new Bptt(model).run(xs, sequenceLoss(spec), { batch }).tapeBytes);
  // Windows of 2 steps keep about a third of a 6-step tape, however long the stream.
  const short = new Tbptt(model, { k1: 2 });
  const sizes: number[] = [];
  const long = mat(5 * T * batch, 3);
  new Rng(4).fillNormal(long);
  short.run(long, {}, { batch, onWindow: () => { sizes.push(short.tapeBytes()); } });
  assert.is(sizes.length, 5 * T / 2);
  for (const bytes of sizes) assert.ok(bytes > 0 && bytes < 0.5 * seen, `window tape ${bytes} vs ${seen} for ${T} steps`);
  assert.is(short.tapeBytes(), sizes[sizes.length - 1]);
});

test.run();
