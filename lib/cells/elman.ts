// Elman's simple recurrent network:
//   h_t = f(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
//   y_t = g(h_t W_hoᵀ + b_ho)            (or y_t = h_t without an output layer)
// PyTorch's nn.RNN is this cell with no output layer (two biases, as there).
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, mat } from '../mat/mat.js';
import { gemm } from '../mat/gemm.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, type ParamInfluence, activate, activateNumber, activationSlope, elementwiseUnitInfluence, checkActivation } from './cell.js';
import type { ParamSpec } from './params.js';

export interface ElmanOptions {
  inputSize: number;
  hiddenSize: number;
  /** f, the hidden non-linearity (default tanh). */
  activation?: 'tanh' | 'relu' | 'sigmoid';
  /** Biases b_ih and b_hh (default true). */
  bias?: boolean;
  /** Size of an output layer y = g(V h + c); 0 or absent: the output is h. */
  outputSize?: number;
  /** g, the output non-linearity (default identity). */
  outputActivation?: Activation;
}

const ELMAN_OPTIONS = keysOf<ElmanOptions>({ inputSize: true, hiddenSize: true, activation: true, bias: true, outputSize: true, outputActivation: true });

export function elman(options: ElmanOptions): Cell {
  checkKeys('elman', options, ELMAN_OPTIONS);
  const op = 'elman';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const hiddenSize = checkInt(op, 'hiddenSize', options.hiddenSize);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid']);
  const outputActivation = checkActivation(op, options.outputActivation ?? 'identity', ['tanh', 'relu', 'sigmoid', 'identity']);
  const bias = options.bias ?? true;
  const outputSize = options.outputSize === undefined || options.outputSize === 0 ? 0 : checkInt(op, 'outputSize', options.outputSize);
  const specs: ParamSpec[] = [
    { name: 'weight_ih', rows: hiddenSize, cols: inputSize, role: 'weight' },
    { name: 'weight_hh', rows: hiddenSize, cols: hiddenSize, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'bias_ih', rows: 1, cols: hiddenSize, role: 'bias' }, { name: 'bias_hh', rows: 1, cols: hiddenSize, role: 'bias' });
  if (outputSize > 0) {
    specs.push({ name: 'weight_ho', rows: outputSize, cols: hiddenSize, role: 'weight' });
    if (bias) specs.push({ name: 'bias_ho', rows: 1, cols: outputSize, role: 'bias' });
  }
  const H = hiddenSize;
  const identity = Int32Array.from({ length: H }, (_, i) => i);
  const influenceParams: (ParamInfluence | null)[] = [
    { kind: 'matrix', rowOf: identity, source: 'x' },
    { kind: 'matrix', rowOf: identity, source: { state: 0, time: 'prev' } },
  ];
  if (bias) influenceParams.push({ kind: 'vector', rowOf: identity, source: 'one' }, { kind: 'vector', rowOf: identity, source: 'one' });
  if (outputSize > 0) influenceParams.push(...(bias ? [null, null] : [null]));
  let pre: Mat | null = null;
  const diagonalJacobian = (mats: readonly Mat[], [h]: readonly Mat[], x: Mat, out: Float64Array): void => {
    const batch = x.rows;
    if (pre === null || pre.rows !== batch) pre = mat(batch, H);
    gemm(pre, x, mats[0], false, true);
    gemm(pre, h, mats[1], false, true, 1, 1);
    const w = mats[1], pd = pre.data;
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < H; k++) {
        let a = pd[b * H + k];
        if (bias) a += mats[2].data[mats[2].offset + k] + mats[3].data[mats[3].offset + k];
        const slope = activationSlope(activation, a, activateNumber(activation, a));
        out[b * H + k] = slope * w.data[w.offset + k * H + k];
      }
    }
  };
  return {
    kind: 'elman',
    inputSize,
    stateSizes: [hiddenSize],
    stateNames: ['h'],
    outputSize: outputSize > 0 ? outputSize : hiddenSize,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], [h]: readonly Var[], x: Var) {
      const [wIh, wHh] = params;
      const bIh = bias ? params[2] : null, bHh = bias ? params[3] : null;
      const pre = g.linearSum([[x, wIh], [h, wHh]], [bIh, bHh]);
      const hNew = activate(g, pre, activation);
      if (outputSize === 0) return { state: [hNew], output: hNew };
      const wHo = params[bias ? 4 : 2], bHo = bias ? params[5] : null;
      return { state: [hNew], output: activate(g, g.linear(hNew, wHo, bHo), outputActivation) };
    },
    // pre = x W_ihᵀ + h W_hhᵀ + b_ih + b_hh:  D's diagonal f'(pre_k)·W_hh[k, k] (SnAp-1 needs no
    // more of D), and one row per unit with dh/d pre = f'(pre); W_ih reads x, W_hh h_{t-1},
    // the biases 1; the output layer does not reach the state.
    unitJacobian(mats: readonly Mat[], state: readonly Mat[], x: Mat, out: Float64Array) {
      diagonalJacobian(mats, state, x, out);
    },
    // f'(pre) from the new state (no product with the weights again).
    unitInfluence: elementwiseUnitInfluence(activation, hiddenSize, influenceParams, H + 1),
    init(mats: readonly Mat[], rng: Rng) {
      // PyTorch's default: every weight and bias uniform in ±1/√H.
      const bound = 1 / Math.sqrt(hiddenSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
