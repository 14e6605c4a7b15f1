// Training a bidirectional LSTM with CTC on the generated speech-like task:
// frames -> BiLSTM -> per-frame class scores -> CTC loss (log space) -> BPTT
// through the whole network -> Adam. Held-out quality is the label error rate
// of best-path (greedy) and prefix-beam-search decoding.
import type { Var } from '../ad/graph.js';
import { lstm } from '../cells/lstm.js';
import { dense } from '../cells/dense.js';
import type { Mat } from '../mat/mat.js';
import { logSoftmaxRows } from '../mat/elementwise.js';
import { Rng } from '../mat/rng.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { ConfigError } from '../mat/errors.js';
import { bidirectional } from '../arch/bidirectional.js';
import { stacked } from '../arch/stacked.js';
import { Bptt } from '../rnn/bptt.js';
import { Forward } from '../rnn/forward.js';
import { type RecurrentModel, createModel } from '../rnn/model.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import { Optimizer } from '../optim/optimizer.js';
import { clipGlobalNorm, allFinite } from '../optim/clip.js';
import { ctcGreedyDecode, ctcPrefixBeamSearch } from '../loss/ctc-decode.js';
import { ctcLossVar } from '../loss/ctc-rule.js';
import { labelErrorRate } from '../loss/edit-distance.js';
import { type SpeechBatch, type SpeechTask, type SpeechTaskOptions, speechTask } from '../tasks/speech.js';

export interface CtcTrainConfig {
  /** Hidden units per direction (default 24). */
  hidden?: number;
  /** Bidirectional LSTM layers (default 1). */
  layers?: number;
  /** Sequences per batch (default 16). */
  batch?: number;
  /** Parameter updates (default 600). */
  iterations?: number;
  /** Adam's learning rate (default 0.01). */
  lr?: number;
  /** Global-norm clipping threshold (default 5). */
  clip?: number;
  /** Held-out sequences (default 200). */
  heldOut?: number;
  /** Beam width of the held-out prefix beam search (default 8; 0 skips it). */
  beamWidth?: number;
  seed?: number;
  task?: SpeechTaskOptions;
  /** BPTT's memory limit (its maxBytes; default 2 GiB). */
  maxBytes?: number;
}

const CTC_TRAIN_CONFIG_KEYS = keysOf<CtcTrainConfig>({ hidden: true, layers: true, batch: true, iterations: true, lr: true, clip: true, heldOut: true, beamWidth: true, seed: true, task: true, maxBytes: true });

export interface CtcTrainReport {
  config: Required<Omit<CtcTrainConfig, 'task' | 'maxBytes'>> & { task: SpeechTaskOptions };
  params: number;
  /** Mean CTC loss per target label, per update. */
  curve: { step: number; loss: number }[];
  heldOut: { greedyLabelErrorRate: number; beamLabelErrorRate: number | null; sequences: number };
  seconds: number;
  model: RecurrentModel;
}

export interface CtcTrainHooks {
  onProgress?(step: number, total: number, loss: number): void;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new ConfigError('trainCtc', `${name} must be a positive number, got ${value}`, { option: name, value });
  return value;
}

/** A BiLSTM (layers deep) with a linear readout of classes scores per frame. */
export function ctcNetwork(task: SpeechTask, hidden: number, layers: number, seed: number): RecurrentModel {
  const cells = [];
  let inputSize = task.features;
  for (let l = 0; l < layers; l++) {
    cells.push(bidirectional(lstm({ inputSize, hiddenSize: hidden, forgetBias: 1 })));
    inputSize = 2 * hidden;
  }
  cells.push(dense({ inputSize, outputSize: task.classes }));
  return createModel(stacked(cells), { seed });
}

/** The CTC loss of a batch as a SequenceLoss: it collects every frame's scores and scores them at the last step. */
export function ctcSequenceLoss(batch: SpeechBatch, classes: number): SequenceLoss {
  const frames: Var[] = [];
  return {
    step: (g, t, output) => {
      if (t === 0) frames.length = 0;
      frames.push(output);
      if (t < batch.steps - 1) return null;
      return ctcLossVar(g, g.concatRows(frames), {
        T: batch.steps, N: batch.batch, C: classes, targets: batch.targets,
        inputLengths: batch.lengths, targetLengths: batch.targets.map((t) => t.length), reduction: 'mean',
      });
    },
  };
}

/** Per-frame log-probabilities ((steps·batch) x classes, time-major) of a batch. */
export function ctcLogProbs(model: RecurrentModel, batch: SpeechBatch): Mat {
  const out = new Forward(model).run(batch.xs, { batch: batch.batch, lengths: batch.lengths }).outputs;
  logSoftmaxRows(out, out);
  return out;
}

/** Greedy and beam label error rates of the model on a batch. */
export function ctcEvaluate(model: RecurrentModel, batch: SpeechBatch, beamWidth: number): { greedy: number; beam: number | null } {
  const logProbs = ctcLogProbs(model, batch);
  const options = { T: batch.steps, N: batch.batch, C: model.cell.outputSize, inputLengths: batch.lengths };
  const greedy = labelErrorRate(ctcGreedyDecode(logProbs, options).map((p) => p.labels), batch.targets);
  if (beamWidth <= 0) return { greedy, beam: null };
  const beams = ctcPrefixBeamSearch(logProbs, { ...options, beamWidth });
  const beam = labelErrorRate(beams.map((h) => h[0]?.labels ?? []), batch.targets);
  return { greedy, beam };
}

export function trainCtc(config: CtcTrainConfig = {}, hooks: CtcTrainHooks = {}): CtcTrainReport {
  checkKeys('trainCtc', config, CTC_TRAIN_CONFIG_KEYS);
  const hidden = checkInt('trainCtc', 'hidden', config.hidden ?? 24);
  const layers = checkInt('trainCtc', 'layers', config.layers ?? 1);
  const batchSize = checkInt('trainCtc', 'batch', config.batch ?? 16);
  const iterations = checkInt('trainCtc', 'iterations', config.iterations ?? 600, 0);
  const lr = positive('lr', config.lr ?? 0.01);
  const clip = positive('clip', config.clip ?? 5);
  const heldOutSize = checkInt('trainCtc', 'heldOut', config.heldOut ?? 200);
  const beamWidth = checkInt('trainCtc', 'beamWidth', config.beamWidth ?? 8, 0);
  const seed = config.seed ?? 1;
  const taskOptions = config.task ?? {};
  const task = speechTask(taskOptions);
  const model = ctcNetwork(task, hidden, layers, seed);
  const optimizer = new Optimizer({ kind: 'adam', lr });
  const bptt = new Bptt(model, config.maxBytes === undefined ? {} : { maxBytes: config.maxBytes });
  const rng = new Rng(seed + 1);
  const curve: { step: number; loss: number }[] = [];
  const started = Date.now();
  for (let step = 0; step < iterations; step++) {
    const batch = task.batch(batchSize, rng);
    const result = bptt.run(batch.xs, ctcSequenceLoss(batch, task.classes), { batch: batchSize, lengths: batch.lengths });
    if (!Number.isFinite(result.loss) || !allFinite(result.grad)) {
      // Diverged: the settings (lr, clip) are out of range for this run.
      throw new ConfigError('trainCtc', `step ${step}: loss ${result.loss} or its gradient is not finite; parameters left as after step ${step - 1}`, { step, loss: result.loss });
    }
    clipGlobalNorm(result.grad, clip);
    optimizer.step(model.params.theta, result.grad);
    curve.push({ step, loss: result.loss });
    hooks.onProgress?.(step + 1, iterations, result.loss);
  }
  const heldOut = task.batch(heldOutSize, new Rng(seed + 1_000_003));
  const quality = ctcEvaluate(model, heldOut, beamWidth);
  return {
    config: { hidden, layers, batch: batchSize, iterations, lr, clip, heldOut: heldOutSize, beamWidth, seed, task: taskOptions },
    params: model.params.theta.length,
    curve,
    heldOut: { greedyLabelErrorRate: quality.greedy, beamLabelErrorRate: quality.beam, sequences: heldOutSize },
    seconds: (Date.now() - started) / 1000,
    model,
  };
}
