// The classic long-term-dependency tasks, generated from a seed (nothing is
// downloaded). A task draws batches of sequences, time-major like every input
// in loopgrad, with targets and a mask saying where a target is present, and
// scores a model's outputs on a batch with the task's own held-out metric.
import type { LossKind, SequenceTargets } from '../loss/losses.js';
import { type Mat, mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { ShapeError } from '../mat/errors.js';

export interface TaskBatch extends SequenceTargets {
  /** Inputs, (steps·batch) x inputSize, time-major. */
  xs: Mat;
  steps: number;
  /** Task-specific facts the metric needs (positions, classes, legal symbols ...). */
  info?: unknown;
}

export interface TaskMetric {
  name: string;
  /** True for accuracies, false for errors. */
  higherIsBetter: boolean;
  /** A reference score for reports: what guessing (or missing the long-term dependency) scores. */
  baseline: number;
  /** The value at which the task counts as solved. */
  solved: number;
}

export interface Task {
  readonly name: string;
  /** Sequence length; 0 when it varies from batch to batch (see TaskBatch.steps). */
  readonly steps: number;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly loss: LossKind;
  readonly metric: TaskMetric;
  /** The options the task was made with (for reports and reruns). */
  readonly options: Readonly<Record<string, number>>;
  /** A batch of fresh sequences drawn from rng. */
  batch(rng: Rng, size: number): TaskBatch;
  /** The metric of outputs (time-major, as the model emits them) on a batch from this task. */
  score(batch: TaskBatch, outputs: Mat): number;
  /** Further metrics worth reporting, by name (optional). */
  extraScores?(batch: TaskBatch, outputs: Mat): Record<string, number>;
}

/** Whether `value` meets the task's solved level. */
export function isSolved(metric: TaskMetric, value: number): boolean {
  return metric.higherIsBetter ? value >= metric.solved : value <= metric.solved;
}

/** Empty time-major buffers for a batch. */
export function batchBuffers(steps: number, batch: number, inputSize: number, outputSize: number, masked: boolean): { xs: Mat; targets: Mat; mask: Mat | null } {
  return {
    xs: mat(steps * batch, inputSize),
    targets: mat(steps * batch, outputSize),
    mask: masked ? mat(steps * batch, 1) : null,
  };
}

export function checkOutputs(task: string, batch: TaskBatch, outputs: Mat, cols: number): void {
  if (outputs.rows !== batch.steps * batch.batch || outputs.cols !== cols) {
    throw new ShapeError(`${task}.score`, `outputs are ${outputs.rows}x${outputs.cols}, need ${batch.steps * batch.batch}x${cols} (steps ${batch.steps} x batch ${batch.batch})`, { outputs: [outputs.rows, outputs.cols], expected: [batch.steps * batch.batch, cols] });
  }
}

/** Index of the largest of n values starting at data[offset]. */
export function argmax(data: Float64Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (data[offset + j] > data[offset + best]) best = j;
  return best;
}
