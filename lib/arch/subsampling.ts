// Hierarchical subsampling (Graves 2012, ch. 9): recurrent levels separated
// by subsampling layers. A subsampling layer with window w concatenates every
// w consecutive outputs of the level below and passes them through a
// feed-forward tanh layer,
//   z_k = tanh([y_{kw}, y_{kw+1}, ..., y_{kw+w-1}] Wᵀ + b),
// so the level above sees a sequence w times shorter (the last window is
// zero-padded when T is not a multiple of w). For 2-D grids the window is a
// wh x ww block of positions, concatenated row by row.
//
// Everything is composed on the Graph, so the whole hierarchy is
// differentiated by reverse mode like any other computation.
import { Graph, type Var } from '../ad/graph.js';
import { type Activation, type Cell, activate, checkActivation } from '../cells/cell.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Params, type ParamSpec, checkChain, initParts, joinParamSpecs } from '../cells/params.js';
import { uniformInit } from '../mat/init.js';
import { type Mat, mat, rowsView, shapeOf, sharedZeros } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import type { GridLayer } from './mdrnn.js';
import { gatherGrads, paramLeaves, scanCell, scatterGrads } from '../rnn/unroll.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** Maps a sequence (one batch x inputSize Var per step) to a sequence, maybe shorter. */
export interface SequenceLayer {
  readonly kind: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  init(params: readonly Mat[], rng: Rng): void;
  run(g: Graph, params: readonly Var[], xs: readonly Var[]): Var[];
  /** How many steps come out of `steps` in. */
  outputSteps(steps: number): number;
}

/** A recurrent level: any cell (a stack, bidirectional layers) run from a zero state. */
export function recurrentLayer(cell: Cell): SequenceLayer {
  return {
    kind: `recurrent(${cell.kind})`,
    inputSize: cell.inputSize,
    outputSize: cell.outputSize,
    paramSpecs: cell.paramSpecs,
    init: (mats, rng) => cell.init(mats, rng),
    run(g, params, xs) {
      if (xs.length === 0) throw new ShapeError(`recurrentLayer (${cell.kind})`, 'the sequence is empty');
      const batch = xs[0].value.rows;
      const initial = cell.stateSizes.map((size) => g.constant(sharedZeros(batch, size)));
      return scanCell(g, cell, params, xs, initial).outputs;
    },
    outputSteps: (steps) => steps,
  };
}

export interface SubsampleOptions {
  inputSize: number;
  outputSize: number;
  /** Consecutive steps merged into one. */
  window: number;
  /** Default tanh. */
  activation?: Activation;
  /** Default true. */
  bias?: boolean;
}

const SUBSAMPLE_OPTIONS_KEYS = keysOf<SubsampleOptions>({ inputSize: true, outputSize: true, window: true, activation: true, bias: true });

function feedForwardSpecs(fanIn: number, outputSize: number, bias: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'weight', rows: outputSize, cols: fanIn, role: 'weight' }];
  if (bias) specs.push({ name: 'bias', rows: 1, cols: outputSize, role: 'bias' });
  return specs;
}

function initFeedForward(mats: readonly Mat[], rng: Rng, fanIn: number): void {
  const bound = 1 / Math.sqrt(fanIn);
  for (const m of mats) uniformInit(m, rng, -bound, bound);
}

/** Window subsampling of a sequence: T steps in, ceil(T / window) out. */
export function subsample(options: SubsampleOptions): SequenceLayer {
  checkKeys('subsample', options, SUBSAMPLE_OPTIONS_KEYS);
  const op = 'subsample';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const outputSize = checkInt(op, 'outputSize', options.outputSize);
  const window = checkInt(op, 'window', options.window);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid', 'identity']);
  const bias = options.bias ?? true;
  const fanIn = window * inputSize;
  return {
    kind: 'subsample',
    inputSize,
    outputSize,
    paramSpecs: feedForwardSpecs(fanIn, outputSize, bias),
    init: (mats, rng) => initFeedForward(mats, rng, fanIn),
    run(g, params, xs) {
      if (xs.length === 0) throw new ShapeError('subsample', 'the sequence is empty');
      const batch = xs[0].value.rows;
      xs.forEach((x, t) => {
        if (x.value.cols !== inputSize || x.value.rows !== batch) throw new ShapeError('subsample', `step ${t} is ${shapeOf(x.value)}, needs ${batch}x${inputSize}`, { step: t, x: [x.value.rows, x.value.cols], expected: [batch, inputSize] });
      });
      const out: Var[] = [];
      const pad = g.constant(sharedZeros(batch, inputSize));
      for (let start = 0; start < xs.length; start += window) {
        const parts: Var[] = [];
        for (let k = 0; k < window; k++) parts.push(start + k < xs.length ? xs[start + k] : pad);
        const merged = window === 1 ? parts[0] : g.concatCols(parts);
        out.push(activate(g, g.linear(merged, params[0], bias ? params[1] : null), activation));
      }
      return out;
    },
    outputSteps: (steps) => Math.ceil(steps / window),
  };
}

/** Levels one after another; parameter names get the prefix s{level}/ (s0/weight_ih_l0, s1/weight, ...). */
export function hierarchy(levels: readonly SequenceLayer[]): SequenceLayer {
  checkChain('hierarchy', levels, 'level', 'features');
  const { specs, starts } = joinParamSpecs(levels, (name, l) => `s${l}/${name}`);
  return {
    kind: 'hierarchy',
    inputSize: levels[0].inputSize,
    outputSize: levels[levels.length - 1].outputSize,
    paramSpecs: specs,
    init: (mats, rng) => initParts(levels, starts, mats, rng),
    run(g, params, xs) {
      let seq: readonly Var[] = xs;
      levels.forEach((level, l) => { seq = level.run(g, params.slice(starts[l], starts[l + 1]), seq); });
      return seq as Var[];
    },
    outputSteps: (steps) => levels.reduce((n, level) => level.outputSteps(n), steps),
  };
}

export interface SequenceLayerBpttResult {
  loss: number;
  /** d loss / d theta, laid out like params.theta. */
  grad: Float64Array;
  /** The layer's outputs, time-major ((outSteps·batch) x outputSize). */
  outputs: Mat;
  outSteps: number;
  inputGrad: Mat | null;
}

/** Runs a sequence layer on xs ((T·batch) x inputSize, time-major) and differentiates loss(g, outputs). */
export function sequenceLayerBptt(
  layer: SequenceLayer, params: Params, xs: Mat, batch: number,
  loss: (g: Graph, outputs: readonly Var[]) => Var, options: { inputGrad?: boolean } = {},
): SequenceLayerBpttResult {
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('sequenceLayerBptt', `batch must be a positive integer, got ${batch}`, { option: 'batch', value: batch });
  if (xs.cols !== layer.inputSize || xs.rows % batch !== 0 || xs.rows === 0) {
    throw new ShapeError('sequenceLayerBptt', `input ${shapeOf(xs)} needs ${layer.inputSize} columns and a positive multiple of batch ${batch} rows`, { xs: [xs.rows, xs.cols], inputSize: layer.inputSize, batch });
  }
  const g = new Graph('reverse');
  const paramVars = paramLeaves(g, params.mats, { requiresGrad: true });
  const steps = xs.rows / batch;
  const inputs: Var[] = [];
  for (let t = 0; t < steps; t++) inputs.push(g.leaf(rowsView(xs, t * batch, batch), { requiresGrad: options.inputGrad === true }));
  const outs = layer.run(g, paramVars, inputs);
  const total = loss(g, outs);
  if (total.value.rows !== 1 || total.value.cols !== 1) throw new ShapeError('sequenceLayerBptt', `the loss is ${shapeOf(total.value)}, not 1x1`, { loss: [total.value.rows, total.value.cols] });
  g.backward(total);
  const grad = new Float64Array(params.theta.length);
  scatterGrads(params.offsets, paramVars, grad);
  const outputs = mat(outs.length * batch, layer.outputSize);
  outs.forEach((v, t) => outputs.data.set(v.value.data.subarray(v.value.offset, v.value.offset + batch * layer.outputSize), t * batch * layer.outputSize));
  const inputGrad = options.inputGrad ? gatherGrads(inputs, mat(xs.rows, xs.cols)) : null;
  return { loss: total.value.data[total.value.offset], grad, outputs, outSteps: outs.length, inputGrad };
}

export interface GridSubsampleOptions {
  inputSize: number;
  outputSize: number;
  /** Block height and width. */
  window: readonly [number, number];
  activation?: Activation;
  bias?: boolean;
}

const GRID_SUBSAMPLE_OPTIONS_KEYS = keysOf<GridSubsampleOptions>({ inputSize: true, outputSize: true, window: true, activation: true, bias: true });

/**
 * 2-D window subsampling: every wh x ww block of positions (row by row)
 * concatenated, then a feed-forward layer; the grid shrinks to
 * ceil(height / wh) x ceil(width / ww) (edge blocks zero-padded).
 */
export function gridSubsample(options: GridSubsampleOptions): GridLayer {
  checkKeys('gridSubsample', options, GRID_SUBSAMPLE_OPTIONS_KEYS);
  const op = 'gridSubsample';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const outputSize = checkInt(op, 'outputSize', options.outputSize);
  if (options.window === undefined || options.window.length !== 2) throw new ConfigError('gridSubsample', 'window must be [height, width]', { option: 'window', value: options.window });
  const wh = checkInt(op, 'window height', options.window[0]);
  const ww = checkInt(op, 'window width', options.window[1]);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid', 'identity']);
  const bias = options.bias ?? true;
  const fanIn = wh * ww * inputSize;
  return {
    kind: 'gridSubsample',
    inputSize,
    outputSize,
    paramSpecs: feedForwardSpecs(fanIn, outputSize, bias),
    init: (mats, rng) => initFeedForward(mats, rng, fanIn),
    run(g, params, input) {
      const { height, width, cells } = input;
      if (cells.length !== height * width || cells.length === 0) throw new ShapeError('gridSubsample', `${cells.length} cells for a ${height}x${width} grid`, { cells: cells.length, grid: [height, width] });
      const batch = cells[0].value.rows;
      for (const v of cells) {
        if (v.value.cols !== inputSize || v.value.rows !== batch) throw new ShapeError('gridSubsample', `a cell is ${shapeOf(v.value)}, needs ${batch}x${inputSize}`, { cell: [v.value.rows, v.value.cols], expected: [batch, inputSize] });
      }
      const outH = Math.ceil(height / wh), outW = Math.ceil(width / ww);
      const pad = g.constant(sharedZeros(batch, inputSize));
      const out: Var[] = [];
      for (let bi = 0; bi < outH; bi++) {
        for (let bj = 0; bj < outW; bj++) {
          const parts: Var[] = [];
          for (let di = 0; di < wh; di++) {
            for (let dj = 0; dj < ww; dj++) {
              const i = bi * wh + di, j = bj * ww + dj;
              parts.push(i < height && j < width ? cells[i * width + j] : pad);
            }
          }
          const merged = parts.length === 1 ? parts[0] : g.concatCols(parts);
          out.push(activate(g, g.linear(merged, params[0], bias ? params[1] : null), activation));
        }
      }
      return { height: outH, width: outW, cells: out };
    },
  };
}
