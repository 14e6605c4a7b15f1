// PyTorch's multi-layer, bidirectional nn.RNN / nn.LSTM / nn.GRU <-> loopgrad.
//
// Parameter names: layer l's weights are weight_ih_l{l}, weight_hh_l{l},
// bias_ih_l{l}, bias_hh_l{l}, and the backward direction adds _reverse
// (weight_ih_l{l}_reverse). A stacked cell (lib/rnn/stacked.ts) already names
// its parameters so; a single cell or bidirectional layer gets layer 0's names.
//
// States: PyTorch's h_0 / h_n (and c_0 / c_n) are (layers·directions, batch,
// hidden), slot l·D + d for layer l, direction d. loopgrad keeps one matrix per
// state vector in the cell's stateSizes order (h_l0, c_l0, h_l0_reverse, ...).
// pytorchStates / fromPytorchStates translate between the two.
import type { Cell } from '../cells/cell.js';
import type { Params } from '../cells/params.js';
import { elman } from '../cells/elman.js';
import { gru } from '../cells/gru.js';
import { lstm } from '../cells/lstm.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { bidirectional, isBidirectional } from '../rnn/bidirectional.js';
import { type StackedCell, isStacked, layerParamName, stacked } from '../rnn/stacked.js';
import type { Tensor, TensorInput } from './safetensors.js';

export interface PytorchRnnOptions {
  /** nn.RNN (tanh or relu), nn.LSTM or nn.GRU. */
  module: 'RNN' | 'LSTM' | 'GRU';
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bidirectional?: boolean;
  bias?: boolean;
  /** nn.RNN's nonlinearity (default tanh). */
  nonlinearity?: 'tanh' | 'relu';
  /** Dropout between layers (default 0). */
  dropout?: number;
  /** Seed of the dropout masks. */
  seed?: number;
}

const PYTORCH_RNN_OPTIONS = keysOf<PytorchRnnOptions>({
  module: true, inputSize: true, hiddenSize: true, numLayers: true, bidirectional: true, bias: true, nonlinearity: true, dropout: true, seed: true,
});

/** The loopgrad network that computes what the PyTorch module with these arguments computes. */
export function pytorchRnn(options: PytorchRnnOptions): StackedCell {
  checkKeys('pytorchRnn', options, PYTORCH_RNN_OPTIONS);
  const numLayers = options.numLayers ?? 1;
  checkInt('pytorchRnn', 'numLayers', numLayers);
  const directions = options.bidirectional ? 2 : 1;
  const { hiddenSize, bias } = options;
  const layers: Cell[] = [];
  for (let l = 0; l < numLayers; l++) {
    const inputSize = l === 0 ? options.inputSize : hiddenSize * directions;
    let cell: Cell;
    switch (options.module) {
      case 'RNN': cell = elman({ inputSize, hiddenSize, bias, activation: options.nonlinearity ?? 'tanh' }); break;
      case 'LSTM': cell = lstm({ inputSize, hiddenSize, bias }); break;
      case 'GRU': cell = gru({ inputSize, hiddenSize, bias }); break;
      default: throw new Error(`pytorchRnn: module ${JSON.stringify(options.module)} is not RNN, LSTM or GRU`);
    }
    layers.push(directions === 2 ? bidirectional(cell) : cell);
  }
  return stacked(layers, { dropout: options.dropout, seed: options.seed });
}

/** PyTorch's name for each of the cell's parameters (paramSpecs order), prefix included. */
export function pytorchNetworkNames(cell: Cell, prefix = ''): string[] {
  return cell.paramSpecs.map((s) => prefix + (isStacked(cell) ? s.name : layerParamName(s.name, 0)));
}

/**
 * Copies PyTorch tensors into the first cell.paramSpecs.length parameters of
 * params (a learned initial state, if any, is left alone). Every tensor must be
 * present with a fitting shape (a bias may be n or 1 x n); the Error names the
 * missing or misshapen one.
 */
export function loadPytorchNetwork(params: Params, cell: Cell, tensors: ReadonlyMap<string, Tensor>, prefix = ''): void {
  const names = pytorchNetworkNames(cell, prefix);
  if (params.specs.length < names.length) {
    throw new Error(`loadPytorchNetwork: params hold ${params.specs.length} matrices but ${cell.kind} has ${names.length}`);
  }
  names.forEach((name, i) => {
    const spec = params.specs[i];
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`loadPytorchNetwork: tensor "${name}" is missing (needed for ${spec.name}, ${spec.rows}x${spec.cols})`);
    const fits = spec.rows === 1
      ? (t.shape.length === 1 && t.shape[0] === spec.cols) || (t.shape.length === 2 && t.shape[0] === 1 && t.shape[1] === spec.cols)
      : t.shape.length === 2 && t.shape[0] === spec.rows && t.shape[1] === spec.cols;
    if (!fits) {
      const want = spec.rows === 1 ? `[${spec.cols}]` : `[${spec.rows}, ${spec.cols}]`;
      throw new Error(`loadPytorchNetwork: tensor "${name}" has shape [${t.shape.join(', ')}] but ${spec.name} needs ${want}`);
    }
    params.theta.set(t.data, params.offsets[i]);
  });
}

/** The cell's parameters as PyTorch-named F64 tensors (biases 1-D), ready for writeSafetensors. */
export function pytorchNetworkStateDict(params: Params, cell: Cell, prefix = ''): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  pytorchNetworkNames(cell, prefix).forEach((name, i) => {
    const spec = params.specs[i];
    out[name] = {
      dtype: 'F64',
      shape: spec.rows === 1 ? [spec.cols] : [spec.rows, spec.cols],
      data: params.theta.subarray(params.offsets[i], params.offsets[i] + spec.rows * spec.cols),
    };
  });
  return out;
}

interface StateSlot {
  /** Index in the cell's stateSizes. */
  index: number;
  /** PyTorch slot l·D + d. */
  slot: number;
  /** 'h' or 'c'. */
  kind: string;
  size: number;
}

// Walks layers and directions in PyTorch's order, pairing each state vector with its slot.
function stateSlots(op: string, cell: Cell): { slots: StateSlot[]; count: number } {
  const layers = isStacked(cell) ? cell.layers : [cell];
  const slots: StateSlot[] = [];
  let index = 0, slot = 0;
  for (const layer of layers) {
    const directions = isBidirectional(layer) ? [layer.forward, layer.backward] : [layer];
    for (const dir of directions) {
      dir.stateNames.forEach((name, i) => {
        if (name !== 'h' && name !== 'c') throw new Error(`${op}: ${dir.kind} has a state "${name}"; PyTorch's layout holds only h and c`);
        slots.push({ index: index++, slot, kind: name, size: dir.stateSizes[i] });
      });
      slot++;
    }
  }
  return { slots, count: slot };
}

/**
 * PyTorch's h (and c) — (layers·directions·batch) x hidden, time-major as
 * PyTorch lays out (L·D, B, H) — as loopgrad's initial state list.
 */
export function fromPytorchStates(cell: Cell, batch: number, h: Mat, c: Mat | null = null): Mat[] {
  const { slots, count } = stateSlots('fromPytorchStates', cell);
  const out: Mat[] = new Array<Mat>(cell.stateSizes.length);
  for (const s of slots) {
    const src = s.kind === 'h' ? h : c;
    if (src === null) throw new Error(`fromPytorchStates: ${cell.kind} has a cell state c but no c was given`);
    if (src.rows !== count * batch || src.cols !== s.size) {
      throw new Error(`fromPytorchStates: ${s.kind} is ${shapeOf(src)}, needs ${count * batch}x${s.size} (${count} layer-directions x batch ${batch})`);
    }
    const m = mat(batch, s.size);
    m.data.set(src.data.subarray(src.offset + s.slot * batch * s.size, src.offset + (s.slot + 1) * batch * s.size));
    out[s.index] = m;
  }
  return out;
}

/** loopgrad's state list (batch x size each) as PyTorch's h_n (and c_n), (layers·directions·batch) x hidden. */
export function pytorchStates(cell: Cell, states: readonly Mat[]): { h: Mat; c: Mat | null } {
  const { slots, count } = stateSlots('pytorchStates', cell);
  if (states.length !== cell.stateSizes.length) {
    throw new Error(`pytorchStates: ${cell.kind} has ${cell.stateSizes.length} state vectors, ${states.length} given`);
  }
  const batch = states[0].rows;
  const size = slots[0].size;
  const h = mat(count * batch, size);
  const c = slots.some((s) => s.kind === 'c') ? mat(count * batch, size) : null;
  for (const s of slots) {
    const m = states[s.index];
    if (m.rows !== batch || m.cols !== size) throw new Error(`pytorchStates: state ${s.index} is ${shapeOf(m)}, expected ${batch}x${size}`);
    (s.kind === 'h' ? h : c!).data.set(m.data.subarray(m.offset, m.offset + batch * size), s.slot * batch * size);
  }
  return { h, c };
}
