// loopgrad/node: what needs Node (worker threads) — the data-parallel BPTT pool and its protocol.
// Importing it registers worker_threads for the `threads` option of the gradient methods.
import './register.js';
export { setWorkerHost, workerHost } from '../lib/parallel/host.js';
export { closeThreadPools } from '../lib/parallel/sync-pool.js';
export { SyncChannel, canBlock, type PhaseOutcome } from '../lib/parallel/sync-channel.js';
export { createNodePool, nodeWorkerHost } from './pool.js';
export { WorkerPool, WorkerError, checkThreads, type WorkerPoolOptions, type ParallelLoss, type ParallelRunOptions, type ParallelBpttResult } from '../lib/parallel/pool.js';
export { modelFromSpec, specOf, type ModelSpec } from '../lib/parallel/model-spec.js';
export { ShardWorker } from '../lib/parallel/shard-worker.js';
export { shardRanges, reduceInOrder, type ShardRange } from '../lib/parallel/shard.js';
export { type WorkerHost, type WorkerPort, type ToWorker, type FromWorker } from '../lib/parallel/protocol.js';
