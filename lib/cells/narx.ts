// NARX network (nonlinear autoregressive with exogenous inputs):
//   y_t = g(V · f(Σ_{k=0..p} A_k x_{t-k} + Σ_{k=1..q} B_k y_{t-k} + b) + c)
// a one-hidden-layer perceptron over a tapped delay line of the exogenous
// input (x_t ... x_{t-p}) and of past outputs (y_{t-1} ... y_{t-q}).
//
// Both delay lines are the cell's state, so BPTT and RTRL apply. Which past
// outputs are fed back is the `feedback` option; the parameters are the same
// either way, so one theta can be trained one way and run the other:
//   'closed'  (parallel / closed loop): the model's own outputs. Training
//             then goes through the loop; running it forecasts.
//   'teacher' (series-parallel / open loop, teacher forcing): the true
//             outputs. The cell's input is [x_t, d_{t-1}] (inputSize + outputSize
//             columns), d_{t-1} the desired output of the previous step
//             (see teacherInputs); no gradient flows around the loop.
//
// Parameters: weight_x (hidden x (p+1)·inputSize, absent when inputSize is 0),
// weight_y (hidden x q·outputSize), bias_h, weight_out (output x hidden),
// bias_out. Column block k of weight_x multiplies x_{t-k}; block k-1 of
// weight_y multiplies y_{t-k}.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat, rowsView, shapeOf } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Activation, type Cell, activate, checkActivation } from './cell.js';
import type { ParamSpec } from './params.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export interface NarxOptions {
  /** Exogenous inputs per step (0: a purely autoregressive model). */
  inputSize: number;
  outputSize: number;
  hiddenSize: number;
  /** p: the model sees x_t ... x_{t-p} (default 0: x_t alone). */
  inputDelays?: number;
  /** q >= 1: the model sees y_{t-1} ... y_{t-q}. */
  outputDelays: number;
  /** f (default tanh). */
  activation?: Activation;
  /** g (default identity). */
  outputActivation?: Activation;
  /** 'closed' (default) or 'teacher' (see above). */
  feedback?: 'closed' | 'teacher';
}

export interface NarxCell extends Cell {
  readonly kind: 'narx';
  readonly feedback: 'closed' | 'teacher';
  /** The exogenous input size (inputSize also counts d_{t-1} under teacher forcing). */
  readonly exogenousSize: number;
  readonly inputDelays: number;
  readonly outputDelays: number;
  /** Index in stateSizes of the input delay line (-1 when there is none). */
  readonly inputLine: number;
  /** Index in stateSizes of the output delay line (-1 when there is none). */
  readonly outputLine: number;
}

const NARX_OPTIONS = keysOf<NarxOptions>({ inputSize: true, outputSize: true, hiddenSize: true, inputDelays: true, outputDelays: true, activation: true, outputActivation: true, feedback: true });

export function narx(options: NarxOptions): NarxCell {
  checkKeys('narx', options, NARX_OPTIONS);
  const op = 'narx';
  const I = checkInt(op, 'inputSize', options.inputSize, 0);
  const O = checkInt(op, 'outputSize', options.outputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const p = checkInt(op, 'inputDelays', options.inputDelays ?? 0, 0);
  const q = checkInt(op, 'outputDelays', options.outputDelays);
  const activation = checkActivation(op, options.activation ?? 'tanh', ['tanh', 'relu', 'sigmoid', 'identity']);
  const outputActivation = checkActivation(op, options.outputActivation ?? 'identity', ['tanh', 'relu', 'sigmoid', 'identity']);
  const feedback = options.feedback ?? 'closed';
  if (feedback !== 'closed' && feedback !== 'teacher') throw new ConfigError('narx', `feedback must be 'closed' or 'teacher', got ${JSON.stringify(feedback)}`, { option: 'feedback', value: feedback });
  const teacher = feedback === 'teacher';
  const specs: ParamSpec[] = [];
  if (I > 0) specs.push({ name: 'weight_x', rows: H, cols: (p + 1) * I, role: 'weight' });
  specs.push(
    { name: 'weight_y', rows: H, cols: q * O, role: 'weight' },
    { name: 'bias_h', rows: 1, cols: H, role: 'bias' },
    { name: 'weight_out', rows: O, cols: H, role: 'weight' },
    { name: 'bias_out', rows: 1, cols: O, role: 'bias' },
  );
  // Delay lines: x_{t-1..t-p} (p·I) and the fed-back outputs not carried by the input:
  // closed: y_{t-1..t-q} (q·O); teacher: d_{t-2..t-q} ((q-1)·O), d_{t-1} arriving with x_t.
  const xLine = I > 0 && p > 0 ? p * I : 0;
  const yLine = teacher ? (q - 1) * O : q * O;
  const stateSizes: number[] = [], stateNames: string[] = [];
  let inputLine = -1, outputLine = -1;
  if (xLine > 0) { inputLine = stateSizes.length; stateSizes.push(xLine); stateNames.push('x_delay'); }
  if (yLine > 0) { outputLine = stateSizes.length; stateSizes.push(yLine); stateNames.push('y_delay'); }
  const base = I > 0 ? 1 : 0;
  return {
    kind: 'narx',
    feedback,
    exogenousSize: I,
    inputDelays: p,
    outputDelays: q,
    inputLine,
    outputLine,
    inputSize: teacher ? I + O : I,
    stateSizes,
    stateNames,
    outputSize: O,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var) {
      const wY = params[base], bH = params[base + 1], wOut = params[base + 2], bOut = params[base + 3];
      const next: Var[] = [];
      const xNow = teacher ? (I > 0 ? g.sliceCols(x, 0, I) : null) : (I > 0 ? x : null);
      // [y_{t-1} ... y_{t-q}]: the fed-back outputs this step sees.
      let yWindow: Var;
      if (teacher) {
        const dPrev = g.sliceCols(x, I, O);
        yWindow = yLine > 0 ? g.concatCols([dPrev, state[outputLine]]) : dPrev;
      } else {
        yWindow = state[outputLine];
      }
      let pre = g.linear(yWindow, wY, bH);
      if (xNow !== null) {
        const xWindow = xLine > 0 ? g.concatCols([xNow, state[inputLine]]) : xNow;
        pre = g.add(pre, g.linear(xWindow, params[0]));
        if (xLine > 0) next.push(g.sliceCols(xWindow, 0, xLine));
      }
      const y = activate(g, g.linear(activate(g, pre, activation), wOut, bOut), outputActivation);
      if (yLine > 0) {
        if (teacher) next.push(g.sliceCols(yWindow, 0, yLine));
        else next.push(q > 1 ? g.concatCols([y, g.sliceCols(yWindow, 0, (q - 1) * O)]) : y);
      }
      return { state: next, output: y };
    },
    init(mats: readonly Mat[], rng: Rng) {
      // U(±1/√fan_in) per layer: the hidden layer's fan-in is both delay lines, the read-out's is H.
      const hiddenFanIn = (I > 0 ? (p + 1) * I : 0) + q * O;
      mats.forEach((m, i) => {
        const bound = 1 / Math.sqrt(i < base + 2 ? hiddenFanIn : H);
        uniformInit(m, rng, -bound, bound);
      });
    },
  };
}

/**
 * Inputs for teacher forcing: row block t is [x_t, d_{t-1}] with d the
 * desired outputs (time-major (T·batch) x outputSize) and d_{-1} taken from
 * `first` (batch x outputSize; default zeros).
 */
export function teacherInputs(xs: Mat, targets: Mat, batch: number, first: Mat | null = null): Mat {
  const I = xs.cols, O = targets.cols;
  checkInt('teacherInputs', 'batch', batch);
  if (xs.rows !== targets.rows || xs.rows % batch !== 0) {
    throw new ShapeError('teacherInputs', `inputs ${shapeOf(xs)} and targets ${shapeOf(targets)} need the same number of rows, a multiple of batch ${batch}`, { xs: [xs.rows, xs.cols], targets: [targets.rows, targets.cols], batch });
  }
  if (first !== null && (first.rows !== batch || first.cols !== O)) {
    throw new ShapeError('teacherInputs', `first is ${shapeOf(first)}, needs ${batch}x${O}`, { first: [first.rows, first.cols], expected: [batch, O] });
  }
  const out = mat(xs.rows, I + O);
  for (let r = 0; r < xs.rows; r++) {
    for (let c = 0; c < I; c++) out.data[r * (I + O) + c] = xs.data[xs.offset + r * I + c];
    const prev = r - batch;
    for (let c = 0; c < O; c++) {
      out.data[r * (I + O) + I + c] = prev >= 0
        ? targets.data[targets.offset + prev * O + c]
        : first === null ? 0 : first.data[first.offset + r * O + c];
    }
  }
  return out;
}

/**
 * The state that a NARX cell would hold after seeing a history: the last p
 * inputs and the last q (closed) or q-1 (teacher) outputs, most recent first,
 * zeros where the history is shorter. pastX: (Tx·batch) x inputSize,
 * pastY: (Ty·batch) x outputSize, time-major. Use it as the initial state to
 * forecast from the end of a known series.
 */
export function narxState(cell: NarxCell, batch: number, pastX: Mat | null, pastY: Mat): Mat[] {
  const I = cell.exogenousSize, O = cell.outputSize;
  const fill = (line: number, past: Mat | null, size: number, skip: number): Mat => {
    const out = mat(batch, cell.stateSizes[line]);
    const slots = cell.stateSizes[line] / size;
    if (past === null) return out;
    if (past.cols !== size || past.rows % batch !== 0) throw new ShapeError('narxState', `history ${shapeOf(past)} needs ${size} columns and a multiple of batch ${batch} rows`, { past: [past.rows, past.cols], size, batch });
    const T = past.rows / batch;
    for (let k = 0; k < slots; k++) {
      const t = T - 1 - skip - k; // slot k holds the (k + skip + 1)-th most recent step
      if (t < 0) break;
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < size; c++) out.data[b * slots * size + k * size + c] = past.data[past.offset + (t * batch + b) * size + c];
      }
    }
    return out;
  };
  const state: Mat[] = [];
  // The input line holds x_{t-1} ... x_{t-p} for the next step t: the last p inputs.
  if (cell.inputLine >= 0) state.push(fill(cell.inputLine, pastX, I, 0));
  // Closed: y_{t-1} ... y_{t-q}. Teacher: d_{t-2} ... (d_{t-1} arrives with the input), so skip one.
  if (cell.outputLine >= 0) state.push(fill(cell.outputLine, pastY, O, cell.feedback === 'teacher' ? 1 : 0));
  return state;
}

/**
 * Runs a NARX cell (any cell, in fact) for values only from `initialState`
 * over xs ((T·batch) x inputSize; for a purely autoregressive cell pass
 * `steps` and a 0-column xs or null): the closed-loop forecast.
 */
export function runClosedLoop(cell: Cell, params: readonly Mat[], initialState: readonly Mat[], xs: Mat | null, batch: number, steps?: number): Mat {
  if (initialState.length !== cell.stateSizes.length) {
    throw new ShapeError('runClosedLoop', `${cell.kind} has ${cell.stateSizes.length} state vectors, ${initialState.length} given`, { expected: cell.stateSizes.length, found: initialState.length });
  }
  if (cell.inputSize > 0 && xs === null) throw new ShapeError('runClosedLoop', `${cell.kind} takes ${cell.inputSize} inputs per step but xs is null`, { inputSize: cell.inputSize });
  if (xs !== null && (xs.cols !== cell.inputSize || xs.rows % batch !== 0)) {
    throw new ShapeError('runClosedLoop', `input ${shapeOf(xs)} needs ${cell.inputSize} columns and a multiple of batch ${batch} rows`, { xs: [xs.rows, xs.cols], batch });
  }
  const T = steps ?? (xs !== null && xs.cols > 0 ? xs.rows / batch : NaN);
  if (!Number.isInteger(T) || T < 1) throw new ConfigError('runClosedLoop', `steps must be a positive integer, got ${String(steps)}`, { option: 'steps', value: steps });
  if (xs !== null && xs.cols > 0 && xs.rows / batch < T) throw new ShapeError('runClosedLoop', `${T} steps but the input has ${xs.rows / batch}`, { steps: T, available: xs.rows / batch });
  const out = mat(T * batch, cell.outputSize);
  const g = new Graph('eval');
  const state = initialState.map((m) => { const c = mat(m.rows, m.cols); c.data.set(m.data.subarray(m.offset, m.offset + m.rows * m.cols)); return c; });
  const empty = mat(batch, 0);
  for (let t = 0; t < T; t++) {
    g.reset();
    const x = xs !== null && xs.cols > 0 ? rowsView(xs, t * batch, batch) : empty;
    const r = cell.step(g, params.map((m) => g.leaf(m)), state.map((m) => g.leaf(m)), g.leaf(x));
    r.state.forEach((v, i) => state[i].data.set(v.value.data.subarray(v.value.offset, v.value.offset + v.value.rows * v.value.cols)));
    out.data.set(r.output.value.data.subarray(r.output.value.offset, r.output.value.offset + batch * cell.outputSize), t * batch * cell.outputSize);
  }
  return out;
}
