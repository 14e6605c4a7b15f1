// Hierarchical subsampling of sequences: window merging by definition, and a
// recurrent / subsampling hierarchy against finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Graph, Var } from '../../lib/ad/graph.js';
import { gru } from '../../lib/cells/gru.js';
import { lstm } from '../../lib/cells/lstm.js';
import { get } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createLayerParams, gridForward } from '../../lib/arch/mdrnn.js';
import { gridSubsample, hierarchy, recurrentLayer, sequenceLayerBptt, subsample } from '../../lib/arch/subsampling.js';
import { fdError, randomMat, someIndices } from '../helpers.js';
import { FD_NETWORK, REORDERED } from '../tolerances.js';

const rng = new Rng(1111);

const sumOfSquares = (g: Graph, outs: readonly Var[]): Var => {
  let total: Var | null = null;
  for (const v of outs) {
    const term = g.dot(v, v);
    total = total === null ? term : g.add(total, term);
  }
  return total!;
};

test('subsample: z_k = tanh([y_kw ... y_kw+w-1] Wᵀ + b), the last window zero-padded', () => {
  const layer = subsample({ inputSize: 2, outputSize: 3, window: 3 });
  const params = createLayerParams(layer, { seed: 4 });
  const [W, b] = params.mats;
  const batch = 2, steps = 7;
  const xs = randomMat(rng, steps * batch, 2);
  const r = sequenceLayerBptt(layer, params, xs, batch, sumOfSquares);
  assert.is(r.outSteps, 3);
  assert.is(layer.outputSteps(7), 3);
  for (let k = 0; k < 3; k++) {
    for (let n = 0; n < batch; n++) {
      for (let o = 0; o < 3; o++) {
        let acc = get(b, 0, o);
        for (let d = 0; d < 3; d++) {
          const t = 3 * k + d;
          if (t < steps) for (let i = 0; i < 2; i++) acc += get(W, o, d * 2 + i) * xs.data[(t * batch + n) * 2 + i];
        }
        assert.ok(Math.abs(r.outputs.data[(k * batch + n) * 3 + o] - Math.tanh(acc)) <= REORDERED, `window ${k}, sequence ${n}, unit ${o}`);
      }
    }
  }
});

test('hierarchy: BLSTM, subsample by 2, GRU, subsample by 3 — a 13-step input becomes 3 steps; gradients match finite differences', () => {
  const net = hierarchy([
    recurrentLayer(bidirectional(lstm({ inputSize: 2, hiddenSize: 2 }))),
    subsample({ inputSize: 4, outputSize: 3, window: 2 }),
    recurrentLayer(gru({ inputSize: 3, hiddenSize: 3 })),
    subsample({ inputSize: 3, outputSize: 2, window: 3 }),
  ]);
  assert.is(net.outputSteps(13), 3);
  assert.ok(net.paramSpecs.some((s) => s.name === 's0/weight_ih_reverse') && net.paramSpecs.some((s) => s.name === 's3/weight'));
  const params = createLayerParams(net, { seed: 6 });
  const batch = 2, steps = 13;
  const xs = randomMat(rng, steps * batch, 2);
  const r = sequenceLayerBptt(net, params, xs, batch, sumOfSquares, { inputGrad: true });
  assert.equal([r.outSteps, r.outputs.rows, r.outputs.cols], [3, 6, 2]);
  const f = () => sequenceLayerBptt(net, params, xs, batch, sumOfSquares).loss;
  const p = fdError(f, params.theta, r.grad, someIndices(rng, r.grad.length, 30));
  assert.ok(p.error < FD_NETWORK, p.worst);
  const x = fdError(f, xs.data, r.inputGrad!.data, someIndices(rng, xs.data.length, 8));
  assert.ok(x.error < FD_NETWORK, x.worst);
});

test('gridSubsample: blocks row by row, edges zero-padded', () => {
  const layer = gridSubsample({ inputSize: 1, outputSize: 1, window: [2, 2], activation: 'identity', bias: false });
  const params = createLayerParams(layer);
  params.theta.set([1, 10, 100, 1000]);
  const x = randomMat(rng, 3 * 3, 1);
  const r = gridForward(layer, params, x, { height: 3, width: 3 });
  assert.equal([r.outHeight, r.outWidth], [2, 2]);
  const v = (i: number, j: number) => x.data[i * 3 + j];
  const want = [
    v(0, 0) + 10 * v(0, 1) + 100 * v(1, 0) + 1000 * v(1, 1),
    v(0, 2) + 100 * v(1, 2),
    v(2, 0) + 10 * v(2, 1),
    v(2, 2),
  ];
  want.forEach((w, k) => assert.ok(Math.abs(r.outputs.data[k] - w) <= REORDERED * Math.abs(w) + 1e-15, `block ${k}`));
});

test('subsampling: bad windows and mismatched levels are clear errors', () => {
  assert.throws(() => subsample({ inputSize: 2, outputSize: 2, window: 0 }), /subsample: window must be an integer >= 1, got 0/);
  assert.throws(() => gridSubsample({ inputSize: 2, outputSize: 2, window: [2, 0] }), /window width must be an integer >= 1/);
  assert.throws(() => hierarchy([subsample({ inputSize: 2, outputSize: 3, window: 2 }), subsample({ inputSize: 2, outputSize: 2, window: 2 })]),
    /level 1 \(subsample\) takes 2 features but level 0 \(subsample\) emits 3/);
});

test.run();
