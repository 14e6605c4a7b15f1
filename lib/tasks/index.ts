// loopgrad/tasks: the classic generated tasks (seeded), and the speech-like CTC task.
export { type Task, type TaskBatch, type TaskMetric, isSolved } from './task.js';
export { addingTask, type AddingOptions } from './adding.js';
export { copyTask, type CopyOptions } from './copy.js';
export { reberTask, reberString, reberText, REBER_SYMBOLS, type ReberOptions, type ReberString } from './reber.js';
export { temporalOrderTask, temporalOrderWindows, TEMPORAL_ORDER_SYMBOLS, TEMPORAL_ORDER_CLASSES, type TemporalOrderOptions } from './temporal-order.js';
export { parityTask, type ParityOptions } from './parity.js';
export { createTask, TASK_NAMES, DEFAULT_STEPS, type TaskName } from './registry.js';
export { speechTask, type SpeechTask, type SpeechTaskOptions, type SpeechBatch } from './speech.js';
