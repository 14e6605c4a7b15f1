// A feed-forward layer as a stateless cell: y_t = f(x_t Wᵀ + b). Stacked on
// top of recurrent layers it is a per-step readout (e.g. the class scores that
// CTC reads); it has no state, so it adds nothing to RTRL's sensitivities.
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, activate, checkActivation } from './cell.js';

export interface DenseOptions {
  inputSize: number;
  outputSize: number;
  /** Default identity (raw scores). */
  activation?: Activation;
}

const DENSE_OPTIONS = keysOf<DenseOptions>({ inputSize: true, outputSize: true, activation: true });

export function dense(options: DenseOptions): Cell {
  checkKeys('dense', options, DENSE_OPTIONS);
  const inputSize = checkInt('dense', 'inputSize', options.inputSize);
  const outputSize = checkInt('dense', 'outputSize', options.outputSize);
  const activation = checkActivation('dense', options.activation ?? 'identity', ['tanh', 'relu', 'sigmoid', 'identity']);
  return {
    kind: 'dense',
    inputSize,
    stateSizes: [],
    stateNames: [],
    outputSize,
    paramSpecs: [{ name: 'weight', rows: outputSize, cols: inputSize, role: 'weight' }, { name: 'bias', rows: 1, cols: outputSize, role: 'bias' }],
    step(g: Graph, [weight, bias]: readonly Var[], _state: readonly Var[], x: Var) {
      return { state: [], output: activate(g, g.linear(x, weight, bias), activation) };
    },
    init(mats: readonly Mat[], rng: Rng) {
      // PyTorch's Linear default: U(±1/√fan_in).
      const bound = 1 / Math.sqrt(inputSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
