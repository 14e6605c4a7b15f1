// One shard of threaded BPTT: some rows of the batch, run forward on this thread's own tape, and
// later walked back from cotangents that the coordinator computed for the whole batch. The same
// code runs on the coordinator's thread (shard 0) and on every worker.
//
// The exchange region (a Float64Array, shared memory for a worker) of a shard of R rows over T
// steps, with O outputs and state sizes S_1..S_m (S = Σ S_k), holds
//   steps:    T blocks of R·(O + S): [output_t (R x O)][state_t,1 (R x S_1)] ... [state_t,m]
//   final:    R·S: [final_1 (R x S_1)] ... [final_m]
//   initial:  R·S: d loss / d the explicit initial state (written by backward, when asked)
// forward() writes the values there; the coordinator overwrites them with d loss / d those values
// where one flows (flagged per block: step t's blocks are t·(1+m) (output) and t·(1+m)+1+k (state k),
// then T·(1+m)+k (final k)); backward() seeds the tape with the flagged blocks and walks it once.
import { Graph, type Var } from '../ad/graph.js';
import type { MaskState, StepMasks } from '../cells/cell.js';
import { type Mat, mat, matFrom, sharedZeros } from '../mat/mat.js';
import { ConfigError } from '../mat/errors.js';
import type { RecurrentModel } from '../rnn/model.js';
import { Unroll } from '../rnn/unroll.js';

const REQUIRES_GRAD = { requiresGrad: true };

/** Doubles of the exchange region of a shard of `rows` rows over `steps` steps. */
export function regionLength(model: RecurrentModel, steps: number, rows: number): number {
  const S = stateWidth(model);
  return rows * (steps * (model.cell.outputSize + S) + 2 * S);
}

/** Σ of the state sizes. */
export function stateWidth(model: RecurrentModel): number {
  let S = 0;
  for (const s of model.cell.stateSizes) S += s;
  return S;
}

export interface ShardForward {
  xs: Mat;
  /** Rows of this shard (its part of the batch). */
  batch: number;
  /** Each row's sequence length, counted from step 0 of the whole sequence (null: every row runs every step). */
  lengths: ArrayLike<number> | null;
  /** The global index of xs's first step (a truncated-BPTT window starts later than 0; default 0). */
  start?: number;
  /** The state entering step 0, this shard's rows (or 1 x size rows shared by the batch); null: the model's rule. */
  initial: readonly Mat[] | null;
  /**
   * A model with random masks (a stack's dropout): where the whole batch's mask streams stand, this
   * shard's first row and the batch's rows, so that it draws the masks one thread would for its rows.
   */
  masks?: { state: MaskState; start: number; total: number } | null;
}

export class BpttShard {
  readonly model: RecurrentModel;
  private readonly graph = new Graph('reverse');
  private readonly unroll: Unroll;
  private paramVars: Var[] = [];
  private outputs: readonly Var[] = [];
  private states: readonly (readonly Var[])[] = [];
  private final: readonly Var[] = [];
  private initialVars: Var[] = [];
  private initialLeaves: Var[] = [];
  private initialGiven: readonly Mat[] | null = null;
  private rows = 0;
  private steps = 0;
  private seedOutputs: Var[] = [];
  private seedCots: Mat[] = [];

  constructor(model: RecurrentModel, op: string) {
    this.model = model;
    this.unroll = new Unroll(model, op);
  }

  /** Bytes the tape of the last forward pass holds. */
  tapeBytes(): number {
    return this.graph.recordedBytes();
  }

  /** The forward unroll of this shard's rows, kept on the tape; the values written into region. */
  forward(f: ShardForward, region: Float64Array): void {
    const { graph: g, unroll, model } = this;
    const seq = unroll.sequence(f.xs, { batch: f.batch, initialState: f.initial, checkFinite: false });
    const masks = f.lengths === null ? null : windowMasks(f.lengths, f.start ?? 0, seq.steps);
    g.reset();
    this.paramVars = unroll.leaves(g, REQUIRES_GRAD, this.paramVars);
    // An explicit initial state: leaves whose gradients backward() reports (as Bptt's initialStateGrad).
    this.initialLeaves = seq.initial === null ? [] : seq.initial.map((m) => g.leaf(m, REQUIRES_GRAD));
    this.initialVars = seq.initial === null
      ? unroll.initialState(g, f.batch, this.paramVars, null)
      : this.initialLeaves.map((leaf) => (leaf.value.rows === f.batch ? leaf : g.addRow(g.constant(sharedZeros(f.batch, leaf.value.cols)), leaf)));
    this.initialGiven = seq.initial;
    const inputs = unroll.inputs(g, f.xs, seq);
    const cellMasks = f.masks == null ? undefined : model.cell.masks;
    if (f.masks != null && cellMasks === undefined) throw new ConfigError('bptt shard', 'the coordinator\'s model has dropout masks and this shard\'s has none: the spec does not describe the model');
    cellMasks?.set(f.masks!.state, { start: f.masks!.start, total: f.masks!.total });
    let run;
    try {
      run = unroll.scan(g, unroll.cellParams(this.paramVars), inputs, this.initialVars, masks);
    } finally {
      cellMasks?.set(cellMasks.state(), null); // the streams stay where this shard left them; its rows are forgotten
    }
    this.outputs = run.outputs;
    this.states = run.states;
    this.final = run.final;
    this.rows = f.batch;
    this.steps = seq.steps;
    const R = f.batch, O = model.cell.outputSize, sizes = model.cell.stateSizes;
    let at = 0;
    for (let t = 0; t < seq.steps; t++) {
      at = put(region, at, run.outputs[t].value, R * O);
      for (let k = 0; k < sizes.length; k++) at = put(region, at, run.states[t][k].value, R * sizes[k]);
    }
    for (let k = 0; k < sizes.length; k++) at = put(region, at, run.final[k].value, R * sizes[k]);
  }

  /**
   * Seeds the tape with the cotangents in region (laid out like the values) and walks it back:
   * d loss / d theta into grad, and d loss / d an explicit initial state into the region's last block.
   */
  backward(region: Float64Array, seeds: Uint8Array, grad: Float64Array): void {
    const { graph: g, model, rows: R } = this;
    const O = model.cell.outputSize, sizes = model.cell.stateSizes;
    const outs = this.seedOutputs, cots = this.seedCots;
    outs.length = 0;
    cots.length = 0;
    let at = 0, block = 0;
    const seed = (v: Var, n: number, cols: number) => {
      if (seeds[block++] === 1 && v.requiresGrad) {
        outs.push(v);
        cots.push(matFrom(R, cols, region, at));
      }
      at += n;
    };
    for (let t = 0; t < this.steps; t++) {
      seed(this.outputs[t], R * O, O);
      for (let k = 0; k < sizes.length; k++) seed(this.states[t][k], R * sizes[k], sizes[k]);
    }
    for (let k = 0; k < sizes.length; k++) seed(this.final[k], R * sizes[k], sizes[k]);
    if (outs.length > 0) {
      g.backward(outs, cots);
      this.unroll.scatter(this.paramVars, grad);
    } else {
      grad.fill(0);
    }
    // d loss / d the explicit initial state: this shard's rows, or its sum over them for a shared row.
    const given = this.initialGiven;
    if (given === null) return;
    for (let k = 0; k < sizes.length; k++) {
      const n = sizes[k], shared = given[k].rows !== R;
      region.fill(0, at, at + R * n);
      const leafGrad = outs.length === 0 ? null : this.initialLeaves[k].grad;
      if (leafGrad !== null) {
        if (shared) for (let c = 0; c < n; c++) region[at + c] = leafGrad.data[leafGrad.offset + c];
        else region.set(leafGrad.data.subarray(leafGrad.offset, leafGrad.offset + R * n), at);
      }
      at += R * n;
    }
  }
}

function put(region: Float64Array, at: number, m: Mat, n: number): number {
  region.set(m.data.subarray(m.offset, m.offset + n), at);
  return at + n;
}

/**
 * The masks of steps [start, start + steps) of sequences of the given lengths (row b runs while
 * start + t < lengths[b]; a row already finished keeps its state through the whole window), or
 * null when every row runs every step, as the unroll's own LengthMasks.
 */
export function windowMasks(lengths: ArrayLike<number>, start: number, steps: number): StepMasks | null {
  const batch = lengths.length;
  const keep: Mat[] = [], full: boolean[] = [], empty: boolean[] = [];
  let allFull = true;
  for (let t = 0; t < steps; t++) {
    const k = mat(batch, 1);
    let active = 0;
    for (let b = 0; b < batch; b++) {
      if (start + t < Number(lengths[b])) { k.data[b] = 1; active++; }
    }
    keep.push(k);
    full.push(active === batch);
    empty.push(active === 0);
    if (active !== batch) allFull = false;
  }
  return allFull ? null : { steps, keep, full, empty };
}
