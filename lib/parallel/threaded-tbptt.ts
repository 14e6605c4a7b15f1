// The windows of truncated BPTT data-parallel over the batch: Tbptt (lib/rnn/tbptt.ts) keeps the
// stream (its rings of inputs and states, where the windows fall, the callbacks) for runs and
// streams alike; each window is one threaded pass (ThreadedBptt.pass) over its steps from the whole
// batch's state entering them, with the loss terms from lossFrom on (and the final term in the
// last window), and gives back the states later windows start from. Windows, their losses and
// gradients are the one-thread Tbptt's to rounding.
import type { RecurrentModel } from '../rnn/model.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import type { PassSpec, ThreadedTbpttEngine, WindowResult } from '../rnn/threads.js';
import type { WorkerHost } from './protocol.js';
import { ThreadedBptt } from './threaded-bptt.js';

export class ThreadedTbptt implements ThreadedTbpttEngine {
  private readonly core: ThreadedBptt;

  constructor(model: RecurrentModel, threads: number, host: WorkerHost, options: { maxBytes: number; timeoutMs?: number }) {
    this.core = new ThreadedBptt(model, threads, host, options, 'tbptt');
  }

  close(): void {
    this.core.close();
  }

  window(loss: SequenceLoss, spec: PassSpec): WindowResult {
    return this.core.pass(loss, spec);
  }
}
