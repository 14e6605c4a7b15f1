// Multidimensional recurrent networks over 2-D grids (Graves, Fernández &
// Schmidhuber 2007). A scan visits the grid from one corner; at position
// (i, j) the cell sees the input there and the states of its two
// predecessors, one along each dimension (the previous row and the previous
// column in scan order), with zero state outside the grid:
//   tanh MDRNN: h[i,j] = tanh(W x[i,j] + U1 h[i∓1,j] + U2 h[i,j∓1] + b)
//   MD-LSTM:    c[i,j] = i ⊙ g + f1 ⊙ c[i∓1,j] + f2 ⊙ c[i,j∓1]   (one forget gate per dimension)
//               h[i,j] = o ⊙ tanh(c[i,j])
// (W x means x·Wᵀ with W hidden x input.) The four-direction layer runs one
// scan from each corner, each with its own parameters, and concatenates their
// outputs, so every output sees the whole grid.
//
// A grid of a batch is a Mat of (height·width·batch) x features, position
// (i, j) of sequence b at row (i·width + j)·batch + b (row-major positions,
// batch innermost), as PyTorch's (height, width, features) for batch 1.
import { Graph, type Var } from '../ad/graph.js';
import type { Cell, StepResult } from '../cells/cell.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Params, type ParamSpec, checkChain, createParams, initParts, joinParamSpecs } from '../cells/params.js';
import { uniformInit } from '../mat/init.js';
import { type Mat, clone, mat, rowsView, shapeOf, sharedZeros } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { gatherGrads, paramLeaves, scatterGrads } from '../rnn/unroll.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** The state vectors of a grid position, one Var (batch x size) per entry of stateSizes. */
/** What a grid cell's step returns: the same as a cell's (its new state and its output). */
export type MdStepResult = StepResult;

/** A cell with two predecessors (one per dimension) instead of one; otherwise a Cell. */
export interface MdCell extends Omit<Cell, 'step' | 'causal'> {
  /** prev[0]: the state of the predecessor along dimension 1 (rows), prev[1] along dimension 2 (columns). */
  step(g: Graph, params: readonly Var[], prev: readonly [readonly Var[], readonly Var[]], x: Var): MdStepResult;
}

export interface MdTanhOptions {
  inputSize: number;
  hiddenSize: number;
  /** The bias b (default true). */
  bias?: boolean;
}

const MD_TANH_OPTIONS_KEYS = keysOf<MdTanhOptions>({ inputSize: true, hiddenSize: true, bias: true });

/** h = tanh(W x + U1 h_dim1 + U2 h_dim2 + b); parameters W, U1, U2, b as in the golden file. */
export function mdTanh(options: MdTanhOptions): MdCell {
  checkKeys('mdTanh', options, MD_TANH_OPTIONS_KEYS);
  const op = 'mdTanh';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const bias = options.bias ?? true;
  const specs: ParamSpec[] = [
    { name: 'W', rows: H, cols: inputSize, role: 'weight' },
    { name: 'U1', rows: H, cols: H, role: 'weight' },
    { name: 'U2', rows: H, cols: H, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'b', rows: 1, cols: H, role: 'bias' });
  return {
    kind: 'mdTanh',
    inputSize,
    stateSizes: [H],
    stateNames: ['h'],
    outputSize: H,
    paramSpecs: specs,
    step(g, params, [[h1], [h2]], x) {
      const [W, U1, U2] = params;
      const pre = g.add(g.add(g.linear(x, W, bias ? params[3] : null), g.linear(h1, U1)), g.linear(h2, U2));
      const h = g.tanh(pre);
      return { state: [h], output: h };
    },
    init(mats, rng) {
      const bound = 1 / Math.sqrt(H);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}

export interface MdLstmOptions {
  inputSize: number;
  hiddenSize: number;
  /** Added to both forget gates' biases at initialisation (default 0). */
  forgetBias?: number;
}

const MD_LSTM_OPTIONS_KEYS = keysOf<MdLstmOptions>({ inputSize: true, hiddenSize: true, forgetBias: true });

/**
 * MD-LSTM with gate order (i, f1, f2, g, o):
 *   [i f1 f2 g o] = x W_ihᵀ + h_dim1 W_hh1ᵀ + h_dim2 W_hh2ᵀ + b    (batch x 5H)
 *   c = σ(i) ⊙ tanh(g) + σ(f1) ⊙ c_dim1 + σ(f2) ⊙ c_dim2,   h = σ(o) ⊙ tanh(c)
 */
export function mdLstm(options: MdLstmOptions): MdCell {
  checkKeys('mdLstm', options, MD_LSTM_OPTIONS_KEYS);
  const op = 'mdLstm';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const forgetBias = options.forgetBias ?? 0;
  if (!Number.isFinite(forgetBias)) throw new ConfigError('mdLstm', `forgetBias must be finite, got ${forgetBias}`, { option: 'forgetBias', value: forgetBias });
  return {
    kind: 'mdLstm',
    inputSize,
    stateSizes: [H, H],
    stateNames: ['h', 'c'],
    outputSize: H,
    paramSpecs: [
      { name: 'weight_ih', rows: 5 * H, cols: inputSize, role: 'weight' },
      { name: 'weight_hh1', rows: 5 * H, cols: H, role: 'weight' },
      { name: 'weight_hh2', rows: 5 * H, cols: H, role: 'weight' },
      { name: 'bias', rows: 1, cols: 5 * H, role: 'bias' },
    ],
    step(g, [wIh, wHh1, wHh2, b], [[h1, c1], [h2, c2]], x) {
      const gates = g.add(g.add(g.linear(x, wIh, b), g.linear(h1, wHh1)), g.linear(h2, wHh2));
      const sig = g.sigmoid(g.sliceCols(gates, 0, 3 * H));
      const i = g.sliceCols(sig, 0, H), f1 = g.sliceCols(sig, H, H), f2 = g.sliceCols(sig, 2 * H, H);
      const cand = g.tanh(g.sliceCols(gates, 3 * H, H));
      const o = g.sigmoid(g.sliceCols(gates, 4 * H, H));
      const c = g.add(g.add(g.mul(i, cand), g.mul(f1, c1)), g.mul(f2, c2));
      const h = g.mul(o, g.tanh(c));
      return { state: [h, c], output: h };
    },
    init(mats, rng) {
      const bound = 1 / Math.sqrt(H);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
      if (forgetBias !== 0) {
        const b = mats[3];
        for (let j = H; j < 3 * H; j++) b.data[b.offset + j] = forgetBias;
      }
    },
  };
}

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
export const CORNERS: readonly Corner[] = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];

/** A grid of Vars: cells[i·width + j] is position (i, j), batch x features. */
export interface Grid {
  readonly height: number;
  readonly width: number;
  readonly cells: readonly Var[];
}

/** Anything that maps a grid to a grid: a scan, the four-direction layer, a subsampling layer, a stack. */
export interface GridLayer {
  readonly kind: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  init(params: readonly Mat[], rng: Rng): void;
  run(g: Graph, params: readonly Var[], input: Grid): Grid;
}

function checkGrid(op: string, input: Grid, features: number): number {
  const { height, width, cells } = input;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ConfigError(op, `grid is ${height}x${width}; both sizes must be positive integers`, { height, width });
  }
  if (cells.length !== height * width) throw new ShapeError(op, `${cells.length} cells for a ${height}x${width} grid`, { cells: cells.length, grid: [height, width] });
  const batch = cells[0].value.rows;
  for (const v of cells) {
    if (v.value.cols !== features || v.value.rows !== batch) {
      throw new ShapeError(op, `a cell is ${shapeOf(v.value)}, needs ${batch}x${features}`, { cell: [v.value.rows, v.value.cols], expected: [batch, features] });
    }
  }
  return batch;
}

/**
 * One scan of an MD cell over the grid from `corner`. Output (i, j) sits at
 * (i, j) whatever the scan order; states[k] is position k's state.
 */
export function scanGrid(g: Graph, cell: MdCell, params: readonly Var[], input: Grid, corner: Corner = 'top-left'): { outputs: Var[]; states: Var[][] } {
  const batch = checkGrid(`scanGrid (${cell.kind})`, input, cell.inputSize);
  if (!CORNERS.includes(corner)) throw new ConfigError('scanGrid', `corner ${JSON.stringify(corner)} is not one of ${CORNERS.join(', ')}`, { option: 'corner', value: corner, accepted: CORNERS });
  if (params.length !== cell.paramSpecs.length) throw new ShapeError('scanGrid', `${cell.kind} has ${cell.paramSpecs.length} parameters, ${params.length} given`, { expected: cell.paramSpecs.length, found: params.length });
  const { height, width, cells } = input;
  const fromBottom = corner.startsWith('bottom'), fromRight = corner.endsWith('right');
  const zero = cell.stateSizes.map((size) => g.constant(sharedZeros(batch, size)));
  const states: Var[][] = new Array<Var[]>(height * width);
  const outputs: Var[] = new Array<Var>(height * width);
  for (let a = 0; a < height; a++) {
    const i = fromBottom ? height - 1 - a : a;
    const iPrev = fromBottom ? i + 1 : i - 1;
    for (let b = 0; b < width; b++) {
      const j = fromRight ? width - 1 - b : b;
      const jPrev = fromRight ? j + 1 : j - 1;
      const up = a === 0 ? zero : states[iPrev * width + j];
      const left = b === 0 ? zero : states[i * width + jPrev];
      const r = cell.step(g, params, [up, left], cells[i * width + j]);
      states[i * width + j] = r.state;
      outputs[i * width + j] = r.output;
    }
  }
  return { outputs, states };
}

/** A one-corner MD layer. */
export function mdScan(cell: MdCell, corner: Corner = 'top-left'): GridLayer {
  if (!CORNERS.includes(corner)) throw new ConfigError('mdScan', `corner ${JSON.stringify(corner)} is not one of ${CORNERS.join(', ')}`, { option: 'corner', value: corner, accepted: CORNERS });
  return {
    kind: `mdScan(${cell.kind}, ${corner})`,
    inputSize: cell.inputSize,
    outputSize: cell.outputSize,
    paramSpecs: cell.paramSpecs,
    init: (mats, rng) => cell.init(mats, rng),
    run(g, params, input) {
      return { height: input.height, width: input.width, cells: scanGrid(g, cell, params, input, corner).outputs };
    },
  };
}

const CORNER_SUFFIX: Record<Corner, string> = { 'top-left': 'tl', 'top-right': 'tr', 'bottom-left': 'bl', 'bottom-right': 'br' };

/**
 * The four-direction layer: a scan from every corner (top-left, top-right,
 * bottom-left, bottom-right), each with its own parameters (suffixes _tl, _tr,
 * _bl, _br), outputs concatenated in that order (4 · outputSize features).
 * One cell for all four, or one per corner.
 */
export function mdFourWay(cells: MdCell | readonly [MdCell, MdCell, MdCell, MdCell]): GridLayer {
  const list: readonly MdCell[] = 'step' in cells ? [cells, cells, cells, cells] : cells;
  if (list.length !== 4) throw new ConfigError('mdFourWay', `needs one cell or four, got ${list.length}`, { cells: list.length });
  const inputSize = list[0].inputSize;
  list.forEach((c, k) => {
    if (c.inputSize !== inputSize) throw new ShapeError('mdFourWay', `the ${CORNERS[k]} cell takes ${c.inputSize} inputs, the top-left one ${inputSize}`, { corner: CORNERS[k], found: c.inputSize, expected: inputSize });
  });
  const { specs, starts } = joinParamSpecs(list, (name, k) => `${name}_${CORNER_SUFFIX[CORNERS[k]]}`);
  return {
    kind: 'mdFourWay',
    inputSize,
    outputSize: list.reduce((n, c) => n + c.outputSize, 0),
    paramSpecs: specs,
    init(mats, rng) {
      list.forEach((c, k) => c.init(mats.slice(starts[k], starts[k + 1]), rng));
    },
    run(g, params, input) {
      const scans = list.map((c, k) => scanGrid(g, c, params.slice(starts[k], starts[k + 1]), input, CORNERS[k]).outputs);
      const cellsOut = input.cells.map((_, p) => g.concatCols([scans[0][p], scans[1][p], scans[2][p], scans[3][p]]));
      return { height: input.height, width: input.width, cells: cellsOut };
    },
  };
}

/** Grid layers one after another (parameter names get the suffix _l{index}). */
export function gridStack(layers: readonly GridLayer[]): GridLayer {
  checkChain('gridStack', layers, 'layer', 'features');
  const { specs, starts } = joinParamSpecs(layers, (name, l) => `${name}_l${l}`);
  return {
    kind: 'gridStack',
    inputSize: layers[0].inputSize,
    outputSize: layers[layers.length - 1].outputSize,
    paramSpecs: specs,
    init: (mats, rng) => initParts(layers, starts, mats, rng),
    run(g, params, input) {
      let grid = input;
      layers.forEach((layer, l) => { grid = layer.run(g, params.slice(starts[l], starts[l + 1]), grid); });
      return grid;
    },
  };
}

/** Something with parameter specs and an initialiser: a GridLayer, an MdCell, a sequence layer. */
export interface Parametrised {
  readonly paramSpecs: readonly ParamSpec[];
  init(params: readonly Mat[], rng: Rng): void;
}

/** Parameters for a layer in one flat theta, initialised from a seed unless theta is given. */
export function createLayerParams(layer: Parametrised, options: { seed?: number; theta?: Float64Array } = {}): Params {
  const params = createParams(layer.paramSpecs, options.theta);
  if (options.theta === undefined) layer.init(params.mats, new Rng(options.seed ?? 0));
  return params;
}

export interface GridShape {
  height: number;
  width: number;
  /** Grids in the batch (default 1). */
  batch?: number;
}

/** The grid of input Vars: leaves viewing x ((height·width·batch) x features). */
export function gridLeaves(g: Graph, x: Mat, shape: GridShape, requiresGrad = false): Grid {
  const batch = shape.batch ?? 1;
  const { height, width } = shape;
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('gridLeaves', `batch must be a positive integer, got ${batch}`, { option: 'batch', value: batch });
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ConfigError('gridLeaves', `grid is ${height}x${width}; both sizes must be positive integers`, { height, width });
  }
  if (x.rows !== height * width * batch) {
    throw new ShapeError('gridLeaves', `input is ${shapeOf(x)} but a ${height}x${width} grid of batch ${batch} needs ${height * width * batch} rows`, { x: [x.rows, x.cols], grid: [height, width], batch });
  }
  const cells: Var[] = [];
  for (let p = 0; p < height * width; p++) cells.push(g.leaf(rowsView(x, p * batch, batch), { requiresGrad }));
  return { height, width, cells };
}

/** A grid's values as one (height·width·batch) x features Mat, in the layout of inputs. */
export function gridValues(grid: Grid): Mat {
  const batch = grid.cells[0].value.rows, cols = grid.cells[0].value.cols;
  const out = mat(grid.cells.length * batch, cols);
  grid.cells.forEach((v, p) => out.data.set(v.value.data.subarray(v.value.offset, v.value.offset + batch * cols), p * batch * cols));
  return out;
}

export interface GridBpttResult {
  loss: number;
  /** d loss / d theta, laid out like params.theta. */
  grad: Float64Array;
  /** The layer's output grid as a Mat ((outHeight·outWidth·batch) x outputSize). */
  outputs: Mat;
  outHeight: number;
  outWidth: number;
  /** d loss / d x when asked for. */
  inputGrad: Mat | null;
}

/**
 * Runs a grid layer on x and differentiates loss(g, outputGrid) (a 1x1 Var)
 * by reverse mode: BPTT's two-dimensional twin.
 */
export function gridBptt(
  layer: GridLayer, params: Params, x: Mat, shape: GridShape,
  loss: (g: Graph, output: Grid) => Var, options: { inputGrad?: boolean } = {},
): GridBpttResult {
  if (x.cols !== layer.inputSize) throw new ShapeError('gridBptt', `input is ${shapeOf(x)} but ${layer.kind} takes ${layer.inputSize} features`, { x: [x.rows, x.cols], inputSize: layer.inputSize });
  const g = new Graph('reverse');
  const paramVars = paramLeaves(g, params.mats, { requiresGrad: true });
  const input = gridLeaves(g, x, shape, options.inputGrad === true);
  const out = layer.run(g, paramVars, input);
  const total = loss(g, out);
  if (total.value.rows !== 1 || total.value.cols !== 1) throw new ShapeError('gridBptt', `the loss is ${shapeOf(total.value)}, not 1x1`, { loss: [total.value.rows, total.value.cols] });
  g.backward(total);
  const grad = new Float64Array(params.theta.length);
  scatterGrads(params.offsets, paramVars, grad);
  const inputGrad = options.inputGrad ? gatherGrads(input.cells, mat(x.rows, x.cols)) : null;
  return { loss: total.value.data[total.value.offset], grad, outputs: gridValues(out), outHeight: out.height, outWidth: out.width, inputGrad };
}

/** Runs a grid layer for values only. */
export function gridForward(layer: GridLayer, params: Params, x: Mat, shape: GridShape): { outputs: Mat; outHeight: number; outWidth: number } {
  if (x.cols !== layer.inputSize) throw new ShapeError('gridForward', `input is ${shapeOf(x)} but ${layer.kind} takes ${layer.inputSize} features`, { x: [x.rows, x.cols], inputSize: layer.inputSize });
  const g = new Graph('eval');
  const out = layer.run(g, paramLeaves(g, params.mats), gridLeaves(g, x, shape));
  return { outputs: clone(gridValues(out)), outHeight: out.height, outWidth: out.width };
}
