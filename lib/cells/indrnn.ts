// The independently recurrent network (IndRNN, Li et al. 2018): every hidden unit sees only its
// own past value, through one recurrent weight u_k instead of a row of a matrix:
//   h_t = f(x_t W_ihᵀ + b_ih + u ⊙ h_{t-1} + b_hh)          f = relu (default) or tanh
// Names and roles as the Elman cell's (PyTorch style): weight_ih (H x I), weight_hh (1 x H: the
// element-wise recurrent weights u, a weight), bias_ih and bias_hh. d h_t / d h_{t-1} is
// diagonal, diag(f'(pre) ⊙ u), which is what makes SnAp-1 exact on this cell.
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, mat } from '../mat/mat.js';
import { gemm } from '../mat/gemm.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Cell, type ParamInfluence, activate, activateNumber, activationSlope, elementwiseUnitInfluence, checkActivation } from './cell.js';
import type { ParamSpec } from './params.js';

export interface IndrnnOptions {
  inputSize: number;
  hiddenSize: number;
  /** f, the hidden non-linearity (default relu, as in the paper). */
  activation?: 'relu' | 'tanh';
  /** Biases b_ih and b_hh (default true). */
  bias?: boolean;
}

const INDRNN_OPTIONS = keysOf<IndrnnOptions>({ inputSize: true, hiddenSize: true, activation: true, bias: true });

export function indrnn(options: IndrnnOptions): Cell {
  checkKeys('indrnn', options, INDRNN_OPTIONS);
  const op = 'indrnn';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const hiddenSize = checkInt(op, 'hiddenSize', options.hiddenSize);
  const activation = checkActivation(op, options.activation ?? 'relu', ['relu', 'tanh']);
  const bias = options.bias ?? true;
  const specs: ParamSpec[] = [
    { name: 'weight_ih', rows: hiddenSize, cols: inputSize, role: 'weight' },
    { name: 'weight_hh', rows: 1, cols: hiddenSize, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'bias_ih', rows: 1, cols: hiddenSize, role: 'bias' }, { name: 'bias_hh', rows: 1, cols: hiddenSize, role: 'bias' });
  const H = hiddenSize;
  const identity = Int32Array.from({ length: H }, (_, i) => i);
  const influenceParams: ParamInfluence[] = [
    { kind: 'matrix', rowOf: identity, source: 'x' },
    { kind: 'vector', rowOf: identity, source: { state: 0, time: 'prev' } },
  ];
  if (bias) influenceParams.push({ kind: 'vector', rowOf: identity, source: 'one' }, { kind: 'vector', rowOf: identity, source: 'one' });
  let pre: Mat | null = null;
  const diagonalJacobian = (mats: readonly Mat[], [h]: readonly Mat[], x: Mat, out: Float64Array): void => {
    const batch = x.rows;
    if (pre === null || pre.rows !== batch) pre = mat(batch, H);
    gemm(pre, x, mats[0], false, true);
    const u = mats[1], pd = pre.data;
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < H; k++) {
        let a = pd[b * H + k];
        if (bias) a += mats[2].data[mats[2].offset + k] + mats[3].data[mats[3].offset + k];
        const uk = u.data[u.offset + k];
        a += uk * h.data[h.offset + b * H + k];
        const slope = activationSlope(activation, a, activateNumber(activation, a));
        out[b * H + k] = slope * uk;
      }
    }
  };
  return {
    kind: 'indrnn',
    inputSize,
    stateSizes: [hiddenSize],
    stateNames: ['h'],
    outputSize: hiddenSize,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], [h]: readonly Var[], x: Var) {
      const [wIh, u] = params;
      const bIh = bias ? params[2] : null, bHh = bias ? params[3] : null;
      const input = g.linearSum([[x, wIh]], [bIh, bHh]);
      const hNew = activate(g, g.add(input, g.mulRow(h, u)), activation);
      return { state: [hNew], output: hNew };
    },
    // pre = x W_ihᵀ + b_ih + b_hh + u ⊙ h:  D = diag(f'(pre) ⊙ u), and one row per unit with
    // dh/d pre = f'(pre); W_ih reads x, u reads h_{t-1} element-wise, the biases 1.
    unitJacobian(mats: readonly Mat[], state: readonly Mat[], x: Mat, out: Float64Array) {
      diagonalJacobian(mats, state, x, out);
    },
    // f'(pre) from the new state (no product with the weights again).
    unitInfluence: elementwiseUnitInfluence(activation, hiddenSize, influenceParams, 1),
    init(mats: readonly Mat[], rng: Rng) {
      // Input weights and biases: PyTorch's RNN default, uniform in ±1/√H.
      const bound = 1 / Math.sqrt(hiddenSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
      // u uniform in [0, 1] (the paper's choice): with |f'| <= 1 for relu and tanh, the factor a
      // gradient picks up per step through unit k, |f'·u_k|, is at most 1, so nothing explodes
      // over time, and u >= 0 keeps a relu unit's memory from flipping sign at every step.
      uniformInit(mats[1], rng, 0, 1);
    },
  };
}
