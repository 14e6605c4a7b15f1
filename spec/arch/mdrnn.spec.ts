// Multidimensional RNNs: the tanh MDRNN from its definition for every corner,
// MD-LSTM and the four-direction layer against finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Graph, Var } from '../../lib/ad/graph.js';
import { type Mat, get, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import {
  CORNERS, type Grid, type GridLayer, createLayerParams, gridBptt, gridForward, gridStack, mdFourWay, mdLstm, mdScan, mdTanh,
} from '../../lib/arch/mdrnn.js';
import { gridSubsample } from '../../lib/arch/subsampling.js';
import { fdError, randomMat, someIndices } from '../helpers.js';
import { FD_NETWORK, REORDERED } from '../tolerances.js';

const rng = new Rng(1010);

function dotWith(upstream: Mat, batch: number): (g: Graph, out: Grid) => Var {
  return (g, out) => {
    let total: Var | null = null;
    out.cells.forEach((v, p) => {
      const term = g.dot(v, g.constant(rowsView(upstream, p * batch, batch)));
      total = total === null ? term : g.add(total, term);
    });
    return total!;
  };
}

test('mdTanh: h[i,j] = tanh(W x + U1 h[prev row] + U2 h[prev col] + b) from every corner, zero outside', () => {
  const I = 2, H = 3, height = 3, width = 4, batch = 2;
  const cell = mdTanh({ inputSize: I, hiddenSize: H });
  const x = randomMat(rng, height * width * batch, I);
  for (const corner of CORNERS) {
    const layer = mdScan(cell, corner);
    const params = createLayerParams(layer, { seed: 3 });
    const [W, U1, U2, b] = params.mats;
    const out = gridForward(layer, params, x, { height, width, batch }).outputs;
    const di = corner.startsWith('bottom') ? 1 : -1, dj = corner.endsWith('right') ? 1 : -1;
    const h = new Map<string, number[]>();
    const hAt = (i: number, j: number, n: number, k: number) => (i < 0 || j < 0 || i >= height || j >= width ? 0 : h.get(`${i},${j},${n}`)![k]);
    for (let a = 0; a < height; a++) {
      const i = di < 0 ? a : height - 1 - a;
      for (let c = 0; c < width; c++) {
        const j = dj < 0 ? c : width - 1 - c;
        for (let n = 0; n < batch; n++) {
          const row = (i * width + j) * batch + n;
          const v: number[] = [];
          for (let k = 0; k < H; k++) {
            let acc = get(b, 0, k);
            for (let q = 0; q < I; q++) acc += get(W, k, q) * x.data[row * I + q];
            for (let q = 0; q < H; q++) acc += get(U1, k, q) * hAt(i + di, j, n, q) + get(U2, k, q) * hAt(i, j + dj, n, q);
            v.push(Math.tanh(acc));
            assert.ok(Math.abs(out.data[row * H + k] - v[k]) <= REORDERED, `${corner}: (${i}, ${j}) batch ${n} unit ${k}`);
          }
          h.set(`${i},${j},${n}`, v);
        }
      }
    }
  }
});

function checkFd(label: string, layer: GridLayer, height: number, width: number, batch: number): void {
  const params = createLayerParams(layer, { seed: 5 });
  const x = randomMat(rng, height * width * batch, layer.inputSize);
  const probe = gridForward(layer, params, x, { height, width, batch });
  const upstream = randomMat(rng, probe.outputs.rows, probe.outputs.cols);
  const loss = dotWith(upstream, batch);
  const r = gridBptt(layer, params, x, { height, width, batch }, loss, { inputGrad: true });
  const f = () => gridBptt(layer, params, x, { height, width, batch }, loss).loss;
  const p = fdError(f, params.theta, r.grad, someIndices(rng, r.grad.length, 30));
  assert.ok(p.error < FD_NETWORK, `${label} parameters: ${p.worst}`);
  const xi = fdError(f, x.data, r.inputGrad!.data, someIndices(rng, x.data.length, 8));
  assert.ok(xi.error < FD_NETWORK, `${label} inputs: ${xi.worst}`);
  assert.ok(r.grad.every(Number.isFinite) && r.grad.some((v) => v !== 0));
}

test('mdLstm: two forget gates; gradients match finite differences from every corner', () => {
  const cell = mdLstm({ inputSize: 2, hiddenSize: 3, forgetBias: 1 });
  assert.equal(cell.paramSpecs.map((s) => `${s.name} ${s.rows}x${s.cols}`), ['weight_ih 15x2', 'weight_hh1 15x3', 'weight_hh2 15x3', 'bias 1x15']);
  for (const corner of CORNERS) checkFd(`mdLstm ${corner}`, mdScan(cell, corner), 3, 3, 2);
});

test('mdFourWay: outputs are the four corner scans side by side; gradients match finite differences', () => {
  const cell = mdTanh({ inputSize: 2, hiddenSize: 2 });
  const four = mdFourWay(cell);
  assert.is(four.outputSize, 8);
  assert.equal(four.paramSpecs.map((s) => s.name).slice(0, 5), ['W_tl', 'U1_tl', 'U2_tl', 'b_tl', 'W_tr']);
  const params = createLayerParams(four, { seed: 2 });
  const x = randomMat(rng, 3 * 4, 2);
  const all = gridForward(four, params, x, { height: 3, width: 4 }).outputs;
  CORNERS.forEach((corner, k) => {
    const one = createLayerParams(mdScan(cell, corner), { theta: params.theta.slice(params.offsets[4 * k], params.offsets[4 * k + 3] + 2) });
    const single = gridForward(mdScan(cell, corner), one, x, { height: 3, width: 4 }).outputs;
    for (let p = 0; p < 12; p++) for (let c = 0; c < 2; c++) assert.is(all.data[p * 8 + 2 * k + c], single.data[p * 2 + c], `${corner} position ${p}`);
  });
  checkFd('mdFourWay(mdLstm)', mdFourWay(mdLstm({ inputSize: 2, hiddenSize: 2 })), 3, 2, 1);
});

test('grid hierarchy: four-way MD-LSTM, 2x2 subsampling, tanh MDRNN — shapes and gradients', () => {
  const net = gridStack([
    mdFourWay(mdLstm({ inputSize: 1, hiddenSize: 2 })),
    gridSubsample({ inputSize: 8, outputSize: 3, window: [2, 2] }),
    mdScan(mdTanh({ inputSize: 3, hiddenSize: 2 })),
  ]);
  const params = createLayerParams(net, { seed: 1 });
  const r = gridForward(net, params, randomMat(rng, 5 * 4 * 2, 1), { height: 5, width: 4, batch: 2 });
  assert.equal([r.outHeight, r.outWidth, r.outputs.rows, r.outputs.cols], [3, 2, 12, 2]);
  checkFd('hierarchy', net, 5, 4, 2);
});

test('mdrnn: bad grids and corners are clear errors', () => {
  const layer = mdScan(mdTanh({ inputSize: 2, hiddenSize: 2 }));
  const params = createLayerParams(layer);
  assert.throws(() => gridForward(layer, params, randomMat(rng, 7, 2), { height: 2, width: 3 }), /gridLeaves: input is 7x2 but a 2x3 grid of batch 1 needs 6 rows/);
  assert.throws(() => gridForward(layer, params, randomMat(rng, 6, 3), { height: 2, width: 3 }), /takes 2 features/);
  assert.throws(() => mdScan(mdTanh({ inputSize: 2, hiddenSize: 2 }), 'middle' as never), /corner "middle" is not one of/);
  assert.throws(() => gridStack([layer, mdScan(mdTanh({ inputSize: 3, hiddenSize: 2 }))]), /layer 1 .* takes 3 features but layer 0 .* emits 2/);
});

test.run();
