// The platform's workers, registered once: setWorkerHost(host) makes `threads` work in every
// gradient method (it installs the threaded engines into lib/rnn/threads.ts). Under Node, importing
// 'loopgrad' (its "node" export condition) or 'loopgrad/node' registers worker_threads; a browser
// build registers its Web Worker host. lib/ itself never picks a platform.
import { installThreadEngines } from '../rnn/threads.js';
import type { WorkerHost } from './protocol.js';
import { ThreadedBptt } from './threaded-bptt.js';

let current: WorkerHost | null = null;

/** Registers the platform's workers (null: none; threads > 1 is then refused). */
export function setWorkerHost(host: WorkerHost | null): void {
  current = host;
  installThreadEngines(host === null ? null : {
    bptt: (model, threads, options) => new ThreadedBptt(model, threads, host, options),
  });
}

/** The registered host, or null. */
export function workerHost(): WorkerHost | null {
  return current;
}
