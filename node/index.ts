// loopgrad/node: what needs Node (worker threads) — the data-parallel BPTT pool and its protocol.
export { createNodePool, nodeWorkerHost } from './pool.js';
export { WorkerPool, WorkerError, checkThreads, type WorkerPoolOptions, type ParallelLoss, type ParallelRunOptions, type ParallelBpttResult } from '../lib/parallel/pool.js';
export { modelFromSpec, type ModelSpec } from '../lib/parallel/model-spec.js';
export { ShardWorker } from '../lib/parallel/shard-worker.js';
export { shardRanges, reduceInOrder, type ShardRange } from '../lib/parallel/shard.js';
export { type WorkerHost, type WorkerPort, type ToWorker, type FromWorker } from '../lib/parallel/protocol.js';
