// PyTorch's nn.RNN / nn.LSTM / nn.GRU <-> loopgrad, for one layer or many, one direction or two.
//
// Parameter names: layer l's weights are weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l},
// bias_hh_l{l}, and the backward direction adds _reverse (weight_ih_l{l}_reverse); biases are
// 1-D there and 1 x n here. A stack (lib/arch/stacked.ts) already names its parameters so; any
// other parameter is layer 0's (weight_ih -> weight_ih_l0, weight_ih_reverse ->
// weight_ih_l0_reverse, init_h -> init_h_l0): a single cell is the one-layer case.
//
// States: PyTorch's h_0 / h_n (and c_0 / c_n) are (layers·directions, batch, hidden), slot
// l·D + d for layer l, direction d. loopgrad keeps one matrix per state vector in the cell's
// stateSizes order (h_l0, c_l0, h_l0_reverse, ...). pytorchStates / fromPytorchStates translate.
import type { Cell } from '../cells/cell.js';
import type { Params, ParamSpec } from '../cells/params.js';
import { type CellKind, createCell } from '../cells/registry.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { bidirectional, isBidirectional } from '../arch/bidirectional.js';
import { type StackedCell, isStacked, layerParamName, stacked } from '../arch/stacked.js';
import type { Tensor, TensorInput } from './safetensors.js';
import { ConfigError, FormatError, ShapeError } from '../mat/errors.js';

/** The cell kind behind each PyTorch recurrent module. */
export const PYTORCH_MODULES = { RNN: 'elman', LSTM: 'lstm', GRU: 'gru' } as const satisfies Record<string, CellKind>;
export type PytorchModule = keyof typeof PYTORCH_MODULES;

export interface PytorchRnnOptions {
  /** nn.RNN (tanh or relu), nn.LSTM or nn.GRU. */
  module: PytorchModule;
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

/** The loopgrad network that computes what the PyTorch module with these arguments computes (a stack, of one layer by default). */
const PYTORCH_RNN_OPTIONS = keysOf<PytorchRnnOptions>({
  module: true, inputSize: true, hiddenSize: true, numLayers: true, bidirectional: true, bias: true, nonlinearity: true, dropout: true, seed: true,
});

export function pytorchRnn(options: PytorchRnnOptions): StackedCell {
  checkKeys('pytorchRnn', options, PYTORCH_RNN_OPTIONS);
  const numLayers = options.numLayers ?? 1;
  checkInt('pytorchRnn', 'numLayers', numLayers);
  if (!Object.prototype.hasOwnProperty.call(PYTORCH_MODULES, options.module)) {
    throw new ConfigError('pytorchRnn', `module ${JSON.stringify(options.module)} is not one of ${Object.keys(PYTORCH_MODULES).join(', ')}`, { option: 'module', value: options.module, accepted: Object.keys(PYTORCH_MODULES) });
  }
  const kind = PYTORCH_MODULES[options.module];
  const directions = options.bidirectional ? 2 : 1;
  const { hiddenSize, bias } = options;
  const layers: Cell[] = [];
  for (let l = 0; l < numLayers; l++) {
    const inputSize = l === 0 ? options.inputSize : hiddenSize * directions;
    const cell = kind === 'elman'
      ? createCell(kind, { inputSize, hiddenSize, bias, activation: options.nonlinearity ?? 'tanh' })
      : createCell(kind, { inputSize, hiddenSize, bias });
    layers.push(directions === 2 ? bidirectional(cell) : cell);
  }
  return stacked(layers, { dropout: options.dropout, seed: options.seed });
}

/** Which parameters a state dict covers, and the prefix of its names. */
export interface PytorchOptions {
  /** Prefix before every name, e.g. "rnn." or "param/" (default none). */
  prefix?: string;
  /**
   * Only this cell's parameters: the leading params.specs (a learned initial state after them
   * is left alone, PyTorch has none). Default: every parameter of params.
   */
  cell?: Cell;
}

const LAYERED = /_l[0-9]+(?:_reverse)?$/;

/** PyTorch's name of a parameter: a stack's weight_ih_l1 as it is, anything else layer 0's (weight_ih -> weight_ih_l0, bias_hh_reverse -> bias_hh_l0_reverse). */
export function pytorchName(name: string, prefix = ''): string {
  return prefix + (LAYERED.test(name) ? name : layerParamName(name, 0));
}

/** PyTorch's names of parameters (a cell's paramSpecs or a model's params.specs), in order, prefix included. */
export function pytorchNames(specs: readonly ParamSpec[], prefix = ''): string[] {
  return specs.map((s) => pytorchName(s.name, prefix));
}

// The specs of params a state dict covers: all of them, or the cell's leading ones (checked to be the cell's).
function coveredSpecs(op: string, params: Params, cell: Cell | undefined): readonly ParamSpec[] {
  if (cell === undefined) return params.specs;
  const own = cell.paramSpecs;
  if (params.specs.length < own.length) throw new ShapeError(op, `params hold ${params.specs.length} matrices but ${cell.kind} has ${own.length}`, { found: params.specs.length, expected: own.length });
  own.forEach((s, i) => {
    const p = params.specs[i];
    if (p.name !== s.name || p.rows !== s.rows || p.cols !== s.cols) {
      throw new ShapeError(op, `parameter ${i} of params is ${p.name} ${p.rows}x${p.cols}, but ${cell.kind}'s is ${s.name} ${s.rows}x${s.cols}`, { index: i, found: [p.rows, p.cols], expected: [s.rows, s.cols] });
    }
  });
  return own;
}

/**
 * Copies PyTorch tensors into params.theta, each parameter from its PyTorch name (every
 * parameter, or with options.cell only the cell's). Each must be present with a shape that fits
 * (n or 1 x n for a 1 x n bias, rows x cols for a matrix); otherwise the Error names the tensor.
 */
export function loadPytorchParams(params: Params, tensors: ReadonlyMap<string, Tensor>, options: PytorchOptions = {}): void {
  const specs = coveredSpecs('loadPytorchParams', params, options.cell);
  specs.forEach((spec, i) => {
    const name = pytorchName(spec.name, options.prefix);
    const t = tensors.get(name);
    if (t === undefined) throw new FormatError('loadPytorchParams', `tensor "${name}" is missing (needed for ${spec.name}, ${spec.rows}x${spec.cols})`, { tensor: name, param: spec.name });
    const fits = spec.rows === 1
      ? (t.shape.length === 1 && t.shape[0] === spec.cols) || (t.shape.length === 2 && t.shape[0] === 1 && t.shape[1] === spec.cols)
      : t.shape.length === 2 && t.shape[0] === spec.rows && t.shape[1] === spec.cols;
    if (!fits) {
      const want = spec.rows === 1 ? `[${spec.cols}]` : `[${spec.rows}, ${spec.cols}]`;
      throw new FormatError('loadPytorchParams', `tensor "${name}" has shape [${t.shape.join(', ')}] but ${spec.name} needs ${want}`, { tensor: name, shape: t.shape, expected: [spec.rows, spec.cols] });
    }
    params.theta.set(t.data, params.offsets[i]);
  });
}

/** The parameters (every one, or with options.cell only the cell's) as PyTorch-named F64 tensors (biases 1-D), ready for writeSafetensors. */
export function pytorchStateDict(params: Params, options: PytorchOptions = {}): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  coveredSpecs('pytorchStateDict', params, options.cell).forEach((spec, i) => {
    out[pytorchName(spec.name, options.prefix)] = {
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
        if (name !== 'h' && name !== 'c') throw new ConfigError(op, `${dir.kind} has a state "${name}"; PyTorch's layout holds only h and c`, { cell: dir.kind, state: name });
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
    if (src === null) throw new ConfigError('fromPytorchStates', `${cell.kind} has a cell state c but no c was given`, { cell: cell.kind });
    if (src.rows !== count * batch || src.cols !== s.size) {
      throw new ShapeError('fromPytorchStates', `${s.kind} is ${shapeOf(src)}, needs ${count * batch}x${s.size} (${count} layer-directions x batch ${batch})`, { [s.kind]: [src.rows, src.cols], expected: [count * batch, s.size] });
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
    throw new ShapeError('pytorchStates', `${cell.kind} has ${cell.stateSizes.length} state vectors, ${states.length} given`, { expected: cell.stateSizes.length, found: states.length });
  }
  const batch = states[0].rows;
  const size = slots[0].size;
  const h = mat(count * batch, size);
  const c = slots.some((s) => s.kind === 'c') ? mat(count * batch, size) : null;
  for (const s of slots) {
    const m = states[s.index];
    if (m.rows !== batch || m.cols !== size) throw new ShapeError('pytorchStates', `state ${s.index} is ${shapeOf(m)}, expected ${batch}x${size}`, { state: [m.rows, m.cols], expected: [batch, size] });
    (s.kind === 'h' ? h : c!).data.set(m.data.subarray(m.offset, m.offset + batch * size), s.slot * batch * size);
  }
  return { h, c };
}
