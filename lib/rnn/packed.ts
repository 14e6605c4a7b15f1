// Scanning one cell over a whole sequence, forwards or backwards, for a batch
// whose sequences may have different lengths (PyTorch's packed semantics):
//   - a sequence of length L is active at steps t < L; its outputs at t >= L are 0;
//   - its state stops changing after its last step, so the final state is the
//     state at its own last step;
//   - scanned backwards, it starts at its own last step L-1 from the initial state.
// All of it is one rule on the graph: with keep_t the 0/1 column of active rows,
//   state_t = keep_t ? step(state_{t-1}, x̃_t) : state_{t-1}      (row by row)
//   out_t   = keep_t ? output_t : 0,     x̃_t = keep_t ? x_t : 0
// (selectRows, which picks rows and never multiplies, so padding holding NaN or
// Inf cannot leak), so both differentiation modes apply and nothing is
// differentiated by hand.
import type { Graph, Var } from '../ad/graph.js';
import type { Cell } from '../cells/cell.js';
import { type Mat, mat, sharedZeros } from '../mat/mat.js';

/** Checks a batch's lengths: one integer in [1, steps] per sequence. Returns them as numbers. */
export function checkLengths(op: string, lengths: ArrayLike<number>, batch: number, steps: number): number[] {
  if (lengths.length !== batch) {
    throw new Error(`${op}: ${lengths.length} lengths for a batch of ${batch} sequences`);
  }
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const L = Number(lengths[b]);
    if (!Number.isInteger(L) || L < 1 || L > steps) {
      throw new Error(`${op}: sequence ${b} has length ${String(lengths[b])}; lengths must be integers in [1, ${steps}] (the padded length)`);
    }
    out.push(L);
  }
  return out;
}

/**
 * The per-step 0/1 columns of a variable-length batch: keep[t][b] = 1 when
 * sequence b is active at step t (t < lengths[b]).
 * Steps where every sequence is active need no mask at all (full[t]).
 */
export class LengthMasks {
  readonly batch: number;
  readonly steps: number;
  readonly lengths: readonly number[];
  /** batch x 1 per step. */
  readonly keep: readonly Mat[];
  /** Every sequence active at step t. */
  readonly full: readonly boolean[];
  /** No sequence active at step t. */
  readonly empty: readonly boolean[];

  constructor(lengths: ArrayLike<number>, steps: number) {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`LengthMasks: steps must be a positive integer, got ${steps}`);
    const batch = lengths.length;
    if (batch < 1) throw new Error('LengthMasks: no lengths given (the batch is empty)');
    this.lengths = checkLengths('LengthMasks', lengths, batch, steps);
    this.batch = batch;
    this.steps = steps;
    const keep: Mat[] = [], full: boolean[] = [], empty: boolean[] = [];
    for (let t = 0; t < steps; t++) {
      const k = mat(batch, 1);
      let active = 0;
      for (let b = 0; b < batch; b++) {
        const on = t < this.lengths[b];
        k.data[b] = on ? 1 : 0;
        if (on) active++;
      }
      keep.push(k);
      full.push(active === batch);
      empty.push(active === 0);
    }
    this.keep = keep;
    this.full = full;
    this.empty = empty;
  }

  /** Whether every sequence runs the full padded length (then no masking is needed). */
  get allFull(): boolean {
    return this.full.every((f) => f);
  }

  /** Same lengths and steps (so the masks can be reused). */
  matches(lengths: ArrayLike<number>, steps: number): boolean {
    if (steps !== this.steps || lengths.length !== this.batch) return false;
    for (let b = 0; b < this.batch; b++) if (Number(lengths[b]) !== this.lengths[b]) return false;
    return true;
  }
}

export interface ScanOptions {
  /** Scan from the last step to the first (the backward direction of a bidirectional layer). */
  reverse?: boolean;
  /** Variable lengths; null or absent: every sequence runs all steps. */
  masks?: LengthMasks | null;
}

export interface ScanResult {
  /** outputs[t]: the output at position t (batch x outputSize), zero past a sequence's length. */
  outputs: Var[];
  /** states[t]: the state after the cell has read position t (in either direction). */
  states: Var[][];
  /** The state after the scan: each sequence's state at its own last step (forwards) or at step 0 (backwards). */
  final: Var[];
}

/**
 * Runs `cell` over xs (one batch x inputSize Var per step) from `initial`,
 * recording every step on g. Works in every graph mode.
 */
export function scanCell(
  g: Graph, cell: Cell, params: readonly Var[], xs: readonly Var[], initial: readonly Var[],
  options: ScanOptions = {},
): ScanResult {
  const steps = xs.length;
  const reverse = options.reverse ?? false;
  const masks = options.masks ?? null;
  if (initial.length !== cell.stateSizes.length) {
    throw new Error(`scanCell: ${cell.kind} has ${cell.stateSizes.length} state vectors, ${initial.length} given`);
  }
  if (masks !== null && masks.steps !== steps) {
    throw new Error(`scanCell: masks cover ${masks.steps} steps but the sequence has ${steps}`);
  }
  const outputs: Var[] = new Array<Var>(steps);
  const states: Var[][] = new Array<Var[]>(steps);
  let state: Var[] = initial.slice();
  for (let i = 0; i < steps; i++) {
    const t = reverse ? steps - 1 - i : i;
    const x = xs[t];
    if (masks !== null && masks.empty[t]) {
      // Nobody is active: the state carries over and the output is zero.
      outputs[t] = g.constant(sharedZeros(x.value.rows, cell.outputSize));
      states[t] = state;
      continue;
    }
    if (masks === null || masks.full[t]) {
      const result = cell.step(g, params, state, x);
      outputs[t] = result.output;
      state = result.state;
    } else {
      // Rows past their sequence's end read zeros instead of their padding (which may hold
      // anything, NaN included), and select, never multiply, so nothing leaks from them.
      const keep = g.constant(masks.keep[t]);
      const xActive = g.selectRows(keep, x, g.constant(sharedZeros(x.value.rows, x.value.cols)));
      const result = cell.step(g, params, state, xActive);
      outputs[t] = g.selectRows(keep, result.output, g.constant(sharedZeros(x.value.rows, cell.outputSize)));
      const old = state;
      state = result.state.map((s, k) => g.selectRows(keep, s, old[k]));
    }
    states[t] = state;
  }
  return { outputs, states, final: state };
}
