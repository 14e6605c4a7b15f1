// Sequence parity. The input is a string of `steps` random bits, one per step
// (a single feature, 0 or 1). With `every` false (the default) the network
// must output, after the last bit, whether the number of ones was odd: every
// bit matters and no partial sum helps, a hard long-range target for
// gradient descent. With `every` true it outputs the running parity at every
// step, which only needs one bit of memory carried from step to step. One
// output (a logit; binary cross-entropy); the metric is the fraction of
// sequences whose final parity is right (1/2 by guessing).
import { type Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Task, type TaskBatch, batchBuffers, checkOutputs } from './task.js';

export interface ParityOptions {
  /** Bits per sequence (>= 1). */
  steps: number;
  /** A target at every step (the running parity) instead of only at the end (default false). */
  every?: boolean;
}

const PARITY_OPTIONS_KEYS = keysOf<ParityOptions>({ steps: true, every: true });

export function parityTask(options: ParityOptions): Task {
  checkKeys('parityTask', options, PARITY_OPTIONS_KEYS);
  const every = options.every ?? false;
  const name = every ? 'parity-running' : 'parity';
  const T = checkInt(name, 'steps', options.steps, 1);
  return {
    name,
    steps: T,
    inputSize: 1,
    outputSize: 1,
    loss: 'bce',
    metric: { name: 'accuracy', higherIsBetter: true, baseline: 0.5, solved: 0.99 },
    options: { steps: T, every: every ? 1 : 0 },
    batch(rng: Rng, size: number): TaskBatch {
      checkInt(name, 'batch size', size);
      const { xs, targets, mask } = batchBuffers(T, size, 1, 1, !every);
      for (let b = 0; b < size; b++) {
        let parity = 0;
        for (let t = 0; t < T; t++) {
          const bit = rng.int(2);
          parity ^= bit;
          const row = t * size + b;
          xs.data[row] = bit;
          if (every || t === T - 1) targets.data[row] = parity;
        }
        if (!every) mask!.data[(T - 1) * size + b] = 1;
      }
      return { kind: 'bce', xs, targets, mask, batch: size, steps: T };
    },
    score(batch: TaskBatch, outputs: Mat): number {
      checkOutputs(name, batch, outputs, 1);
      let right = 0;
      const base = (batch.steps - 1) * batch.batch;
      for (let b = 0; b < batch.batch; b++) {
        const predicted = outputs.data[outputs.offset + base + b] > 0 ? 1 : 0;
        if (predicted === batch.targets.data[batch.targets.offset + base + b]) right++;
      }
      return right / batch.batch;
    },
  };
}
