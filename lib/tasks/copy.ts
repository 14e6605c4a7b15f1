// The copy (memory) task in the form of Arjovsky et al. 2016. The input is a
// string of `length` symbols drawn from an alphabet of `symbols`, then
// `delay - 1` blanks, a delimiter, and `length` more blanks (delay + 2·length
// steps in all). During the last `length` steps the network must emit the
// string it saw at the start. Input: one-hot over blank, the symbols and the
// delimiter; output: logits over blank and the symbols. The loss (softmax
// cross-entropy) and the metric (fraction of recalled symbols right) cover the
// recall steps only; guessing scores 1/symbols.
import { type Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Task, type TaskBatch, argmax, batchBuffers, checkOutputs } from './task.js';

export interface CopyOptions {
  /** Blank steps between the string and its recall (T in the literature, >= 1). */
  delay: number;
  /** Symbols to remember (default 10). */
  length?: number;
  /** Alphabet size (default 8). */
  symbols?: number;
}

const COPY_OPTIONS_KEYS = keysOf<CopyOptions>({ delay: true, length: true, symbols: true });

export function copyTask(options: CopyOptions): Task {
  checkKeys('copyTask', options, COPY_OPTIONS_KEYS);
  const name = 'copy';
  const delay = checkInt(name, 'delay', options.delay, 1);
  const length = checkInt(name, 'length', options.length ?? 10, 1);
  const symbols = checkInt(name, 'symbols', options.symbols ?? 8, 2);
  const T = delay + 2 * length;
  const inputSize = symbols + 2, outputSize = symbols + 1, delimiter = symbols + 1;
  const recallStart = length + delay;
  return {
    name,
    steps: T,
    inputSize,
    outputSize,
    loss: 'softmax-ce',
    metric: { name: 'accuracy', higherIsBetter: true, baseline: 1 / symbols, solved: 0.99 },
    options: { delay, length, symbols },
    batch(rng: Rng, size: number): TaskBatch {
      checkInt(name, 'batch size', size);
      const { xs, targets, mask } = batchBuffers(T, size, inputSize, outputSize, true);
      for (let b = 0; b < size; b++) {
        for (let t = 0; t < T; t++) {
          let input = 0; // blank
          if (t < length) {
            input = 1 + rng.int(symbols);
            const recall = (recallStart + t) * size + b;
            targets.data[recall * outputSize + input] = 1;
            mask!.data[recall] = 1;
          } else if (t === recallStart - 1) {
            input = delimiter;
          }
          xs.data[(t * size + b) * inputSize + input] = 1;
        }
      }
      return { kind: 'softmax-ce', xs, targets, mask, batch: size, steps: T };
    },
    score(batch: TaskBatch, outputs: Mat): number {
      checkOutputs(name, batch, outputs, outputSize);
      let right = 0, total = 0;
      for (let t = recallStart; t < batch.steps; t++) {
        for (let b = 0; b < batch.batch; b++) {
          const row = t * batch.batch + b;
          const want = argmax(batch.targets.data, batch.targets.offset + row * outputSize, outputSize);
          if (argmax(outputs.data, outputs.offset + row * outputSize, outputSize) === want) right++;
          total++;
        }
      }
      return right / total;
    },
  };
}
