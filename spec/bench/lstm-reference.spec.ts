// The hand-fused LSTM of `loopgrad bench lstm` computes what loopgrad computes: the same loss, the
// same outputs and the same gradient (to 1e-12 relative) for withReadout(lstm(...)) under
// sequenceLoss('mse') and Bptt, so the benchmark compares equal work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LstmReference } from '../../bench/lstm-reference.js';
import { lstm } from '../../lib/cells/lstm.js';
import { withReadout } from '../../lib/arch/readout.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Forward } from '../../lib/rnn/forward.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat, relErr } from '../helpers.js';

const shape = { batch: 3, steps: 5, inputSize: 4, hiddenSize: 6, outputSize: 2 };

function setup() {
  const { batch, steps, inputSize, hiddenSize, outputSize } = shape;
  const model = createModel(withReadout(lstm({ inputSize, hiddenSize }), outputSize), { seed: 3 });
  const rng = new Rng(7);
  const xs = randomMat(rng, steps * batch, inputSize);
  const targets = randomMat(rng, steps * batch, outputSize);
  return { model, xs, targets };
}

test('the hand-fused LSTM gives loopgrad\'s loss and gradient to 1e-12', () => {
  const { model, xs, targets } = setup();
  const ref = new LstmReference(shape);
  assert.is(ref.paramCount, model.params.theta.length);
  const loss = ref.lossAndGrad(model.params.theta, xs.data, targets.data);
  const r = new Bptt(model).run(xs, sequenceLoss({ kind: 'mse', targets, mask: null, batch: shape.batch }), { batch: shape.batch });
  assert.ok(Math.abs(loss - r.loss) <= 1e-12 * Math.abs(r.loss), `loss ${loss} vs ${r.loss}`);
  const err = relErr(ref.grad, r.grad);
  assert.ok(err <= 1e-12, `gradient relative difference ${err}`);
  // Every parameter block is exercised (a block the reference forgot would be all zero).
  let offset = 0;
  for (const s of model.params.specs) {
    const n = s.rows * s.cols;
    let norm = 0;
    for (let p = offset; p < offset + n; p++) norm += Math.abs(ref.grad[p]);
    assert.ok(norm > 0, `${s.name} has a zero gradient`);
    offset += n;
  }
});

test('the hand-fused forward gives loopgrad\'s outputs, and an SGD step moves theta by lr · grad', () => {
  const { model, xs, targets } = setup();
  const ref = new LstmReference(shape);
  const ys = ref.forward(model.params.theta, xs.data);
  const out = new Forward(model).run(xs, { batch: shape.batch }).outputs;
  assert.ok(relErr(ys, out.data) <= 1e-13, `outputs differ by ${relErr(ys, out.data)}`);
  const theta = model.params.theta.slice();
  ref.trainBatch(theta, xs.data, targets.data, 0.5);
  for (let p = 0; p < theta.length; p++) assert.ok(Math.abs(theta[p] - (model.params.theta[p] - 0.5 * ref.grad[p])) <= 1e-15, `theta[${p}]`);
});

test.run();
