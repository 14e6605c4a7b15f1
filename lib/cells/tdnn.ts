// Time-delay neural network layer (Waibel et al. 1989): each unit sees the
// last `taps` inputs of the layer below, spaced `dilation` steps apart,
//   y_t = f(Σ_k x_{t - k·dilation} W_kᵀ + b),   k = 0 .. taps-1,
// with x_{t'} = 0 before the sequence starts. That is a causal dilated 1-D
// convolution over time: Conv1d(inputSize, outputSize, kernel_size=taps,
// dilation) on the input left-padded with (taps-1)·dilation zeros, with
// W_k = conv.weight[:, :, taps-1-k].
//
// The cell's state is the delay line of the last (taps-1)·dilation inputs,
// most recent first ([x_{t-1}, x_{t-2}, ...]), so the layer is an ordinary
// cell: BPTT and RTRL both run it, and stacking TDNN layers (or a TDNN layer
// over a recurrent one) with lib/rnn/stacked.ts grows the receptive field.
//
// Parameters: weight (outputSize x taps·inputSize; column block k is W_k, the
// tap at delay k·dilation) and bias (1 x outputSize).
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, activate, checkActivation } from './cell.js';
import type { ParamSpec } from './params.js';

export interface TdnnOptions {
  inputSize: number;
  outputSize: number;
  /** Number of inputs each unit sees (kernel size), >= 1. */
  taps: number;
  /** Steps between taps (default 1). */
  dilation?: number;
  /** f (default tanh). */
  activation?: Activation;
  /** The bias b (default true). */
  bias?: boolean;
}

const TDNN_OPTIONS = keysOf<TdnnOptions>({ inputSize: true, outputSize: true, taps: true, dilation: true, activation: true, bias: true });

export function tdnn(options: TdnnOptions): Cell {
  checkKeys('tdnn', options, TDNN_OPTIONS);
  const op = 'tdnn';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const outputSize = checkInt(op, 'outputSize', options.outputSize);
  const taps = checkInt(op, 'taps', options.taps);
  const dilation = checkInt(op, 'dilation', options.dilation ?? 1);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid', 'identity']);
  const bias = options.bias ?? true;
  // Inputs remembered: x_{t-1} ... x_{t-history}.
  const history = (taps - 1) * dilation;
  const specs: ParamSpec[] = [{ name: 'weight', rows: outputSize, cols: taps * inputSize, role: 'weight' }];
  if (bias) specs.push({ name: 'bias', rows: 1, cols: outputSize, role: 'bias' });
  return {
    kind: 'tdnn',
    inputSize,
    stateSizes: history > 0 ? [history * inputSize] : [],
    stateNames: history > 0 ? ['delay'] : [],
    outputSize,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var) {
      const weight = params[0], b = bias ? params[1] : null;
      if (history === 0) return { state: [], output: activate(g, g.linear(x, weight, b), activation) };
      // window block j holds x_{t-j}, j = 0 .. history.
      const window = g.concatCols([x, state[0]]);
      let tapped: Var = window;
      if (dilation > 1) {
        const parts: Var[] = [];
        for (let k = 0; k < taps; k++) parts.push(g.sliceCols(window, k * dilation * inputSize, inputSize));
        tapped = g.concatCols(parts);
      }
      const y = activate(g, g.linear(tapped, weight, b), activation);
      return { state: [g.sliceCols(window, 0, history * inputSize)], output: y };
    },
    init(mats: readonly Mat[], rng: Rng) {
      // Conv1d's default range: U(±1/√fan_in), fan_in = taps · inputSize.
      const bound = 1 / Math.sqrt(taps * inputSize);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
