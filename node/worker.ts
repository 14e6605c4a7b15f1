// The script each Node worker thread runs: the platform-free ShardWorker (async pool) and
// SyncShardWorker (threaded gradient methods) behind parentPort.
import { parentPort } from 'node:worker_threads';
import { ShardWorker } from '../lib/parallel/shard-worker.js';
import { SyncShardWorker } from '../lib/parallel/sync-worker.js';
import type { SyncToWorker, ToWorker } from '../lib/parallel/protocol.js';

const port = parentPort;
if (port === null) throw new Error('loopgrad/node worker: this file runs as a worker thread (new Worker), not as a script');
const worker = new ShardWorker();
const syncWorker = new SyncShardWorker();
port.on('message', (message: ToWorker | SyncToWorker) => {
  if (message.type.startsWith('sync-')) {
    syncWorker.handle(message as SyncToWorker);
    return;
  }
  const { reply, transfer } = worker.handle(message as ToWorker);
  if (reply !== null) port.postMessage(reply, transfer);
});
