// SnAp-n (Menick et al. 2021, "Practical real time recurrent learning with a sparse
// approximation"): RTRL with the influence matrix kept only on a fixed pattern M_n, the
// (state entry, parameter) pairs a parameter reaches within n steps (lib/rnn/snap-pattern.ts).
// Per sequence of the batch, with D_t = d s_t / d s_{t-1} and I_t = d s_t / d theta (s_{t-1} fixed):
//   Ŝ_0 = M_n ⊙ d s_0 / d theta,        Ŝ_t = M_n ⊙ (D_t Ŝ_{t-1} + I_t)
//   dL_t/dθ ≈ dL_t/ds_{t-1} · Ŝ_{t-1} + dL_t/dθ|_{s_{t-1} fixed}     (one reverse pass over step t)
//   and the final-state term adds dL_final/ds_T · Ŝ_T.
// With M_n full (n at least the number of steps, or n = 2 for a dense cell) this is exact RTRL;
// with n = 1 on a cell whose D is diagonal (IndRNN) it is exact too.
// The pieces come from the Graph, for any causal cell, with no per-cell code:
//   - D on its support: one forward-mode step with dColours directions (the state seeded with
//     its column colouring; 1 direction when D is diagonal), every batch row at once;
//   - I on M_1: per batch row, one batch-1 reverse-mode step walked back once per row colour of
//     I (1 colour for SnAp-1 on Elman, GRU, IndRNN; 2 for LSTM);
//   - the sparse update, column by column over the class pairs, in place.
// SnAp-1 fast paths (same values, spec/rnn/snap-unit-jacobian.spec.ts, snap-influence.spec.ts and
// the dense reference):
//   - unitBlocks: a cell with unitJacobian (GRU, LSTM, IndRNN, Elman) gives D's unit blocks, the only
//     D entries SnAp-1 needs, by plain loops; the new state is then step 1's values (no forward-mode step);
//   - fused: a cell with unitInfluence too gives I's structure (lib/rnn/snap-fused.ts): no reverse
//     pass per row; one pass over theta updates Ŝ and adds the step's gradient (dL/ds_{t-1}·Ŝ_{t-1},
//     and dL/ds_t·I_t for the parameters the loss pass then leaves without a gradient);
//   - directI (unitBlocks without unitInfluence): classes of at most 2 rows, every slot in supp(I):
//     the update reads I from each colour pass's gradient in theta's layout and takes step 1's
//     dL/ds_{t-1}·Ŝ_{t-1} in the same pass.
// Cost per step is linear in the batch; memory is the pattern's nnz per sequence.
// Threads (SnAp-n, n >= 2, on the general path): Ŝ's columns are independent given D and I, so
// each shard keeps a block of them (restrictColumns) and runs the whole primal step, D and I
// itself, as RTRL's column split does (lib/rnn/rtrl-columns.ts, lib/parallel/rtrl-team.ts). The
// calling thread takes the loss's cotangents on the step's output and state from a values-only
// step first; every shard then steps under the loss Σ c·v those cotangents define, whose gradient
// is the loss's (the same arithmetic from the cotangents on), and adds its columns' gradient.
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import { denseTangent } from '../ad/tangent.js';
import { type Mat, mat, matFrom, shapeOf } from '../mat/mat.js';
import { flopCounter, gemm } from '../mat/gemm.js';
import { checkKeys } from '../mat/options.js';
import { ConfigError, ResourceError, ShapeError } from '../mat/errors.js';
import type { StepResult } from '../cells/cell.js';
import type { RecurrentModel } from './model.js';
import type { SequenceLoss } from './loss-spec.js';
import { type SnapPattern, restrictColumns, snapPattern, withoutReverseIndex } from './snap-pattern.js';
import { type ColumnRange, checkColumns, columnBlocks } from './rtrl-columns.js';
import { type RtrlTeam, TeamStream, rtrlTeamFactory } from './rtrl-threads.js';
import { lossCotangents } from './loss-cotangents.js';
import { checkThreadsOption } from './threads.js';
import { type Sequence, copyState, estimateStepBytes, isActive, scatterGrads } from './unroll.js';
import { OnlineMethod } from './online.js';
import { type FusedPlan, type FusedStep, fillInputs, fusedPlan, fusedUpdate, stepWithInner } from './snap-fused.js';

export interface SnapOptions {
  /** n of SnAp-n: the pattern keeps what a parameter reaches within n steps (integer >= 1, default 1). */
  order?: number;
  /** Refuse a batch whose memory (see estimateBytes) would take more bytes than this. Default 2 GiB. With threads or columns, per thread. */
  maxBytes?: number;
  /** Keep only Ŝ's columns [start, end) and add only their gradient (a shard's block; the general path only). Default: every column. */
  columns?: ColumnRange;
  /**
   * Threads to split Ŝ's columns across (this one included), an integer from 1 to the cores, for
   * order >= 2 on the general path (SnAp-1's whole step costs less than a split step's fixed
   * cost); needs a platform that provides workers and a model made by modelFromSpec (or `spec`).
   * The gradient equals one thread's to rounding (1e-12). close() ends the workers.
   */
  threads?: number;
  /** The model as data (a ModelSpec, lib/parallel/model-spec.ts); default: specOf(model). */
  spec?: object;
}

export const DEFAULT_SNAP_MAX_BYTES = 2 ** 31;

/** Columns of a dense class updated by one gemm. */
const BLOCK = 128;

/** A writable row view (one sequence of a batch), retargeted without allocating. */
interface RowView { rows: number; cols: number; data: Float64Array; offset: number }

interface Buffers {
  readonly batch: number;
  readonly states: [Mat[], Mat[]];
  /** Ŝ: batch x nnz, sequence b's entries at [b·nnz, (b+1)·nnz). */
  readonly values: Float64Array;
  /** D_t compressed: (batch·N) x dColours, row b·N + k. */
  readonly jacobian: Float64Array;
  /** The forward step's state tangents: the colouring seed per state vector ((batch·size) x dColours). */
  readonly seedLeaves: LeafOptions[];
  /** Per set, per row b, per state vector: 1 x size views of the state. */
  readonly rowStates: [Mat[][], Mat[][]];
  readonly output: Mat;
  /** dL/ds of the latest loss term per row (batch x N), and 1 for a row whose contraction with Ŝ waits for its update. */
  readonly stateGrads: Float64Array;
  readonly pending: Uint8Array;
}

function checkOrder(order: unknown): number {
  if (typeof order !== 'number' || !Number.isSafeInteger(order) || order < 1) {
    throw new ConfigError('snap', `order must be an integer >= 1 (SnAp-n keeps what a parameter reaches within n steps), got ${String(order)}`, { option: 'order', value: order });
  }
  return order;
}

/** The cell's dropout, if it has one switched on (a stack's, through a readout too). */
function dropoutOf(cell: unknown): number {
  let c = cell as { dropout?: unknown; inner?: unknown } | undefined;
  while (c !== undefined && c !== null) {
    if (typeof c.dropout === 'number' && c.dropout > 0) return c.dropout;
    c = c.inner as typeof c;
  }
  return 0;
}

/**
 * SnAp-n. Online like Rtrl: reset({ batch, lengths, initialState }), then step(x, loss, last) per
 * step with the gradient estimate of the loss so far in grad; run(xs, loss, options) does a whole
 * sequence under the contract every gradient method has (the shell is OnlineMethod's). A new
 * stream starts Ŝ_0 at 0, or at 1 on a learned initial state's own entries; a finished sequence's
 * Ŝ is frozen with its state.
 */
export class Snap extends OnlineMethod {
  readonly order: number;
  readonly pattern: SnapPattern;
  private readonly maxBytes: number;
  private readonly lossGraph = new Graph('reverse');
  private readonly rowGraph = new Graph('reverse');
  private readonly jvpGraph: Graph;
  private readonly evalGraph = new Graph('eval');
  /**
   * True when every D entry the pattern needs lies in a unit block (s[a][u], s[c][u]) and the cell
   * has unitJacobian: D then comes from that hook (SnAp-1 on a dense cell), not the forward step.
   */
  readonly unitBlocks: boolean;
  /** Entries per row of the stored D: m (state vectors) with unitBlocks, else pattern.dColours. */
  private readonly dWidth: number;
  /** Per pair, where its D entry is in a sequence's stored D: pattern.pairD, or k·m + (vector of j) with unitBlocks. */
  private readonly pairD: Int32Array;
  private buffers: Buffers | null = null;
  private current = 0;
  private readonly paramVars: Var[] = [];
  private readonly stateVars: Var[] = [];
  private readonly gradLeaves: LeafOptions = { requiresGrad: true };
  /**
   * True when every class has at most 2 rows (not dense) and every slot is in supp(I) or belongs to
   * a learned initial state's parameter (SnAp-1): then I[k, p] is the gradient of colour(k)'s reverse
   * pass at p (a colour holds one row of p's at most), read straight from colourGrads by the update.
   */
  private readonly directI: boolean;
  /** With directI: per colour of I, that pass's gradient laid out like theta (iColours x P). */
  private readonly colourGrads: Float64Array;
  /** colourGrads' row per colour (views made once, not per step). */
  private readonly colourGradRows: Float64Array[] = [];
  /** With directI: per class, for its rows 0 and 1, where their colour's gradient starts in colourGrads. */
  private readonly classGradAt: Int32Array;
  /** One sequence's I on the pattern (zero outside M_1, never written there). */
  private readonly influence: Float64Array;
  /** One column's new values, or a block of a dense class's columns (BLOCK x rows). */
  private readonly column: Float64Array;
  /** A dense class's D block for one sequence (rows x rows). */
  private readonly block: Float64Array;
  /** dL/ds for one sequence. */
  private readonly stateGrad: Float64Array;
  /** Per colour of I, per state vector: the 1 x size cotangent with 1 on that colour's entries. */
  private readonly colourCotangents: Mat[][];
  private readonly xRow: RowView = { rows: 1, cols: 0, data: new Float64Array(0), offset: 0 };
  /**
   * SnAp-1 on a cell with unitInfluence (lib/rnn/snap-fused.ts): I_t from the hook, never from
   * reverse passes, and the step's direct gradient of the described parameters in the same pass.
   */
  readonly fused: FusedPlan | null;
  /** With fused: the loss pass's leaves (a fused parameter needs no gradient there). */
  private readonly lossLeaves: LeafOptions[] = [];
  private fusedStep: FusedStep | null = null;
  /** With fused: dL_t/ds_t of the step's loss term per row (batch x N). */
  private newStateGrads = new Float64Array(0);
  private hasNewGrads = false;

  /** This shard's columns of Ŝ and of the gradient (every column without threads or columns). */
  readonly columns: ColumnRange;
  /** The workers of the other column blocks (threads > 1), or null. */
  readonly team: RtrlTeam | null = null;
  /** Shards the columns run on (1 without threads). */
  readonly shards: number;
  // Threads: the graph the loss's cotangents are taken on, the cotangents (output, each state
  // vector's for the step term, then for the final term), the step's loss values, and whether a
  // failed step left the stream unusable until reset.
  private readonly cotangentGraph = new Graph('reverse');
  private cotangentBuffers: Mat[] = [];
  private readonly cotangents: (Mat | null)[] = [];
  private readonly termValues: number[] = [];
  private readonly stream: TeamStream;
  /** This block's gradient before the step (threads: restored when the step fails). */
  private gradBefore = new Float64Array(0);
  /** False while a shard steps under the cotangents' loss, whose value is not the loss's. */
  private countLoss = true;
  // The loss Σ c·v of the cotangents: its gradient at the step's output and state is the cotangents.
  private readonly cotangentLoss: SequenceLoss = {
    step: (g, _t, output, state) => this.cotangentTerm(g, [output, ...state], 0),
    final: (g, state) => this.cotangentTerm(g, state, 1 + state.length),
  };

  constructor(model: RecurrentModel, options: SnapOptions = {}) {
    checkKeys('snap', options, ['order', 'maxBytes', 'columns', 'threads', 'spec']);
    const order = checkOrder(options.order ?? 1);
    const P = model.params.theta.length;
    const threads = checkThreadsOption('snap', options.threads ?? 1);
    if (threads > 1 && options.columns !== undefined) throw new ConfigError('snap', 'columns and threads exclude each other (threads choose the columns of each shard)', { option: 'columns' });
    if (threads > 1 && order < 2) {
      throw new ConfigError('snap', `threads: ${threads} splits the columns of SnAp-n for n >= 2; SnAp-1's whole step costs less than a split step's fixed cost (docs/performance.md), so it runs on one thread`, { option: 'threads', value: threads, order });
    }
    const columns = options.columns === undefined ? null : checkColumns('snap', options.columns, P);
    const { cell } = model;
    if (cell.causal === false) {
      throw new ConfigError('snap', `the ${cell.kind} model reads the future of the sequence (a bidirectional layer), so SnAp-${order} cannot train it online; use Bptt`, { model: cell.kind });
    }
    const dropout = dropoutOf(cell);
    if (dropout > 0) {
      throw new ConfigError('snap', `the ${cell.kind} model has dropout ${dropout}, whose masks would differ between the passes SnAp takes over one step; use Rtrl or Bptt (or a stack without dropout)`, { dropout });
    }
    const limit = options.maxBytes ?? DEFAULT_SNAP_MAX_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError('snap', `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
    super(model, 'snap');
    this.order = order;
    this.maxBytes = limit;
    this.pattern = snapPattern(model, order);
    const { pattern } = this;
    const unitPairs = unitBlockPairs(model, pattern);
    this.unitBlocks = unitPairs !== null;
    this.pairD = unitPairs ?? pattern.pairD;
    this.dWidth = unitPairs !== null ? cell.stateSizes.length : pattern.dColours;
    this.jvpGraph = new Graph('forward', this.unitBlocks ? 1 : pattern.dColours);
    this.fused = unitPairs !== null ? fusedPlan(model, pattern, unitPairs) : null;
    if (this.fused !== null) this.pattern = withoutReverseIndex(pattern);
    if (this.fused !== null) for (const on of this.fused.fusedParam) this.lossLeaves.push(on ? {} : this.gradLeaves);
    this.directI = this.fused === null && directInfluence(model, pattern);
    this.colourGrads = new Float64Array(this.directI ? pattern.iColours * pattern.params : 0);
    this.classGradAt = new Int32Array(this.directI ? 2 * pattern.classes : 0);
    if (this.directI) {
      for (let c = 0; c < pattern.iColours; c++) this.colourGradRows.push(this.colourGrads.subarray(c * pattern.params, (c + 1) * pattern.params));
      for (let c = 0; c < pattern.classes; c++) {
        const r0 = pattern.classRowStart[c], r1 = pattern.classRowStart[c + 1];
        this.classGradAt[2 * c] = pattern.iColour[pattern.classRows[r0]] * pattern.params;
        this.classGradAt[2 * c + 1] = r1 - r0 === 2 ? pattern.iColour[pattern.classRows[r0 + 1]] * pattern.params : 0;
      }
    }
    let block = columns;
    // A fast path (D in unit blocks: SnAp-2 on IndRNN is SnAp-1) is a short step: threads run it on
    // this one (shards: 1), as RTRL does with too few columns; an explicit block cannot be had.
    const fastPath = this.unitBlocks || this.directI;
    if (block !== null && fastPath) {
      throw new ConfigError('snap', `columns need SnAp's general update, and SnAp-${order} on ${cell.kind} takes a one-thread fast path (its D lies in unit blocks, so its step is short); run it without columns`, { option: 'columns', order });
    }
    if (threads > 1 && !fastPath && columnBlocks(P, threads, 1).length > 1) {
      const make = rtrlTeamFactory();
      if (make === null) throw new ConfigError('snap', `threads: ${threads} needs workers, and no platform has provided them (under Node, import 'loopgrad' or 'loopgrad/node'; in a browser, await loopgrad.parallel.enableWebThreads() in a Web Worker)`, { option: 'threads', value: threads });
      this.team = make({ model, threads, spec: options.spec ?? null, maxBytes: limit, method: { kind: 'snap', order } });
      block = this.team.ranges[0];
    }
    this.stream = new TeamStream('snap', this.team);
    this.shards = this.team === null ? 1 : this.team.ranges.length;
    this.columns = block ?? { start: 0, end: P };
    if (this.team !== null) this.gradBefore = new Float64Array(this.columns.end - this.columns.start);
    if (block !== null) this.pattern = restrictColumns(this.pattern, block.start, block.end);
    this.influence = new Float64Array(this.directI || this.fused !== null ? 0 : this.pattern.nnz);
    this.column = new Float64Array(BLOCK * pattern.maxClassRows);
    this.block = new Float64Array(pattern.classDense.some((d) => d === 1) ? pattern.maxClassRows * pattern.maxClassRows : 0);
    this.stateGrad = new Float64Array(pattern.stateNumbers);
    this.colourCotangents = [];
    for (let c = 0; c < pattern.iColours; c++) {
      this.colourCotangents.push(cell.stateSizes.map((n, i) => {
        const m = mat(1, n);
        for (let e = 0; e < n; e++) if (pattern.iColour[pattern.stateStarts[i] + e] === c) m.data[e] = 1;
        return m;
      }));
    }
    try {
      this.allocate(1);
    } catch (e) {
      this.team?.close();
      throw e;
    }
  }

  /**
   * Bytes SnAp needs for a batch: Ŝ (nnz per sequence), two sets of state, the compressed D, the
   * pattern's indices, and the steps' values: a reverse tape and gradients at the batch, a
   * forward step with dColours tangents per value, a batch-1 reverse step.
   */
  estimateBytes(batch: number): number {
    const { pattern: p, model } = this;
    const stepBatch = estimateStepBytes(model, batch), stepOne = estimateStepBytes(model, 1);
    const N = p.stateNumbers;
    const fused = this.fused === null ? 0 : this.fused.indexBytes + 8 * batch * (this.fused.rows * this.fused.vectors + 2 * N) + 8 * this.fused.zSize;
    return 8 * batch * (p.nnz + N * (2 + p.dColours)) + p.indexBytes + stepBatch * (2 + p.dColours + 1) + 2 * stepOne + 8 * (2 * p.nnz + p.params) + fused;
  }

  protected override allocate(batch: number): Buffers {
    if (this.buffers !== null && this.buffers.batch === batch) return this.buffers;
    const { model, pattern } = this;
    const bytes = this.estimateBytes(batch);
    if (bytes > this.maxBytes) {
      throw new ResourceError('snap', `SnAp-${this.order} keeps ${pattern.nnz} sensitivities per sequence for a batch of ${batch} (and one step's values with ${pattern.dColours} tangent directions): ${(bytes / 2 ** 20).toFixed(1)} MiB, over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes, or use a lower order or BPTT)`, { bytes, limit: this.maxBytes, batch });
    }
    const { stateSizes } = model.cell;
    const K = this.dWidth;
    if (this.team !== null) this.cotangentBuffers = [mat(batch, model.cell.outputSize), ...stateSizes.map((n) => mat(batch, n)), ...stateSizes.map((n) => mat(batch, n))];
    const makeStates = () => stateSizes.map((size) => mat(batch, size));
    const states: [Mat[], Mat[]] = [makeStates(), makeStates()];
    const rows = (set: Mat[]) => Array.from({ length: batch }, (_, b) => set.map((m) => matFrom(1, m.cols, m.data, m.offset + b * m.cols)));
    const seedLeaves = this.unitBlocks ? [] : stateSizes.map((size, i) => {
      const data = new Float64Array(batch * size * K);
      for (let b = 0; b < batch; b++) for (let e = 0; e < size; e++) data[(b * size + e) * K + pattern.dColour[pattern.stateStarts[i] + e]] = 1;
      return { tangent: denseTangent(data) };
    });
    this.buffers = {
      batch,
      states,
      values: new Float64Array(batch * pattern.nnz),
      jacobian: new Float64Array(batch * pattern.stateNumbers * K),
      seedLeaves,
      rowStates: [rows(states[0]), rows(states[1])],
      output: mat(batch, model.cell.outputSize),
      stateGrads: new Float64Array(batch * pattern.stateNumbers),
      pending: new Uint8Array(batch),
    };
    const plan = this.fused;
    if (plan !== null) {
      this.newStateGrads = new Float64Array(batch * pattern.stateNumbers);
      this.fusedStep = {
        values: this.buffers.values, grad: this.grad, jacobian: this.buffers.jacobian,
        rowDerivative: new Float64Array(batch * plan.rows * plan.vectors),
        prevGrad: this.buffers.stateGrads, prevAt: -1, newGrad: this.newStateGrads, newAt: -1,
        z: new Float64Array(plan.zSize),
      };
    }
    return this.buffers;
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  override get state(): readonly Mat[] {
    return this.buffers!.states[this.current];
  }

  /** Ŝ: sequence b's pattern entries at [b·nnz, (b+1)·nnz), column p's at pattern.colStart[p] (read-only). */
  get sensitivity(): Float64Array {
    return this.buffers!.values;
  }

  /** Sensitivities kept per sequence: the pattern's nnz (P for SnAp-1 on Elman, GRU, IndRNN). */
  sensitivityCount(): number {
    return this.pattern.nnz;
  }

  /**
   * Bytes carried from one step to the next for the gradient, as every online method counts them
   * (Rtrl: S; Uoro: state, s̃, θ̃; KfRtrl: h, u, A): Ŝ, the state, and dL/ds of the latest loss
   * term per row (its contraction with Ŝ waits for the next update). The gradient accumulator, the
   * pattern's constant indices and the step's scratch are in totalBytes.
   */
  stateBytes(): number {
    const b = this.buffers!;
    return 8 * (b.values.length + b.states[this.current].reduce((n, m) => n + m.rows * m.cols, 0) + b.stateGrads.length);
  }

  /** Bytes of every buffer this learner holds: stateBytes, the other state set, indices, gradient, scratch and the graphs' arenas. */
  totalBytes(): number {
    const b = this.buffers!;
    const f = this.fusedStep;
    const floats = b.values.length + b.states.flat().reduce((n, m) => n + m.rows * m.cols, 0) + b.jacobian.length + b.output.rows * b.output.cols
      + b.stateGrads.length + this.newStateGrads.length + this.grad.length + this.colourGrads.length + this.influence.length + this.column.length
      + this.block.length + this.stateGrad.length + (f === null ? 0 : f.rowDerivative.length + f.z.length)
      + b.seedLeaves.reduce((n, leaf) => n + (leaf.tangent?.kind === 'dense' ? leaf.tangent.data.length : 0), 0);
    const indices = this.pattern.indexBytes + (this.fused?.indexBytes ?? 0) + this.pairD.byteLength + this.classGradAt.byteLength + b.pending.byteLength;
    const graphs = this.lossGraph.arenaBytes() + this.rowGraph.arenaBytes() + this.jvpGraph.arenaBytes() + this.evalGraph.arenaBytes() + this.cotangentGraph.arenaBytes()
      + 8 * (this.cotangentBuffers.reduce((n, m) => n + m.rows * m.cols, 0) + this.gradBefore.length);
    return 8 * floats + indices + graphs;
  }

  // s_0 and Ŝ_0 (lazily at the first step, from the parameters as they are then, as Rtrl does).
  private start(): void {
    const { seq, model } = this;
    const buffers = this.buffers!;
    this.writeInitialState(this.lossGraph, this.paramVars, buffers.states[this.current]);
    buffers.values.fill(0);
    if (seq.initial === null && model.initialState === 'learned') {
      const { nnz, initialSlots } = this.pattern;
      for (let b = 0; b < seq.batch; b++) for (let i = 0; i < initialSlots.length; i++) buffers.values[b * nnz + initialSlots[i]] = 1;
    }
    this.started = true;
  }

  protected override onBegin(seq: Sequence): void {
    this.stream.begin(seq.batch, seq.masks === null ? null : seq.masks.lengths, seq.initial);
  }

  /** Ends the worker threads (threads > 1); the learner cannot step after. Idempotent. */
  close(): void {
    this.stream.close();
  }

  protected override advance(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    this.stream.check();
    const team = this.team;
    if (team === null) return this.advanceBlock(x, loss, last);
    // Threads: the cotangents first (from a values-only step), then every shard's block at once.
    if (!this.started) this.start();
    const values = this.valueStep(x);
    lossCotangents('snap', this.cotangentGraph, loss, this.steps, values.output, values.state, last, true, { buffers: this.cotangentBuffers, cotangents: this.cotangents, values: this.termValues });
    this.stream.guard(() => team.start(this.model.params.theta, x, this.cotangents, null));
    // This block adds to grad and moves to the new state before the workers are known to have
    // finished: kept to undo, so that a failed step adds nothing and leaves the state before it
    // (what a 'carry' reset continues; Ŝ, changed in place, starts from zero there anyway).
    const { start, end } = this.columns;
    this.gradBefore.set(this.grad.subarray(start, end));
    const current = this.current, steps = this.steps;
    const undo = () => {
      this.grad.set(this.gradBefore, start);
      this.current = current;
      this.steps = steps;
    };
    try {
      this.blockStep(x);
    } catch (e) {
      this.stream.abandon(e, this.grad.length, undo);
    }
    this.stream.guard(() => team.finish(this.grad), undo);
    for (const v of this.termValues) this.loss += v;
    return this.buffers!.output;
  }

  /**
   * A worker's step (lib/parallel/rtrl-shard.ts): this block's step under the loss the cotangents
   * define (output, each state vector's for the step term, then each state vector's for the final
   * term; null: none), its gradient increment written to into[start, end) of its columns.
   */
  stepWithCotangents(x: Mat, cotangents: readonly (Mat | null)[], into: Float64Array): void {
    if (this.team !== null) throw new ConfigError('snap', 'stepWithCotangents is a worker\'s step, not for a learner with threads');
    const m = this.model.cell.stateSizes.length;
    if (cotangents.length !== 1 + 2 * m) throw new ShapeError('snap', `stepWithCotangents needs ${1 + 2 * m} cotangents (output, ${m} state vectors for the step term and ${m} for the final term), got ${cotangents.length}`, { cotangents: cotangents.length });
    if (this.seq.batch !== x.rows) throw new ShapeError('snap', `input is ${shapeOf(x)}, needs batch ${this.seq.batch}`, { x: [x.rows, x.cols] });
    const { start, end } = this.columns;
    this.grad.fill(0, start, end);
    this.cotangents.length = 0;
    for (const c of cotangents) this.cotangents.push(c);
    this.blockStep(x);
    into.set(this.grad.subarray(start, end), start);
  }

  // This shard's block of the step under the cotangents' loss (its value is not the loss's: not counted).
  private blockStep(x: Mat): void {
    const m = this.model.cell.stateSizes.length;
    let last = false;
    for (let i = 0; i < m; i++) if (this.cotangents[1 + m + i] !== null) last = true;
    this.countLoss = false;
    try {
      this.advanceBlock(x, this.cotangentLoss, last);
    } finally {
      this.countLoss = true;
    }
  }

  // Σ_i c_i · v_i over the cotangents from index `from` (null where none is given, or no term).
  private cotangentTerm(g: Graph, vars: readonly Var[], from: number): Var | null {
    let term: Var | null = null;
    for (let i = 0; i < vars.length; i++) {
      const c = this.cotangents[from + i];
      if (c === null || c === undefined) continue;
      const d = g.dot(vars[i], g.constant(c));
      term = term === null ? d : g.add(term, d);
    }
    return term;
  }

  // The step's values alone (threads: for the loss's cotangents before the shards run).
  private valueStep(x: Mat): { output: Mat; state: Mat[] } {
    const { unroll, seq } = this;
    const g = this.evalGraph;
    g.reset();
    const params = unroll.leaves(g, {}, this.paramVars);
    const state = this.buffers!.states[this.current].map((m) => g.leaf(m));
    const result = unroll.step(g, unroll.cellParams(params), state, g.leaf(x), this.steps, seq.masks);
    return { output: result.output.value, state: result.state.map((v) => v.value) };
  }

  // One step of this shard's block (the whole step without threads).
  private advanceBlock(x: Mat, loss: SequenceLoss, last: boolean): Mat {
    if (!this.started) this.start();
    const { model, unroll, seq } = this;
    const buffers = this.buffers!;
    const { cell } = model;
    const from = this.current, to = 1 - from, t = this.steps;

    // 1. The step's loss term: dL/dθ with s_{t-1} fixed, plus dL/ds_{t-1} · Ŝ_{t-1}.
    let stepped: StepResult | null = null;
    if (loss.step !== undefined) {
      const g = this.lossGraph;
      g.reset();
      const paramVars = unroll.leaves(g, this.fused !== null ? this.lossLeaves : this.gradLeaves, this.paramVars);
      const stateVars = this.stateVars;
      stateVars.length = 0;
      for (const m of buffers.states[from]) stateVars.push(g.leaf(m, this.gradLeaves));
      let result: StepResult, inner: readonly Var[] = [];
      if (this.fused !== null) ({ result, inner } = stepWithInner(g, cell, unroll.cellParams(paramVars), stateVars, g.leaf(x), t, seq.masks));
      else result = unroll.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(x), t, seq.masks);
      stepped = result;
      const term = loss.step(g, t, result.output, result.state);
      // With directI or fused the update reads Ŝ_{t-1} anyway: dL/ds_{t-1} · Ŝ_{t-1} is taken there (deferred).
      if (term !== null) this.accumulate(g, term, paramVars, stateVars, this.directI || this.fused !== null);
      if (this.fused !== null) this.readNewStateGrads(term, inner);
    } else {
      this.hasNewGrads = false;
    }

    // 2. The new state and D_t on its support: with unitBlocks, the state from step 1's values (or
    // a values-only step) and D's unit blocks from the cell's hook; else one forward step, the
    // state seeded with D's colouring.
    if (this.unitBlocks) {
      if (stepped === null) {
        const ge = this.evalGraph;
        ge.reset();
        const eParams = unroll.leaves(ge, {}, this.paramVars);
        const eState = this.stateVars; // step 1's leaves are spent
        eState.length = 0;
        for (const m of buffers.states[from]) eState.push(ge.leaf(m));
        stepped = unroll.step(ge, unroll.cellParams(eParams), eState, ge.leaf(x), t, seq.masks);
      }
      if (this.fused === null) cell.unitJacobian!(model.params.mats, buffers.states[from], x, buffers.jacobian);
    } else {
      const gf = this.jvpGraph;
      gf.reset();
      const fParams = unroll.leaves(gf, {}, this.paramVars);
      const fState = this.stateVars; // step 1's leaves are spent
      fState.length = 0;
      for (let i = 0; i < buffers.states[from].length; i++) fState.push(gf.leaf(buffers.states[from][i], buffers.seedLeaves[i]));
      stepped = unroll.step(gf, unroll.cellParams(fParams), fState, gf.leaf(x), t, seq.masks);
      this.readJacobian(stepped.state);
    }
    copyState('snap', cell, stepped.state, buffers.states[to]);
    if (this.fused !== null) cell.unitInfluence!.compute(model.params.mats, buffers.states[from], buffers.states[to], x, buffers.jacobian, this.fusedStep!.rowDerivative);
    const out = stepped.output.value;
    buffers.output.data.set(out.data.subarray(out.offset, out.offset + out.rows * out.cols));

    // 3. Per active sequence: I_t on M_1 by reverse passes over its own batch-1 step, then Ŝ's update
    // (fused: I_t from the hook, the update and the step's gradient in one pass).
    const masks = seq.masks;
    for (let b = 0; b < seq.batch; b++) {
      if (!isActive(masks, t, b)) continue; // frozen: state and Ŝ kept
      if (this.fused !== null) { this.updateFused(x, b, buffers.states[from], buffers.states[to]); continue; }
      this.rowInfluence(x, b, buffers.rowStates[from][b]);
      this.update(b);
    }
    for (let b = 0; b < seq.batch; b++) if (buffers.pending[b] === 1) this.contract(b); // frozen rows' deferred terms
    this.current = to;
    this.steps++;

    // 4. The final-state term: dL_final/ds_T · Ŝ_T.
    if (last && loss.final !== undefined) {
      const g = this.lossGraph;
      g.reset();
      const stateVars = this.stateVars;
      stateVars.length = 0;
      for (const m of buffers.states[to]) stateVars.push(g.leaf(m, this.gradLeaves));
      const term = loss.final(g, stateVars);
      if (term !== null) this.accumulate(g, term, null, stateVars, false);
    }
    return buffers.output;
  }

  // Adds a loss term and its gradient: the parameters' own (when paramVars are given) and dL/ds · Ŝ
  // (with defer, left to the row's update: pending).
  private accumulate(g: Graph, term: Var, paramVars: readonly Var[] | null, stateVars: readonly Var[], defer: boolean): void {
    if (term.value.rows !== 1 || term.value.cols !== 1) throw new ShapeError('snap', `a loss term must be 1x1, got ${shapeOf(term.value)}`, { term: [term.value.rows, term.value.cols] });
    if (this.countLoss) this.loss += term.value.data[term.value.offset];
    if (!term.requiresGrad) return;
    g.backward(term);
    const { grad, pattern } = this;
    const { offsets } = this.model.params;
    const { start, end } = this.columns;
    if (paramVars !== null) {
      for (let q = 0; q < paramVars.length; q++) {
        const gr = paramVars[q].grad;
        if (gr === null) continue;
        // This shard's columns of the matrix only: [a0, a1) of its elements.
        const at = offsets[q], a0 = Math.max(0, start - at), a1 = Math.min(gr.rows * gr.cols, end - at);
        for (let a = a0; a < a1; a++) grad[at + a] += gr.data[gr.offset + a];
      }
    }
    const buffers = this.buffers!, N = pattern.stateNumbers, { stateStarts } = pattern;
    for (let b = 0; b < this.seq.batch; b++) {
      let any = false;
      const gs = buffers.stateGrads, gBase = b * N;
      for (let i = 0; i < stateVars.length; i++) {
        const gr = stateVars[i].grad, n = this.model.cell.stateSizes[i], s0 = gBase + stateStarts[i];
        if (gr === null) { gs.fill(0, s0, s0 + n); continue; }
        const data = gr.data, from = gr.offset + b * n;
        for (let e = 0; e < n; e++) {
          const v = data[from + e];
          gs[s0 + e] = v;
          if (v !== 0) any = true;
        }
      }
      if (!any) continue;
      if (defer) buffers.pending[b] = 1;
      else this.contract(b);
    }
  }

  // With fused: dL_t/ds_t per row from the loss pass (the new state's gradient), for δ = dL_t/ds_t · dS/d pre.
  private readNewStateGrads(term: Var | null, state: readonly Var[]): void {
    const into = this.newStateGrads, N = this.pattern.stateNumbers, { stateStarts } = this.pattern;
    this.hasNewGrads = term !== null && term.requiresGrad;
    if (!this.hasNewGrads) return;
    const { stateSizes } = this.model.cell;
    for (let i = 0; i < state.length; i++) {
      const gr = state[i].grad, n = stateSizes[i];
      if (gr === null) {
        // s_t[i] does not depend on s_{t-1}: the fused path cannot read dL/ds_t[i] off the loss pass.
        throw new ConfigError('snap', `${this.model.cell.kind} has unitInfluence, but its new state ${i} does not depend on the previous state, so the loss pass gives it no gradient`, { state: i });
      }
      const data = gr.data;
      for (let b = 0; b < this.seq.batch; b++) {
        const from = gr.offset + b * n, to = b * N + stateStarts[i];
        for (let e = 0; e < n; e++) into[to + e] = data[from + e];
      }
    }
  }

  // The fused pass for sequence b (lib/rnn/snap-fused.ts), with the deferred dL/ds_{t-1} · Ŝ_{t-1}.
  private updateFused(x: Mat, b: number, prev: readonly Mat[], next: readonly Mat[]): void {
    const { pattern } = this;
    const plan = this.fused!, step = this.fusedStep!, buffers = this.buffers!, N = pattern.stateNumbers;
    fillInputs(plan, step.z, x, b, prev, next, pattern.stateStarts);
    step.prevAt = buffers.pending[b] === 1 ? b * N : -1;
    step.newAt = this.hasNewGrads ? b * N : -1;
    buffers.pending[b] = 0;
    flopCounter.count += pattern.loopFlops + 2 * pattern.nnz + 2 * pattern.params;
    fusedUpdate(plan, pattern, step, b);
  }

  // grad += dL/ds · Ŝ for row b (dL/ds in stateGrads).
  private contract(b: number): void {
    const { grad, pattern } = this;
    const buffers = this.buffers!;
    buffers.pending[b] = 0;
    const values = buffers.values, gs = this.stateGrad;
    gs.set(buffers.stateGrads.subarray(b * pattern.stateNumbers, (b + 1) * pattern.stateNumbers));
    const { nnz, classes, classRowStart, classRows, classColStart, classCols, colStart } = pattern;
    flopCounter.count += 2 * nnz;
    const base = b * nnz;
    for (let c = 0; c < classes; c++) {
      const r0 = classRowStart[c], r1 = classRowStart[c + 1];
      if (r1 - r0 <= 2) {
        // A unit's class: its (one or two) rows' dL/ds in registers.
        const g0 = gs[classRows[r0]], g1 = r1 - r0 === 2 ? gs[classRows[r0 + 1]] : 0;
        if (r1 - r0 === 1) {
          for (let ci = classColStart[c]; ci < classColStart[c + 1]; ci++) { const p = classCols[ci]; grad[p] += g0 * values[base + colStart[p]]; }
        } else {
          for (let ci = classColStart[c]; ci < classColStart[c + 1]; ci++) {
            const p = classCols[ci], at = base + colStart[p];
            grad[p] += g0 * values[at] + g1 * values[at + 1];
          }
        }
        continue;
      }
      for (let ci = classColStart[c]; ci < classColStart[c + 1]; ci++) {
        const p = classCols[ci], at = base + colStart[p] - r0;
        let acc = 0;
        for (let r = r0; r < r1; r++) acc += gs[classRows[r]] * values[at + r];
        grad[p] += acc;
      }
    }
  }

  // D_t compressed, row b·N + k, from the forward step's state tangents.
  private readJacobian(state: readonly Var[]): void {
    const { pattern } = this;
    const buffers = this.buffers!;
    const K = pattern.dColours, N = pattern.stateNumbers, D = buffers.jacobian;
    const { stateSizes } = this.model.cell;
    for (let i = 0; i < state.length; i++) {
      const tangent = state[i].tangent, n = stateSizes[i], s0 = pattern.stateStarts[i];
      for (let b = 0; b < this.seq.batch; b++) {
        const at = (b * N + s0) * K;
        if (tangent === null) { D.fill(0, at, at + n * K); continue; }
        if (tangent.kind !== 'dense') throw new Error(`snap: internal: state ${i} has a ${tangent.kind} tangent`);
        const src = tangent.offset + b * n * K;
        D.set(tangent.data.subarray(src, src + n * K), at);
      }
    }
  }

  // I_t of sequence b on M_1 into this.influence: its step at batch 1, walked back once per colour.
  private rowInfluence(x: Mat, b: number, rowState: readonly Mat[]): void {
    const { pattern, unroll, model } = this;
    const g = this.rowGraph;
    g.reset();
    const paramVars = unroll.leaves(g, this.gradLeaves, this.paramVars);
    const stateVars = this.stateVars;
    stateVars.length = 0;
    for (const m of rowState) stateVars.push(g.leaf(m));
    const xRow = this.xRow;
    xRow.cols = x.cols; xRow.data = x.data; xRow.offset = x.offset + b * x.cols;
    const result = model.cell.step(g, unroll.cellParams(paramVars), stateVars, g.leaf(xRow));
    const influence = this.influence;
    const { iEntryStart, iSlot, iLeaf, iElement } = pattern;
    if (this.directI) {
      for (let c = 0; c < pattern.iColours; c++) {
        g.backward(result.state, this.colourCotangents[c]);
        scatterGrads(model.params.offsets, paramVars, this.colourGradRows[c]);
      }
      return;
    }
    for (let c = 0; c < pattern.iColours; c++) {
      g.backward(result.state, this.colourCotangents[c]);
      // Entries run leaf by leaf within a state row: look a leaf's gradient up once per run.
      let leaf = -1, gd: Float64Array | null = null, go = 0;
      for (let a = iEntryStart[c]; a < iEntryStart[c + 1]; a++) {
        if (iLeaf[a] !== leaf) {
          leaf = iLeaf[a];
          const gr = paramVars[leaf].grad;
          gd = gr === null ? null : gr.data;
          go = gr === null ? 0 : gr.offset;
        }
        influence[iSlot[a]] = gd === null ? 0 : gd[go + iElement[a]];
      }
    }
  }

  // Ŝ_b <- M ⊙ (D_b Ŝ_b + I_b), column by column in place (a column's new values read only its old ones).
  private update(b: number): void {
    const { pattern, influence, column } = this;
    const buffers = this.buffers!;
    const values = buffers.values, D = buffers.jacobian;
    const { nnz, classes, classRowStart, classRows, classColStart, classCols, colStart, classPairStart, pairOut, pairIn, classDense } = pattern;
    const pairD = this.pairD, grad = this.grad, sg = buffers.stateGrads, gBase = b * pattern.stateNumbers;
    const base = b * nnz, dBase = b * pattern.stateNumbers * this.dWidth;
    // A pending contraction is done here only on the directI path (the only one that defers it).
    const fuse = buffers.pending[b] === 1;
    if (fuse) { buffers.pending[b] = 0; flopCounter.count += 2 * nnz; }
    flopCounter.count += pattern.loopFlops;
    for (let c = 0; c < classes; c++) {
      const size = classRowStart[c + 1] - classRowStart[c];
      const q0 = classPairStart[c], q1 = classPairStart[c + 1];
      const c0 = classColStart[c], c1 = classColStart[c + 1];
      if (classDense[c] === 1) { this.updateDense(b, c0, c1, size, q0, q1); continue; }
      if (size <= 2) {
        // A unit's class (SnAp-1: 1 row on GRU, 2 on LSTM): its D block (zero where no pair) in registers.
        let d00 = 0, d01 = 0, d10 = 0, d11 = 0;
        for (let q = q0; q < q1; q++) {
          const v = D[dBase + pairD[q]], at = pairOut[q] * 2 + pairIn[q];
          if (at === 0) d00 = v; else if (at === 1) d01 = v; else if (at === 2) d10 = v; else d11 = v;
        }
        if (this.directI && fuse) {
          // grad += dL/ds_{t-1} · Ŝ_{t-1} (the deferred contraction) on the old values, then the update.
          const grads = this.colourGrads, g0 = this.classGradAt[2 * c], g1 = this.classGradAt[2 * c + 1];
          const r0 = classRowStart[c], s0 = sg[gBase + classRows[r0]], s1 = size === 2 ? sg[gBase + classRows[r0 + 1]] : 0;
          if (size === 1) {
            for (let ci = c0; ci < c1; ci++) {
              const p = classCols[ci], at = base + colStart[p], v0 = values[at];
              grad[p] += s0 * v0;
              values[at] = grads[g0 + p] + d00 * v0;
            }
          } else {
            for (let ci = c0; ci < c1; ci++) {
              const p = classCols[ci], at = base + colStart[p];
              const v0 = values[at], v1 = values[at + 1];
              grad[p] += s0 * v0 + s1 * v1;
              values[at] = grads[g0 + p] + d00 * v0 + d01 * v1;
              values[at + 1] = grads[g1 + p] + d10 * v0 + d11 * v1;
            }
          }
        } else if (this.directI) {
          const grads = this.colourGrads, g0 = this.classGradAt[2 * c], g1 = this.classGradAt[2 * c + 1];
          if (size === 1) {
            for (let ci = c0; ci < c1; ci++) {
              const p = classCols[ci], at = base + colStart[p];
              values[at] = grads[g0 + p] + d00 * values[at];
            }
          } else {
            for (let ci = c0; ci < c1; ci++) {
              const p = classCols[ci], at = base + colStart[p];
              const v0 = values[at], v1 = values[at + 1];
              values[at] = grads[g0 + p] + d00 * v0 + d01 * v1;
              values[at + 1] = grads[g1 + p] + d10 * v0 + d11 * v1;
            }
          }
        } else if (size === 1) {
          for (let ci = c0; ci < c1; ci++) {
            const s = colStart[classCols[ci]];
            values[base + s] = influence[s] + d00 * values[base + s];
          }
        } else {
          for (let ci = c0; ci < c1; ci++) {
            const s = colStart[classCols[ci]], at = base + s;
            const v0 = values[at], v1 = values[at + 1];
            values[at] = influence[s] + d00 * v0 + d01 * v1;
            values[at + 1] = influence[s + 1] + d10 * v0 + d11 * v1;
          }
        }
        continue;
      }
      for (let ci = c0; ci < c1; ci++) {
        const s = colStart[classCols[ci]], at = base + s;
        for (let a = 0; a < size; a++) column[a] = influence[s + a];
        for (let q = q0; q < q1; q++) column[pairOut[q]] += D[dBase + pairD[q]] * values[at + pairIn[q]];
        for (let a = 0; a < size; a++) values[at + a] = column[a];
      }
    }
  }

  // A dense class: its D block made dense, then for each run of columns whose slots follow one
  // another (up to BLOCK of them, a run x size matrix V of Ŝ), V <- I + V · D_blockᵀ by gemm.
  private updateDense(b: number, c0: number, c1: number, size: number, q0: number, q1: number): void {
    const { pattern, influence, column, block } = this;
    const buffers = this.buffers!;
    const values = buffers.values, D = buffers.jacobian;
    const { colStart, classCols, pairOut, pairIn } = pattern;
    const pairD = this.pairD;
    const base = b * pattern.nnz, dBase = b * pattern.stateNumbers * this.dWidth;
    block.fill(0, 0, size * size);
    for (let q = q0; q < q1; q++) block[pairOut[q] * size + pairIn[q]] = D[dBase + pairD[q]];
    const dBlock = matFrom(size, size, block);
    let ci = c0;
    while (ci < c1) {
      const s = colStart[classCols[ci]];
      let count = 1;
      while (ci + count < c1 && count < BLOCK && colStart[classCols[ci + count]] === s + count * size) count++;
      const n = count * size;
      column.set(influence.subarray(s, s + n));
      gemm(matFrom(count, size, column), matFrom(count, size, values, base + s), dBlock, false, true, 1, 1);
      values.set(column.subarray(0, n), base + s);
      ci += count;
    }
  }
}

/**
 * With a cell that has unitJacobian and state vectors of one size H: when every D entry (k, j) the
 * pattern's pairs need has k and j in one unit (k mod H = j mod H), each pair's place in the hook's
 * layout, k·m + (j's vector), m state vectors; else null (the generic forward step is needed).
 */
function unitBlockPairs(model: RecurrentModel, pattern: SnapPattern): Int32Array | null {
  const { cell } = model;
  if (cell.unitJacobian === undefined) return null;
  const H = cell.stateSizes[0], m = cell.stateSizes.length;
  if (cell.stateSizes.some((n) => n !== H)) return null;
  const { classes, classRowStart, classRows, classPairStart, pairOut, pairIn } = pattern;
  const pairs = new Int32Array(pattern.pairD.length);
  for (let c = 0; c < classes; c++) {
    const r0 = classRowStart[c];
    for (let q = classPairStart[c]; q < classPairStart[c + 1]; q++) {
      const k = classRows[r0 + pairOut[q]], j = classRows[r0 + pairIn[q]];
      if (k % H !== j % H) return null;
      pairs[q] = k * m + Math.floor(j / H);
    }
  }
  return pairs;
}

/**
 * Whether I can be read from the colour passes' gradients in theta's layout (see Snap.directI):
 * every class of at most 2 rows and not dense, and every slot in supp(I) or in a column of a learned
 * initial state (whose I is 0, as that pass's gradient is there).
 */
function directInfluence(model: RecurrentModel, pattern: SnapPattern): boolean {
  const { classes, classRowStart, classDense, classColStart, classCols, colStart } = pattern;
  for (let c = 0; c < classes; c++) if (classDense[c] === 1 || classRowStart[c + 1] - classRowStart[c] > 2) return false;
  const covered = new Uint8Array(pattern.nnz);
  for (let a = 0; a < pattern.iSlot.length; a++) covered[pattern.iSlot[a]] = 1;
  const cellParams = model.params.offsets[model.cellParamCount] ?? pattern.params;
  for (let c = 0; c < classes; c++) {
    for (let ci = classColStart[c]; ci < classColStart[c + 1]; ci++) {
      const p = classCols[ci];
      if (p >= cellParams) continue;
      for (let s = colStart[p]; s < colStart[p + 1]; s++) if (covered[s] === 0) return false;
    }
  }
  return true;
}
