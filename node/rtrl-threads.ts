// Node's workers for threaded RTRL: importing this file (node/register.ts does, so importing
// loopgrad under Node does) lets Rtrl({ threads }) run its column blocks on worker_threads
// (lib/parallel/rtrl-team.ts). The workers run under the supervisor thread of node/supervisor.ts
// that notices a death while the caller is blocked in a step. Every thread is unref'd: none keeps
// the process alive (the caller blocks while they work, so it never needs them to).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type RtrlTeamRequest, provideRtrlTeams } from '../lib/rnn/rtrl-threads.js';
import { type RtrlGroup, type RtrlHost, RtrlWorkers } from '../lib/parallel/rtrl-team.js';
import type { RtrlToWorker } from '../lib/parallel/rtrl-shard.js';
import type { FromSupervisor, ToSupervisor } from './supervisor.js';
import { startSupervisor } from './pool.js';

class NodeRtrlGroup implements RtrlGroup {
  private readonly supervisor: Worker;
  private readonly listeners: ((index: number, cause: string) => void)[] = [];
  private readonly waiting = new Map<number, () => void>();

  constructor(workers: number, channel: SharedArrayBuffer) {
    this.supervisor = startSupervisor(workers, channel, 'rtrl-worker.js');
    this.supervisor.on('message', (m: FromSupervisor) => {
      for (const l of this.listeners) l(m.index, m.cause);
      this.waiting.get(m.index)?.();
      this.waiting.delete(m.index);
    });
  }

  post(index: number, message: RtrlToWorker): void {
    const m: ToSupervisor = { type: 'post', index, message };
    this.supervisor.postMessage(m);
  }

  onDeath(listener: (index: number, cause: string) => void): void {
    this.listeners.push(listener);
  }

  kill(index: number, afterMs = 0): Promise<void> {
    const died = new Promise<void>((resolve) => this.waiting.set(index, resolve));
    const m: ToSupervisor = { type: 'kill', index, afterMs };
    this.supervisor.postMessage(m);
    return died;
  }

  close(): void {
    const m: ToSupervisor = { type: 'close' };
    this.supervisor.postMessage(m);
    void this.supervisor.terminate();
  }
}

/** Node's RTRL workers: a supervised group of worker_threads, cores from the OS. */
export const nodeRtrlHost: RtrlHost = { start: (workers, channel) => new NodeRtrlGroup(workers, channel), cores: availableParallelism() };

/** A team of Node workers for a request (what this file registers with provideRtrlTeams). */
export function nodeRtrlTeam(request: RtrlTeamRequest): RtrlWorkers {
  return new RtrlWorkers(nodeRtrlHost, request);
}

provideRtrlTeams(nodeRtrlTeam);

export { RtrlWorkers };
