// The browser bundle's `parallel` namespace (lib/browser.ts): data-parallel BPTT on a pool of
// Web Workers. loopgrad.parallel.createWebPool({ threads: 2 }).bptt(spec, theta, xs, loss, options);
// and, in a Web Worker of a cross-origin-isolated page, `await enableWebThreads()` for the `threads`
// option of Bptt, Tbptt, Rtrl and fit.
export { createWebPool, webWorkerHost, WORKER_BUNDLE, type WebPoolOptions, type WebWorkerHostOptions } from './web-host.js';
export { WorkerPool, WorkerError, checkThreads, type WorkerPoolOptions, type ParallelLoss, type ParallelRunOptions, type ParallelBpttResult } from './pool.js';
export { modelFromSpec, type ModelSpec } from './model-spec.js';
export { type WorkerHost, type WorkerPort, type ToWorker, type FromWorker } from './protocol.js';
export { enableWebThreads, type WebThreads } from './web-threads.js';
export { closeThreadPools } from './sync-pool.js';
