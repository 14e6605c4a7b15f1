// PyTorch state-dict names <-> loopgrad parameters. nn.RNN/LSTM/GRU name layer
// l's weights weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l}, bias_hh_l{l}, with a
// _reverse suffix for the backward direction; biases are 1-D there and 1 x n here.
import type { Params } from '../cells/params.js';
import type { Tensor, TensorInput } from './safetensors.js';

export interface PytorchNaming {
  /** Layer index l in ..._l{l} (default 0). */
  layer?: number;
  /** The backward direction of a bidirectional layer (suffix _reverse). */
  reverse?: boolean;
  /** Prefix before the name, e.g. "rnn." or "param/" (default none). */
  prefix?: string;
}

export function pytorchName(name: string, naming: PytorchNaming = {}): string {
  return `${naming.prefix ?? ''}${name}_l${naming.layer ?? 0}${naming.reverse ? '_reverse' : ''}`;
}

/**
 * Copies PyTorch tensors into params.theta, each parameter from its PyTorch
 * name. Every parameter must be present with a shape that fits (n or 1 x n for a
 * 1 x n bias, rows x cols for a matrix); otherwise a clear Error names it.
 */
export function loadPytorchParams(params: Params, tensors: ReadonlyMap<string, Tensor>, naming: PytorchNaming = {}): void {
  params.specs.forEach((spec, i) => {
    const name = pytorchName(spec.name, naming);
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`loadPytorchParams: tensor "${name}" is missing (needed for ${spec.name}, ${spec.rows}x${spec.cols})`);
    const fits = spec.rows === 1
      ? (t.shape.length === 1 && t.shape[0] === spec.cols) || (t.shape.length === 2 && t.shape[0] === 1 && t.shape[1] === spec.cols)
      : t.shape.length === 2 && t.shape[0] === spec.rows && t.shape[1] === spec.cols;
    if (!fits) {
      const want = spec.rows === 1 ? `[${spec.cols}]` : `[${spec.rows}, ${spec.cols}]`;
      throw new Error(`loadPytorchParams: tensor "${name}" has shape [${t.shape.join(', ')}] but the model needs ${want}`);
    }
    params.theta.set(t.data, params.offsets[i]);
  });
}

/** The parameters as PyTorch-named F64 tensors (biases 1-D), ready for writeSafetensors. */
export function pytorchStateDict(params: Params, naming: PytorchNaming = {}): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  params.specs.forEach((spec, i) => {
    const n = spec.rows * spec.cols;
    out[pytorchName(spec.name, naming)] = {
      dtype: 'F64',
      shape: spec.rows === 1 ? [spec.cols] : [spec.rows, spec.cols],
      data: params.theta.subarray(params.offsets[i], params.offsets[i] + n),
    };
  });
  return out;
}
