// The worker's side of threaded RTRL (and SnAp-n), platform-free (an adapter feeds it each message;
// Node's is node/rtrl-worker.ts). It holds the model, rebuilt from its spec over the shared
// parameters, and an Rtrl (or a Snap) over its block of S's (Ŝ's) columns, in its own memory. Each phase (a new stream, a step) runs
// inside the sync channel (lib/parallel/sync-channel.ts), which settles it done or failed with the
// error's text for the coordinator blocked in wait().
import type { MaskState } from '../cells/cell.js';
import { type Mat, matFrom } from '../mat/mat.js';
import { LoopgradError } from '../mat/errors.js';
import { Rtrl } from '../rnn/rtrl.js';
import type { ColumnRange } from '../rnn/rtrl-columns.js';
import type { TeamMethod } from '../rnn/rtrl-threads.js';
import { Snap } from '../rnn/snap.js';
import { modelFromSpec, type ModelSpec } from './model-spec.js';
import { SyncChannel } from './sync-channel.js';

/** Sets the worker up (no reply: an error is kept and fails its next phase). */
export interface RtrlInitMessage {
  type: 'init';
  /** The sync channel's buffer and this worker's index in it. */
  control: SharedArrayBuffer;
  index: number;
  spec: ModelSpec;
  /** P float64: the parameters, written by the coordinator before each step. */
  theta: SharedArrayBuffer;
  /** P float64: each step's gradient increment; this worker writes its columns. */
  increment: SharedArrayBuffer;
  columns: ColumnRange;
  maxBytes: number;
  method: TeamMethod;
}

/** A new stream: the step buffer (stepLayout), batch, lengths, initial state. */
export interface RtrlBeginMessage {
  type: 'begin';
  seq: number;
  data: SharedArrayBuffer;
  batch: number;
  lengths: number[] | null;
  /** One batch x size matrix's numbers per state vector, or null for the model's rule. */
  initial: Float64Array[] | null;
}

/** One step: the input and cotangents are in the step buffer; present[i]: cotangent i is there. */
export interface RtrlStepMessage {
  type: 'step';
  seq: number;
  present: boolean[];
  /** Where the coordinator's mask streams stand before the step (a stack's dropout), or null. */
  masks: MaskState | null;
}

export type RtrlToWorker = RtrlInitMessage | RtrlBeginMessage | RtrlStepMessage;

/**
 * The layout of the step buffer for a model and batch: x, then the output's and each state
 * vector's cotangent, then (SnAp) each state vector's cotangent of the final-state term.
 */
export function stepLayout(batch: number, inputSize: number, outputSize: number, stateSizes: readonly number[], method: TeamMethod): { shapes: [number, number][]; offsets: number[]; length: number } {
  const states = stateSizes.map((s) => [batch, s] as [number, number]);
  const shapes: [number, number][] = [[batch, inputSize], [batch, outputSize], ...states, ...(method.kind === 'snap' ? states : [])];
  const offsets: number[] = [];
  let length = 0;
  for (const [r, c] of shapes) { offsets.push(length); length += r * c; }
  return { shapes, offsets, length };
}

export class RtrlShard {
  private channel: SyncChannel | null = null;
  private index = -1;
  private learner: Rtrl | Snap | null = null;
  private increment: Float64Array | null = null;
  private initError: Error | null = null;
  private views: Mat[] = [];
  private readonly cotangents: (Mat | null)[] = [];

  handle(message: RtrlToWorker): void {
    if (message.type === 'init') return this.init(message);
    const channel = this.channel;
    if (channel === null) return; // nothing to settle: the coordinator times out
    if (message.type === 'begin') channel.run(this.index, message.seq, () => this.begin(message));
    else channel.run(this.index, message.seq, () => this.step(message));
  }

  private init(m: RtrlInitMessage): void {
    this.channel = SyncChannel.over(m.control);
    this.index = m.index;
    try {
      const model = modelFromSpec(m.spec, new Float64Array(m.theta));
      this.learner = m.method.kind === 'snap'
        ? new Snap(model, { order: m.method.order, columns: m.columns, maxBytes: m.maxBytes })
        : new Rtrl(model, { columns: m.columns, maxBytes: m.maxBytes });
      this.increment = new Float64Array(m.increment);
      this.initError = null;
    } catch (e) {
      this.learner = null;
      this.initError = e instanceof Error ? e : new LoopgradError(`${m.method.kind} worker`, String(e));
    }
  }

  private ready(): Rtrl | Snap {
    if (this.initError !== null) throw this.initError;
    if (this.learner === null) throw new LoopgradError('online worker', 'the worker has no model');
    return this.learner;
  }

  private begin(m: RtrlBeginMessage): void {
    const learner = this.ready();
    const { cell } = learner.model;
    const { shapes, offsets } = stepLayout(m.batch, cell.inputSize, cell.outputSize, cell.stateSizes, learner instanceof Snap ? { kind: 'snap', order: learner.order } : { kind: 'rtrl' });
    const data = new Float64Array(m.data);
    this.views = shapes.map(([r, c], i) => matFrom(r, c, data, offsets[i]));
    // One row per sequence, or one row the batch shares (as the coordinator was given it).
    const initial = m.initial === null ? null : m.initial.map((d, i) => matFrom(d.length / cell.stateSizes[i], cell.stateSizes[i], d, 0));
    learner.reset({ batch: m.batch, lengths: m.lengths, initialState: initial, checkFinite: false });
  }

  private step(m: RtrlStepMessage): void {
    const learner = this.ready();
    const cots = this.cotangents;
    cots.length = 0;
    for (let i = 0; i < m.present.length; i++) cots.push(m.present[i] ? this.views[i + 1] : null);
    if (learner instanceof Snap) {
      learner.stepWithCotangents(this.views[0], cots, this.increment!);
      return;
    }
    const rtrl = learner;
    const masks = rtrl.model.cell.masks;
    if ((m.masks === null) !== (masks === undefined)) throw new LoopgradError('rtrl worker', `the coordinator's model ${m.masks === null ? 'has no' : 'has'} dropout masks and this worker's ${masks === undefined ? 'has none' : 'has'}: the spec does not describe the model`);
    if (m.masks !== null) masks!.set(m.masks, null);
    rtrl.stepWithCotangents(this.views[0], cots, this.increment!);
  }
}
