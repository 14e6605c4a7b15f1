// The script each RTRL worker thread runs: the platform-free RtrlShard behind parentPort. If the
// thread exits (process.exit, or a fatal error that still runs exit hooks) while the coordinator
// is blocked waiting, the hook settles its phase 'dead' so the coordinator wakes at once.
import { parentPort } from 'node:worker_threads';
import { RtrlShard } from '../lib/parallel/rtrl-shard.js';
import type { RtrlToWorker } from '../lib/parallel/rtrl-shard.js';

const port = parentPort;
if (port === null) throw new Error('loopgrad/node rtrl worker: this file runs as a worker thread (new Worker), not as a script');
const shard = new RtrlShard();
process.on('exit', (code) => shard.dying(`it exited with code ${code}`));
port.on('message', (message: RtrlToWorker) => shard.handle(message));
