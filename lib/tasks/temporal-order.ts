// The temporal-order problem (Hochreiter & Schmidhuber 1997, experiment 6a).
// A sequence of `steps` symbols starts with B and ends with E; in between,
// symbols are drawn from the distractors a, b, c, d, except at two positions,
// one in [0.1·T, 0.2·T) and one in [0.5·T, 0.6·T), which hold X or Y. At the
// last step the network must name the order of the two: XX, XY, YX or YY.
// Input: one-hot over a b c d X Y B E; output: logits over the four classes
// (softmax cross-entropy at the last step). Guessing scores 1/4.
import { type Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Task, type TaskBatch, argmax, batchBuffers, checkOutputs } from './task.js';

export const TEMPORAL_ORDER_SYMBOLS = ['a', 'b', 'c', 'd', 'X', 'Y', 'B', 'E'] as const;
export const TEMPORAL_ORDER_CLASSES = ['XX', 'XY', 'YX', 'YY'] as const;

export interface TemporalOrderOptions {
  /** Sequence length T (>= 10, so that the two windows are distinct). */
  steps: number;
}

const TEMPORAL_ORDER_OPTIONS_KEYS = keysOf<TemporalOrderOptions>({ steps: true });

/** The two windows [lo, hi) the relevant symbols are drawn from. */
export function temporalOrderWindows(steps: number): [[number, number], [number, number]] {
  const w = (a: number, b: number): [number, number] => {
    const lo = Math.max(1, Math.floor(a * steps));
    return [lo, Math.max(lo + 1, Math.floor(b * steps))];
  };
  return [w(0.1, 0.2), w(0.5, 0.6)];
}

export function temporalOrderTask(options: TemporalOrderOptions): Task {
  checkKeys('temporalOrderTask', options, TEMPORAL_ORDER_OPTIONS_KEYS);
  const name = 'temporal-order';
  const T = checkInt(name, 'steps', options.steps, 10);
  const K = TEMPORAL_ORDER_SYMBOLS.length, C = TEMPORAL_ORDER_CLASSES.length;
  const [first, second] = temporalOrderWindows(T);
  return {
    name,
    steps: T,
    inputSize: K,
    outputSize: C,
    loss: 'softmax-ce',
    metric: { name: 'accuracy', higherIsBetter: true, baseline: 1 / C, solved: 0.99 },
    options: { steps: T },
    batch(rng: Rng, size: number): TaskBatch {
      checkInt(name, 'batch size', size);
      const { xs, targets, mask } = batchBuffers(T, size, K, C, true);
      for (let b = 0; b < size; b++) {
        const t1 = first[0] + rng.int(first[1] - first[0]);
        const t2 = second[0] + rng.int(second[1] - second[0]);
        const s1 = rng.int(2), s2 = rng.int(2); // 0: X, 1: Y
        for (let t = 0; t < T; t++) {
          let symbol: number;
          if (t === 0) symbol = 6;
          else if (t === T - 1) symbol = 7;
          else if (t === t1) symbol = 4 + s1;
          else if (t === t2) symbol = 4 + s2;
          else symbol = rng.int(4);
          xs.data[(t * size + b) * K + symbol] = 1;
        }
        const last = (T - 1) * size + b;
        targets.data[last * C + 2 * s1 + s2] = 1;
        mask!.data[last] = 1;
      }
      return { kind: 'softmax-ce', xs, targets, mask, batch: size, steps: T };
    },
    score(batch: TaskBatch, outputs: Mat): number {
      checkOutputs(name, batch, outputs, C);
      let right = 0;
      const base = (batch.steps - 1) * batch.batch;
      for (let b = 0; b < batch.batch; b++) {
        const row = base + b;
        if (argmax(outputs.data, outputs.offset + row * C, C) === argmax(batch.targets.data, batch.targets.offset + row * C, C)) right++;
      }
      return right / batch.batch;
    },
  };
}
