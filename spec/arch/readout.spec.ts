// withReadout forwards what runners ask of the inner cell: whether it is causal
// (Rtrl refuses a readout over a bidirectional layer up front) and a stack's
// dropout switch (Rtrl's memory probe turns dropout off, so it draws no masks).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { stacked } from '../../lib/arch/stacked.js';
import { withReadout } from '../../lib/arch/readout.js';

test('Rtrl refuses a readout over a bidirectional stack up front, naming Bptt', () => {
  const cell = withReadout(stacked([bidirectional(lstm({ inputSize: 2, hiddenSize: 3 }))]), 2);
  assert.is(cell.causal, false);
  assert.throws(() => new Rtrl(createModel(cell)), /cannot be trained online; use Bptt/);
  assert.is(withReadout(bidirectional(gru({ inputSize: 2, hiddenSize: 2 })), 1).causal, false);
  assert.is(withReadout(stacked([lstm({ inputSize: 2, hiddenSize: 3 })]), 2).causal, true);
  assert.is(withReadout(lstm({ inputSize: 2, hiddenSize: 3 }), 2).causal, undefined);
});

test('a readout forwards a stack\'s dropout switch, so Rtrl\'s probe leaves the masks alone', () => {
  const make = () => createModel(withReadout(stacked([lstm({ inputSize: 2, hiddenSize: 3 }), gru({ inputSize: 3, hiddenSize: 3 })], { dropout: 0.5, seed: 9 }), 2), { seed: 5 });
  const cell = make().cell as ReturnType<typeof withReadout> & { training: boolean };
  const inner = cell.inner as ReturnType<typeof stacked>;
  assert.is(cell.training, true);
  cell.training = false;
  assert.is(inner.training, false);
  inner.training = true;
  assert.is(cell.training, true);
  // Bptt and Rtrl see the same masks (mask k of layer 1 at step k) only if building Rtrl drew none.
  const steps = 5, rng = new Rng(3);
  const xs = mat(steps, 2);
  for (let i = 0; i < xs.data.length; i++) xs.data[i] = rng.normal();
  const expected = new Bptt(make()).run(xs, {}).outputs;
  const rtrl = new Rtrl(make());
  for (let t = 0; t < steps; t++) {
    const out = rtrl.step({ rows: 1, cols: 2, data: xs.data, offset: 2 * t });
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(out.data[c] - expected.data[2 * t + c]) < 1e-12, `step ${t} output ${c}`);
  }
});

test.run();
