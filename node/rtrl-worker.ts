// The script each RTRL worker thread runs (started by node/supervisor.ts): the platform-free
// RtrlShard behind parentPort.
import { parentPort } from 'node:worker_threads';
import { RtrlShard } from '../lib/parallel/rtrl-shard.js';
import type { RtrlToWorker } from '../lib/parallel/rtrl-shard.js';

const port = parentPort;
if (port === null) throw new Error('loopgrad/node rtrl worker: this file runs as a worker thread (new Worker), not as a script');
const shard = new RtrlShard();
port.on('message', (message: RtrlToWorker) => shard.handle(message));
