// The worker's side of data-parallel BPTT, platform-free: an adapter feeds it each message from
// the main thread and posts back what it returns. It keeps one model and one Bptt per model
// spec, so repeated runs reuse the graph's arena.
import { Bptt } from '../rnn/bptt.js';
import { sequenceLoss } from '../loss/losses.js';
import { type Mat, matFrom } from '../mat/mat.js';
import type { RecurrentModel } from '../rnn/model.js';
import { modelFromSpec } from './model-spec.js';
import type { FromWorker, MatData, ToWorker } from './protocol.js';
import { LoopgradError } from '../mat/errors.js';

/** Whatever a run threw, as an Error to send back (a non-Error throwable keeps its text). */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new LoopgradError('parallel worker', String(e));
}

function toMat(m: MatData): Mat {
  return matFrom(m.rows, m.cols, m.data, 0);
}

export class ShardWorker {
  private model: RecurrentModel | null = null;
  private bptt: Bptt | null = null;
  private generation = -1;
  private gradOut: Float64Array | null = null;
  private initError: Error | null = null;

  /** The reply to a message (null for init) and the buffers to transfer with it. */
  handle(message: ToWorker): { reply: FromWorker | null; transfer: ArrayBuffer[] } {
    if (message.type === 'init') {
      this.generation = message.generation;
      this.gradOut = message.grad;
      try {
        this.model = modelFromSpec(message.spec, message.theta);
        this.bptt = new Bptt(this.model);
        this.initError = null;
      } catch (e) {
        this.model = this.bptt = null;
        this.initError = asError(e);
      }
      return { reply: null, transfer: [] };
    }
    const { id } = message;
    try {
      if (this.initError !== null) throw this.initError;
      if (this.bptt === null || this.model === null || message.generation !== this.generation) {
        throw new LoopgradError('parallel worker', `run for model generation ${message.generation}, but this worker holds ${this.generation}`, { generation: message.generation, held: this.generation });
      }
      if (message.theta !== null) this.model.params.theta.set(message.theta);
      const targets = toMat(message.targets);
      const loss = sequenceLoss({ kind: message.kind, targets, mask: message.mask === null ? null : toMat(message.mask), batch: message.batch }, { scale: message.scale });
      const r = this.bptt.run(toMat(message.xs), loss, { batch: message.batch, lengths: message.lengths, checkFinite: message.checkFinite });
      if (this.gradOut !== null) {
        this.gradOut.set(r.grad);
        return { reply: { type: 'done', id, loss: r.loss, grad: null }, transfer: [] };
      }
      return { reply: { type: 'done', id, loss: r.loss, grad: r.grad }, transfer: [r.grad.buffer as ArrayBuffer] };
    } catch (e) {
      const err = asError(e);
      return { reply: { type: 'error', id, name: err.name, message: err.message }, transfer: [] };
    }
  }
}
