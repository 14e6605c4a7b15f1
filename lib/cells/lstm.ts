// Long short-term memory with PyTorch's equations and gate order (i, f, g, o):
//   [i f g o] = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh      (batch x 4H)
//   i = σ(i + p_i ⊙ c_{t-1}),  f = σ(f + p_f ⊙ c_{t-1}),  g = tanh(g)
//   c_t = f ⊙ c_{t-1} + i ⊙ g
//   o = σ(o + p_o ⊙ c_t),      h_t = o ⊙ tanh(c_t)
// The peephole terms p ⊙ c (Gers & Schmidhuber) are optional; without them this is nn.LSTM.
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, mat } from '../mat/mat.js';
import { gemm } from '../mat/gemm.js';
import { sigmoid, tanh } from '../mat/math.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Cell, type ParamInfluence } from './cell.js';
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
  let gates: Mat | null = null;
  const identity = Int32Array.from({ length: 4 * H }, (_, r) => r);
  const range = (from: number) => Int32Array.from({ length: H }, (_, j) => from + j);
  const influenceParams: (ParamInfluence | null)[] = [
    { kind: 'matrix', rowOf: identity, source: 'x' },
    { kind: 'matrix', rowOf: identity, source: { state: 0, time: 'prev' } },
  ];
  if (bias) influenceParams.push({ kind: 'vector', rowOf: identity, source: 'one' }, { kind: 'vector', rowOf: identity, source: 'one' });
  if (peephole) {
    influenceParams.push(
      { kind: 'vector', rowOf: range(0), source: { state: 1, time: 'prev' } },
      { kind: 'vector', rowOf: range(H), source: { state: 1, time: 'prev' } },
      { kind: 'vector', rowOf: range(3 * H), source: { state: 1, time: 'new' } },
    );
  }
  // D's unit blocks (the comment at unitJacobian) and, with rowDerivative, d(h_u, c_u)/d pre for
  // each gate row (UnitInfluence): with h_c = dh/dc_t = o(1 - o)·p_o·tanh(c_t) + o·(1 - tanh²(c_t)),
  //   dc/da_i = i(1 - i)·g,  dc/da_f = f(1 - f)·c_{t-1},  dc/da_g = i·(1 - g²),  dc/da_o = 0,
  //   dh/da = h_c·dc/da for i, f, g,  dh/da_o = o(1 - o)·tanh(c_t).
  const unitDerivatives = (mats: readonly Mat[], [h, c]: readonly Mat[], x: Mat, out: Float64Array, rowDerivative: Float64Array | null): void => {
    const batch = x.rows;
    if (gates === null || gates.rows !== batch) gates = mat(batch, 4 * H);
    const wHh = mats[1];
    gemm(gates, x, mats[0], false, true);
    gemm(gates, h, wHh, false, true, 1, 1);
    const G = 4 * H, gd = gates.data, wd = wHh.data, wo = wHh.offset, p = bias ? 4 : 2;
    for (let b = 0; b < batch; b++) {
      for (let u = 0; u < H; u++) {
        let aI = gd[b * G + u], aF = gd[b * G + H + u], aG = gd[b * G + 2 * H + u], aO = gd[b * G + 3 * H + u];
        if (bias) {
          const bi = mats[2], bh = mats[3];
          aI += bi.data[bi.offset + u] + bh.data[bh.offset + u];
          aF += bi.data[bi.offset + H + u] + bh.data[bh.offset + H + u];
          aG += bi.data[bi.offset + 2 * H + u] + bh.data[bh.offset + 2 * H + u];
          aO += bi.data[bi.offset + 3 * H + u] + bh.data[bh.offset + 3 * H + u];
        }
        const cPrev = c.data[c.offset + b * H + u];
        let pI = 0, pF = 0, pO = 0;
        if (peephole) {
          pI = mats[p].data[mats[p].offset + u];
          pF = mats[p + 1].data[mats[p + 1].offset + u];
          pO = mats[p + 2].data[mats[p + 2].offset + u];
          aI += pI * cPrev;
          aF += pF * cPrev;
        }
        const i = sigmoid(aI), f = sigmoid(aF), gg = tanh(aG);
        const cNew = f * cPrev + i * gg;
        aO += pO * cNew;
        const o = sigmoid(aO), tc = tanh(cNew);
        const si = i * (1 - i), sf = f * (1 - f), so = o * (1 - o);
        const wI = wd[wo + u * H + u], wF = wd[wo + (H + u) * H + u], wG = wd[wo + (2 * H + u) * H + u], wO = wd[wo + (3 * H + u) * H + u];
        // source h_u
        const dcH = sf * wF * cPrev + si * wI * gg + i * (1 - gg * gg) * wG;
        const dhH = so * (wO + pO * dcH) * tc + o * (1 - tc * tc) * dcH;
        // source c_u
        const dcC = sf * pF * cPrev + f + si * pI * gg;
        const dhC = so * pO * dcC * tc + o * (1 - tc * tc) * dcC;
        const hRow = ((b * 2) * H + u) * 2, cRow = ((b * 2 + 1) * H + u) * 2;
        out[hRow] = dhH; out[hRow + 1] = dhC;
        out[cRow] = dcH; out[cRow + 1] = dcC;
        if (rowDerivative !== null) {
          const hc = so * pO * tc + o * (1 - tc * tc);
          const dI = si * gg, dF = sf * cPrev, dG = i * (1 - gg * gg);
          const at = (b * G + u) * 2;
          rowDerivative[at] = hc * dI; rowDerivative[at + 1] = dI;
          rowDerivative[at + 2 * H] = hc * dF; rowDerivative[at + 2 * H + 1] = dF;
          rowDerivative[at + 4 * H] = hc * dG; rowDerivative[at + 4 * H + 1] = dG;
          rowDerivative[at + 6 * H] = so * tc; rowDerivative[at + 6 * H + 1] = 0;
        }
      }
    }
  };
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
    // Unit u, source s in {h_u, c_u} of the previous state (W = W_hh[gate·H + u, u], p the peepholes):
    //   i' = i(1 - i)·(W_i·[s = h] + p_i·[s = c]),  f' likewise,  g' = (1 - g²)·W_g·[s = h]
    //   c' = f'·c + f·[s = c] + i'·g + i·g',  o' = o(1 - o)·(W_o·[s = h] + p_o·c'),
    //   h' = o'·tanh(c_t) + o·(1 - tanh²(c_t))·c'.
    unitJacobian(mats: readonly Mat[], state: readonly Mat[], x: Mat, out: Float64Array) {
      unitDerivatives(mats, state, x, out, null);
    },
    unitInfluence: {
      rows: 4 * H,
      rowUnit: Int32Array.from({ length: 4 * H }, (_, r) => r % H),
      rowState: Int32Array.from({ length: 4 * H }, (_, r) => (r < 3 * H ? 1 : 0)),
      params: influenceParams,
      compute(mats: readonly Mat[], state: readonly Mat[], _next: readonly Mat[], x: Mat, jacobian: Float64Array, rowDerivative: Float64Array) {
        unitDerivatives(mats, state, x, jacobian, rowDerivative);
      },
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
