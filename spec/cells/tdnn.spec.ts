// TDNN: a causal dilated convolution over time, written as a cell whose state
// is a delay line, so RTRL and BPTT both differentiate it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { elman } from '../../lib/cells/elman.js';
import { tdnn } from '../../lib/cells/tdnn.js';
import { get } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { stacked } from '../../lib/arch/stacked.js';
import { dotLoss, fdError, randomMat, relErr, someIndices, squaredLoss } from '../helpers.js';
import { FD_NETWORK, REORDERED, SAME_MATH } from '../tolerances.js';

const rng = new Rng(808);

test('tdnn: equals a causal dilated Conv1d (kernel taps, left zero padding)', () => {
  for (const [taps, dilation] of [[1, 1], [3, 1], [3, 2], [2, 4]]) {
    const I = 2, O = 3, batch = 2, steps = 9;
    const cell = tdnn({ inputSize: I, outputSize: O, taps, dilation, activation: 'tanh' });
    assert.equal(cell.stateSizes, taps === 1 ? [] : [(taps - 1) * dilation * I]);
    const model = createModel(cell, { seed: taps * 10 + dilation });
    const xs = randomMat(rng, steps * batch, I);
    const out = new Bptt(model).run(xs, {}, { batch }).outputs;
    const [W, bias] = model.params.mats;
    // PyTorch's Conv1d weight: conv[o][i][k'] = W[o, (taps-1-k')·I + i]; out[t] = Σ_k' conv[:,:,k'] · xpad[t + k'·dilation].
    const pad = (taps - 1) * dilation;
    for (let t = 0; t < steps; t++) {
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < O; o++) {
          let acc = get(bias, 0, o);
          for (let kk = 0; kk < taps; kk++) {
            const src = t + kk * dilation - pad;
            if (src < 0) continue;
            for (let i = 0; i < I; i++) acc += get(W, o, (taps - 1 - kk) * I + i) * xs.data[(src * batch + b) * I + i];
          }
          const got = out.data[(t * batch + b) * O + o];
          assert.ok(Math.abs(got - Math.tanh(acc)) <= REORDERED, `taps ${taps} dilation ${dilation}: t=${t} b=${b} o=${o}: ${got} vs ${Math.tanh(acc)}`);
        }
      }
    }
  }
});

test('tdnn: RTRL equals BPTT and both match finite differences (TDNN over TDNN, TDNN over an RNN)', () => {
  const nets = [
    stacked([tdnn({ inputSize: 2, outputSize: 3, taps: 3, dilation: 2 }), tdnn({ inputSize: 3, outputSize: 2, taps: 2, activation: 'identity' })]),
    stacked([elman({ inputSize: 2, hiddenSize: 3 }), tdnn({ inputSize: 3, outputSize: 2, taps: 3, activation: 'relu' })]),
    tdnn({ inputSize: 2, outputSize: 2, taps: 1 }),
  ];
  for (const cell of nets) {
    const model = createModel(cell, { seed: 3 });
    const batch = 2, steps = 7;
    const xs = randomMat(rng, steps * batch, 2);
    const loss = dotLoss(randomMat(rng, steps * batch, 2), batch, cell.stateSizes.map((s) => randomMat(rng, batch, s)));
    const bptt = new Bptt(model);
    const a = bptt.run(xs, loss, { batch });
    const rtrl = new Rtrl(model);
    rtrl.run(xs, loss, { batch });
    assert.ok(relErr(rtrl.grad, a.grad) < SAME_MATH, `${cell.kind}: RTRL vs BPTT ${relErr(rtrl.grad, a.grad)}`);
    assert.ok(a.grad.some((v) => v !== 0));
    const { error, worst } = fdError(() => bptt.run(xs, loss, { batch }).loss, model.params.theta, a.grad, someIndices(rng, a.grad.length, 25));
    assert.ok(error < FD_NETWORK, worst);
  }
});

test('tdnn: a delay of more than the sequence still learns, bad options are errors', () => {
  const model = createModel(tdnn({ inputSize: 1, outputSize: 1, taps: 4, dilation: 3 }), { seed: 1 });
  const xs = randomMat(rng, 3, 1);
  const r = new Bptt(model).run(xs, squaredLoss(randomMat(rng, 3, 1), 1), { batch: 1 });
  assert.ok(Number.isFinite(r.loss));
  // Only tap 0 ever sees a non-padding input in 3 steps of dilation 3: the other taps' weights get no gradient.
  assert.ok(r.grad[0] !== 0);
  assert.equal(Array.from(r.grad.subarray(1, 4)), [0, 0, 0]);
  assert.throws(() => tdnn({ inputSize: 1, outputSize: 1, taps: 0 }), /tdnn: taps must be an integer >= 1, got 0/);
  assert.throws(() => tdnn({ inputSize: 1, outputSize: 1, taps: 2, dilation: 1.5 }), /dilation must be an integer >= 1/);
});

test.run();
