// The browser bundle's entry: the core face at the top level, each floor above it as a
// namespace (loopgrad.arch.stacked, loopgrad.train.Optimizer, loopgrad.tasks, loopgrad.io).
export * from './index.js';
export * as arch from './arch/index.js';
export * as train from './train/index.js';
export * as tasks from './tasks/index.js';
export * as io from './io/index.js';
