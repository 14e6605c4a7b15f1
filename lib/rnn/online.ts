// The shell every online gradient method shares (Rtrl, Snap, Uoro, KfRtrl): a stream over the
// one unroll (lib/rnn/unroll.ts) started by reset() or run(), stepped one input at a time, the
// loss so far and its gradient (exact or estimated) accumulated in loss and grad. A method
// supplies only what differs: its buffers for a batch (allocate), its step (advance), its state,
// and anything a new stream resets besides (onBegin, e.g. the random streams of Uoro and KfRtrl).
//
// An abstract base class rather than a composed helper: the shell is the method's public face
// (reset, step, run, zeroGrad, grad, loss, steps, batch), so a helper would need every one of
// them forwarded again in each class, the very copies this file removes.
// Field order: this constructor runs before the subclass's fields are initialised, so it calls
// none of the hooks; the subclass allocates its first buffers at the end of its own constructor.
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, clone, shapeOf } from '../mat/mat.js';
import { ShapeError } from '../mat/errors.js';
import type { RecurrentModel } from './model.js';
import type { SequenceLoss } from './loss-spec.js';
import { type GradientMethod, type RunOptions, type RunResult, type Sequence, Unroll, copyState } from './unroll.js';

export abstract class OnlineMethod implements GradientMethod {
  readonly model: RecurrentModel;
  /** The gradient (Rtrl) or gradient estimate of the loss so far, laid out like model.params.theta. */
  readonly grad: Float64Array;
  /** Loss accumulated since the last reset (or zeroGrad). */
  loss = 0;
  /** Steps taken since the last reset. */
  steps = 0;
  /** The unroll under this method; its op names the method in errors ('rtrl: ...'). */
  protected readonly unroll: Unroll;
  /** The stream being stepped: batch, length masks, initial state. */
  protected seq: Sequence;
  /** Whether the stream has taken a step (until then the state is the initial state's rule). */
  protected started = false;

  constructor(model: RecurrentModel, op: string) {
    this.model = model;
    // initialState 'carry' continues from the current state, or from the model's rule before any step.
    this.unroll = new Unroll(model, op, () => (this.started ? this.state.map(clone) : null));
    this.grad = new Float64Array(model.params.theta.length);
    this.seq = this.unroll.stream({});
  }

  /** The current state, one batch x size matrix per state vector (overwritten by the step after next). */
  abstract get state(): readonly Mat[];

  /** Makes the buffers for a batch (a no-op when they already have that batch). */
  protected abstract allocate(batch: number): void;

  /** One step on a checked input; returns the step's output (a buffer reused by the next step). */
  protected abstract advance(x: Mat, loss: SequenceLoss, last: boolean): Mat;

  /** What a new stream resets besides the shell's own (called at the end of begin). */
  protected onBegin(_seq: Sequence): void {}

  /** The details of the ShapeError for a step's input of the wrong shape. */
  protected inputDetails(x: Mat): Record<string, unknown> {
    return { input: [x.rows, x.cols] };
  }

  /**
   * Writes the state entering step 0 into `into` as values (the stream's explicit or carried
   * state, or the model's rule), computed on g (reset first) with paramVars as its scratch.
   */
  protected writeInitialState(g: Graph, paramVars: Var[], into: readonly Mat[]): void {
    const { unroll, seq } = this;
    g.reset();
    const params = unroll.leaves(g, {}, paramVars);
    copyState(unroll.op, this.model.cell, unroll.initialState(g, seq.batch, params, seq.initial), into);
  }

  /** Sequences advanced together since the last reset. */
  get batch(): number {
    return this.seq.batch;
  }

  /**
   * Starts a new stream: batch, lengths (a sequence is frozen after its last step) and the
   * initial state (explicit, 'carry' for the current state with the method's sensitivity
   * starting at zero, or the model's rule); loss and gradient zero.
   */
  reset(options: RunOptions = {}): void {
    this.begin(this.unroll.stream(options));
  }

  private begin(seq: Sequence): void {
    this.allocate(seq.batch);
    this.seq = seq;
    this.started = false;
    this.grad.fill(0);
    this.loss = 0;
    this.steps = 0;
    this.onBegin(seq);
  }

  /** Zeroes the accumulated gradient and loss but keeps the state and the sensitivity (online learning). */
  zeroGrad(): void {
    this.grad.fill(0);
    this.loss = 0;
  }

  /**
   * Advances one step on input x (batch x inputSize); adds the step's loss term (and, with `last`,
   * the final-state term) to loss and its gradient to grad. Returns the step's output (a buffer
   * reused by the next step).
   */
  step(x: Mat, loss: SequenceLoss = {}, last = false): Mat {
    const { seq } = this;
    const inputSize = this.model.cell.inputSize;
    if (x.rows !== seq.batch || x.cols !== inputSize) {
      throw new ShapeError(this.unroll.op, `input is ${shapeOf(x)}, needs batch ${seq.batch} x ${inputSize}`, this.inputDetails(x));
    }
    this.unroll.checkStep(seq, x, this.steps);
    return this.advance(x, loss, last);
  }

  /** A whole sequence (time-major rows) from a reset; grad is a copy (this.grad keeps accumulating online). */
  run(xs: Mat, loss: SequenceLoss, options: RunOptions = {}): RunResult {
    const seq = this.unroll.sequence(xs, options); // checks every input once
    this.begin(seq);
    const width = seq.batch * xs.cols;
    for (let t = 0; t < seq.steps; t++) {
      this.advance({ rows: seq.batch, cols: xs.cols, data: xs.data, offset: xs.offset + t * width }, loss, t === seq.steps - 1);
    }
    return { loss: this.loss, grad: this.grad.slice(), finalState: this.state.map(clone) };
  }
}
