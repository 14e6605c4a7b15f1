// Seeing the vanishing and exploding gradient. For a model run over T steps of
// random input, gradientFlow measures, for every lag T - k:
//   ‖∂s_T/∂s_k‖₂   the spectral norm of the Jacobian of the final state with
//                  respect to the state k steps in (s = all state vectors
//                  concatenated: h, or (h, c) for LSTM);
//   ‖∂L/∂s_k‖₂     the error signal reaching step k from a loss at the end,
//                  L = ½‖y_T - target‖² with a random target.
// Both come from one reverse pass: the sequence is run as a batch of N + 1
// identical copies (N = state size), row b of the final state gets the
// cotangent e_b and row N the loss's; then the gradient of the state at step k
// holds ∂s_T/∂s_k in its first N rows and ∂L/∂s_k in the last.
// spectralRadius estimates max |λ| of a square matrix from the growth rate of
// repeated products (Gelfand's formula: ‖Mᵏv‖^(1/k) → ρ(M)), which converges
// even when the dominant eigenvalues are a complex pair.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat, shapeOf } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import type { Params } from '../cells/params.js';
import type { RecurrentModel } from './model.js';
import { Unroll, estimateStepBytes } from './unroll.js';
import * as pm from '../mat/math.js';
import { ConfigError, ResourceError, ShapeError } from '../mat/errors.js';

export interface GradientFlowOptions {
  /** T, the number of steps (>= 1). */
  steps: number;
  /** Seed of the random inputs and target (default 0). */
  seed?: number;
  /** Standard deviation of the N(0, σ²) inputs (default 1). */
  inputStd?: number;
  /** Inputs to use instead of random ones: steps x inputSize (one sequence). */
  inputs?: Mat;
  /** Refuse a run whose tape would pass this many bytes (default 2 GiB), before recording it. */
  maxBytes?: number;
}

const GRADIENT_FLOW_OPTIONS_KEYS = keysOf<GradientFlowOptions>({ steps: true, seed: true, inputStd: true, inputs: true, maxBytes: true });

export interface GradientFlowReport {
  steps: number;
  /** N, the size of the concatenated state. */
  stateSize: number;
  /** 0, 1, ..., steps. */
  lags: number[];
  /** ‖∂s_T/∂s_{T-lag}‖₂ per lag (1 at lag 0). */
  jacobianNorm: number[];
  /** ‖∂L/∂s_{T-lag}‖₂ per lag (0 at lag 0: the loss reads y_T, computed inside step T). */
  lossGradNorm: number[];
  /**
   * Growth factor per step of the Jacobian norm: exp of the least-squares slope of
   * log ‖∂s_T/∂s_k‖ against the lag (lags with a zero or non-finite norm left out).
   */
  factorPerStep: number;
}

export function gradientFlow(model: RecurrentModel, options: GradientFlowOptions): GradientFlowReport {
  checkKeys('gradientFlow', options, GRADIENT_FLOW_OPTIONS_KEYS);
  const op = 'gradientFlow';
  const T = checkInt(op, 'steps', options.steps);
  const inputStd = options.inputStd ?? 1;
  if (!(Number.isFinite(inputStd) && inputStd >= 0)) throw new ConfigError(op, `inputStd must be a number >= 0, got ${inputStd}`, { option: 'inputStd', value: inputStd });
  const { cell, params } = model;
  const sizes = cell.stateSizes;
  const N = sizes.reduce((a, b) => a + b, 0);
  const rows = N + 1;
  const rng = new Rng(options.seed ?? 0);
  const given = options.inputs ?? null;
  if (given !== null && (given.rows !== T || given.cols !== cell.inputSize)) {
    throw new ShapeError(op, `inputs are ${shapeOf(given)}, need ${T}x${cell.inputSize} (steps x inputSize)`, { inputs: [given.rows, given.cols], expected: [T, cell.inputSize] });
  }
  // The tape: T steps of N + 1 rows, values and adjoints (plus a copy of the state per step).
  const limit = options.maxBytes ?? 2 ** 31;
  if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError(op, `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
  const bytes = 2 * T * (estimateStepBytes(model, rows) + 8 * rows * N);
  if (bytes > limit) {
    throw new ResourceError(op, `${T} steps of ${rows} rows keep about ${(bytes / 2 ** 20).toFixed(1)} MiB on the tape, over the limit of ${(limit / 2 ** 20).toFixed(1)} MiB (raise maxBytes or lower steps)`, { bytes, limit, steps: T, rows });
  }
  const g = new Graph('reverse');
  const unroll = new Unroll(model, op);
  const paramVars = unroll.leaves(g, { requiresGrad: true });
  const cellParams = unroll.cellParams(paramVars);
  // Every row starts from the same state (zero, or the model's learned one) and sees the same inputs.
  let state: Var[] = sizes.map((size, i) => {
    const m = mat(rows, size);
    if (model.initialState === 'learned') {
      const init = params.mats[model.cellParamCount + i];
      for (let r = 0; r < rows; r++) m.data.set(init.data.subarray(init.offset, init.offset + size), r * size);
    } else if (model.initialState !== 'zero') {
      const fixed = model.initialState[i];
      for (let r = 0; r < rows; r++) m.data.set(fixed.data.subarray(fixed.offset, fixed.offset + size), r * size);
    }
    return g.leaf(m, { requiresGrad: true });
  });
  const history: Var[][] = [state];
  let output: Var | null = null;
  const xRow = new Float64Array(cell.inputSize);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < xRow.length; j++) {
      xRow[j] = given === null ? inputStd * rng.normal() : given.data[given.offset + t * given.cols + j];
    }
    const x = mat(rows, cell.inputSize);
    for (let r = 0; r < rows; r++) x.data.set(xRow, r * cell.inputSize);
    const result = cell.step(g, cellParams, state, g.leaf(x));
    // Copy the new state into fresh nodes: their adjoints are derivatives with respect to the state
    // as the next step's input, with h and c independent (inside the step, LSTM's h depends on c).
    state = result.state.map((v) => g.affine(v, 1, 0));
    output = result.output;
    history.push(state);
  }
  // Cotangents: e_b on row b of the concatenated final state; ∂L/∂y_T on row N of the output.
  const cotangents: Mat[] = [];
  let at = 0;
  for (const size of sizes) {
    const c = mat(rows, size);
    for (let j = 0; j < size; j++) c.data[(at + j) * size + j] = 1;
    cotangents.push(c);
    at += size;
  }
  const y = output!.value;
  const outCot = mat(y.rows, y.cols);
  for (let j = 0; j < y.cols; j++) outCot.data[N * y.cols + j] = y.data[y.offset + N * y.cols + j] - rng.normal();
  g.backward([...state, output!], [...cotangents, outCot]);

  const jac = new Float64Array(N * N);
  const jacobianNorm: number[] = [];
  const lossGradNorm: number[] = [];
  for (let lag = 0; lag <= T; lag++) {
    const vars = history[T - lag];
    let col = 0, lossSq = 0;
    vars.forEach((v, i) => {
      const size = sizes[i];
      const gr = v.grad;
      for (let j = 0; j < size; j++) {
        for (let b = 0; b < N; b++) jac[b * N + col + j] = gr === null ? 0 : gr.data[gr.offset + b * size + j];
        const l = gr === null ? 0 : gr.data[gr.offset + N * size + j];
        lossSq += l * l;
      }
      col += size;
    });
    jacobianNorm.push(spectralNormOf(jac, N, N));
    lossGradNorm.push(Math.sqrt(lossSq));
  }
  return {
    steps: T,
    stateSize: N,
    lags: jacobianNorm.map((_, i) => i),
    jacobianNorm,
    lossGradNorm,
    factorPerStep: growthFactor(jacobianNorm),
  };
}

function growthFactor(norms: readonly number[]): number {
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  norms.forEach((v, lag) => {
    if (!(v > 0 && Number.isFinite(v))) return;
    const y = pm.log(v);
    n++; sx += lag; sy += y; sxx += lag * lag; sxy += lag * y;
  });
  if (n < 2) return NaN;
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return pm.exp(slope);
}

/** Largest singular value of a rows x cols row-major matrix, by power iteration on AᵀA. */
function spectralNormOf(a: Float64Array, rows: number, cols: number, iterations = 100): number {
  const v = new Float64Array(cols), w = new Float64Array(rows);
  // A fixed, not-too-special start: every direction present.
  for (let j = 0; j < cols; j++) v[j] = 1 + 0.01 * j;
  let sigma = 0;
  for (let it = 0; it < iterations; it++) {
    let vn = 0;
    for (let j = 0; j < cols; j++) vn += v[j] * v[j];
    vn = Math.sqrt(vn);
    if (vn === 0 || !Number.isFinite(vn)) return vn === 0 ? 0 : vn;
    for (let j = 0; j < cols; j++) v[j] /= vn;
    let wn = 0;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += a[r * cols + j] * v[j];
      w[r] = s;
      wn += s * s;
    }
    const next = Math.sqrt(wn);
    if (!Number.isFinite(next)) return next;
    if (next === 0) return 0;
    const converged = Math.abs(next - sigma) <= 1e-12 * next;
    sigma = next;
    if (converged) break;
    v.fill(0);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) v[j] += a[r * cols + j] * w[r];
  }
  return sigma;
}

/** ‖m‖₂, the largest singular value. */
export function spectralNorm(m: Mat, iterations = 200): number {
  const dense = m.data.subarray(m.offset, m.offset + m.rows * m.cols);
  return spectralNormOf(dense, m.rows, m.cols, iterations);
}

/** ρ(m) = max |λ| of a square matrix, estimated by Gelfand's formula (see the file comment). */
export function spectralRadius(m: Mat, options: { iterations?: number; seed?: number } = {}): number {
  if (m.rows !== m.cols) throw new ShapeError('spectralRadius', `the matrix is ${shapeOf(m)}, not square`, { shape: [m.rows, m.cols] });
  const n = m.rows, iterations = options.iterations ?? 2000;
  if (!Number.isInteger(iterations) || iterations < 2) throw new ConfigError('spectralRadius', `iterations must be an integer >= 2, got ${iterations}`, { option: 'iterations', value: iterations });
  const rng = new Rng(options.seed ?? 0);
  let v = new Float64Array(n), w = new Float64Array(n);
  for (let j = 0; j < n; j++) v[j] = rng.normal();
  const d = m.data, o = m.offset;
  let logSum = 0, counted = 0;
  for (let it = 0; it < iterations; it++) {
    let norm = 0;
    for (let j = 0; j < n; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    if (!Number.isFinite(norm)) return Infinity;
    for (let j = 0; j < n; j++) v[j] /= norm;
    let grown = 0;
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += d[o + r * n + j] * v[j];
      w[r] = s;
      grown += s * s;
    }
    if (grown === 0) return 0;
    // Average the growth over the second half, after the start vector's other components faded.
    if (it >= iterations / 2) { logSum += 0.5 * pm.log(grown); counted++; }
    const tmp = v; v = w; w = tmp;
  }
  return pm.exp(logSum / counted);
}

export interface BlockSpectrum {
  /** Which block of weight_hh: 'hh' for Elman, i f g o for LSTM, r z n for GRU. */
  block: string;
  radius: number;
  norm: number;
}

/** Spectral radius and norm of each H x H block of the recurrent weights weight_hh. */
export function recurrentSpectrum(params: Params, cellKind: string): BlockSpectrum[] {
  const i = params.specs.findIndex((s) => s.name === 'weight_hh');
  if (i < 0) throw new ConfigError('recurrentSpectrum', `no weight_hh among the parameters (${params.specs.map((s) => s.name).join(', ')})`, { have: params.specs.map((s) => s.name) });
  const { rows, cols } = params.specs[i];
  if (cellKind === 'indrnn' && rows === 1) {
    // IndRNN's weight_hh is the diagonal u of its recurrent matrix diag(u): radius and norm are max |u_k|.
    let max = 0;
    for (let k = 0; k < cols; k++) max = Math.max(max, Math.abs(params.theta[params.offsets[i] + k]));
    return [{ block: 'diag', radius: max, norm: max }];
  }
  const count = rows / cols;
  if (!Number.isInteger(count)) throw new ShapeError('recurrentSpectrum', `weight_hh is ${rows}x${cols}, not a stack of ${cols}x${cols} blocks`, { shape: [rows, cols] });
  const names = cellKind === 'lstm' && count === 4 ? ['i', 'f', 'g', 'o'] : cellKind === 'gru' && count === 3 ? ['r', 'z', 'n'] : null;
  const out: BlockSpectrum[] = [];
  for (let b = 0; b < count; b++) {
    const block: Mat = { rows: cols, cols, data: params.theta, offset: params.offsets[i] + b * cols * cols };
    out.push({ block: names === null ? (count === 1 ? 'hh' : `block${b}`) : names[b], radius: spectralRadius(block), norm: spectralNorm(block) });
  }
  return out;
}
