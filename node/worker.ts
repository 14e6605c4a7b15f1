// The script each Node worker thread runs: the platform-free ShardWorker behind parentPort.
import { parentPort } from 'node:worker_threads';
import { ShardWorker } from '../lib/parallel/shard-worker.js';
import type { ToWorker } from '../lib/parallel/protocol.js';

const port = parentPort;
if (port === null) throw new Error('loopgrad/node worker: this file runs as a worker thread (new Worker), not as a script');
const worker = new ShardWorker();
port.on('message', (message: ToWorker) => {
  const { reply, transfer } = worker.handle(message);
  if (reply !== null) port.postMessage(reply, transfer);
});
