// Gated recurrent unit with PyTorch's equations and gate order (r, z, n):
//   [r z n]_x = x_t W_ihᵀ + b_ih,   [r z n]_h = h_{t-1} W_hhᵀ + b_hh
//   r = σ(r_x + r_h),  z = σ(z_x + z_h)
//   n = tanh(n_x + r ⊙ n_h)            (the reset gate multiplies W_hn h + b_hn)
//   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} = n + z ⊙ (h_{t-1} - n)   (one lerp node)
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Cell } from './cell.js';
import type { ParamSpec } from './params.js';

export interface GruOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
}

const GRU_OPTIONS = keysOf<GruOptions>({ inputSize: true, hiddenSize: true, bias: true });

export function gru(options: GruOptions): Cell {
  checkKeys('gru', options, GRU_OPTIONS);
  const op = 'gru';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const bias = options.bias ?? true;
  const specs: ParamSpec[] = [
    { name: 'weight_ih', rows: 3 * H, cols: inputSize, role: 'weight' },
    { name: 'weight_hh', rows: 3 * H, cols: H, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'bias_ih', rows: 1, cols: 3 * H, role: 'bias' }, { name: 'bias_hh', rows: 1, cols: 3 * H, role: 'bias' });
  return {
    kind: 'gru',
    inputSize,
    stateSizes: [H],
    stateNames: ['h'],
    outputSize: H,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], [h]: readonly Var[], x: Var) {
      const [wIh, wHh] = params;
      const bIh = bias ? params[2] : null, bHh = bias ? params[3] : null;
      const gx = g.linear(x, wIh, bIh), gh = g.linear(h, wHh, bHh);
      const rz = g.sigmoid(g.add(g.sliceCols(gx, 0, 2 * H), g.sliceCols(gh, 0, 2 * H)));
      const r = g.sliceCols(rz, 0, H), z = g.sliceCols(rz, H, H);
      const n = g.tanh(g.add(g.sliceCols(gx, 2 * H, H), g.mul(r, g.sliceCols(gh, 2 * H, H))));
      const hNew = g.lerp(n, h, z);
      return { state: [hNew], output: hNew };
    },
    init(mats: readonly Mat[], rng: Rng) {
      const bound = 1 / Math.sqrt(H);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
