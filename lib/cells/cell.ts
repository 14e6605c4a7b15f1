// A recurrent cell: state_t, output_t = step(params, state_{t-1}, x_t), written
// once against the Graph's ops. It never knows whether it runs for values,
// for BPTT (reverse mode) or for RTRL (forward mode).
import type { Graph, Var } from '../ad/graph.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import type { ParamSpec } from './params.js';
import { ConfigError } from '../mat/errors.js';
import { sigmoid, tanh } from '../mat/math.js';

export interface StepResult {
  /** The new state, one Var per entry of stateSizes (batch x size each). */
  state: Var[];
  /** What the cell emits this step (batch x outputSize). */
  output: Var;
}

/**
 * Which rows of a batch are active at each step of a variable-length batch (lib/rnn/packed.ts makes
 * them): keep[t] is the batch x 1 column of 0/1, full[t] and empty[t] say every row or none is.
 */
export interface StepMasks {
  readonly steps: number;
  readonly keep: readonly Mat[];
  readonly full: readonly boolean[];
  readonly empty: readonly boolean[];
}

/** A cell run over a whole sequence. */
export interface ScanResult {
  /** outputs[t]: the output at position t (batch x outputSize), zero past a sequence's length. */
  outputs: Var[];
  /** states[t]: the state after the cell has read position t (in either direction). */
  states: Var[][];
  /** The state after the scan: each sequence's state at its own last step (forwards) or at step 0 (backwards). */
  final: Var[];
}

export interface Cell {
  readonly kind: string;
  readonly inputSize: number;
  /** Sizes of the state vectors: [H] for Elman and GRU, [H, H] (h, c) for LSTM, [O] for Jordan. */
  readonly stateSizes: readonly number[];
  readonly stateNames: readonly string[];
  readonly outputSize: number;
  /** Parameters in theta order. */
  readonly paramSpecs: readonly ParamSpec[];
  /** One step: params in the order of paramSpecs, state in the order of stateSizes, x is batch x inputSize. */
  step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var): StepResult;
  /**
   * False when an output depends on future inputs (a bidirectional layer): such a
   * cell cannot be stepped online, so RTRL refuses it up front. Absent means causal.
   */
  readonly causal?: boolean;
  /**
   * Set when the input is one symbol index per row in [0, inputSymbols) (an embedding's lookup),
   * not inputSize real features: a probe of the step (SnAp's pattern) must feed it valid symbols,
   * every one of them. Absent means real-valued features.
   */
  readonly inputSymbols?: number;
  /**
   * Runs the cell over a whole sequence when stepping it in order is not how it runs (a stack of
   * bidirectional layers, layer by layer). Absent: the unroll steps the cell (lib/rnn/unroll.ts).
   * It must give what stepping gives wherever stepping is defined.
   */
  scan?(g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult;
  /**
   * Optional, for SnAp-1 (lib/rnn/snap.ts): the unit-block diagonal of D = d s_t / d s_{t-1} for a
   * cell whose every state vector has `units` entries, entry u of each vector being unit u's.
   * From the step's inputs (params in paramSpecs order, state, x as values, batch rows), writes
   * out[((b·m + a)·units + u)·m + c] = d s_t[a][b, u] / d s_{t-1}[c][b, u], m = stateSizes.length.
   * It must equal what differentiating step gives on those entries (spec/rnn/snap-unit-jacobian.spec.ts).
   */
  unitJacobian?(params: readonly Mat[], state: readonly Mat[], x: Mat, out: Float64Array): void;
  /**
   * Optional, for SnAp-1 (lib/rnn/snap-fused.ts): how I_t = d s_t / d theta (s_{t-1} fixed) factors,
   * for a cell with unitJacobian. See UnitInfluence.
   */
  readonly unitInfluence?: UnitInfluence;
  /**
   * Optional: the cell's random masks (a stack's dropout), as data, so that a copy of the cell on a
   * worker draws the same ones. Wrappers forward their inner cell's (forwardTraining).
   */
  readonly masks?: CellMasks;
  /** Fills freshly created parameters with this cell's default initialisation. */
  init(params: readonly Mat[], rng: Rng): void;
}

/** Where a cell's mask streams stand: their probability and seed, the masks drawn so far per stream, and whether they are on. */
export interface MaskState {
  p: number;
  seed: number;
  drawn: number[];
  training: boolean;
}

/** Rows [start, start + rows of x) of a batch of `total`: a shard of the batch draws the whole batch's masks and takes its rows. */
export interface MaskRows {
  start: number;
  total: number;
}

export interface CellMasks {
  state(): MaskState;
  /**
   * Sets the streams (and training) to `state`, which must be of a cell like this one (the same p
   * and streams, else a ConfigError); with rows, every later mask is those rows of the whole
   * batch's, until set again with null.
   */
  set(state: MaskState, rows: MaskRows | null): void;
  /** Where the streams stand after `steps` steps that run the cell (steps where no row is active draw nothing) from `state`. */
  after(state: MaskState, steps: number): MaskState;
}

/**
 * Where a cell parameter's elements enter the step: each element scales one input number z into one
 * pre-activation row r (a gate's pre-activation before its non-linearity), so that
 *   I_t[(a, unit u), p] = rowDerivative[r, a] · z   when u = rowUnit[r], else 0.
 * 'matrix' (rows x cols): element (i, j) feeds row rowOf[i] with z = source[j].
 * 'vector' (1 x n): element j feeds row rowOf[j] with z = source[j] (element-wise: a peephole,
 * IndRNN's u) or z = 1 (source 'one': a bias).
 * Sources: 'x' the step's input, 'one', or state vector `state` before the step ('prev') or after it
 * ('new', e.g. the output gate's peephole on c_t).
 */
export interface ParamInfluence {
  readonly kind: 'matrix' | 'vector';
  readonly rowOf: Int32Array;
  readonly source: 'x' | 'one' | { readonly state: number; readonly time: 'prev' | 'new' };
}

/**
 * The structure of I_t for SnAp-1's fused update (lib/rnn/snap-fused.ts), for a cell whose every
 * state vector has one entry per unit (as unitJacobian). `params[q]` describes cell parameter q,
 * or is null for one the state does not depend on (an output layer): those reach the loss without
 * passing through the state. A parameter with a description must reach the step's output only
 * through the new state (the fused update takes its direct gradient as dL/ds_t · I_t).
 * compute(params, state, next, x, jacobian, rowDerivative), next being the new state as the step
 * computes it (a row past its sequence's end may hold anything), writes, for the batch's rows b:
 *   jacobian as unitJacobian does, and
 *   rowDerivative[(b·rows + r)·m + a] = d s_t[a][b, rowUnit[r]] / d pre_r,   m = stateSizes.length.
 * It must equal differentiating step (spec/rnn/snap-influence.spec.ts).
 */
export interface UnitInfluence {
  readonly rows: number;
  readonly rowUnit: Int32Array;
  /**
   * The state vector through which row r reaches the new state first: every path from pre_r to s_t
   * passes through s_t[rowState[r]][rowUnit[r]] (LSTM: c for the i, f, g rows, h for o), so the loss's
   * dL/d pre_r is dL/ds_t[rowState[r]] (its total, through the other state vectors) · rowDerivative[r, rowState[r]].
   */
  readonly rowState: Int32Array;
  readonly params: readonly (ParamInfluence | null)[];
  compute(params: readonly Mat[], state: readonly Mat[], next: readonly Mat[], x: Mat, jacobian: Float64Array, rowDerivative: Float64Array): void;
}

export type Activation = 'tanh' | 'relu' | 'sigmoid' | 'identity';

export function activate(g: Graph, a: Var, f: Activation): Var {
  switch (f) {
    case 'tanh': return g.tanh(a);
    case 'relu': return g.relu(a);
    case 'sigmoid': return g.sigmoid(a);
    case 'identity': return a;
  }
}

/** f'(pre) from pre and y = f(pre), as the Graph's rules take it (relu: [pre > 0]). */
export function activationSlope(f: Activation, pre: number, y: number): number {
  switch (f) {
    case 'tanh': return 1 - y * y;
    case 'relu': return pre > 0 ? 1 : 0;
    case 'sigmoid': return y * (1 - y);
    case 'identity': return 1;
  }
}

/** f'(pre) from y = f(pre) alone, as the Graph's rules take it (relu: [y > 0], the same as [pre > 0]). */
export function activationSlopeAt(f: Activation, y: number): number {
  switch (f) {
    case 'tanh': return 1 - y * y;
    case 'relu': return y > 0 ? 1 : 0;
    case 'sigmoid': return y * (1 - y);
    case 'identity': return 1;
  }
}

/**
 * The unitInfluence of a cell with one state vector whose recurrence is element-wise per unit,
 * h = f(pre), pre_k = ... + r_k h_{t-1,k} (Elman's W_hh diagonal as SnAp-1 sees it, IndRNN's u):
 * one row per unit; from the new state h, rowDerivative = f'(pre) and D's diagonal
 * jacobian = f'(pre)·r_k, where r_k is params[1].data[offset + k·stride].
 */
export function elementwiseUnitInfluence(f: Activation, hiddenSize: number, params: readonly (ParamInfluence | null)[], stride: number): UnitInfluence {
  const H = hiddenSize;
  return {
    rows: H,
    rowUnit: Int32Array.from({ length: H }, (_, i) => i),
    rowState: new Int32Array(H),
    params,
    compute(mats: readonly Mat[], _state: readonly Mat[], [h]: readonly Mat[], _x: Mat, jacobian: Float64Array, rowDerivative: Float64Array) {
      const r = mats[1];
      for (let b = 0; b < h.rows; b++) {
        for (let k = 0; k < H; k++) {
          const slope = activationSlopeAt(f, h.data[h.offset + b * H + k]);
          jacobian[b * H + k] = slope * r.data[r.offset + k * stride];
          rowDerivative[b * H + k] = slope;
        }
      }
    },
  };
}

/** f(pre) for one number (the hooks' plain loops; the Graph's kernels for matrices). */
export function activateNumber(f: Activation, pre: number): number {
  switch (f) {
    case 'tanh': return tanh(pre);
    case 'relu': return pre > 0 ? pre : 0;
    case 'sigmoid': return sigmoid(pre);
    case 'identity': return pre;
  }
}

export function checkActivation(op: string, f: unknown, allowed: readonly Activation[]): Activation {
  if (!allowed.includes(f as Activation)) {
    throw new ConfigError(op, `activation ${JSON.stringify(f)} is not one of ${allowed.join(', ')}`, { value: f, accepted: allowed });
  }
  return f as Activation;
}

/**
 * Gives a wrapping cell the `training` switch (dropout on/off) of the cells it wraps, when any
 * has one: reading gives the first one's, setting sets them all (Rtrl's memory probe and a
 * network's train()/eval() flip it on the outer cell); and the masks of the one it wraps that has them.
 */
export function forwardTraining(cell: Cell, inner: readonly Cell[]): void {
  // One inner cell with masks: they are the wrapper's (several, as seq2seq's two halves: none is).
  const masked = inner.filter((c) => c.masks !== undefined);
  if (masked.length === 1) Object.defineProperty(cell, 'masks', { value: masked[0].masks, enumerable: true });
  const switchable = inner.filter((c) => 'training' in c) as (Cell & { training: boolean })[];
  if (switchable.length === 0) return;
  Object.defineProperty(cell, 'training', {
    get: () => switchable[0].training,
    set: (on: boolean) => { for (const c of switchable) c.training = on; },
    enumerable: true,
  });
}
