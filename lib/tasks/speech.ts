// A generated speech-like labelling task for CTC: each label is a noisy
// prototype feature vector held for a random number of frames, with frames of
// noise between labels, so where one label ends and the next begins is never
// given — only the label sequence is. Seeded; no downloads.
import { type Mat, mat } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { ConfigError } from '../mat/errors.js';

export interface SpeechTaskOptions {
  /** Distinct labels (classes besides the blank). Default 8. */
  labels?: number;
  /** Features per frame. Default 10. */
  features?: number;
  /** Labels per sequence: uniform in [minLabels, maxLabels]. Default 2..5. */
  minLabels?: number;
  maxLabels?: number;
  /** Frames a label is held: uniform in [minHold, maxHold]. Default 2..4. */
  minHold?: number;
  maxHold?: number;
  /** Noise frames before, between and after labels: uniform in [0, maxGap] (so labels may touch). Default 2. */
  maxGap?: number;
  /** Standard deviation of the noise added to every frame. Default 1. */
  noise?: number;
  /** Seed of the prototypes (the "speaker"). Default 1. */
  seed?: number;
}

const SPEECH_TASK_OPTIONS_KEYS = keysOf<SpeechTaskOptions>({ labels: true, features: true, minLabels: true, maxLabels: true, minHold: true, maxHold: true, maxGap: true, noise: true, seed: true });

export interface SpeechBatch {
  /** Time-major frames, (steps * batch) x features, zero past each sequence's length. */
  xs: Mat;
  steps: number;
  batch: number;
  /** Frames of each sequence. */
  lengths: number[];
  /** Label sequence of each item, labels in 1..labels (0 is the blank). */
  targets: number[][];
}

export interface SpeechTask {
  readonly labels: number;
  readonly features: number;
  /** Classes a network must score: the labels plus the blank (index 0). */
  readonly classes: number;
  /** A batch of `size` sequences drawn from rng. */
  batch(size: number, rng: Rng): SpeechBatch;
}

export function speechTask(options: SpeechTaskOptions = {}): SpeechTask {
  checkKeys('speechTask', options, SPEECH_TASK_OPTIONS_KEYS);
  const op = 'speechTask';
  const labels = checkInt(op, 'labels', options.labels ?? 8, 1);
  const features = checkInt(op, 'features', options.features ?? 10, 1);
  const minLabels = checkInt(op, 'minLabels', options.minLabels ?? 2, 1);
  const maxLabels = checkInt(op, 'maxLabels', options.maxLabels ?? 5, minLabels);
  const minHold = checkInt(op, 'minHold', options.minHold ?? 2, 1);
  const maxHold = checkInt(op, 'maxHold', options.maxHold ?? 4, minHold);
  const maxGap = checkInt(op, 'maxGap', options.maxGap ?? 2, 0);
  const noise = options.noise ?? 1;
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new ConfigError(op, `noise must be a finite number >= 0, got ${noise}`, { option: 'noise', value: noise });
  // Prototypes: one unit-norm-ish random vector per label.
  const protoRng = new Rng(options.seed ?? 1);
  const prototypes = new Float64Array(labels * features);
  for (let i = 0; i < prototypes.length; i++) prototypes[i] = protoRng.normal(0, 1);
  return {
    labels,
    features,
    classes: labels + 1,
    batch(size: number, rng: Rng): SpeechBatch {
      checkInt('speechTask.batch', 'size', size, 1);
      const targets: number[][] = [];
      const frames: number[][] = []; // per item: label per frame, 0 for a noise frame
      for (let b = 0; b < size; b++) {
        const count = minLabels + rng.int(maxLabels - minLabels + 1);
        const target: number[] = [];
        const sequence: number[] = [];
        const gap = () => { const n = rng.int(maxGap + 1); for (let i = 0; i < n; i++) sequence.push(0); };
        gap();
        for (let i = 0; i < count; i++) {
          const label = 1 + rng.int(labels);
          // The same label twice with no pause would read as one: repeats get a noise frame between.
          if (i > 0 && label === target[i - 1] && sequence[sequence.length - 1] !== 0) sequence.push(0);
          target.push(label);
          const hold = minHold + rng.int(maxHold - minHold + 1);
          for (let f = 0; f < hold; f++) sequence.push(label);
          if (i + 1 < count) gap();
        }
        gap();
        targets.push(target);
        frames.push(sequence);
      }
      const lengths = frames.map((f) => f.length);
      const steps = Math.max(...lengths);
      const xs = mat(steps * size, features);
      for (let b = 0; b < size; b++) {
        for (let t = 0; t < lengths[b]; t++) {
          const label = frames[b][t], row = (t * size + b) * features;
          for (let j = 0; j < features; j++) {
            xs.data[row + j] = (label === 0 ? 0 : prototypes[(label - 1) * features + j]) + noise * rng.normal();
          }
        }
      }
      return { xs, steps, batch: size, lengths, targets };
    },
  };
}
