// The worker's side in a Web Worker: the platform-free ShardWorker behind the worker's global
// scope. scripts/bundle.mjs builds dist/browser/loopgrad-worker.js as serveWebWorker(globalThis);
// nothing happens on import.
import { LoopgradError } from '../mat/errors.js';
import type { ToWorker } from './protocol.js';
import { ShardWorker } from './shard-worker.js';

/** What serveWebWorker uses of a DedicatedWorkerGlobalScope. */
export interface WebWorkerScope {
  addEventListener(type: 'message' | 'messageerror', listener: (event: { data?: unknown }) => void): void;
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
}

/** Answers the pool's messages on this worker's scope until the worker is terminated. */
export function serveWebWorker(scope: WebWorkerScope): void {
  const worker = new ShardWorker();
  scope.addEventListener('message', (event) => {
    const { reply, transfer } = worker.handle(event.data as ToWorker);
    if (reply !== null) scope.postMessage(reply, transfer);
  });
  scope.addEventListener('messageerror', () => {
    // Which run it carried is unknown, so no reply can name it; thrown uncaught, it reaches the
    // page as this worker's 'error' event, and the pool fails the call and replaces the worker.
    throw new LoopgradError('parallel worker', 'a message from the page could not be deserialised (messageerror)');
  });
}
