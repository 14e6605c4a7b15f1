// The one unroll. Every gradient method (Bptt, Tbptt, Rtrl, Forward, and whatever comes next)
// differentiates the same thing, the model's cell stepped over a sequence, and what that thing is
// is written here once:
//   - the parameter leaves: one Var per named matrix of theta, with the mode's leaf options;
//   - the state entering step 0: zero, fixed, learned, or carried over from the previous call;
//   - the step with per-sequence lengths: a row past its sequence's end keeps its old state and
//     emits zero, by selection (never by multiplying with 0), so padding holding NaN cannot leak;
//   - the scatter of the leaves' gradients into one vector laid out like theta.
// A method adds only its way of differentiating: a tape walked back (BPTT), tangents carried (RTRL).
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import type { Cell, ScanResult, StepMasks, StepResult } from '../cells/cell.js';
import { type Mat, clone, mat, rowsView, shapeOf, sharedZeros } from '../mat/mat.js';
import { type RecurrentModel, checkInitialState } from './model.js';
import { LengthMasks } from './packed.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import type { SequenceLoss } from './loss-spec.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** The options every gradient method's run() takes. */
export interface RunOptions {
  /** Sequences in the batch (default 1). xs is time-major: rows [t·batch, (t+1)·batch) are step t. */
  batch?: number;
  /** Length of each sequence of the batch (PyTorch's packed semantics); absent or null: all run every step. */
  lengths?: ArrayLike<number> | null;
  /**
   * The state entering step 0: one matrix per state vector (batch x size, or 1 x size shared by the
   * batch); 'carry': the final state of this method's previous run (the model's rule before any run);
   * absent or null: the model's rule (zero, fixed or learned).
   */
  initialState?: readonly Mat[] | 'carry' | null;
  /**
   * Check that every input a sequence reads (and an explicit initial state) is finite, naming the
   * step and sequence of the first NaN or Inf (default true; padding past a sequence's length is
   * never read and never checked). false skips the O(inputs) scan.
   */
  checkFinite?: boolean;
}

/** What every gradient method's run() returns. */
export interface RunResult {
  /** The loss of the sequence (every step term and the final term). */
  loss: number;
  /** d loss / d theta, laid out like model.params.theta (an estimate for approximate methods). */
  grad: Float64Array;
  /** The state after the last step, one batch x size matrix per state vector (each sequence's own last step). */
  finalState: Mat[];
}

/** The contract of a gradient method: one model, run over whole sequences. */
export interface GradientMethod {
  readonly model: RecurrentModel;
  run(xs: Mat, loss: SequenceLoss, options?: RunOptions): RunResult;
}

/** A sequence as a method sees it once its input and options have been checked. */
export interface Sequence {
  readonly batch: number;
  /** Steps in xs; for a stream of unknown length, the longest of the lengths (or 0 without lengths). */
  readonly steps: number;
  /** null: every row runs every step. */
  readonly masks: LengthMasks | null;
  /** The state entering step 0 given explicitly (or carried over), or null for the model's rule. */
  readonly initial: readonly Mat[] | null;
  /** Whether inputs are checked for NaN and Inf. */
  readonly checkFinite: boolean;
}

const NO_LEAF_OPTIONS: LeafOptions = {};

/** The keys every method's run options accept. */
export const RUN_OPTIONS = keysOf<RunOptions>({ batch: true, lengths: true, initialState: true, checkFinite: true });

export class Unroll {
  readonly model: RecurrentModel;
  /** The method's name, for errors: `bptt: ...`. */
  readonly op: string;
  private masksCache: LengthMasks | null = null;
  /** What initialState 'carry' continues from: the method's current or last final state (a copy), or null before any. */
  private readonly carried: () => readonly Mat[] | null;

  constructor(model: RecurrentModel, op: string, carried: () => readonly Mat[] | null = () => null) {
    this.model = model;
    this.op = op;
    this.carried = carried;
  }

  /** Checks a whole sequence xs (time-major) and the run options (`accepted`: RUN_OPTIONS and a method's own) against the model. */
  sequence(xs: Mat, options: RunOptions = {}, accepted: readonly string[] = RUN_OPTIONS): Sequence {
    const { op, model } = this;
    const { batch, initial, checkFinite } = this.common(options, accepted);
    if (xs.cols !== model.cell.inputSize) {
      throw new ShapeError(op, `input is ${shapeOf(xs)} but the cell takes ${model.cell.inputSize} features per step`, { xs: [xs.rows, xs.cols], inputSize: model.cell.inputSize });
    }
    if (xs.rows % batch !== 0) {
      throw new ShapeError(op, `input has ${xs.rows} rows, not a multiple of batch ${batch} (rows are time-major: step t is rows [t*batch, (t+1)*batch))`, { xs: [xs.rows, xs.cols], batch });
    }
    const steps = xs.rows / batch;
    if (steps === 0) throw new ShapeError(op, `the sequence is empty (input ${shapeOf(xs)})`, { xs: [xs.rows, xs.cols] });
    const masks = this.masksFor(options.lengths, batch, steps);
    if (checkFinite) checkFiniteInputs(op, xs, batch, 0, masks);
    return { batch, steps, masks, initial, checkFinite };
  }

  /**
   * Checks the options of a stream fed step by step (online methods). With lengths, sequence b is
   * active at steps t < lengths[b] and frozen after; the stream may run past the longest.
   */
  stream(options: RunOptions = {}): Sequence {
    const { batch, initial, checkFinite } = this.common(options, RUN_OPTIONS);
    const lengths = options.lengths ?? null;
    let steps = 0;
    if (lengths !== null) {
      for (let b = 0; b < lengths.length; b++) steps = Math.max(steps, Number(lengths[b]));
      if (!Number.isInteger(steps) || steps < 1) throw new ShapeError(this.op, `lengths must be positive integers, got [${Array.from(lengths).join(', ')}]`, { lengths: Array.from(lengths) });
    }
    return { batch, steps, masks: this.masksFor(lengths, batch, steps), initial, checkFinite };
  }

  // What a whole sequence and a stream check alike: the option keys, the batch, an explicit initial state.
  private common(options: RunOptions, accepted: readonly string[]): { batch: number; initial: readonly Mat[] | null; checkFinite: boolean } {
    checkKeys(this.op, options, accepted);
    const batch = checkBatch(this.op, options.batch ?? 1);
    const checkFinite = options.checkFinite !== false;
    const initial = this.initialFor(options.initialState, batch);
    if (checkFinite && initial !== null && options.initialState !== 'carry') {
      initial.forEach((m, i) => checkFiniteState(this.op, this.model.cell.stateNames[i], m));
    }
    return { batch, initial, checkFinite };
  }

  /** Checks one step's input of a stream (x is batch x inputSize, step t) unless the stream skips the check. */
  checkStep(seq: Sequence, x: Mat, t: number): void {
    if (seq.checkFinite) checkFiniteInputs(this.op, x, seq.batch, t, seq.masks);
  }

  private masksFor(lengths: ArrayLike<number> | null | undefined, batch: number, steps: number): LengthMasks | null {
    if (lengths === undefined || lengths === null) return null;
    if (lengths.length !== batch) throw new ShapeError(this.op, `${lengths.length} lengths for a batch of ${batch} sequences`, { lengths: lengths.length, batch });
    if (this.masksCache === null || !this.masksCache.matches(lengths, steps)) this.masksCache = new LengthMasks(lengths, steps, this.op);
    return this.masksCache.allFull ? null : this.masksCache;
  }

  private initialFor(given: RunOptions['initialState'], batch: number): readonly Mat[] | null {
    if (given === undefined || given === null) return null;
    if (given === 'carry') {
      const carried = this.carried();
      if (carried !== null && carried.length > 0 && carried[0].rows !== batch) {
        throw new ShapeError(this.op, `initialState 'carry' holds a batch of ${carried[0].rows} sequences, this run has ${batch}`, { carried: carried[0].rows, batch });
      }
      return carried;
    }
    checkInitialState(this.op, this.model.cell, given, batch);
    return given;
  }

  /** One leaf per parameter matrix, in theta's order; `leafOptions` per matrix or one for all. */
  leaves(g: Graph, leafOptions: LeafOptions | readonly LeafOptions[] = NO_LEAF_OPTIONS, into: Var[] = []): Var[] {
    return paramLeaves(g, this.model.params.mats, leafOptions, into);
  }

  /** The cell's own leaves (the leading entries; a learned initial state follows them). */
  cellParams(paramVars: readonly Var[]): readonly Var[] {
    const count = this.model.cellParamCount;
    return paramVars.length === count ? paramVars : paramVars.slice(0, count);
  }

  /**
   * The Vars of the state entering step 0 for a batch: `initial` when given (leaves that require a
   * gradient when asked), else the model's rule; a learned state reads its parameter leaves.
   */
  initialState(g: Graph, batch: number, paramVars: readonly Var[], initial: readonly Mat[] | null, requiresGrad = false): Var[] {
    const { model } = this;
    const { cell } = model;
    const source = initial ?? model.initialState;
    // The model's own fixed state meets this batch only here.
    if (initial === null && Array.isArray(source)) checkInitialState(this.op, cell, source, batch);
    return cell.stateSizes.map((size, i) => {
      if (source === 'zero') return g.constant(sharedZeros(batch, size));
      if (source === 'learned') return g.addRow(g.constant(sharedZeros(batch, size)), paramVars[model.cellParamCount + i]);
      const m = source[i];
      if (m.rows === batch) return g.leaf(m, { requiresGrad });
      return g.addRow(g.constant(sharedZeros(batch, size)), g.leaf(m, { requiresGrad }));
    });
  }

  /**
   * Step t of the cell. With masks, rows past their sequence's end read zeros instead of their
   * padding, keep their old state and emit zeros: out_t = keep_t ? output_t : 0 and
   * state_t = keep_t ? step(state_{t-1}, x̃_t) : state_{t-1}, row by row, by selection.
   * Steps at or past masks.steps have no active row.
   */
  step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var, t: number, masks: StepMasks | null): StepResult {
    return maskedStep(g, this.model.cell, params, state, x, t, masks);
  }

  /** The cell over a whole sequence (one batch x inputSize Var per step): its own scan, or stepped in order. */
  scan(g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult {
    return scanCell(g, this.model.cell, params, xs, initial, masks);
  }

  /** The input leaves of a time-major sequence, one batch-row view per step. */
  inputs(g: Graph, xs: Mat, seq: Sequence, requiresGrad = false): Var[] {
    const out: Var[] = [];
    for (let t = 0; t < seq.steps; t++) out.push(g.leaf(rowsView(xs, t * seq.batch, seq.batch), requiresGrad ? { requiresGrad } : NO_LEAF_OPTIONS));
    return out;
  }

  /** Writes each leaf's gradient into grad at its parameter's offset (a leaf without one leaves zeros). */
  scatter(paramVars: readonly Var[], grad: Float64Array): void {
    scatterGrads(this.model.params.offsets, paramVars, grad);
  }
}

/** One leaf per parameter matrix; `leafOptions` per matrix or one for all. `into` is reused. */
export function paramLeaves(g: Graph, mats: readonly Mat[], leafOptions: LeafOptions | readonly LeafOptions[] = NO_LEAF_OPTIONS, into: Var[] = []): Var[] {
  into.length = 0;
  for (let i = 0; i < mats.length; i++) into.push(g.leaf(mats[i], Array.isArray(leafOptions) ? leafOptions[i] : leafOptions as LeafOptions));
  return into;
}

/**
 * One step of a cell run for values on a scratch graph, from a zero state with zero parameters of
 * the cell's shapes: the bytes of the values it computes (what a tape keeps per step, and what
 * forward mode multiplies by its directions) and the nodes it records. Any cell, a stack with its
 * own scan included; a stack's dropout is switched off for the probe, so it draws no mask.
 * Without `paramMats` (the cell's own matrices, when a model has them) it allocates zero
 * parameters once: callers with a huge cell check its size first.
 */
export function probeCellStep(cell: Cell, batch: number, paramMats?: readonly Mat[]): { bytes: number; nodes: number } {
  const g = new Graph('eval');
  const params = cell.paramSpecs.map((s, i) => g.constant(paramMats?.[i] ?? mat(s.rows, s.cols)));
  const state = cell.stateSizes.map((size) => g.constant(sharedZeros(batch, size)));
  const x = g.constant(sharedZeros(batch, cell.inputSize));
  const before = g.size;
  const switchable = cell as { training?: boolean };
  const training = switchable.training;
  if (training !== undefined) switchable.training = false;
  try {
    scanCell(g, cell, params, [x], state, null);
  } finally {
    if (training !== undefined) switchable.training = training;
  }
  return { bytes: g.recordedBytes(), nodes: g.size - before };
}

/** Bytes of the values one step of the model computes for a batch (probeCellStep). */
export function estimateStepBytes(model: RecurrentModel, batch: number): number {
  return probeCellStep(model.cell, batch, model.params.mats).bytes;
}

/** Whether sequence b runs at step t (masks null: every sequence runs every step). */
export function isActive(masks: StepMasks | null, t: number, b: number): boolean {
  if (masks === null) return true;
  if (t >= masks.steps) return false;
  const keep = masks.keep[t];
  return keep.data[keep.offset + b] !== 0;
}

/** Writes each leaf's gradient (reverse mode) into grad at offsets[i]; leaves without a gradient get zeros. */
export function scatterGrads(offsets: readonly number[], paramVars: readonly Var[], grad: Float64Array): void {
  for (let i = 0; i < paramVars.length; i++) {
    const v = paramVars[i], n = v.value.rows * v.value.cols, at = offsets[i];
    if (v.grad === null) grad.fill(0, at, at + n);
    else grad.set(v.grad.data.subarray(v.grad.offset, v.grad.offset + n), at);
  }
}

/** The gradients of equally shaped leaves (one per step or grid position), laid end to end in out; zero where a leaf has none. */
export function gatherGrads(vars: readonly Var[], out: Mat): Mat {
  let at = out.offset;
  for (const v of vars) {
    const n = v.value.rows * v.value.cols;
    if (v.grad !== null) out.data.set(v.grad.data.subarray(v.grad.offset, v.grad.offset + n), at);
    at += n;
  }
  return out;
}

/** Each leaf's gradient copied into its own matrix (outs[i], shaped as vars[i]); zero where a leaf has none. */
export function readGrads(vars: readonly Var[], outs: readonly Mat[]): void {
  for (let i = 0; i < vars.length; i++) {
    const v = vars[i], out = outs[i], n = out.rows * out.cols;
    if (v.grad === null) out.data.fill(0, out.offset, out.offset + n);
    else out.data.set(v.grad.data.subarray(v.grad.offset, v.grad.offset + n), out.offset);
  }
}

/** An online step's loss: its step term, plus the final term on the `last` step, as one 1x1 Var (null when there is none). */
export function stepLossTerm(g: Graph, op: string, loss: SequenceLoss, t: number, output: Var, state: readonly Var[], last: boolean): Var | null {
  let total = loss.step?.(g, t, output, state) ?? null;
  if (last) {
    const finalTerm = loss.final?.(g, state) ?? null;
    if (finalTerm !== null) total = total === null ? finalTerm : g.add(total, finalTerm);
  }
  if (total !== null && (total.value.rows !== 1 || total.value.cols !== 1)) {
    throw new ShapeError(op, `a loss term must be 1x1, got ${shapeOf(total.value)}`, { term: [total.value.rows, total.value.cols] });
  }
  return total;
}

/** The sum of a run's loss terms as one 1x1 Var (null when there are none). */
export function sumTerms(g: Graph, op: string, terms: readonly Var[]): Var | null {
  if (terms.length === 0) return null;
  let total = terms[0];
  for (let i = 1; i < terms.length; i++) total = g.add(total, terms[i]);
  if (total.value.rows !== 1 || total.value.cols !== 1) throw new ShapeError(op, `a loss term must be 1x1, got ${shapeOf(total.value)}`, { term: [total.value.rows, total.value.cols] });
  return total;
}

/** Fresh copies of a state's values. */
export function stateValues(state: readonly Var[]): Mat[] {
  return state.map((v) => clone(v.value));
}

/** Copies a state's values into matrices of the same shapes (checked: a cell that returns the wrong shape is named). */
export function copyState(op: string, cell: Cell, state: readonly Var[], into: readonly Mat[]): void {
  if (state.length !== into.length) throw new ShapeError(op, `${cell.kind} returned ${state.length} state vectors, its stateSizes has ${into.length}`, { found: state.length, expected: into.length });
  for (let i = 0; i < into.length; i++) {
    const v = state[i].value, m = into[i], n = m.rows * m.cols;
    if (v.rows !== m.rows || v.cols !== m.cols) {
      throw new ShapeError(op, `${cell.kind} state ${cell.stateNames[i]} is ${shapeOf(v)}, expected ${shapeOf(m)}`, { state: cell.stateNames[i], found: [v.rows, v.cols], expected: [m.rows, m.cols] });
    }
    m.data.set(v.data.subarray(v.offset, v.offset + n), m.offset);
  }
}

/**
 * The first NaN or Inf among the rows a sequence reads: xs is time-major with `batch` rows per
 * step, its first step being step `firstStep`; rows masked out (past their sequence's end) are skipped.
 */
export function checkFiniteInputs(op: string, xs: Mat, batch: number, firstStep: number, masks: StepMasks | null): void {
  const { data, offset, cols } = xs;
  const end = offset + xs.rows * cols;
  for (let i = offset; i < end; i++) {
    const v = data[i];
    if (v - v === 0) continue; // finite: NaN - NaN and Inf - Inf are NaN
    const row = Math.floor((i - offset) / cols), t = firstStep + Math.floor(row / batch), b = row % batch;
    if (!isActive(masks, t, b)) continue;
    throw new ConfigError(op, `input at step ${t}, sequence ${b}, feature ${(i - offset) % cols} is ${v} (inputs must be finite; pass checkFinite: false to skip this check)`, { step: t, sequence: b, value: v });
  }
}

function checkFiniteState(op: string, name: string, m: Mat): void {
  const n = m.rows * m.cols;
  for (let i = 0; i < n; i++) {
    const v = m.data[m.offset + i];
    if (v - v !== 0) throw new ConfigError(op, `initial ${name} holds ${v} at row ${Math.floor(i / m.cols)}, column ${i % m.cols} (it must be finite)`, { name, value: v });
  }
}

export function checkBatch(op: string, batch: unknown): number {
  return checkInt(op, 'batch', batch);
}

/** See Unroll.step. */
export function maskedStep(g: Graph, cell: Cell, params: readonly Var[], state: readonly Var[], x: Var, t: number, masks: StepMasks | null): StepResult {
  if (masks === null || (t < masks.steps && masks.full[t])) return cell.step(g, params, state, x);
  const rows = x.value.rows;
  if (t >= masks.steps || masks.empty[t]) {
    // Nobody is active: the state carries over and the output is zero.
    return { state: state.slice(), output: g.constant(sharedZeros(rows, cell.outputSize)) };
  }
  const keep = g.constant(masks.keep[t]);
  const xActive = g.selectRows(keep, x, g.constant(sharedZeros(rows, x.value.cols)));
  const result = cell.step(g, params, state, xActive);
  return {
    output: zeroPastEnd(g, result.output, t, masks),
    state: result.state.map((s, k) => g.selectRows(keep, s, state[k])),
  };
}

/** An output at step t with the rows of finished sequences set to zero (by selection), as the unroll's step emits it. */
export function zeroPastEnd(g: Graph, y: Var, t: number, masks: StepMasks | null): Var {
  if (masks === null || (t < masks.steps && masks.full[t])) return y;
  const zeros = g.constant(sharedZeros(y.value.rows, y.value.cols));
  return t >= masks.steps || masks.empty[t] ? zeros : g.selectRows(g.constant(masks.keep[t]), y, zeros);
}

/**
 * Runs `cell` over xs (one batch x inputSize Var per step) from `initial`, recording every step on
 * g, in any graph mode: the cell's own scan when it has one, else its step in order (from the last
 * step to the first with `reverse`, each sequence starting at its own last step).
 */
export function scanCell(
  g: Graph, cell: Cell, params: readonly Var[], xs: readonly Var[], initial: readonly Var[],
  masks: StepMasks | null = null, reverse = false,
): ScanResult {
  const steps = xs.length;
  if (steps === 0) throw new ShapeError('scan', `the sequence is empty (${cell.kind})`);
  if (params.length !== cell.paramSpecs.length) throw new ShapeError('scan', `${cell.kind} has ${cell.paramSpecs.length} parameters, ${params.length} given`, { expected: cell.paramSpecs.length, found: params.length });
  if (initial.length !== cell.stateSizes.length) throw new ShapeError('scan', `${cell.kind} has ${cell.stateSizes.length} state vectors, ${initial.length} given`, { expected: cell.stateSizes.length, found: initial.length });
  if (masks !== null && masks.steps !== steps) throw new ShapeError('scan', `masks cover ${masks.steps} steps but the sequence has ${steps}`, { masks: masks.steps, steps });
  if (cell.scan !== undefined && !reverse) return cell.scan(g, params, xs, initial, masks);
  const outputs: Var[] = new Array<Var>(steps);
  const states: Var[][] = new Array<Var[]>(steps);
  let state: readonly Var[] = initial;
  for (let i = 0; i < steps; i++) {
    const t = reverse ? steps - 1 - i : i;
    const result = maskedStep(g, cell, params, state, xs[t], t, masks);
    outputs[t] = result.output;
    states[t] = result.state;
    state = result.state;
  }
  return { outputs, states, final: state.slice() };
}
