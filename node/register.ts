// Registers Node's worker_threads as loopgrad's worker host, so `threads` works in every gradient
// method. Imported for its effect by loopgrad/node and by the root export under Node.
import { setWorkerHost, workerHost } from '../lib/parallel/host.js';
import { nodeWorkerHost } from './pool.js';
import './rtrl-threads.js'; // Rtrl's threads (its own workers, lib/parallel/rtrl-team.ts)

if (workerHost() === null) setWorkerHost(nodeWorkerHost());
