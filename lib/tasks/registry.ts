// The tasks by name, for the CLI and for reproducible reports.
import type { Task } from './task.js';
import { addingTask } from './adding.js';
import { copyTask } from './copy.js';
import { reberTask } from './reber.js';
import { temporalOrderTask } from './temporal-order.js';
import { parityTask } from './parity.js';
import { ConfigError } from '../mat/errors.js';

export const TASK_NAMES = ['adding', 'copy', 'reber', 'reber-plain', 'temporal-order', 'parity', 'parity-running'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** Default sequence length (or copy delay) of each task. */
export const DEFAULT_STEPS: Readonly<Record<TaskName, number>> = {
  adding: 100, copy: 20, reber: 0, 'reber-plain': 0, 'temporal-order': 100, parity: 10, 'parity-running': 50,
};

/**
 * A task by name. `steps` is the sequence length (the delay for copy; the
 * Reber tasks have their own lengths and ignore it).
 */
export function createTask(name: string, steps?: number): Task {
  if (!(TASK_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError('createTask', `unknown task ${JSON.stringify(name)} (${TASK_NAMES.join(', ')})`, { value: name, accepted: TASK_NAMES });
  }
  const n = name as TaskName;
  const T = steps ?? DEFAULT_STEPS[n];
  switch (n) {
    case 'adding': return addingTask({ steps: T });
    case 'copy': return copyTask({ delay: T });
    case 'reber': return reberTask({ embedded: true });
    case 'reber-plain': return reberTask({ embedded: false });
    case 'temporal-order': return temporalOrderTask({ steps: T });
    case 'parity': return parityTask({ steps: T });
    case 'parity-running': return parityTask({ steps: T, every: true });
  }
}
