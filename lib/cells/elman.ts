// Elman's simple recurrent network:
//   h_t = f(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
//   y_t = g(h_t W_hoᵀ + b_ho)            (or y_t = h_t without an output layer)
// PyTorch's nn.RNN is this cell with no output layer (two biases, as there).
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, activate, checkActivation } from './cell.js';
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
    init(mats: readonly Mat[], rng: Rng) {
      // PyTorch's default: every weight and bias uniform in ±1/√H.
      const bound = 1 / Math.sqrt(hiddenSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
