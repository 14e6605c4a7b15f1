// The worker's side of threaded BPTT, platform-free: an adapter hands it every SyncToWorker
// message. It keeps one BpttShard per lease (one threaded method), whose tape lives from the
// forward phase to the backward phase; every phase settles in the SyncChannel, an error included.
import { matFrom } from '../mat/mat.js';
import { LoopgradError } from '../mat/errors.js';
import { BpttShard } from './bptt-shard.js';
import { modelFromSpec } from './model-spec.js';
import type { MatData, SyncToWorker } from './protocol.js';
import { SyncChannel } from './sync-channel.js';

interface Lease {
  shard: BpttShard | null;
  /** Why the model could not be built (reported by the next phase). */
  error: Error | null;
  grad: Float64Array;
  region: Float64Array | null;
}

const toMat = (m: MatData) => matFrom(m.rows, m.cols, m.data, 0);

export class SyncShardWorker {
  private channel: SyncChannel | null = null;
  private index = -1;
  private readonly leases = new Map<number, Lease>();

  handle(message: SyncToWorker): void {
    switch (message.type) {
      case 'sync-init': {
        if (this.channel === null || this.channel.buffer !== message.channel) this.channel = SyncChannel.over(message.channel);
        this.index = message.index;
        let shard: BpttShard | null = null, error: Error | null = null;
        try {
          shard = new BpttShard(modelFromSpec(message.spec, message.theta), 'bptt worker');
        } catch (e) {
          error = e instanceof Error ? e : new LoopgradError('bptt worker', String(e));
        }
        this.leases.set(message.lease, { shard, error, grad: message.grad, region: null });
        return;
      }
      case 'sync-release':
        this.leases.delete(message.lease);
        return;
      case 'sync-forward':
        this.phase(message.seq, message.lease, (lease, shard) => {
          lease.region = message.region;
          shard.forward({
            xs: toMat(message.xs), batch: message.batch, lengths: message.lengths, start: message.start,
            initial: message.initial === null ? null : message.initial.map(toMat), masks: message.masks,
          }, message.region);
        });
        return;
      case 'sync-backward':
        this.phase(message.seq, message.lease, (lease, shard) => {
          if (lease.region === null) throw new LoopgradError('bptt worker', 'a backward phase before any forward phase');
          const P = lease.grad.length - 1;
          shard.backward(lease.region, message.seeds, lease.grad.subarray(0, P));
          lease.grad[P] = shard.tapeBytes();
        });
        return;
      default:
        throw new LoopgradError('bptt worker', `unknown message ${JSON.stringify((message as { type?: unknown }).type)}`);
    }
  }

  private phase(seq: number, id: number, fn: (lease: Lease, shard: BpttShard) => void): void {
    const channel = this.channel;
    if (channel === null) throw new LoopgradError('bptt worker', 'a phase before the channel was set up (sync-init)');
    channel.run(this.index, seq, () => {
      const lease = this.leases.get(id);
      if (lease === undefined) throw new LoopgradError('bptt worker', `lease ${id} is unknown to this worker`);
      if (lease.error !== null) throw lease.error;
      fn(lease, lease.shard!);
    });
  }
}
