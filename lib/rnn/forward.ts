// Running a model for its outputs only (evaluation, held-out metrics, generation): the unroll
// (lib/rnn/unroll.ts) on an 'eval' graph, no tape, no tangents. A causal model is stepped with
// the arena rewound every step, so memory does not grow with the sequence; a model that reads
// the future (bidirectional layers) is scanned whole. The state is carried in two sets of
// buffers: step t reads one set and its new state is written into the other, so a cell that
// passes a state vector through (new state i is old state j, or a view of it, as a delay line
// does) is never read after being overwritten.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, clone, mat, matFrom, shapeOf } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import { type RunOptions, type Sequence, RUN_OPTIONS, Unroll, copyState } from './unroll.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export interface ForwardOptions extends RunOptions {
  /** Where to write the outputs ((steps·batch) x outputSize); default a new matrix. */
  out?: Mat;
}

export interface ForwardResult {
  /** Outputs of every step ((steps·batch) x outputSize, time-major). */
  outputs: Mat;
  /** The state after the last step (each sequence's own last step), one batch x size matrix per state vector. */
  finalState: Mat[];
}

const FORWARD_RUN_OPTIONS = [...RUN_OPTIONS, 'out'];

export class Forward {
  readonly model: RecurrentModel;
  private readonly graph = new Graph('eval');
  private readonly unroll: Unroll;
  private seq: Sequence;
  /** The state entering the next step. */
  private carried: Mat[] = [];
  /** Where the step writes its new state; swapped with carried afterwards. */
  private spare: Mat[] = [];
  private output: Mat;
  private started = false;
  /** Steps taken since the last reset. */
  steps = 0;
  private readonly paramVars: Var[] = [];

  constructor(model: RecurrentModel) {
    this.model = model;
    this.unroll = new Unroll(model, 'forward', () => (this.started ? this.carried.map(clone) : null));
    this.output = mat(1, model.cell.outputSize);
    this.seq = this.unroll.stream({});
    this.begin(this.seq);
  }

  /** The state entering the next step (batch x size each; overwritten by the step after next). */
  get state(): readonly Mat[] {
    return this.carried;
  }

  /**
   * Starts a stream: batch, lengths (a sequence is frozen after its last step), the initial
   * state (explicit, 'carry' to continue from the current state, or the model's rule).
   */
  reset(options: RunOptions = {}): void {
    this.begin(this.unroll.stream(options));
  }

  // A new stream: the buffers sized for its batch, no step taken.
  private begin(seq: Sequence): void {
    const { batch } = seq;
    const sizes = this.model.cell.stateSizes;
    if (this.carried.length !== sizes.length || this.carried.some((m, i) => m.rows !== batch || m.cols !== sizes[i])) {
      this.carried = sizes.map((size) => mat(batch, size));
      this.spare = sizes.map((size) => mat(batch, size));
    }
    if (this.output.rows !== batch) this.output = mat(batch, this.model.cell.outputSize);
    this.seq = seq;
    this.started = false;
    this.steps = 0;
  }

  /** One step of the stream on x (batch x inputSize); returns the output (a buffer the next step reuses). */
  step(x: Mat): Mat {
    const { model, unroll, seq } = this;
    const { cell } = model;
    if (cell.causal === false) throw new ConfigError('forward', `the ${cell.kind} model reads the future of the sequence, so it cannot be stepped; use run() on the whole sequence`, { cell: cell.kind });
    if (x.rows !== seq.batch || x.cols !== cell.inputSize) throw new ShapeError('forward', `input is ${shapeOf(x)}, needs batch ${seq.batch} x ${cell.inputSize}`, { x: [x.rows, x.cols], expected: [seq.batch, cell.inputSize] });
    unroll.checkStep(seq, x, this.steps);
    this.advance(x, this.output, 0);
    return this.output;
  }

  // One step from the carried state, its output written into out at row offset outOffset.
  private advance(x: Mat, out: Mat, outOffset: number): void {
    const { model, graph: g, unroll, seq } = this;
    g.reset();
    const paramVars = unroll.leaves(g, undefined, this.paramVars);
    const state: Var[] = this.started
      ? this.carried.map((m) => g.leaf(m))
      : unroll.initialState(g, seq.batch, paramVars, seq.initial);
    const result = unroll.step(g, unroll.cellParams(paramVars), state, g.leaf(x), this.steps, seq.masks);
    // Copy the new state out before the next step rewinds the arena, into the
    // set this step did not read, then make it the one the next step reads.
    const next = this.spare;
    copyState('forward', model.cell, result.state, next);
    this.spare = this.carried;
    this.carried = next;
    const y = result.output.value, width = seq.batch * model.cell.outputSize;
    out.data.set(y.data.subarray(y.offset, y.offset + width), out.offset + outOffset);
    this.started = true;
    this.steps++;
  }

  /** A whole sequence (time-major xs) from a reset: every step's output and the final state. */
  run(xs: Mat, options: ForwardOptions = {}): ForwardResult {
    const { model, unroll } = this;
    const { cell } = model;
    const seq = unroll.sequence(xs, options, FORWARD_RUN_OPTIONS); // checks every input once
    const { batch, steps } = seq;
    const outputs = options.out ?? mat(steps * batch, cell.outputSize);
    if (outputs.rows !== steps * batch || outputs.cols !== cell.outputSize) {
      throw new ShapeError('forward', `out is ${shapeOf(outputs)}, needs ${steps * batch}x${cell.outputSize}`, { out: [outputs.rows, outputs.cols], expected: [steps * batch, cell.outputSize] });
    }
    this.begin(seq);
    const width = batch * cell.outputSize;
    if (cell.causal === false) return this.scanWhole(xs, outputs);
    for (let t = 0; t < steps; t++) this.advance(matFrom(batch, xs.cols, xs.data, xs.offset + t * batch * xs.cols), outputs, t * width);
    return { outputs, finalState: this.carried.map(clone) };
  }

  // A model that reads the future: the whole sequence on one eval graph.
  private scanWhole(xs: Mat, outputs: Mat): ForwardResult {
    const { model, graph: g, unroll, seq } = this;
    g.reset();
    const paramVars = unroll.leaves(g);
    const initial = unroll.initialState(g, seq.batch, paramVars, seq.initial);
    const run = unroll.scan(g, unroll.cellParams(paramVars), unroll.inputs(g, xs, seq), initial, seq.masks);
    const width = seq.batch * model.cell.outputSize;
    run.outputs.forEach((v, t) => outputs.data.set(v.value.data.subarray(v.value.offset, v.value.offset + width), outputs.offset + t * width));
    // The final state becomes the stream's, so 'carry' and step() continue from it.
    copyState('forward', model.cell, run.final, this.carried);
    this.started = true;
    return { outputs, finalState: this.carried.map(clone) };
  }
}
