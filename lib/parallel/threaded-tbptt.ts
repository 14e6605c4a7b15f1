// Truncated BPTT(k1, k2) data-parallel over the batch: every window is one threaded pass
// (ThreadedBptt.pass) over the steps [end - k2, end) from the whole batch's state entering them,
// with the loss terms of [end - k1, end) (the final term in the last window). The states entering
// later windows come back from the shards with each pass, so the calling thread keeps the ring
// Tbptt keeps, for the whole batch. Windows, their losses and gradients are Tbptt's
// (lib/rnn/tbptt.ts) to rounding; onWindow sees each as it ends and may change the parameters
// (the next window reads them).
import type { Mat } from '../mat/mat.js';
import { rowsView } from '../mat/mat.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import type { RecurrentModel } from '../rnn/model.js';
import type { ThreadedTbpttEngine } from '../rnn/threads.js';
import type { TbpttWindow } from '../rnn/tbptt-window.js';
import { type RunOptions, type RunResult, RUN_OPTIONS } from '../rnn/unroll.js';
import type { WorkerHost } from './protocol.js';
import { ThreadedBptt } from './threaded-bptt.js';

const TBPTT_RUN_OPTIONS = [...RUN_OPTIONS, 'onWindow'];

export class ThreadedTbptt implements ThreadedTbpttEngine {
  private readonly core: ThreadedBptt;
  private readonly k1: number;
  private readonly k2: number;

  constructor(model: RecurrentModel, threads: number, host: WorkerHost, options: { k1: number; k2: number; maxBytes: number }) {
    this.core = new ThreadedBptt(model, threads, host, { maxBytes: options.maxBytes }, 'tbptt');
    this.k1 = options.k1;
    this.k2 = options.k2;
  }

  close(): void {
    this.core.close();
  }

  run(xs: Mat, loss: SequenceLoss, options: RunOptions & { onWindow?: (window: TbpttWindow) => void } = {}): RunResult {
    const seq = this.core.sequence(xs, options, TBPTT_RUN_OPTIONS); // checks every input once
    const { batch, steps } = seq;
    const { k1, k2 } = this;
    const lengths = options.lengths ?? null;
    // ring.get(s): the whole batch's state entering global step s, for the windows that start there.
    const ring = new Map<number, Mat[]>();
    const grad = new Float64Array(this.core.model.params.theta.length);
    let total = 0, lossStart = 0;
    let finalState: Mat[] = [];
    const ends: number[] = [];
    for (let e = k1; e < steps; e += k1) ends.push(e);
    ends.push(steps);
    for (let w = 0; w < ends.length; w++) {
      const end = ends[w];
      const start = Math.max(0, end - k2);
      // States entering steps s in [max(lossStart, start + 1), end]: the state after local step s - 1 - start.
      const keep: number[] = [];
      for (let s = Math.max(lossStart, start + 1); s <= end; s++) keep.push(s - 1 - start);
      const r = this.core.pass(loss, {
        xs: rowsView(xs, start * batch, (end - start) * batch), batch, lengths, start,
        initial: start === 0 ? seq.initial : ring.get(start)!, lossFrom: lossStart - start, final: end === steps, keep,
      });
      for (const [t, state] of r.kept) ring.set(start + t + 1, state);
      // Only the next window's start is read again (the one after it starts later still).
      if (w + 1 < ends.length) for (const s of [...ring.keys()]) if (s < ends[w + 1] - k2) ring.delete(s);
      total += r.loss;
      for (let i = 0; i < grad.length; i++) grad[i] += r.grad[i];
      finalState = r.finalState;
      options.onWindow?.({ start, end, lossStart, loss: r.loss, grad: r.grad, hasLoss: r.hasLoss });
      lossStart = end;
    }
    this.core.carry(finalState);
    return { loss: total, grad, finalState };
  }
}
