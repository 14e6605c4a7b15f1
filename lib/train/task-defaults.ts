// What a task run uses when its caller sets nothing: per task, a learning rate, a gradient-norm
// clip and a budget of batches, chosen so that the default network (an LSTM of 32 units, Adam,
// batch 32) learns the task at its default length where it can, and measured: see
// docs/training.md ("Defaults that learn"). The task's own solved level (task.metric.solved)
// ends a default run early. Tasks the default network does not solve at their default length
// (copy at delay 20, temporal order at T = 100, parity of 10 bits) get a budget that shows it
// without an hour's wait.
import type { TaskName } from '../tasks/registry.js';

export interface TaskTrainingDefaults {
  /** Adam's learning rate. */
  lr: number;
  /** Clip the gradient's global norm to this (null: no clipping). */
  clip: number | null;
  /** Batches to train on, at most (the run stops once the task is solved). */
  iterations: number;
}

export const TASK_TRAINING_DEFAULTS: Readonly<Record<TaskName, TaskTrainingDefaults>> = {
  // LSTM solves T = 50 in about 1300 batches and T = 100 in about 3000 at lr 0.003, clip 1.
  adding: { lr: 0.003, clip: 1, iterations: 4000 },
  copy: { lr: 0.003, clip: 1, iterations: 2000 },
  // The Reber runs of docs/long-term-dependencies.md clip nothing; neither does the default.
  reber: { lr: 0.003, clip: null, iterations: 2000 },
  'reber-plain': { lr: 0.003, clip: null, iterations: 1000 },
  'temporal-order': { lr: 0.003, clip: 1, iterations: 1000 },
  parity: { lr: 0.003, clip: 1, iterations: 2000 },
  'parity-running': { lr: 0.003, clip: 1, iterations: 2000 },
};
