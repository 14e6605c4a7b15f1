// Variable-length batches (PyTorch's packed semantics), as 0/1 columns per step:
//   - a sequence of length L is active at steps t < L; its outputs at t >= L are 0;
//   - its state stops changing after its last step, so the final state is the
//     state at its own last step;
//   - scanned backwards, it starts at its own last step L-1 from the initial state.
// The unroll (lib/rnn/unroll.ts) turns them into one rule on the graph: with keep_t
// the 0/1 column of active rows,
//   state_t = keep_t ? step(state_{t-1}, x̃_t) : state_{t-1}      (row by row)
//   out_t   = keep_t ? output_t : 0,     x̃_t = keep_t ? x_t : 0
// so every differentiation mode applies and nothing is differentiated by hand.
import type { StepMasks } from '../cells/cell.js';
import { type Mat, mat } from '../mat/mat.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/** Checks a batch's lengths: one integer in [1, steps] per sequence. Returns them as numbers. */
export function checkLengths(op: string, lengths: ArrayLike<number>, batch: number, steps: number): number[] {
  if (lengths.length !== batch) {
    throw new ShapeError(op, `${lengths.length} lengths for a batch of ${batch} sequences`, { lengths: lengths.length, batch });
  }
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const L = Number(lengths[b]);
    if (!Number.isInteger(L) || L < 1 || L > steps) {
      throw new ShapeError(op, `sequence ${b} has length ${String(lengths[b])}; lengths must be integers in [1, ${steps}] (the padded length)`, { sequence: b, length: lengths[b], steps });
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
export class LengthMasks implements StepMasks {
  readonly batch: number;
  readonly steps: number;
  readonly lengths: readonly number[];
  /** batch x 1 per step. */
  readonly keep: readonly Mat[];
  /** Every sequence active at step t. */
  readonly full: readonly boolean[];
  /** No sequence active at step t. */
  readonly empty: readonly boolean[];

  constructor(lengths: ArrayLike<number>, steps: number, op = 'LengthMasks') {
    if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(op, `steps must be a positive integer, got ${steps}`, { option: 'steps', value: steps });
    const batch = lengths.length;
    if (batch < 1) throw new ShapeError(op, 'no lengths given (the batch is empty)');
    this.lengths = checkLengths(op, lengths, batch, steps);
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
