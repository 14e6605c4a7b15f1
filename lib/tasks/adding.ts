// The adding problem (Hochreiter & Schmidhuber 1997; the form of Le et al. 2015).
// Each step carries two inputs: a value drawn from U(0, 1) and a marker. Exactly
// two steps are marked (marker 1, else 0): one in the first half of the
// sequence, one in the second. After the last step the network must output the
// sum of the two marked values. The target lies in [0, 2] with variance 1/6, so
// always answering 1 scores a mean squared error of about 0.167; the task is
// solved below 0.01. Loss: squared error at the last step only.
import { type Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Task, type TaskBatch, batchBuffers, checkOutputs } from './task.js';

export interface AddingOptions {
  /** Sequence length T (>= 2). */
  steps: number;
}

const ADDING_OPTIONS_KEYS = keysOf<AddingOptions>({ steps: true });

export function addingTask(options: AddingOptions): Task {
  checkKeys('addingTask', options, ADDING_OPTIONS_KEYS);
  const name = 'adding';
  const T = checkInt(name, 'steps', options.steps, 2);
  const half = Math.floor(T / 2);
  return {
    name,
    steps: T,
    inputSize: 2,
    outputSize: 1,
    loss: 'mse',
    metric: { name: 'mse', higherIsBetter: false, baseline: 1 / 6, solved: 0.01 },
    options: { steps: T },
    batch(rng: Rng, size: number): TaskBatch {
      checkInt(name, 'batch size', size);
      const { xs, targets, mask } = batchBuffers(T, size, 2, 1, true);
      const x = xs.data;
      for (let b = 0; b < size; b++) {
        for (let t = 0; t < T; t++) x[(t * size + b) * 2] = rng.uniform();
        const first = rng.int(half);
        const second = half + rng.int(T - half);
        x[(first * size + b) * 2 + 1] = 1;
        x[(second * size + b) * 2 + 1] = 1;
        const last = (T - 1) * size + b;
        targets.data[last] = x[(first * size + b) * 2] + x[(second * size + b) * 2];
        mask!.data[last] = 1;
      }
      return { kind: 'mse', xs, targets, mask, batch: size, steps: T };
    },
    score(batch: TaskBatch, outputs: Mat): number {
      checkOutputs(name, batch, outputs, 1);
      let sum = 0;
      const base = (batch.steps - 1) * batch.batch;
      for (let b = 0; b < batch.batch; b++) {
        const d = outputs.data[outputs.offset + base + b] - batch.targets.data[batch.targets.offset + base + b];
        sum += d * d;
      }
      return sum / batch.batch;
    },
  };
}
