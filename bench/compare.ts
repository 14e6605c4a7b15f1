// The measuring engine behind `loopgrad compare`: BPTT and RTRL on the same
// cell, the same parameters and the same data, over a grid of hidden sizes and
// sequence lengths. For every (method, hidden, steps) it records the median
// wall time of one sequence (forward + gradient), the flops the engine counted
// itself (flopCounter), the bytes the method keeps alive for its gradient
// (BPTT: the tape's activations; RTRL: the sensitivity matrices S), the
// process heap, and how far the two methods' gradients are apart. Then it
// fits power laws on log-log data and sets them beside the theory.
// With threads > 1 the methods that take threads (bptt, tbptt, rtrl, snapN with N >= 2) run on that many, the others
// on one; flops and the gradient memory are then those of a one-thread run of the same method
// (each thread counts its own work and keeps its own block), and the heap is this thread's.
//
// Node-only (it reads process.memoryUsage and may force a GC); lib/ stays clean.

import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Cell } from '../lib/cells/cell.js';
import { CELL_KINDS, type CellKind, cellGates, createCell, isCellKind } from '../lib/cells/registry.js';
import { flopCounter } from '../lib/mat/gemm.js';
import { type Mat, mat, rowsView } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { modelFromSpec } from '../lib/parallel/model-spec.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Snap } from '../lib/rnn/snap.js';
import { type MethodKind, type MethodSpec, THREADED_METHODS, createMethod, formatMethod, parseMethod, takesThreads } from '../lib/rnn/methods.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import type { RecurrentModel } from '../lib/rnn/model.js';
import { type GradientMethod, probeCellStep } from '../lib/rnn/unroll.js';
import { type Panel, type ReferenceLine, type Series, renderSvg } from './svg.js';

export interface CompareConfig {
  cell: CellKind;
  /** Gradient methods in their text forms (lib/rnn/methods.ts: bptt, rtrl, tbptt:K, tbptt:K1:K2, snap1, uoro ...). */
  methods: string[];
  /** Hidden sizes n (ascending, distinct). */
  hidden: number[];
  /** Sequence lengths T (ascending, distinct). */
  steps: number[];
  input: number;
  batch: number;
  /** Timed samples per row; the median is reported. */
  repeats: number;
  seed: number;
  /** Refuse configurations estimated to need more than this (bytes). */
  memoryLimitBytes: number;
  /** Run even over the limit. */
  allowLarge: boolean;
  /** Threads of the methods that take them (bptt, tbptt, rtrl, snapN with N >= 2: createMethod's threads); the others run on one. Default 1. */
  threads?: number;
}

export const defaultCompareConfig: Readonly<CompareConfig> = Object.freeze<CompareConfig>({
  cell: 'elman',
  methods: ['bptt', 'rtrl'],
  hidden: [8, 16, 32, 64],
  steps: [25, 50, 100, 200],
  input: 8,
  batch: 1,
  repeats: 3,
  seed: 1,
  memoryLimitBytes: 2 * 1024 ** 3,
  allowLarge: false,
  threads: 1,
});

export interface CompareRow {
  method: string;
  cell: CellKind;
  hidden: number;
  steps: number;
  /** P, the number of parameters. */
  params: number;
  /** Threads the method ran on: up to config.threads for those that take threads (bptt and tbptt: one per sequence at most); 1 for the others. */
  threads: number;
  /** Median wall time of one sequence: forward pass and gradient. */
  msPerSequence: number;
  msPerStep: number;
  /** Floating-point operations of one sequence, counted by the engine (flopCounter; with threads, by a one-thread run). */
  flops: number;
  /** Bytes kept alive for the gradient: BPTT's tape activations, RTRL's sensitivities S (with threads, as one thread keeps them). */
  stateBytes: number;
  /** Peak process heap seen during the row: V8 heapUsed + ArrayBuffer backing stores (this thread's: workers have their own heaps). */
  heapBytes: number;
  /** max |g - g_exact| / max(|g|∞, |g_exact|∞) against the exact gradient (full BPTT's; bptt rows: against RTRL's, null if none ran). */
  gradRelDiff: number | null;
  /** Cosine similarity of this method's gradient with the exact one (1: same direction); null as gradRelDiff. */
  gradCosine: number | null;
}

export interface ExponentFit {
  /** Least-squares slope on log-log data (null: fewer than two distinct sizes). */
  measured: number | null;
  theory: number;
}

export interface MethodFits {
  timeVsHidden: ExponentFit;
  timeVsSteps: ExponentFit;
  memoryVsHidden: ExponentFit;
  memoryVsSteps: ExponentFit;
}

export interface CompareResult {
  config: CompareConfig & { params: Record<number, number>; heapMeasure: string; timeMeasure: string; loss: string };
  rows: CompareRow[];
  fits: Partial<Record<string, MethodFits>>;
}

/**
 * Theoretical exponents of time per sequence and of the gradient memory.
 * RTRL: T·n⁴ time (n²·P per step, P ~ n²), n·P ~ n³ memory, flat in T.
 * BPTT: T·n² time, T·n memory.
 */
export const theory: Readonly<Record<MethodKind, Readonly<Record<keyof MethodFits, number>>>> = {
  bptt: { timeVsHidden: 2, timeVsSteps: 1, memoryVsHidden: 1, memoryVsSteps: 1 },
  rtrl: { timeVsHidden: 4, timeVsSteps: 1, memoryVsHidden: 3, memoryVsSteps: 0 },
  // Truncated BPTT(k1, k2): BPTT's work per step (k2/k1 times it), a tape of k2 steps whatever T is.
  tbptt: { timeVsHidden: 2, timeVsSteps: 1, memoryVsHidden: 1, memoryVsSteps: 0 },
  // SnAp-1 on a dense cell: D by forward mode with n directions (n·n² per step), Ŝ of O(P) ~ n² numbers.
  // (SnAp-2 on a dense cell fills its pattern and costs what RTRL costs.)
  snap: { timeVsHidden: 3, timeVsSteps: 1, memoryVsHidden: 2, memoryVsSteps: 0 },
  // UORO: a few passes of the step plus O(P) per sequence; s̃, θ̃ kept: P ~ n², flat in T.
  uoro: { timeVsHidden: 2, timeVsSteps: 1, memoryVsHidden: 2, memoryVsSteps: 0 },
  // KF-RTRL: the D·A product, n³ a step; u, A kept: n², flat in T.
  'kf-rtrl': { timeVsHidden: 3, timeVsSteps: 1, memoryVsHidden: 2, memoryVsSteps: 0 },
};

function paramCount(cell: Cell): number {
  return cell.paramSpecs.reduce((n, s) => n + s.rows * s.cols, 0);
}

// ---------------------------------------------------------------- fitting

/**
 * Least squares: the coefficients c minimising Σ_i (Σ_j X[i][j] c_j - y_i)².
 * Normal equations solved by Gaussian elimination with partial pivoting; meant for a few unknowns.
 */
export function leastSquares(X: readonly (readonly number[])[], y: readonly number[]): number[] {
  if (X.length !== y.length) throw new Error(`leastSquares: ${X.length} rows of X but ${y.length} values of y`);
  if (X.length === 0) throw new Error('leastSquares: no data');
  const k = X[0].length;
  if (X.length < k) throw new Error(`leastSquares: ${X.length} points cannot determine ${k} unknowns`);
  const A = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (let i = 0; i < X.length; i++) {
    if (X[i].length !== k) throw new Error(`leastSquares: row ${i} of X has ${X[i].length} entries, not ${k}`);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < k; c++) A[r][c] += X[i][r] * X[i][c];
      A[r][k] += X[i][r] * y[i];
    }
  }
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(A[r][col]) > Math.abs(A[pivot][col])) pivot = r;
    if (Math.abs(A[pivot][col]) < 1e-12) throw new Error('leastSquares: the columns of X are linearly dependent');
    [A[col], A[pivot]] = [A[pivot], A[col]];
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = A[r][col] / A[col][col];
      for (let c = col; c <= k; c++) A[r][c] -= f * A[col][c];
    }
  }
  return A.map((row, i) => row[k] / row[i]);
}

/** Fits y = coefficient · x^exponent by least squares on (log x, log y); r2 is that fit's R². */
export function fitPowerLaw(xs: readonly number[], ys: readonly number[]): { exponent: number; coefficient: number; r2: number } {
  if (xs.length !== ys.length) throw new Error(`fitPowerLaw: ${xs.length} x values but ${ys.length} y values`);
  for (let i = 0; i < xs.length; i++) {
    if (!(xs[i] > 0) || !(ys[i] > 0)) throw new Error(`fitPowerLaw: point ${i} (${xs[i]}, ${ys[i]}) is not positive`);
  }
  if (new Set(xs).size < 2) throw new Error('fitPowerLaw: needs at least two distinct x values');
  const lx = xs.map(Math.log), ly = ys.map(Math.log);
  const [exponent, intercept] = leastSquares(lx.map((v) => [v, 1]), ly);
  const mean = ly.reduce((a, b) => a + b, 0) / ly.length;
  let ssRes = 0, ssTot = 0;
  for (let i = 0; i < lx.length; i++) {
    ssRes += (ly[i] - (exponent * lx[i] + intercept)) ** 2;
    ssTot += (ly[i] - mean) ** 2;
  }
  return { exponent, coefficient: Math.exp(intercept), r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

/**
 * Fits log y = a·log hidden + b·log steps + c jointly over all rows, so both
 * exponents use every measurement. A variable with a single value drops out (null).
 */
export function fitScaling<R extends Pick<CompareRow, 'hidden' | 'steps'>>(rows: readonly R[], value: (row: R) => number): { hidden: number | null; steps: number | null } {
  const useHidden = new Set(rows.map((r) => r.hidden)).size > 1;
  const useSteps = new Set(rows.map((r) => r.steps)).size > 1;
  if (!useHidden && !useSteps) return { hidden: null, steps: null };
  const X: number[][] = [], y: number[] = [];
  for (const r of rows) {
    const v = value(r);
    if (!(v > 0)) continue;
    const features: number[] = [];
    if (useHidden) features.push(Math.log(r.hidden));
    if (useSteps) features.push(Math.log(r.steps));
    features.push(1);
    X.push(features);
    y.push(Math.log(v));
  }
  if (X.length < X[0]?.length) return { hidden: null, steps: null };
  const c = leastSquares(X, y);
  return { hidden: useHidden ? c[0] : null, steps: useSteps ? c[useHidden ? 1 : 0] : null };
}

export function methodFits(method: string, rows: readonly CompareRow[]): MethodFits {
  const mine = rows.filter((r) => r.method === method);
  const time = fitScaling(mine, (r) => r.msPerSequence);
  const memory = fitScaling(mine, (r) => r.stateBytes);
  const th = theory[parseMethod(method).kind];
  return {
    timeVsHidden: { measured: time.hidden, theory: th.timeVsHidden },
    timeVsSteps: { measured: time.steps, theory: th.timeVsSteps },
    memoryVsHidden: { measured: memory.hidden, theory: th.memoryVsHidden },
    memoryVsSteps: { measured: memory.steps, theory: th.memoryVsSteps },
  };
}

/** max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|): the gradients' difference relative to their size (0 when both are 0). */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeDifference: lengths ${a.length} and ${b.length} differ`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) diff = d; // also catches NaN
    const m = Math.max(Math.abs(a[i]), Math.abs(b[i]));
    if (m > scale) scale = m;
  }
  if (Number.isNaN(diff)) return NaN;
  return diff === 0 ? 0 : diff / scale;
}

/** <a, b> / (|a| |b|): 1 when the directions agree, 0 when orthogonal, -1 when opposite (NaN when either is zero). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosineSimilarity: lengths ${a.length} and ${b.length} differ`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

// ---------------------------------------------------------------- planning

export interface PlanEntry {
  method: string;
  hidden: number;
  steps: number;
  params: number;
  /** Bytes the method keeps for its gradient (BPTT's tape, RTRL's S), estimated before running. */
  stateBytes: number;
  /** Everything the run is expected to hold: parameters and gradients, the tape or S plus forward-mode tangents. */
  totalBytes: number;
  /** Relative cost, for the progress bar (about one unit per multiply-add). */
  cost: number;
}

/** Elements of the values one step (plus its loss term) records, found by running the cell once in 'eval' mode. */
function stepValueElements(cell: Cell, batch: number): number {
  // The step's values, then the loss term's: output − target and their dot product.
  return probeCellStep(cell, batch).bytes / 8 + batch * cell.outputSize + 1;
}


/**
 * Estimates, before anything big is allocated, what every row of the grid needs.
 * RTRL: S = 8·batch·Σ state sizes·P bytes, and forward mode gives every value of a
 * step a P-wide tangent (8·P bytes per element). BPTT: T steps of values on the tape,
 * about as much again for their gradients.
 */
export function planCompare(config: CompareConfig): PlanEntry[] {
  const plan: PlanEntry[] = [];
  for (const hidden of config.hidden) {
    // No output layer (Jordan: output size = hidden size).
    const cell = createCell(config.cell, { inputSize: config.input, hiddenSize: hidden });
    const P = paramCount(cell);
    const stateElements = config.batch * cell.stateSizes.reduce((a, b) => a + b, 0);
    // Parameters alone too large to allocate: estimate without running the cell.
    const paramBytes = 8 * P * 3;
    const perStep = paramBytes > config.memoryLimitBytes ? stateElements * 8 : stepValueElements(cell, config.batch);
    for (const steps of config.steps) {
      for (const method of config.methods) {
        const spec = parseMethod(method);
        if (spec.kind === 'rtrl') {
          const sBytes = 8 * stateElements * P;
          const tangents = 8 * perStep * P;
          // The gemm with S_{t-1}: (gates·n) x n times n x P.
          const gemm = 2 * cellGates(config.cell) * hidden * hidden * P * config.batch;
          plan.push({ method, hidden, steps, params: P, stateBytes: sBytes, totalBytes: paramBytes + sBytes + tangents, cost: steps * (gemm + 3 * perStep * P) });
        } else if (spec.kind === 'snap' || spec.kind === 'uoro' || spec.kind === 'kf-rtrl') {
          // Online approximations keep a fixed amount whatever T is: SnAp-1 at most one number per
          // (state vector, parameter) (SnAp-2 on a dense cell fills RTRL's S); UORO s̃ and θ̃; KF-RTRL
          // u and A. Their cost per step, for the progress bar: a forward step with n directions
          // (SnAp's D, KF-RTRL's D·A) or a few passes of the step (UORO).
          const vectors = cell.stateSizes.length, n = hidden;
          const kept = spec.kind === 'snap'
            ? 8 * config.batch * P * (spec.order === 1 ? vectors : stateElements / config.batch)
            : spec.kind === 'uoro' ? 8 * (stateElements + config.batch * P) : 8 * config.batch * (n * n + config.input + n + 2);
          const perStepCost = spec.kind === 'uoro' ? 8 * perStep + 4 * P * config.batch : stateElements * perStep + kept / 8;
          plan.push({ method, hidden, steps, params: P, stateBytes: kept, totalBytes: paramBytes + 3 * kept + 4 * 8 * perStep * (spec.kind === 'uoro' ? 1 : n), cost: steps * perStepCost });
        } else {
          const tape = 8 * perStep * (spec.kind === 'tbptt' ? Math.min(spec.k2, steps) : steps);
          plan.push({ method, hidden, steps, params: P, stateBytes: tape, totalBytes: paramBytes + 2 * tape, cost: steps * (6 * P * config.batch + 6 * perStep) });
        }
      }
    }
  }
  return plan;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/** Rows of the plan over the memory limit, as one message each (empty: all fit). */
export function overLimit(config: CompareConfig, plan: readonly PlanEntry[] = planCompare(config)): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of plan) {
    if (e.totalBytes <= config.memoryLimitBytes) continue;
    const key = `${e.method}/${e.hidden}`;
    if (seen.has(key) && !['bptt', 'tbptt'].includes(parseMethod(e.method).kind)) continue; // an online method's need does not depend on T
    seen.add(key);
    const kind = parseMethod(e.method).kind;
    const what = kind === 'bptt' || kind === 'tbptt'
      ? `tape ${formatBytes(e.stateBytes)} over ${e.steps} steps`
      : `${kind === 'rtrl' ? 'sensitivities' : 'kept estimate'} ${formatBytes(e.stateBytes)} plus forward-mode tangents, P = ${e.params}`;
    out.push(`${e.method} at hidden ${e.hidden}${e.method === 'bptt' ? `, steps ${e.steps}` : ''} would need about ${formatBytes(e.totalBytes)} (${what}), over the ${formatBytes(config.memoryLimitBytes)} limit`);
  }
  return out;
}

// ---------------------------------------------------------------- measuring

let forcedGc: (() => void) | null | undefined;
/** A full garbage collection, so that one row's leftovers do not count in the next row's heap. */
function collectGarbage(): void {
  if (forcedGc === undefined) {
    try {
      const existing = (globalThis as { gc?: () => void }).gc;
      if (typeof existing === 'function') forcedGc = existing;
      else {
        setFlagsFromString('--expose-gc');
        const gc = runInNewContext('gc') as unknown;
        forcedGc = typeof gc === 'function' ? (gc as () => void) : null;
      }
    } catch {
      forcedGc = null;
    }
  }
  // Twice: ArrayBuffer backing stores freed by the first collection are returned by the second.
  forcedGc?.();
  forcedGc?.();
}

function heapNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const MIN_SAMPLE_MS = 20; // a timed sample repeats the sequence until it lasts at least this long

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

interface Timing { ms: number; heap: number }

/** Median ms of `run` over `repeats` samples (each >= MIN_SAMPLE_MS), with the heap sampled after every sample. */
function time(run: () => void, warmMs: number, repeats: number, heap: { peak: number }): Timing {
  const perSample = Math.max(1, Math.min(10000, Math.ceil(MIN_SAMPLE_MS / Math.max(warmMs, 1e-3))));
  const samples: number[] = [];
  for (let s = 0; s < repeats; s++) {
    const start = performance.now();
    for (let r = 0; r < perSample; r++) run();
    samples.push((performance.now() - start) / perSample);
    heap.peak = Math.max(heap.peak, heapNow());
  }
  return { ms: median(samples), heap: heap.peak };
}

/** The sequence, targets and loss shared by both methods at one (hidden, steps). */
interface Problem {
  model: RecurrentModel;
  xs: Mat;
  loss: SequenceLoss;
}

function makeProblem(config: CompareConfig, hidden: number, steps: number): Problem {
  // No output layer (Jordan: output size = hidden size).
  // Made from a spec, so that a threaded method can send it to its workers; the parameters are
  // createModel's from the seed. Same seed for every (hidden, steps) pair: they depend on the sizes only.
  const model = modelFromSpec({ cell: { kind: config.cell, options: { inputSize: config.input, hiddenSize: hidden } } }, { seed: config.seed * 1000003 + hidden });
  const { cell } = model;
  const rng = new Rng(config.seed * 7919 + hidden * 131 + steps);
  const xs = mat(steps * config.batch, config.input);
  rng.fillUniform(xs, -1, 1);
  const targets = mat(steps * config.batch, cell.outputSize);
  rng.fillUniform(targets, -0.5, 0.5);
  const views = Array.from({ length: steps }, (_, t) => rowsView(targets, t * config.batch, config.batch));
  const scale = 0.5 / (steps * config.batch);
  // Mean squared error to a random target at every step: (1/2TB) Σ_t |y_t - target_t|².
  const loss: SequenceLoss = {
    step(g, t, output) {
      const d = g.sub(output, g.constant(views[t]));
      return g.scale(g.dot(d, d), scale);
    },
  };
  return { model, xs, loss };
}

interface MethodRun { row: CompareRow; grad: Float64Array }

interface Runner {
  /** One whole sequence: forward pass and gradient. */
  run(): void;
  /** A copy of the gradient of the last run. */
  grad(): Float64Array;
  /** Bytes kept for the gradient in the last run. */
  stateBytes(): number;
  /** Ends the method's worker threads (if any). */
  close(): void;
  /** Threads that share its work: bptt and tbptt split the batch (at most one thread per sequence), rtrl and snapN their columns (shards). */
  shards: number;
}

/** The threads a method runs on: config.threads for those that take threads (takesThreads), else 1. */
export function threadsOf(method: string, config: Pick<CompareConfig, 'threads'>): number {
  return takesThreads(parseMethod(method)) ? config.threads ?? 1 : 1;
}

function makeRunner(method: string, config: CompareConfig, problem: Problem, threads: number): Runner {
  const { model, xs, loss } = problem;
  const spec = parseMethod(method);
  switch (spec.kind) {
    case 'bptt': {
      const learner = createMethod(model, spec, limitsOf(config, threads));
      let last: ReturnType<Bptt['run']> | null = null;
      return {
        run: () => { last = learner.run(xs, loss, { batch: config.batch }); },
        grad: () => last!.grad.slice(),
        stateBytes: () => last!.tapeBytes,
        close: () => learner.close(),
        shards: Math.min(threads, config.batch),
      };
    }
    case 'tbptt': {
      const learner = createMethod(model, spec, limitsOf(config, threads));
      let tape = 0;
      // The gradient of the whole sequence's loss, truncated: the sum of the windows' gradients (run returns it).
      const onWindow = () => {
        const bytes = learner.tapeBytes();
        if (!(bytes <= tape)) tape = bytes;
      };
      let last: Float64Array | null = null;
      return {
        run: () => { tape = 0; last = learner.run(xs, loss, { batch: config.batch, onWindow }).grad; },
        grad: () => last!.slice(),
        stateBytes: () => tape,
        close: () => learner.close(),
        shards: Math.min(threads, config.batch),
      };
    }
    default: {
      // An online method (RTRL, SnAp, UORO, KF-RTRL ...): its run() over the sequence, and the
      // bytes it keeps from one step to the next for its gradient (stateBytes).
      const learner = createMethod(model, spec as MethodSpec, limitsOf(config, threads)) as unknown as GradientMethod & { stateBytes(): number };
      let last: Float64Array | null = null;
      return {
        run: () => { last = learner.run(xs, loss, { batch: config.batch }).grad; },
        grad: () => last!.slice(),
        stateBytes: () => learner.stateBytes(),
        close: () => { if (learner instanceof Rtrl || learner instanceof Snap) learner.close(); },
        shards: learner instanceof Rtrl || learner instanceof Snap ? learner.shards : 1,
      };
    }
  }
}

/** The memory limit handed to a method (--allow-large lifts it: the plan has already refused what is not allowed), and its threads. */
function limitsOf(config: CompareConfig, threads: number): { maxBytes: number; threads?: number } {
  return { maxBytes: config.allowLarge ? Number.MAX_SAFE_INTEGER : Math.max(config.memoryLimitBytes, 1), ...(threads > 1 ? { threads } : {}) };
}

/** The flops of one sequence as the engine counts them on this thread. */
function countFlops(runner: Runner): number {
  const flops0 = flopCounter.count;
  runner.run();
  return flopCounter.count - flops0;
}

function runMethod(method: string, config: CompareConfig, problem: Problem, hidden: number, steps: number): MethodRun {
  const heap = { peak: 0 };
  const threads = threadsOf(method, config);
  // Threads count their own flops and keep their own blocks: the whole sequence's flops and the
  // bytes kept for its gradient are one thread's, counted before the row's heap is watched.
  let flops = 0, singleBytes = 0;
  if (threads > 1) {
    const single = makeRunner(method, config, problem, 1);
    flops = countFlops(single);
    singleBytes = single.stateBytes();
    single.close();
  }
  collectGarbage();
  const runner = makeRunner(method, config, problem, threads);
  try {
    // Warm-up run: the gradient for the cross-check, the flop count, and a first timing.
    const flops0 = flopCounter.count;
    const start = performance.now();
    runner.run();
    const warmMs = performance.now() - start;
    if (threads === 1) flops = flopCounter.count - flops0;
    heap.peak = heapNow();
    const g = runner.grad();
    const timing = time(runner.run, warmMs, config.repeats, heap);
    return {
      grad: g,
      row: {
        method, cell: config.cell, hidden, steps, params: problem.model.params.theta.length, threads: runner.shards,
        msPerSequence: timing.ms, msPerStep: timing.ms / steps, flops,
        stateBytes: threads > 1 ? singleBytes : runner.stateBytes(), heapBytes: timing.heap, gradRelDiff: null, gradCosine: null,
      },
    };
  } finally {
    runner.close();
  }
}

const WARMUP_MS = 150;

/** Lets the JIT compile the cell, the graph and the kernels on the smallest problem before anything is timed. */
function warmUp(config: CompareConfig): void {
  // Small sizes: the JIT needs the code paths, not the work (and a big warm-up would linger in the heap).
  const problem = makeProblem(config, Math.min(config.hidden[0], 8), Math.min(config.steps[0], 20));
  for (const method of config.methods) {
    const runner = makeRunner(method, config, problem, threadsOf(method, config));
    try {
      const end = performance.now() + WARMUP_MS;
      let runs = 0;
      while (runs < 3 || performance.now() < end) { runner.run(); runs++; if (runs >= 1000) break; }
    } finally {
      runner.close();
    }
  }
}

export interface CompareOptions {
  /** Called before each run with a short description. */
  onStart?(what: string): void;
  /** Called after each row with the plan's cost of that row (its share of the whole). */
  onRow?(row: CompareRow, cost: number): void;
}

export function validateConfig(config: CompareConfig): void {
  if (!isCellKind(config.cell)) throw new Error(`compare: unknown cell ${JSON.stringify(config.cell)} (use ${CELL_KINDS.join(', ')})`);
  if (config.methods.length === 0) throw new Error('compare: no methods given');
  for (const m of config.methods) {
    let spec: MethodSpec;
    try { spec = parseMethod(m); } catch (e) { throw new Error(`compare: ${(e as Error).message}`); }
    if (formatMethod(spec) !== m) throw new Error(`compare: method "${m}" is written ${formatMethod(spec)}`);
  }
  if (new Set(config.methods).size !== config.methods.length) throw new Error(`compare: methods ${config.methods.join(',')} repeat one`);
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`compare: ${name} must be a positive integer, got ${v}`);
  };
  if (config.hidden.length === 0 || config.steps.length === 0) throw new Error('compare: needs at least one hidden size and one sequence length');
  config.hidden.forEach((v) => positive('hidden size', v));
  config.steps.forEach((v) => positive('steps', v));
  positive('input', config.input);
  positive('batch', config.batch);
  positive('repeats', config.repeats);
  if (config.threads !== undefined) positive('threads', config.threads);
  if (!Number.isInteger(config.seed) || config.seed < 0 || config.seed >= 2 ** 32) {
    throw new Error(`compare: seed must be an integer in [0, 2^32), got ${config.seed}`);
  }
}

/** Runs the whole grid. Throws if the plan is over the memory limit and allowLarge is not set. */
export function runCompare(config: CompareConfig, hooks: CompareOptions = {}): CompareResult {
  validateConfig(config);
  const plan = planCompare(config);
  const over = overLimit(config, plan);
  if (over.length > 0 && !config.allowLarge) throw new Error(`compare: ${over[0]}; choose smaller sizes or allow it explicitly`);
  const costOf = new Map(plan.map((e) => [`${e.method}/${e.hidden}/${e.steps}`, e.cost]));
  const rows: CompareRow[] = [];
  const params: Record<number, number> = {};
  warmUp(config);
  for (const hidden of config.hidden) {
    for (const steps of config.steps) {
      const problem = makeProblem(config, hidden, steps);
      params[hidden] = problem.model.params.theta.length;
      const runs = new Map<string, MethodRun>();
      for (const method of config.methods) {
        hooks.onStart?.(`${method} n=${hidden} T=${steps}`);
        runs.set(method, runMethod(method, config, problem, hidden, steps));
      }
      // Cross-check the gradients against full BPTT's (an untimed run when bptt is not among the methods;
      // BPTT is cheap). RTRL must agree to rounding; tbptt:K shows what the truncation loses.
      const bptt = runs.get('bptt');
      const reference = bptt?.grad ?? (runs.size > 0 ? new Bptt(problem.model).run(problem.xs, problem.loss, { batch: config.batch }).grad : null);
      for (const [method, run] of runs) {
        if (method !== 'bptt' && reference !== null) {
          run.row.gradRelDiff = relativeDifference(reference, run.grad);
          run.row.gradCosine = cosineSimilarity(reference, run.grad);
        }
      }
      const rtrl = runs.get('rtrl');
      if (bptt && rtrl) {
        bptt.row.gradRelDiff = rtrl.row.gradRelDiff;
        bptt.row.gradCosine = rtrl.row.gradCosine;
      }
      for (const method of config.methods) {
        const row = runs.get(method)!.row;
        rows.push(row);
        hooks.onRow?.(row, (costOf.get(`${method}/${hidden}/${steps}`) ?? 0) * (config.repeats + 1));
      }
    }
  }
  rows.sort((a, b) => config.methods.indexOf(a.method) - config.methods.indexOf(b.method) || a.hidden - b.hidden || a.steps - b.steps);
  const fits: Partial<Record<string, MethodFits>> = {};
  for (const m of config.methods) fits[m] = methodFits(m, rows);
  return {
    config: {
      ...config,
      params,
      loss: 'mean squared error to a random target at every step',
      timeMeasure: `median of ${config.repeats} samples (each >= ${MIN_SAMPLE_MS} ms, whole sequences) after one warm-up run; forward pass and gradient`,
      heapMeasure: `process.memoryUsage() heapUsed + arrayBuffers, peak of samples after each run of a row, full GC before each row${forcedGc ? '' : ' (GC not available: includes garbage)'}${(config.threads ?? 1) > 1 ? '; this thread only (each worker has its own heap)' : ''}`,
    },
    rows,
    fits,
  };
}

/** Total plan cost times the runs per row, for a progress bar. */
export function planCost(config: CompareConfig, plan: readonly PlanEntry[] = planCompare(config)): number {
  return plan.reduce((a, e) => a + e.cost, 0) * (config.repeats + 1);
}

// ---------------------------------------------------------------- reporting

function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.1) return ms.toFixed(3);
  return ms.toPrecision(2);
}

function fmtFlops(f: number): string {
  if (f >= 1e9) return `${(f / 1e9).toFixed(2)} G`;
  if (f >= 1e6) return `${(f / 1e6).toFixed(2)} M`;
  if (f >= 1e3) return `${(f / 1e3).toFixed(1)} k`;
  return String(f);
}

/** Two decimals, without a "-0.00". */
function fixed2(v: number): string {
  const t = v.toFixed(2);
  return t === '-0.00' ? '0.00' : t;
}

function fmtExp(v: number | null): string {
  return v === null ? '   -' : fixed2(v).padStart(5);
}

/**
 * Where RTRL's flat memory beats BPTT's growing tape: for each hidden size with both
 * methods, the sequence length at which BPTT's tape would equal RTRL's S, and how
 * much slower RTRL is per step there.
 */
export function crossovers(rows: readonly CompareRow[]): { hidden: number; steps: number; slowdown: number }[] {
  const out: { hidden: number; steps: number; slowdown: number }[] = [];
  for (const hidden of [...new Set(rows.map((r) => r.hidden))].sort((a, b) => a - b)) {
    const b = rows.filter((r) => r.method === 'bptt' && r.hidden === hidden);
    const r = rows.filter((x) => x.method === 'rtrl' && x.hidden === hidden);
    if (b.length === 0 || r.length === 0) continue;
    const tapePerStep = median(b.map((x) => x.stateBytes / x.steps));
    const sBytes = median(r.map((x) => x.stateBytes));
    const slowdown = median(r.map((x) => x.msPerStep)) / median(b.map((x) => x.msPerStep));
    out.push({ hidden, steps: sBytes / tapePerStep, slowdown });
  }
  return out;
}

/** A cosine near 1 with the digits that tell methods apart: 1 - 3.2e-15 prints as 1.000000, 0.93 as 0.930. */
function formatCosine(c: number): string {
  if (Number.isNaN(c)) return 'NaN';
  return c > 0.999 ? c.toFixed(6) : c.toFixed(3);
}

/** The human-readable report: the table, the fitted exponents beside the theory, the crossover. */
export function formatReport(result: CompareResult): string {
  const { config, rows, fits } = result;
  const lines: string[] = [];
  const threaded = (config.threads ?? 1) > 1;
  lines.push(`loopgrad compare: ${config.cell}, input ${config.input}, batch ${config.batch}, ${config.repeats} repeats, seed ${config.seed}${threaded ? `, ${config.threads} threads for ${THREADED_METHODS}` : ''}`);
  lines.push('');
  const head = ['method', 'hidden', 'steps', 'params', ...(threaded ? ['threads'] : []), 'ms/seq', 'ms/step', 'flops', 'GFLOP/s', 'grad memory', 'peak heap', 'grad rel diff', 'grad cos'];
  const table = rows.map((r) => [
    r.method, String(r.hidden), String(r.steps), String(r.params), ...(threaded ? [String(r.threads)] : []), fmtMs(r.msPerSequence), fmtMs(r.msPerStep),
    fmtFlops(r.flops), (r.flops / (r.msPerSequence * 1e6)).toFixed(2), formatBytes(r.stateBytes), formatBytes(r.heapBytes),
    r.gradRelDiff === null ? '-' : r.gradRelDiff.toExponential(1),
    r.gradCosine === null ? '-' : formatCosine(r.gradCosine),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(head));
  let previous = '';
  for (const [i, row] of table.entries()) {
    if (previous !== '' && rows[i].method !== previous) lines.push('');
    previous = rows[i].method;
    lines.push(line(row));
  }
  lines.push('');
  lines.push('scaling exponents, least squares on log-log data (measured, theory in brackets):');
  const mw = Math.max(6, ...config.methods.map((m) => m.length));
  lines.push(`  ${'method'.padEnd(mw)}  time~hidden  time~steps  memory~hidden  memory~steps  flops~hidden`);
  for (const m of config.methods) {
    const f = fits[m];
    if (!f) continue;
    const cell = (e: ExponentFit, w: number) => `${fmtExp(e.measured)} (${e.theory})`.padStart(w);
    // Counted flops follow the algorithm without the per-op overhead that dominates small sizes.
    const flops = fitScaling(rows.filter((r) => r.method === m), (r) => r.flops).hidden;
    lines.push(`  ${m.padEnd(mw)}  ${cell(f.timeVsHidden, 11)}  ${cell(f.timeVsSteps, 10)}  ${cell(f.memoryVsHidden, 13)}  ${cell(f.memoryVsSteps, 12)}  ${cell({ measured: flops, theory: f.timeVsHidden.theory }, 12)}`);
  }
  const cross = crossovers(rows);
  if (cross.length > 0) {
    lines.push('');
    lines.push('where RTRL\'s flat memory pays off (BPTT\'s tape would exceed RTRL\'s S beyond T steps):');
    for (const c of cross) {
      lines.push(`  hidden ${String(c.hidden).padStart(4)}: T > ${Math.ceil(c.steps)} steps; RTRL is ${c.slowdown.toFixed(0)}x slower per step`);
    }
  }
  lines.push('');
  lines.push('time: forward + gradient of one sequence; grad memory: BPTT tape activations / RTRL sensitivities S;');
  lines.push(threaded
    ? 'peak heap: V8 heapUsed + ArrayBuffers of the calling thread (workers have their own), sampled after each run;'
    : 'peak heap: V8 heapUsed + ArrayBuffers of the whole process, sampled after each run;');
  if (threaded) lines.push('threads: those the method ran on (bptt and tbptt split the batch, one sequence at least each); flops: counted by a one-thread run;');
  lines.push('grad rel diff: max|g - g_bptt| / max(|g|, |g_bptt|) against full BPTT (bptt rows: against RTRL);');
  lines.push('grad cos: cosine similarity of the gradient with full BPTT\'s, the exact one (1: the same direction).');
  return lines.join('\n');
}

function superscript(n: number): string {
  const digits = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  return Number.isInteger(n) && n >= 0 ? String(n).split('').map((c) => digits[Number(c)]).join('') : `^${n}`;
}

const kindColour: Record<MethodKind, readonly string[]> = { bptt: ['#1f77b4'], rtrl: ['#d62728'], tbptt: ['#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'], snap: ['#e377c2', '#17becf'], uoro: ['#7f7f7f', '#bcbd22'], 'kf-rtrl': ['#8c564b', '#aec7e8'] };
function methodColour(methods: readonly string[], m: string): string {
  const kind = parseMethod(m).kind;
  const same = methods.filter((x) => parseMethod(x).kind === kind);
  const colours = kindColour[kind];
  return colours[same.indexOf(m) % colours.length];
}

/** The scaling plot: log-log panels of time and memory against hidden size and steps, with the theoretical slopes. */
export function compareSvg(result: CompareResult, caption?: string): string {
  const { config, rows, fits } = result;
  const maxSteps = Math.max(...config.steps), maxHidden = Math.max(...config.hidden);
  type Metric = 'msPerSequence' | 'stateBytes';
  const panel = (metric: Metric, against: 'hidden' | 'steps'): Panel => {
    const series: Series[] = [];
    const references: ReferenceLine[] = [];
    for (const m of config.methods) {
      const pts = rows
        .filter((r) => r.method === m && (against === 'hidden' ? r.steps === maxSteps : r.hidden === maxHidden))
        .map((r) => ({ x: against === 'hidden' ? r.hidden : r.steps, y: r[metric] }))
        .sort((a, b) => a.x - b.x);
      const key = metric === 'msPerSequence' ? (against === 'hidden' ? 'timeVsHidden' : 'timeVsSteps') : (against === 'hidden' ? 'memoryVsHidden' : 'memoryVsSteps');
      const fit = fits[m]?.[key];
      const measured = fit?.measured;
      series.push({ label: `${m}${measured === null || measured === undefined ? '' : ` (fit slope ${fixed2(measured)})`}`, points: pts, color: methodColour(config.methods, m) });
      if (pts.length > 0 && fit) {
        const variable = against === 'hidden' ? 'n' : 'T';
        references.push({
          kind: 'power', slope: fit.theory, anchor: pts[pts.length - 1], color: methodColour(config.methods, m),
          label: `${m} theory: ${fit.theory === 0 ? 'flat' : fit.theory === 1 ? variable : variable + superscript(fit.theory)}`,
        });
      }
    }
    const what = metric === 'msPerSequence' ? 'time per sequence' : 'memory for the gradient';
    return {
      title: `${what} vs ${against === 'hidden' ? `hidden size (T = ${maxSteps})` : `steps (n = ${maxHidden})`}`,
      xLabel: against === 'hidden' ? 'hidden size n' : 'sequence length T',
      yLabel: metric === 'msPerSequence' ? 'ms per sequence' : 'bytes (tape / S)',
      series, references,
      xTicks: against === 'hidden' ? config.hidden : config.steps,
    };
  };
  const panels = [panel('msPerSequence', 'hidden'), panel('msPerSequence', 'steps'), panel('stateBytes', 'hidden'), panel('stateBytes', 'steps')];
  // With both methods and several hidden sizes: the crossover in memory and the price in time.
  const cross = crossovers(rows);
  if (cross.length > 1) {
    const last = cross[cross.length - 1];
    const ticks = cross.map((c) => c.hidden);
    panels.push({
      title: 'RTRL keeps less than BPTT beyond T* steps',
      xLabel: 'hidden size n', yLabel: 'T* (steps)', xTicks: ticks,
      series: [{ label: 'T* = S bytes / tape bytes per step', points: cross.map((c) => ({ x: c.hidden, y: c.steps })), color: '#9467bd' }],
      references: [{ kind: 'power', slope: 2, anchor: { x: last.hidden, y: last.steps }, label: 'theory: n² (n·P / n)', color: '#9467bd' }],
    }, {
      title: 'and is this much slower per step',
      xLabel: 'hidden size n', yLabel: 'RTRL time / BPTT time', xTicks: ticks,
      series: [{ label: 'measured ratio per step', points: cross.map((c) => ({ x: c.hidden, y: c.slowdown })), color: '#8c564b' }],
      references: [{ kind: 'power', slope: 2, anchor: { x: last.hidden, y: last.slowdown }, label: 'theory: n² (n⁴ / n²)', color: '#8c564b' }],
    });
  }
  // Quality against cost: what each method's gradient is worth for what it costs per step.
  const rated = config.methods.filter((m) => rows.some((r) => r.method === m && r.gradCosine !== null && Number.isFinite(r.gradCosine)));
  if (rated.length > 0) {
    panels.push({
      title: `gradient quality vs cost (T = ${maxSteps}, one point per hidden size)`,
      xLabel: 'ms per step', yLabel: 'cosine with the exact gradient', yScale: 'linear',
      series: rated.map((m) => ({
        label: m,
        color: methodColour(config.methods, m),
        points: rows.filter((r) => r.method === m && r.steps === maxSteps && r.gradCosine !== null && Number.isFinite(r.gradCosine))
          .map((r) => ({ x: r.msPerStep, y: r.gradCosine as number })).sort((a, b) => a.x - b.x),
      })),
      references: [{ kind: 'horizontal', y: 1, label: 'exact', color: '#999999', dash: '4 3' }],
    });
  }
  return renderSvg({
    title: `BPTT vs RTRL: ${config.cell}, input ${config.input}, batch ${config.batch}`,
    caption: caption ?? `loopgrad compare --cell ${config.cell} --hidden ${config.hidden.join(',')} --steps ${config.steps.join(',')}; dashed: theoretical slopes through the last point`,
    panels,
    columns: 2,
  });
}
