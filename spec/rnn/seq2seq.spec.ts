// N to M (sequence to sequence): an encoder reads the source, its final state starts a decoder
// that emits the target. BPTT through both is two backward passes chained by the initial
// state's gradient: d loss / d h0(decoder) becomes the encoder's final-state cotangent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Mat, mat, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { gru } from '../../lib/cells/gru.js';
import { lstm } from '../../lib/cells/lstm.js';
import { createModel, type RecurrentModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';

const rng = new Rng(12);
const randomMat = (rows: number, cols: number) => { const m = mat(rows, cols); rng.fillNormal(m, 0, 1); return m; };

function squaredError(targets: Mat, batch: number): SequenceLoss {
  return { step: (g, t, out) => { const d = g.sub(out, g.constant(rowsView(targets, t * batch, batch))); return g.dot(d, d); } };
}

/** Loss and gradients of encoder + decoder: decoder first, then the encoder with the chained cotangent. */
function seq2seq(encoder: RecurrentModel, decoder: RecurrentModel, source: Mat, decoderInputs: Mat, targets: Mat, batch: number) {
  const encoded = new Bptt(encoder).run(source, {}, { batch });
  const decoded = new Bptt(decoder).run(decoderInputs, squaredError(targets, batch), { batch, initialState: encoded.finalState });
  const carried = decoded.initialStateGrad!;
  const back = new Bptt(encoder).run(source, {
    final: (g, state) => {
      let total = g.dot(state[0], g.constant(carried[0]));
      for (let i = 1; i < state.length; i++) total = g.add(total, g.dot(state[i], g.constant(carried[i])));
      return total;
    },
  }, { batch });
  return { loss: decoded.loss, encoderGrad: back.grad, decoderGrad: decoded.grad };
}

test('seq2seq: encoder LSTM -> decoder LSTM, gradients of both through the handed-over state match finite differences', () => {
  const batch = 2, srcSteps = 5, tgtSteps = 4;
  const encoder = createModel(lstm({ inputSize: 3, hiddenSize: 4 }), { seed: 1 });
  const decoder = createModel(lstm({ inputSize: 2, hiddenSize: 4 }), { seed: 2 });
  const source = randomMat(srcSteps * batch, 3), inputs = randomMat(tgtSteps * batch, 2), targets = randomMat(tgtSteps * batch, 4);
  const result = seq2seq(encoder, decoder, source, inputs, targets, batch);
  const lossOf = () => seq2seq(encoder, decoder, source, inputs, targets, batch).loss;
  for (const [model, grad] of [[encoder, result.encoderGrad], [decoder, result.decoderGrad]] as const) {
    assert.ok(grad.some((v) => v !== 0));
    for (let n = 0; n < 10; n++) {
      const i = rng.int(model.params.theta.length), saved = model.params.theta[i], eps = 1e-6;
      model.params.theta[i] = saved + eps; const plus = lossOf();
      model.params.theta[i] = saved - eps; const minus = lossOf();
      model.params.theta[i] = saved;
      const fd = (plus - minus) / (2 * eps);
      assert.ok(Math.abs(fd - grad[i]) < 1e-6 * Math.max(1, Math.abs(fd)), `theta[${i}]: ${fd} vs ${grad[i]}`);
    }
  }
});

test('seq2seq: a GRU encoder of a different length than the GRU decoder', () => {
  const encoder = createModel(gru({ inputSize: 2, hiddenSize: 3 }), { seed: 3 });
  const decoder = createModel(gru({ inputSize: 1, hiddenSize: 3 }), { seed: 4 });
  const source = randomMat(7, 2), inputs = randomMat(3, 1), targets = randomMat(3, 3);
  const r = seq2seq(encoder, decoder, source, inputs, targets, 1);
  const i = 5, saved = encoder.params.theta[i], eps = 1e-6;
  encoder.params.theta[i] = saved + eps; const plus = seq2seq(encoder, decoder, source, inputs, targets, 1).loss;
  encoder.params.theta[i] = saved - eps; const minus = seq2seq(encoder, decoder, source, inputs, targets, 1).loss;
  encoder.params.theta[i] = saved;
  assert.ok(Math.abs((plus - minus) / (2 * eps) - r.encoderGrad[i]) < 1e-7);
});

test.run();
