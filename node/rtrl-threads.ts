// Node's workers for threaded RTRL: importing this file lets Rtrl({ threads, spec }) run its column
// blocks on worker_threads (lib/parallel/rtrl-team.ts). Workers are unref'd: they never keep the
// process alive (the coordinator blocks while they work, so it never needs them to).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type RtrlTeamRequest, provideRtrlTeams } from '../lib/rnn/rtrl-threads.js';
import { type RtrlHost, type RtrlPort, RtrlWorkers } from '../lib/parallel/rtrl-team.js';
import type { RtrlToWorker } from '../lib/parallel/rtrl-shard.js';

const WORKER_SCRIPT = new URL('./rtrl-worker.js', import.meta.url);

class NodeRtrlPort implements RtrlPort {
  readonly name: string;
  private readonly worker: Worker;

  constructor() {
    // The worker inherits the process's flags except --input-type, which Node refuses for a file.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    this.worker = new Worker(WORKER_SCRIPT, { execArgv });
    this.worker.unref();
    this.name = `thread ${this.worker.threadId}`;
  }

  post(message: RtrlToWorker): void {
    this.worker.postMessage(message);
  }

  onExit(listener: (cause: string) => void): void {
    this.worker.on('error', (e: unknown) => listener(e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
    this.worker.on('exit', (code: number) => listener(`it exited with code ${code}`));
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Node's RTRL workers: worker_threads, cores from the OS. */
export const nodeRtrlHost: RtrlHost = { spawn: () => new NodeRtrlPort(), cores: availableParallelism() };

/** A team of Node workers for a request (what this file registers with provideRtrlTeams). */
export function nodeRtrlTeam(request: RtrlTeamRequest): RtrlWorkers {
  return new RtrlWorkers(nodeRtrlHost, request);
}

provideRtrlTeams(nodeRtrlTeam);

export { RtrlWorkers };
