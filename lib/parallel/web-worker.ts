// The worker's side in a Web Worker. scripts/bundle.mjs builds dist/browser/loopgrad-worker.js as
// serveWebWorker(globalThis); nothing happens on import. What a worker serves follows from the
// name it was started with: the thread watcher (web-watcher.ts, started by enableWebThreads), an
// RTRL column block (RtrlShard), or else a pool worker, which takes the async pool's messages
// (ShardWorker) and threaded BPTT's sync-* messages (SyncShardWorker).
import { LoopgradError } from '../mat/errors.js';
import type { SyncToWorker, ToWorker } from './protocol.js';
import { RtrlShard, type RtrlToWorker } from './rtrl-shard.js';
import { ShardWorker } from './shard-worker.js';
import { SyncShardWorker } from './sync-worker.js';
import { WATCHER_NAME, type WatcherScope, rolePrefix, serveWatcher } from './web-watcher.js';

/** What serveWebWorker uses of a DedicatedWorkerGlobalScope. */
export interface WebWorkerScope {
  addEventListener(type: 'message' | 'messageerror', listener: (event: { data?: unknown }) => void): void;
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  /** The name the worker was started with (new Worker(url, { name })). */
  name?: string;
}

/** Answers this worker's messages on its global scope until the worker is terminated. */
export function serveWebWorker(scope: WebWorkerScope): void {
  scope.addEventListener('messageerror', () => {
    // Which run it carried is unknown, so no reply can name it; thrown uncaught, it reaches the
    // creator as this worker's 'error' event, which fails the call and replaces the worker.
    throw new LoopgradError('parallel worker', 'a message could not be deserialised (messageerror)');
  });
  const name = typeof scope.name === 'string' ? scope.name : '';
  if (name === WATCHER_NAME) {
    serveWatcher(scope as unknown as WatcherScope); // a worker's global scope has the timers and Worker it uses
    return;
  }
  if (name.startsWith(rolePrefix('rtrl'))) {
    const shard = new RtrlShard();
    scope.addEventListener('message', (event) => shard.handle(event.data as RtrlToWorker));
    return;
  }
  const worker = new ShardWorker();
  const syncWorker = new SyncShardWorker();
  scope.addEventListener('message', (event) => {
    const message = event.data as ToWorker | SyncToWorker;
    if (message.type.startsWith('sync-')) {
      syncWorker.handle(message as SyncToWorker);
      return;
    }
    const { reply, transfer } = worker.handle(message as ToWorker);
    if (reply !== null) scope.postMessage(reply, transfer);
  });
}
