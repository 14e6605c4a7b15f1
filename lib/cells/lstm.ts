// Long short-term memory with PyTorch's equations and gate order (i, f, g, o):
//   [i f g o] = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh      (batch x 4H)
//   i = σ(i + p_i ⊙ c_{t-1}),  f = σ(f + p_f ⊙ c_{t-1}),  g = tanh(g)
//   c_t = f ⊙ c_{t-1} + i ⊙ g
//   o = σ(o + p_o ⊙ c_t),      h_t = o ⊙ tanh(c_t)
// The peephole terms p ⊙ c (Gers & Schmidhuber) are optional; without them this is nn.LSTM.
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Cell } from './cell.js';
import type { ParamSpec } from './params.js';
import { ConfigError } from '../mat/errors.js';

export interface LstmOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
  peephole?: boolean;
  /**
   * The forget gate's bias at initialisation: b_ih's forget block is set to this value and
   * b_hh's to 0, so the gate starts at σ(forgetBias) (1 is the usual choice). Default: none,
   * PyTorch's uniform initialisation everywhere. Needs bias.
   */
  forgetBias?: number;
}

const LSTM_OPTIONS = keysOf<LstmOptions>({ inputSize: true, hiddenSize: true, bias: true, peephole: true, forgetBias: true });

export function lstm(options: LstmOptions): Cell {
  checkKeys('lstm', options, LSTM_OPTIONS);
  const op = 'lstm';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const bias = options.bias ?? true;
  const peephole = options.peephole ?? false;
  const forgetBias = options.forgetBias ?? 0;
  if (!Number.isFinite(forgetBias)) throw new ConfigError('lstm', `forgetBias must be finite, got ${forgetBias}`, { option: 'forgetBias', value: forgetBias });
  if (!bias && forgetBias !== 0) throw new ConfigError('lstm', `forgetBias ${forgetBias} needs biases, but bias is false`, { option: 'forgetBias', value: forgetBias, bias });
  const specs: ParamSpec[] = [
    { name: 'weight_ih', rows: 4 * H, cols: inputSize, role: 'weight' },
    { name: 'weight_hh', rows: 4 * H, cols: H, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'bias_ih', rows: 1, cols: 4 * H, role: 'bias' }, { name: 'bias_hh', rows: 1, cols: 4 * H, role: 'bias' });
  if (peephole) {
    specs.push({ name: 'weight_ci', rows: 1, cols: H, role: 'weight' }, { name: 'weight_cf', rows: 1, cols: H, role: 'weight' }, { name: 'weight_co', rows: 1, cols: H, role: 'weight' });
  }
  return {
    kind: 'lstm',
    inputSize,
    stateSizes: [H, H],
    stateNames: ['h', 'c'],
    outputSize: H,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], [h, c]: readonly Var[], x: Var) {
      const [wIh, wHh] = params;
      const bIh = bias ? params[2] : null, bHh = bias ? params[3] : null;
      const gates = g.linearSum([[x, wIh], [h, wHh]], [bIh, bHh]);
      let iPre = g.sliceCols(gates, 0, H), fPre = g.sliceCols(gates, H, H);
      let oPre = g.sliceCols(gates, 3 * H, H);
      const p = bias ? 4 : 2;
      if (peephole) {
        iPre = g.add(iPre, g.mulRow(c, params[p]));
        fPre = g.add(fPre, g.mulRow(c, params[p + 1]));
      }
      const i = g.sigmoid(iPre), f = g.sigmoid(fPre), gg = g.tanh(g.sliceCols(gates, 2 * H, H));
      const cNew = g.add(g.mul(f, c), g.mul(i, gg));
      if (peephole) oPre = g.add(oPre, g.mulRow(cNew, params[p + 2]));
      const hNew = g.mul(g.sigmoid(oPre), g.tanh(cNew));
      return { state: [hNew, cNew], output: hNew };
    },
    init(mats: readonly Mat[], rng: Rng) {
      const bound = 1 / Math.sqrt(H);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
      if (bias && forgetBias !== 0) {
        const bIh = mats[2];
        for (let j = H; j < 2 * H; j++) bIh.data[bIh.offset + j] = forgetBias;
        const bHh = mats[3];
        for (let j = H; j < 2 * H; j++) bHh.data[bHh.offset + j] = 0;
      }
    },
  };
}
