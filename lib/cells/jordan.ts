// Jordan's network: the state fed back is the previous output, not the hidden layer.
//   h_t = f(x_t W_ihᵀ + b_ih + y_{t-1} W_hyᵀ + b_hh)
//   y_t = g(h_t W_hoᵀ + b_ho)
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, activate, checkActivation } from './cell.js';

export interface JordanOptions {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  activation?: 'tanh' | 'relu' | 'sigmoid';
  /** g (default tanh, so that the fed-back output stays bounded). */
  outputActivation?: Activation;
}

const JORDAN_OPTIONS = keysOf<JordanOptions>({ inputSize: true, hiddenSize: true, outputSize: true, activation: true, outputActivation: true });

export function jordan(options: JordanOptions): Cell {
  checkKeys('jordan', options, JORDAN_OPTIONS);
  const op = 'jordan';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const hiddenSize = checkInt(op, 'hiddenSize', options.hiddenSize);
  const outputSize = checkInt(op, 'outputSize', options.outputSize);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid']);
  const outputActivation = checkActivation(op, options.outputActivation ?? 'tanh', ['tanh', 'relu', 'sigmoid', 'identity']);
  return {
    kind: 'jordan',
    inputSize,
    stateSizes: [outputSize],
    stateNames: ['y'],
    outputSize,
    paramSpecs: [
      { name: 'weight_ih', rows: hiddenSize, cols: inputSize, role: 'weight' },
      { name: 'weight_hy', rows: hiddenSize, cols: outputSize, role: 'weight' },
      { name: 'bias_ih', rows: 1, cols: hiddenSize, role: 'bias' },
      { name: 'bias_hh', rows: 1, cols: hiddenSize, role: 'bias' },
      { name: 'weight_ho', rows: outputSize, cols: hiddenSize, role: 'weight' },
      { name: 'bias_ho', rows: 1, cols: outputSize, role: 'bias' },
    ],
    step(g: Graph, [wIh, wHy, bIh, bHh, wHo, bHo]: readonly Var[], [yPrev]: readonly Var[], x: Var) {
      const h = activate(g, g.linearSum([[x, wIh], [yPrev, wHy]], [bIh, bHh]), activation);
      const y = activate(g, g.linear(h, wHo, bHo), outputActivation);
      return { state: [y], output: y };
    },
    init(mats: readonly Mat[], rng: Rng) {
      const bound = 1 / Math.sqrt(hiddenSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
