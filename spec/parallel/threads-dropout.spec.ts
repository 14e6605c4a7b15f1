// Dropout crosses to workers: a stack's masks are seeded per (seed, layer, step), so a shard of the
// batch that starts from the streams where they stand and draws the whole batch's mask, keeping its
// rows, sees one thread's masks. Checked: a shard's masks are those rows of the whole batch's (and
// rows outside the batch are refused); threaded Bptt equals one thread to 1e-12 run after run (the
// streams move on as one thread's do) and with dropout off; Tbptt window by window; past the
// longest sequence no mask is drawn, threads or not; Rtrl bit for bit, also when the seed or the
// training switch changes between steps, and a spec that disagrees about dropout is refused;
// modelFromSpec refuses a bad dropout naming it; a hand-made model with dropout still refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../../node/register.js';
import { type ModelSpec, modelFromSpec, specOf } from '../../lib/parallel/model-spec.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Tbptt, type TbpttWindow } from '../../lib/rnn/tbptt.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { createModel } from '../../lib/rnn/model.js';
import { stacked } from '../../lib/arch/stacked.js';
import { gru } from '../../lib/cells/gru.js';
import { Graph } from '../../lib/ad/graph.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat, relErr } from '../helpers.js';

const batch = 5, steps = 6, inputSize = 3, lengths = [6, 4, 6, 2, 5];
const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize, hiddenSize: 4 } }, layers: 3, readout: 2, dropout: { p: 0.4, seed: 11 } };
const rng = new Rng(9);
const xs = randomMat(rng, steps * batch, inputSize);
const targets = randomMat(rng, steps * batch, 2);
const loss = sequenceLoss({ kind: 'mse', targets, mask: null, batch });

/** Two models of one spec and theta: one for one thread, one for two. */
function pair(s: ModelSpec) {
  const a = modelFromSpec(s, { seed: 2 });
  return { a, b: modelFromSpec(s, a.params.theta.slice()) };
}

test('a shard draws the rows of the whole batch\'s mask; rows past the batch are refused', () => {
  const cell = stacked([gru({ inputSize: 2, hiddenSize: 6 }), gru({ inputSize: 6, hiddenSize: 6 })], { dropout: 0.5, seed: 4 });
  const masks = cell.masks!;
  const at = masks.state();
  const drawn = (rows: number, shard: { start: number; total: number } | null) => {
    masks.set(at, shard);
    const g = new Graph('eval');
    const x = g.constant(matOnes(rows, 6));
    return Array.from(cell.applyDropout(g, x, 1).value.data.slice(0, rows * 6));
  };
  const whole = drawn(5, null);
  assert.ok(whole.includes(0) && whole.includes(2), 'p = 0.5 drops some and scales the rest by 2');
  assert.equal(drawn(2, { start: 3, total: 5 }), whole.slice(18, 30));
  assert.equal(drawn(3, { start: 0, total: 5 }), whole.slice(0, 18));
  assert.throws(() => drawn(3, { start: 3, total: 5 }), /dropout masks: rows 3\.\.5 are not in a batch of 5/);
  assert.throws(() => masks.set({ ...at, drawn: [0] }, null), /dropout masks: drawn must hold 2 counts/);
});

function matOnes(rows: number, cols: number) {
  const m = mat(rows, cols);
  m.data.fill(1);
  return m;
}

test('threaded Bptt with dropout equals one thread to 1e-12, run after run, and with dropout off', () => {
  const { a, b } = pair(spec);
  const one = new Bptt(a), two = new Bptt(b, { threads: 2 });
  try {
    const first = one.run(xs, loss, { batch, lengths });
    for (let run = 0; run < 3; run++) {
      const r1 = run === 0 ? first : one.run(xs, loss, { batch, lengths }), r2 = two.run(xs, loss, { batch, lengths });
      assert.ok(relErr(r2.grad, r1.grad) <= 1e-12, `run ${run}: gradient ${relErr(r2.grad, r1.grad)}`);
      assert.ok(Math.abs(r2.loss - r1.loss) <= 1e-12 * Math.abs(r1.loss), `run ${run}: loss`);
      assert.equal(b.cell.masks!.state(), a.cell.masks!.state(), `run ${run}: the streams moved as one thread's`);
    }
    // the masks matter (a later run draws others), and off means off
    const again = one.run(xs, loss, { batch, lengths });
    two.run(xs, loss, { batch, lengths });
    assert.ok(relErr(again.grad, first.grad) > 1e-6, 'the streams moved on');
    const drawn = a.cell.masks!.state().drawn;
    (a.cell as { training?: boolean }).training = false;
    (b.cell as { training?: boolean }).training = false;
    const off1 = one.run(xs, loss, { batch, lengths }), off2 = two.run(xs, loss, { batch, lengths });
    assert.ok(relErr(off2.grad, off1.grad) <= 1e-12, 'dropout off');
    assert.equal(a.cell.masks!.state().drawn, drawn, 'no mask drawn with dropout off (one thread)');
    assert.equal(b.cell.masks!.state().drawn, drawn, 'no mask drawn with dropout off (two threads)');
  } finally {
    two.close();
  }
});

test('threaded Tbptt with dropout equals one thread window by window', () => {
  const { a, b } = pair(spec);
  const windows = (t: Tbptt) => {
    const out: TbpttWindow[] = [];
    t.run(xs, loss, { batch, lengths, onWindow: (w) => { out.push({ ...w, grad: w.grad.slice() }); } });
    return out;
  };
  const two = new Tbptt(b, { k1: 2, k2: 3, threads: 2 });
  try {
    const w1 = windows(new Tbptt(a, { k1: 2, k2: 3 })), w2 = windows(two);
    assert.is(w2.length, w1.length);
    assert.ok(w1.length >= 3);
    w1.forEach((w, i) => assert.ok(relErr(w2[i].grad, w.grad) <= 1e-12, `window ${i}: ${relErr(w2[i].grad, w.grad)}`));
  } finally {
    two.close();
  }
});

test('past the longest sequence no mask is drawn, as stepping draws none: Bptt and Tbptt keep one thread\'s streams, run after run', () => {
  const short = [3, 2, 3, 5, 4]; // every row done after step 4 of 8; this thread's shard (rows 0..2) after step 2
  const long = randomMat(new Rng(3), 8 * batch, inputSize);
  const longLoss = sequenceLoss({ kind: 'mse', targets: randomMat(new Rng(4), 8 * batch, 2), mask: null, batch });
  const { a, b } = pair(spec);
  const one = new Bptt(a), two = new Bptt(b, { threads: 2 });
  const t1 = new Tbptt(a, { k1: 2, k2: 3 }), t2 = new Tbptt(b, { k1: 2, k2: 3, threads: 2 });
  try {
    for (let run = 0; run < 2; run++) {
      const r1 = one.run(long, longLoss, { batch, lengths: short }), r2 = two.run(long, longLoss, { batch, lengths: short });
      assert.ok(relErr(r2.grad, r1.grad) <= 1e-12, `bptt run ${run}: ${relErr(r2.grad, r1.grad)}`);
      assert.equal(b.cell.masks!.state(), a.cell.masks!.state(), `bptt run ${run}: streams`);
      const g1: Float64Array[] = [], g2: Float64Array[] = [];
      t1.run(long, longLoss, { batch, lengths: short, onWindow: (w) => { g1.push(w.grad.slice()); } });
      t2.run(long, longLoss, { batch, lengths: short, onWindow: (w) => { g2.push(w.grad.slice()); } });
      assert.is(g2.length, g1.length);
      g1.forEach((g, i) => assert.ok(relErr(g2[i], g) <= 1e-12, `tbptt run ${run} window ${i}: ${relErr(g2[i], g)}`));
      assert.equal(b.cell.masks!.state(), a.cell.masks!.state(), `tbptt run ${run}: streams`);
    }
    // Per run and layer above the first, one mask per step with an active row (steps 0..4): Bptt 5;
    // Tbptt's windows over steps [0, 2), [1, 4), [3, 6), [5, 8): 2 + 3 + 2 + 0.
    assert.equal(a.cell.masks!.state().drawn, [0, 2 * (5 + 7), 2 * (5 + 7)]);
  } finally {
    two.close();
    t2.close();
  }
});

test('threaded Rtrl with dropout is one thread bit for bit, and stream after stream', () => {
  const deep: ModelSpec = { cell: { kind: 'gru', options: { inputSize, hiddenSize: 16 } }, layers: 2, readout: 2, dropout: { p: 0.3, seed: 5 } };
  const { a, b } = pair(deep);
  const one = new Rtrl(a), two = new Rtrl(b, { threads: 2 });
  try {
    assert.is(two.shards, 2);
    for (let run = 0; run < 2; run++) {
      const r1 = one.run(xs, loss, { batch, lengths }), r2 = two.run(xs, loss, { batch, lengths });
      assert.ok(Object.is(r1.loss, r2.loss), `stream ${run}: loss ${r1.loss} vs ${r2.loss}`);
      assert.equal(Array.from(r2.grad), Array.from(r1.grad), `stream ${run}: gradient`);
      assert.equal(b.cell.masks!.state(), a.cell.masks!.state(), `stream ${run}: the streams moved as one thread's`);
    }
    // Changed between steps (a new seed, dropout off): every worker draws what this thread draws.
    one.reset({ batch, lengths });
    two.reset({ batch, lengths });
    const stacks = [a, b].map((m) => (m.cell as unknown as { inner: { resetDropout(seed?: number): void; training: boolean } }).inner);
    for (let t = 0; t < steps; t++) {
      if (t === 2) stacks.forEach((c) => c.resetDropout(77));
      if (t === 4) stacks.forEach((c) => { c.training = false; });
      const x = rowsView(xs, t * batch, batch);
      one.step(x, loss);
      two.step(x, loss);
      assert.equal(Array.from(two.grad), Array.from(one.grad), `step ${t}`);
    }
    // A spec that says otherwise about dropout is refused: the workers would draw other masks.
    assert.throws(() => new Rtrl(a, { threads: 2, spec: { ...deep, dropout: undefined } }), /^rtrl: spec describes a model with no dropout, but the model has dropout 0\.3/);
    assert.throws(() => new Rtrl(a, { threads: 2, spec: { ...deep, dropout: { p: 0.6 } } }), /^rtrl: spec describes a model with dropout 0\.6, but the model has dropout 0\.3/);
  } finally {
    two.close();
  }
});

test('modelFromSpec refuses a bad dropout naming it; a hand-made model with dropout refuses threads', () => {
  assert.throws(() => modelFromSpec({ ...spec, dropout: { p: 1 } }), /^modelFromSpec: dropout\.p must be a number in \[0, 1\), got 1/);
  assert.throws(() => modelFromSpec({ ...spec, dropout: { p: 0.1, seed: 0.5 } }), /^modelFromSpec: dropout\.seed must be a safe integer, got 0\.5/);
  assert.throws(() => modelFromSpec({ ...spec, dropout: { p: 0.1, rate: 2 } as never }), /modelFromSpec dropout: unknown option "?rate/);
  assert.throws(() => modelFromSpec({ ...spec, dropout: 0.2 as never }), /^modelFromSpec: dropout must be \{ p, seed\? \}/);
  assert.equal(specOf(modelFromSpec(spec))!.dropout, { p: 0.4, seed: 11 });
  const handMade = createModel(stacked([gru({ inputSize, hiddenSize: 4 }), gru({ inputSize: 4, hiddenSize: 4 })], { dropout: 0.2 }));
  assert.throws(() => new Bptt(handMade, { threads: 2 }), /^bptt: threads: 2 needs a model that can cross to a worker as data/);
});

test.run();
