// The browser bundle's entry: the core face at the top level, each floor above it as a
// namespace (loopgrad.arch.stacked, loopgrad.train.Optimizer, loopgrad.tasks, loopgrad.io,
// loopgrad.parallel).
export * from './index.js';
export * as arch from './arch/index.js';
export * as train from './train/index.js';
export * as tasks from './tasks/index.js';
export * as io from './io/index.js';
// Data-parallel BPTT on Web Workers (needs dist/browser/loopgrad-worker.js beside the bundle).
export * as parallel from './parallel/browser.js';
