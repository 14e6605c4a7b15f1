// The network a user expects: made from a plain description (lib/train/network-description.ts),
// with fit / predict / evaluate / step / generate / save / load. It adds no numerics of its own:
// fit drives the trainer (lib/train/trainer.ts: the methods' drives, the optimiser, clipping,
// penalties, early stopping, the divergence guard) with batches made from the user's data
// (lib/train/network-data.ts); predict, evaluate, step and generate run Forward (eval graph, no
// dropout); save writes one safetensors file whose metadata holds the description. A seq2seq
// network (lib/arch/seq2seq.ts: encoder and decoder as one cell) trains the same way and
// decodes with decode (greedy, or beam search: lib/train/beam.ts).
import { ConfigError, FormatError, ShapeError } from '../mat/errors.js';
import { type Mat, mat } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { checkInt, checkKeys } from '../mat/options.js';
import * as pm from '../mat/math.js';
import { logSoftmaxRows } from '../mat/elementwise.js';
import { Forward } from '../rnn/forward.js';
import type { RecurrentModel } from '../rnn/model.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import { createMethod, methodDrive, parseMethod } from '../rnn/methods.js';
import { type LossKind, lossValue, sequenceLoss, targetCount } from '../loss/losses.js';
import { ctcLossVar } from '../loss/ctc-rule.js';
import { ctcLossFromLogits } from '../loss/ctc.js';
import { ctcGreedyDecode } from '../loss/ctc-decode.js';
import { labelErrorRate } from '../loss/edit-distance.js';
import { Optimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { type Penalty, checkPenalty } from '../optim/clip.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../io/safetensors.js';
import type { Var } from '../ad/graph.js';
import { type GuardReport, type StopReason, train } from './trainer.js';
import { type FullDescription, type NetworkDescription, checkDescription, copyDescription } from './network-description.js';
import { networkModel, savedName, savedShape, sourceWidth } from './network-build.js';
import { seq2seqWidth } from '../arch/seq2seq.js';
import { assembleSeq2seqBatch, prepareSeq2seq, readSources } from './seq2seq-data.js';
import { Seq2seqDecoder } from './seq2seq-decode.js';
import { type Decoded, beamSearch } from './beam.js';
import { type Batch, type DataLayout, type NetworkData, type Prepared, type SequenceInputs, assembleBatch, prepareData } from './network-data.js';
import { Vocabulary } from './vocabulary.js';

/** What fit takes. */
export interface FitOptions {
  /** The gradient method in the method grammar: 'bptt' (default), 'tbptt:K1:K2', 'rtrl', ... */
  method?: string;
  /** An optimiser config (default { kind: 'adam', lr: 0.01 }), or an Optimizer to continue with. */
  optimizer?: OptimizerConfig | Optimizer;
  /** Sequences per batch (default 32; the last batch of an epoch may be smaller). */
  batchSize?: number;
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Shuffle the sequences before every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffling (default the description's seed + 1). */
  seed?: number;
  clipNorm?: number;
  clipValue?: number;
  penalty?: Penalty;
  /** Held-out data, evaluated after every epoch (its metrics go into the history). */
  validation?: NetworkData;
  /** Stop after `patience` epochs without a lower validation loss (needs validation). */
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  /** Called after every batch; return 'stop' to end training there. */
  onProgress?: (progress: FitProgress) => void | 'stop';
  /** Checked between batches: once aborted is true, fit stops and returns what was done (an AbortSignal fits). */
  signal?: { readonly aborted: boolean };
  /** The gradient method's memory limit (Bptt's and Rtrl's maxBytes). */
  maxBytes?: number;
  /**
   * Threads for the gradient (default 1; train's threads): bptt and tbptt split each batch over
   * them, rtrl and snapN (N >= 2) the columns of S.
   * Needs a network that crosses to workers as data: any but a seq2seq network with dropout.
   */
  threads?: number;
}

const FIT_KEYS = ['method', 'optimizer', 'batchSize', 'epochs', 'shuffle', 'seed', 'clipNorm', 'clipValue', 'penalty', 'validation', 'earlyStopping', 'onProgress', 'signal', 'maxBytes', 'threads'];

export interface FitProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** Batch within the epoch, 1-based. */
  batch: number;
  batches: number;
  /** This batch's training loss. */
  loss: number;
  gradNorm: number;
  lr: number;
  elapsedMs: number;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's sequences (as the batches saw them, during the epoch). */
  loss: number;
  /** Batches done (fewer than the epoch's when stopped inside it). */
  batches: number;
  validation: Metrics | null;
}

export interface FitHistory {
  epochs: EpochRecord[];
  stop: { reason: StopReason | 'aborted'; message: string };
  /** Batches and optimiser updates done. */
  iterations: number;
  updates: number;
  guard: GuardReport | null;
  elapsedMs: number;
}

/** evaluate's metrics; each only where it applies. */
export interface Metrics {
  /** Mean loss over the targets present (the training loss's definition). */
  loss: number;
  /** Fraction of targets classified right (softmax-ce: argmax; bce: logit > 0 vs target >= 0.5). */
  accuracy?: number;
  /** softmax-ce: mean negative log-likelihood in bits (loss / ln 2). */
  bitsPerSymbol?: number;
  /** ctc: greedy decoding's edit distance over the target length. */
  labelErrorRate?: number;
  /** Sequences evaluated. */
  sequences: number;
}

export interface PredictOptions {
  /** Whether inputs (and the result) are batch first (default true). */
  batchFirst?: boolean;
  lengths?: ArrayLike<number>;
  /** Sequences run together (default 64). */
  batchSize?: number;
  /** one-to-many: outputs to make per sequence. */
  steps?: number;
}

export interface GenerateOptions {
  /** The text (or symbol indices) to start from: at least one symbol. */
  prime: string | ArrayLike<number>;
  /** Symbols to generate. */
  length: number;
  /** Softmax temperature T > 0: p ∝ exp(logits / T) (default 1). */
  temperature?: number;
  /** Sample among the k most likely symbols only (default all; 1 is greedy argmax). */
  topK?: number;
  /** Seed of the sampling (default 0). */
  seed?: number;
}

/** What decode takes (seq2seq networks). */
export interface DecodeOptions {
  /** Symbols to emit at most per source. */
  maxLength: number;
  /** The end symbol (a target class): emitting it ends a sequence (default none: maxLength symbols each). */
  end?: number;
  /** Beam search keeping this many hypotheses (default: greedy decoding, every source in one batch; 1 gives the same result one source at a time). */
  beamWidth?: number;
  /** Whether the sources are batch first (default true). */
  batchFirst?: boolean;
  lengths?: ArrayLike<number>;
}

const DECODE_KEYS = ['maxLength', 'end', 'beamWidth', 'batchFirst', 'lengths'];
const GENERATE_KEYS = ['prime', 'length', 'temperature', 'topK', 'seed'];
const PREDICT_KEYS = ['batchFirst', 'lengths', 'batchSize', 'steps'];
const SAVE_FORMAT = 'loopgrad-network';
const SAVE_VERSION = '1';

/** An integer option >= min; `fallback` when absent (NaN: the option is required). */
function positiveInt(op: string, name: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) {
    if (Number.isNaN(fallback)) throw new ConfigError(op, `${name} is required (an integer >= ${min})`, { option: name });
    return fallback;
  }
  return checkInt(op, name, v, min);
}

/** A network from its description (see NetworkDescription); the same description gives the same weights. */
export function createNetwork(description: NetworkDescription): Network {
  return new Network(checkDescription(description));
}

export class Network {
  /** The model underneath (its cell, theta and initial state), for the library's lower floors (Bptt, Rtrl, Forward ...). */
  readonly model: RecurrentModel;
  readonly vocabulary: Vocabulary | null;
  private readonly full: FullDescription;
  private readonly layout: DataLayout;
  private runner: Forward | null = null;
  private decoder: Seq2seqDecoder | null = null;
  private stream: Forward | null = null;
  private streamInput: Mat | null = null;
  private lastSymbol = -1;
  private mode: 'train' | 'eval' = 'train';

  /** Use createNetwork or loadNetwork. */
  constructor(description: FullDescription, model?: RecurrentModel) {
    const full = checkDescription(description);
    model ??= networkModel(full);
    this.full = full;
    this.model = model;
    this.vocabulary = full.vocabulary === undefined ? null : new Vocabulary(full.vocabulary);
    const indices = full.embedding !== undefined || this.vocabulary !== null;
    const inputs = full.embedding?.vocabSize ?? full.inputSize!;
    this.layout = {
      indices,
      inputs,
      width: full.shape === 'seq2seq' ? seq2seqWidth(sourceWidth(full)) : full.embedding !== undefined ? 1 : inputs,
      oneHot: full.embedding === undefined && indices,
      vocabulary: this.vocabulary,
      outputs: full.output.size,
      loss: full.loss,
      shape: full.shape,
    };
    this.setTraining(true);
  }

  /** A copy of the description, every default filled in: createNetwork(it) rebuilds this network's initial weights. */
  get description(): FullDescription {
    return copyDescription(this.full);
  }

  get parameterCount(): number {
    return this.model.params.theta.length;
  }

  /** Whether dropout is on for computations on `model` (fit always trains with it, predict never uses it). */
  get training(): boolean {
    return this.mode === 'train';
  }

  /** Dropout on (PyTorch's train()); the default. */
  train(): this {
    this.mode = 'train';
    this.setTraining(true);
    return this;
  }

  /** Dropout off (PyTorch's eval()). */
  eval(): this {
    this.mode = 'eval';
    this.setTraining(false);
    return this;
  }

  private setTraining(on: boolean): void {
    const cell = this.model.cell as { training?: boolean };
    if ('training' in cell) cell.training = on;
  }

  /** Runs f with dropout switched as asked, then puts the switch back as it was (fit's validation runs inside fit). */
  private withTraining<T>(on: boolean, f: () => T): T {
    const cell = this.model.cell as { training?: boolean };
    const before = cell.training;
    this.setTraining(on);
    try {
      return f();
    } finally {
      if (before !== undefined) cell.training = before;
    }
  }

  // The user's data checked and copied out for this network's shape.
  private prepare(op: string, data: NetworkData, withTargets: boolean, steps?: number): Prepared {
    return this.full.shape === 'seq2seq' ? prepareSeq2seq(op, this.layout, data) : prepareData(op, this.layout, data, withTargets, steps);
  }

  // The sequences order[start, start + size) as one batch (seq2seq: sources' ends aligned).
  private assemble(prepared: Prepared, order: ArrayLike<number>, start: number, size: number): Batch {
    return this.full.shape === 'seq2seq' ? assembleSeq2seqBatch(this.layout, prepared, order, start, size) : assembleBatch(this.layout, prepared, order, start, size);
  }

  // ---- training ----

  /** The loss of one batch, written once for every method. */
  private batchLoss(b: Batch): SequenceLoss {
    const { loss, output } = this.full;
    if (loss === 'ctc') {
      const frames: Var[] = [];
      const labels = b.labels!;
      const options = {
        T: b.steps, N: b.batch, C: output.size, targets: labels, inputLengths: b.allLengths,
        targetLengths: labels.map((l) => l.length), reduction: 'mean' as const,
      };
      return {
        step: (g, t, out) => {
          if (t === 0) frames.length = 0;
          frames.push(out);
          return t < b.steps - 1 ? null : ctcLossVar(g, g.concatRows(frames), options);
        },
      };
    }
    const base = sequenceLoss({ kind: loss, targets: b.targets!, mask: b.mask, batch: b.batch });
    const act = output.activation;
    if (loss !== 'mse' || act === 'identity') return base;
    return { step: (g, t, out, state) => base.step!(g, t, act === 'tanh' ? g.tanh(out) : g.sigmoid(out), state) };
  }

  /** Trains on data (see FitOptions); returns the history, also when stopped early, aborted or guarded. */
  fit(data: NetworkData, options: FitOptions = {}): FitHistory {
    const op = 'fit';
    checkKeys(op, options, FIT_KEYS);
    const methodText = options.method ?? 'bptt';
    if (typeof methodText !== 'string') throw new ConfigError(op, `method must be a method's text form (bptt, tbptt:K1:K2, rtrl, ...), got ${String(methodText)}`, { option: 'method' });
    let method;
    try {
      method = parseMethod(methodText);
    } catch (e) {
      throw new ConfigError(op, (e as Error).message, { option: 'method', value: methodText });
    }
    if (this.full.loss === 'ctc' && methodDrive(method) !== 'sequence') {
      throw new ConfigError(op, `loss ctc scores the whole sequence at its end, so it needs a method that runs whole sequences (bptt), not ${methodText}`, { option: 'method' });
    }
    if (this.model.cell.causal === false && methodDrive(method) !== 'sequence') {
      throw new ConfigError(op, `a bidirectional network reads the future of the sequence; ${methodText} steps through it, use bptt`, { option: 'method' });
    }
    const batchSize = positiveInt(op, 'batchSize', options.batchSize, 32);
    const epochs = positiveInt(op, 'epochs', options.epochs, 1);
    const shuffle = options.shuffle ?? true;
    if (typeof shuffle !== 'boolean') throw new ConfigError(op, `shuffle must be true or false, got ${String(shuffle)}`, { option: 'shuffle' });
    const seed = positiveInt(op, 'seed', options.seed, this.full.seed + 1, 0);
    for (const name of ['clipNorm', 'clipValue'] as const) {
      const v = options[name];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new ConfigError(op, `${name} must be a positive number, got ${String(v)}`, { option: name });
    }
    const early = options.earlyStopping;
    if (early !== undefined && (early === null || typeof early !== 'object' || !Number.isSafeInteger(early.patience) || early.patience < 1)) {
      throw new ConfigError(op, `earlyStopping.patience must be an integer >= 1, got ${String(early?.patience)}`, { option: 'earlyStopping' });
    }
    let optimizer: Optimizer;
    try {
      if (options.penalty !== undefined) checkPenalty(options.penalty);
      optimizer = options.optimizer instanceof Optimizer ? options.optimizer : new Optimizer(options.optimizer ?? { kind: 'adam', lr: 0.01 });
    } catch (e) {
      throw new ConfigError(op, (e as Error).message, { option: options.penalty !== undefined && /^penalty/.test((e as Error).message) ? 'penalty' : 'optimizer' });
    }
    if (options.earlyStopping !== undefined && options.validation === undefined) throw new ConfigError(op, 'earlyStopping needs validation data', { option: 'earlyStopping' });
    const prepared = this.prepare(op, data, true);
    const validation = options.validation === undefined ? null : this.prepare(`${op} (validation)`, options.validation, true);
    const batches = Math.ceil(prepared.count / batchSize);
    const order = new Int32Array(prepared.count).map((_, i) => i);
    const rng = new Rng(seed);
    const history: FitHistory = { epochs: [], stop: { reason: 'completed', message: '' }, iterations: 0, updates: 0, guard: null, elapsedMs: 0 };
    if (options.signal?.aborted) {
      history.stop = { reason: 'aborted', message: 'aborted before the first batch' };
      return history;
    }
    let epochLoss = 0, epochCount = 0, pendingValidation: Metrics | null = null, aborted = false;
    const closeEpoch = (epoch: number, done: number) => {
      history.epochs.push({ epoch, loss: epochCount === 0 ? NaN : epochLoss / epochCount, batches: done, validation: pendingValidation });
      epochLoss = 0; epochCount = 0; pendingValidation = null;
    };
    const sizeOf = (iteration: number) => Math.min(batchSize, prepared.count - (iteration % batches) * batchSize);
    const result = this.withTraining(true, () => train(this.model, {
      method,
      optimizer,
      iterations: epochs * batches,
      next: (iteration) => {
        const j = iteration % batches;
        if (j === 0 && shuffle) rng.shuffle(order);
        const b = this.assemble(prepared, order, j * batchSize, sizeOf(iteration));
        return { xs: b.xs, batch: b.batch, loss: this.batchLoss(b), lengths: b.lengths };
      },
      ...(options.clipNorm === undefined ? {} : { clipNorm: options.clipNorm }),
      ...(options.clipValue === undefined ? {} : { clipValue: options.clipValue }),
      ...(options.penalty === undefined ? {} : { penalty: options.penalty }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(validation === null ? {} : {
        evaluate: () => {
          pendingValidation = this.withTraining(false, () => this.metricsOf(validation, 64));
          return pendingValidation.loss;
        },
        evalEvery: batches,
      }),
      ...(options.earlyStopping === undefined ? {} : { earlyStopping: options.earlyStopping }),
      onProgress: (p) => {
        const iteration = p.iteration - 1, j = iteration % batches, epoch = Math.floor(iteration / batches) + 1;
        const size = sizeOf(iteration);
        epochLoss += p.loss * size;
        epochCount += size;
        if (j === batches - 1) closeEpoch(epoch, batches);
        const verdict = options.onProgress?.({ epoch, epochs, batch: j + 1, batches, loss: p.loss, gradNorm: p.gradNorm, lr: p.lr, elapsedMs: p.elapsedMs });
        if (options.signal?.aborted) { aborted = true; return 'stop'; }
        return verdict;
      },
    }));
    if (epochCount > 0) closeEpoch(Math.floor((result.iterations - 1) / batches) + 1, ((result.iterations - 1) % batches) + 1);
    history.iterations = result.iterations;
    history.updates = result.updates;
    history.guard = result.guard;
    history.elapsedMs = result.elapsedMs;
    history.stop = aborted && result.stop.reason === 'callback'
      ? { reason: 'aborted', message: `aborted after ${result.iterations} batches` }
      : result.stop;
    return history;
  }

  /** The loss over the whole data as one batch, and its gradient (laid out like model.params.theta), by any method; dropout as the network's mode says. */
  gradient(data: NetworkData, options: { method?: string } = {}): { loss: number; grad: Float64Array } {
    checkKeys('gradient', options, ['method']);
    const prepared = this.prepare('gradient', data, true);
    const b = this.assemble(prepared, new Int32Array(prepared.count).map((_, i) => i), 0, prepared.count);
    const method = createMethod(this.model, options.method ?? 'bptt');
    const r = method.run(b.xs, this.batchLoss(b), { batch: b.batch, lengths: b.lengths });
    return { loss: r.loss, grad: r.grad };
  }

  // ---- inference ----

  private forwardOf(b: Batch): Mat {
    this.runner ??= new Forward(this.model);
    return this.runner.run(b.xs, { batch: b.batch, lengths: b.lengths }).outputs;
  }

  /** The output layer's values after the activation predict applies, row by row in place. */
  private activate(out: Float64Array, offset: number): void {
    const C = this.full.output.size, act = this.full.output.activation;
    if (act === 'identity') return;
    if (act === 'softmax') {
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, out[offset + c]);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += out[offset + c] = pm.exp(out[offset + c] - max);
      for (let c = 0; c < C; c++) out[offset + c] /= sum;
      return;
    }
    for (let c = 0; c < C; c++) {
      const z = out[offset + c];
      out[offset + c] = act === 'tanh' ? pm.tanh(z) : 1 / (1 + pm.exp(-z));
    }
  }

  /**
   * Outputs (after the output activation: softmax probabilities, sigmoid, ...) in eval mode.
   * many-to-many and one-to-many: one Float64Array per step of each sequence (out[b][t], or
   * out[t][b] with batchFirst false); many-to-one: one per sequence, the output at its last real step.
   */
  predict(inputs: SequenceInputs, options: PredictOptions = {}): Float64Array[][] | Float64Array[] {
    checkKeys('predict', options, PREDICT_KEYS);
    if (this.full.shape === 'seq2seq') throw new ConfigError('predict', 'a seq2seq network emits symbols it reads back: use decode (greedy or beam search)');
    const batchFirst = options.batchFirst ?? true;
    const batchSize = positiveInt('predict', 'batchSize', options.batchSize, 64);
    if (options.steps !== undefined && this.full.shape !== 'one-to-many') throw new ConfigError('predict', `steps applies to one-to-many networks; this one is ${this.full.shape}`, { option: 'steps' });
    const steps = options.steps === undefined ? undefined : positiveInt('predict', 'steps', options.steps, NaN);
    const prepared = prepareData('predict', this.layout, { inputs, batchFirst, ...(options.lengths === undefined ? {} : { lengths: options.lengths }) }, false, steps);
    const C = this.full.output.size, many = this.full.shape !== 'many-to-one';
    const perSeq: Float64Array[][] = [];
    this.withTraining(false, () => this.eachBatch(prepared, batchSize, (b, start) => {
      const out = this.forwardOf(b);
      for (let i = 0; i < b.batch; i++) {
        const L = b.allLengths[i], rows: Float64Array[] = [];
        for (let t = many ? 0 : L - 1; t < L; t++) {
          const at = (t * b.batch + i) * C;
          const row = out.data.slice(at, at + C);
          this.activate(row, 0);
          rows.push(row);
        }
        perSeq[start + i] = rows;
      }
    }));
    if (!many) return perSeq.map((rows) => rows[0]);
    if (batchFirst) return perSeq;
    const T = perSeq.reduce((m, r) => Math.max(m, r.length), 0);
    return Array.from({ length: T }, (_, t) => perSeq.map((r) => r[t] ?? new Float64Array(C)));
  }

  private eachBatch(prepared: Prepared, batchSize: number, f: (b: Batch, start: number) => void): void {
    const order = new Int32Array(prepared.count).map((_, i) => i);
    for (let start = 0; start < prepared.count; start += batchSize) {
      f(this.assemble(prepared, order, start, Math.min(batchSize, prepared.count - start)), start);
    }
  }

  /** Loss and the metrics that apply (accuracy, bits per symbol, label error rate) on data, in eval mode. */
  evaluate(data: NetworkData, options: { batchSize?: number } = {}): Metrics {
    checkKeys('evaluate', options, ['batchSize']);
    const batchSize = positiveInt('evaluate', 'batchSize', options.batchSize, 64);
    const prepared = this.prepare('evaluate', data, true);
    return this.withTraining(false, () => this.metricsOf(prepared, batchSize));
  }

  private metricsOf(prepared: Prepared, batchSize: number): Metrics {
    const { loss, output } = this.full;
    const C = output.size;
    if (loss === 'ctc') {
      let total = 0;
      const predictions: number[][] = [], targets: Int32Array[] = [];
      this.eachBatch(prepared, batchSize, (b) => {
        const out = this.forwardOf(b);
        const labels = b.labels!;
        const r = ctcLossFromLogits(out, { T: b.steps, N: b.batch, C, targets: labels, inputLengths: b.allLengths, targetLengths: labels.map((l) => l.length), reduction: 'mean' });
        total += r.loss * b.batch;
        logSoftmaxRows(out, out);
        for (const p of ctcGreedyDecode(out, { T: b.steps, N: b.batch, C, inputLengths: b.allLengths })) predictions.push(p.labels);
        for (const l of labels) targets.push(l);
      });
      return { loss: total / prepared.count, labelErrorRate: labelErrorRate(predictions, targets), sequences: prepared.count };
    }
    let total = 0, count = 0, right = 0, judged = 0;
    this.eachBatch(prepared, batchSize, (b) => {
      const out = this.forwardOf(b);
      const kind: LossKind = loss;
      if (kind === 'mse' && output.activation !== 'identity') for (let r = 0; r < out.rows; r++) this.activate(out.data, r * C);
      const n = targetCount({ kind, targets: b.targets!, mask: b.mask, batch: b.batch });
      total += lossValue(kind, out, b.targets!, b.mask) * n;
      count += n;
      if (kind === 'mse') return;
      const y = out.data, t = b.targets!.data;
      for (let r = 0; r < out.rows; r++) {
        if (b.mask !== null && b.mask.data[r] === 0) continue;
        const o = r * C;
        if (kind === 'softmax-ce') {
          let best = 0, want = 0;
          for (let c = 1; c < C; c++) {
            if (y[o + c] > y[o + best]) best = c;
            if (t[o + c] > t[o + want]) want = c;
          }
          judged++;
          if (best === want) right++;
        } else {
          for (let c = 0; c < C; c++) {
            judged++;
            if ((y[o + c] > 0) === (t[o + c] >= 0.5)) right++;
          }
        }
      }
    });
    const mean = count === 0 ? 0 : total / count;
    const metrics: Metrics = { loss: mean, sequences: prepared.count };
    if (loss !== 'mse') metrics.accuracy = judged === 0 ? 0 : right / judged;
    if (loss === 'softmax-ce') metrics.bitsPerSymbol = mean / Math.LN2;
    return metrics;
  }

  // ---- sequence to sequence ----

  /**
   * seq2seq: the target each source decodes to, in eval mode: greedy (argmax at every step, the
   * symbol fed back) or beam search with beamWidth (lib/train/beam.ts), until `end` or maxLength.
   * Each result has the symbols (end not included), their log-probability and whether end came.
   */
  decode(inputs: SequenceInputs, options: DecodeOptions): Decoded[] {
    const op = 'decode';
    if (this.full.shape !== 'seq2seq') throw new ConfigError(op, `decode is for seq2seq networks; this one is ${this.full.shape} (use predict)`);
    checkKeys(op, options, DECODE_KEYS);
    const maxLength = positiveInt(op, 'maxLength', options.maxLength, NaN);
    const C = this.full.output.size;
    if (options.end !== undefined && (!Number.isInteger(options.end) || options.end < 0 || options.end >= C)) {
      throw new ConfigError(op, `end must be a target symbol in [0, ${C}), got ${String(options.end)}`, { option: 'end', value: options.end });
    }
    const width = options.beamWidth === undefined ? 0 : positiveInt(op, 'beamWidth', options.beamWidth, NaN);
    const batchFirst = options.batchFirst ?? true;
    if (typeof batchFirst !== 'boolean') throw new ConfigError(op, `batchFirst must be true or false, got ${String(batchFirst)}`, { option: 'batchFirst' });
    const sources = readSources(op, this.layout, inputs, batchFirst, options.lengths);
    this.decoder ??= new Seq2seqDecoder(this.model, this.layout.width);
    const decoder = this.decoder;
    return this.withTraining(false, () => {
      const encoded = decoder.encode(sources.rows, sources.lengths);
      const end = options.end ?? -1;
      if (width === 0) return decoder.greedy(encoded, maxLength, end);
      return sources.rows.map((_, b) => beamSearch(decoder.stepper(encoded, b), {
        maxLength, width, start: C, ...(options.end === undefined ? {} : { end: options.end }),
      }));
    });
  }

  // ---- streaming ----

  private streaming(op: string): Forward {
    if (this.full.shape === 'seq2seq') throw new ConfigError(op, 'a seq2seq network is not a stream of one kind of step (encoder, then decoder): use decode');
    if (this.model.cell.causal === false) throw new ConfigError(op, 'a bidirectional network reads the future of the sequence, so it cannot be stepped; use predict on whole sequences');
    if (this.stream === null) {
      this.stream = new Forward(this.model);
      this.streamInput = mat(1, this.layout.width);
      this.lastSymbol = -1;
    }
    return this.stream;
  }

  /** Forgets the streamed state: the next step starts from the initial state. */
  resetState(): void {
    this.streaming('resetState').reset();
    this.streamInput!.data.fill(0);
    this.lastSymbol = -1;
  }

  /**
   * One step of a stream in eval mode: x is a symbol index (networks over symbols) or a vector
   * of inputSize features; the state carries to the next call until resetState(). Returns the
   * output after the activation (a fresh array).
   */
  step(x: number | ArrayLike<number>): Float64Array {
    const stream = this.streaming('step');
    const input = this.streamInput!;
    let out: Mat;
    if (this.layout.indices) {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= this.layout.inputs) {
        throw new ConfigError('step', `x must be a symbol index in [0, ${this.layout.inputs}), got ${typeof x === 'number' ? x : typeof x}`, { value: x });
      }
      out = this.withTraining(false, () => stream.step(this.prepareInput(input, x)));
    } else {
      const F = this.layout.inputs;
      if (typeof x === 'number' || x === null || typeof x !== 'object' || x.length !== F) {
        throw new ShapeError('step', `x must be a vector of ${F} features, got ${typeof x === 'number' ? 'a number' : x === null || typeof x !== 'object' ? String(x) : `${x.length} values`}`, { expected: F });
      }
      for (let f = 0; f < F; f++) {
        const v = x[f];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError('step', `x[${f}] must be a finite number, got ${String(v)}`, { index: f, value: v });
        input.data[f] = v;
      }
      out = this.withTraining(false, () => stream.step(input));
    }
    const row = out.data.slice(out.offset, out.offset + this.full.output.size);
    this.activate(row, 0);
    return row;
  }

  /** Samples `length` symbols after the prime (see GenerateOptions) and returns them as text (the prime not included). */
  generate(options: GenerateOptions): string {
    if (this.vocabulary === null) throw new ConfigError('generate', 'the network has no vocabulary to write text with; use generateIndices');
    return this.vocabulary.decode(this.generateIndices(options));
  }

  /**
   * Samples symbol by symbol from softmax(logits / T) (among the topK most likely), feeding each
   * back in, from a stream primed with `prime` (the state is reset first and left after the last
   * symbol). Seeded: the same options give the same symbols.
   */
  generateIndices(options: GenerateOptions): Int32Array {
    const op = 'generate';
    checkKeys(op, options, GENERATE_KEYS);
    const V = this.layout.inputs;
    if (!this.layout.indices) throw new ConfigError(op, 'the network reads feature vectors, not symbols: generate needs an embedding or a vocabulary');
    if (this.full.loss !== 'softmax-ce' || this.full.output.size !== V) {
      throw new ConfigError(op, `generate samples the next symbol, so it needs loss softmax-ce over the ${V} input symbols (this network has loss ${this.full.loss}, output.size ${this.full.output.size})`);
    }
    const length = positiveInt(op, 'length', options.length, NaN, 0);
    const topK = positiveInt(op, 'topK', options.topK, V);
    const T = options.temperature ?? 1;
    if (typeof T !== 'number' || !(T > 0) || !Number.isFinite(T)) throw new ConfigError(op, `temperature must be a finite number > 0, got ${String(T)}`, { option: 'temperature' });
    const seed = positiveInt(op, 'seed', options.seed, 0, 0);
    const prime = typeof options.prime === 'string'
      ? (this.vocabulary === null ? null : this.vocabulary.encode(options.prime))
      : options.prime;
    if (prime === null) throw new ConfigError(op, 'prime is a string but the network has no vocabulary; give symbol indices', { option: 'prime' });
    if (prime === undefined || prime === null || typeof prime !== 'object' || prime.length === 0) throw new ConfigError(op, 'prime must hold at least one symbol', { option: 'prime' });
    for (let i = 0; i < prime.length; i++) {
      const s = prime[i];
      if (!Number.isInteger(s) || s < 0 || s >= V) throw new ConfigError(op, `prime[${i}] is ${s}, not a symbol index in [0, ${V})`, { option: 'prime', position: i });
    }
    const stream = this.streaming(op);
    stream.reset();
    const input = this.streamInput!;
    input.data.fill(0);
    this.lastSymbol = -1;
    const out = new Int32Array(length);
    const rng = new Rng(seed);
    const order = new Int32Array(V), weights = new Float64Array(V);
    const k = Math.min(topK, V);
    this.withTraining(false, () => {
      let logits = stream.step(this.prepareInput(input, prime[0]));
      for (let i = 1; i < prime.length; i++) logits = stream.step(this.prepareInput(input, prime[i]));
      for (let i = 0; i < length; i++) {
        const s = sampleSymbol(logits.data, logits.offset, V, T, k, rng, order, weights);
        out[i] = s;
        if (i < length - 1) logits = stream.step(this.prepareInput(input, s));
      }
    });
    return out;
  }

  // The stream's input for one symbol: its index (embedding) or its one-hot row (vocabulary).
  private prepareInput(x: Mat, symbol: number): Mat {
    if (this.layout.oneHot) {
      if (this.lastSymbol >= 0) x.data[this.lastSymbol] = 0;
      x.data[symbol] = 1;
      this.lastSymbol = symbol;
    } else {
      x.data[0] = symbol;
    }
    return x;
  }

  // ---- files ----

  /** One safetensors file: the parameters under PyTorch's names (F64), the description and vocabulary in the metadata. */
  save(): Uint8Array {
    const { params } = this.model;
    const tensors: Record<string, TensorInput> = {};
    params.specs.forEach((spec, i) => {
      tensors[savedName(spec)] = { dtype: 'F64', shape: savedShape(spec), data: params.theta.subarray(params.offsets[i], params.offsets[i] + spec.rows * spec.cols) };
    });
    const metadata: Record<string, string> = { format: SAVE_FORMAT, version: SAVE_VERSION, description: JSON.stringify(this.full) };
    if (this.vocabulary !== null) metadata.vocabulary = JSON.stringify(this.vocabulary.symbols);
    return writeSafetensors(tensors, metadata);
  }
}

/**
 * Draws a symbol from softmax(z / T) restricted to the k largest logits. order and weights are
 * scratch of V entries (no allocation per symbol). k = 1 is the argmax (the first of equal maxima).
 */
export function sampleSymbol(z: Float64Array, offset: number, V: number, T: number, k: number, rng: Rng, order: Int32Array, weights: Float64Array): number {
  for (let c = 0; c < V; c++) order[c] = c;
  if (k < V) {
    // Partial selection sort: order[0, k) become the k largest, the earlier index first among equals.
    for (let j = 0; j < k; j++) {
      let best = j;
      for (let c = j + 1; c < V; c++) {
        const a = z[offset + order[c]], b = z[offset + order[best]];
        if (a > b || (a === b && order[c] < order[best])) best = c;
      }
      const tmp = order[j]; order[j] = order[best]; order[best] = tmp;
    }
  }
  if (k === 1) return order[0];
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, z[offset + order[j]]);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += weights[j] = pm.exp((z[offset + order[j]] - max) / T);
  let u = rng.uniform() * sum;
  for (let j = 0; j < k - 1; j++) {
    u -= weights[j];
    if (u < 0) return order[j];
  }
  return order[k - 1];
}

/** A network from save()'s bytes: the description from the metadata, the weights checked against it (names, shapes). */
export function loadNetwork(bytes: Uint8Array): Network {
  const op = 'loadNetwork';
  if (!(bytes instanceof Uint8Array)) throw new FormatError(op, `bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new FormatError(op, `the bytes are not a safetensors file (${(e as Error).message})`, { bytes: bytes.length });
  }
  const { tensors, metadata } = file;
  if (metadata.format !== SAVE_FORMAT) {
    throw new FormatError(op, `the file is safetensors but not a saved network: its metadata format is ${metadata.format === undefined ? 'missing' : JSON.stringify(metadata.format)}, not "${SAVE_FORMAT}"`, { format: metadata.format });
  }
  if (metadata.version !== SAVE_VERSION) throw new FormatError(op, `saved network version ${JSON.stringify(metadata.version)} is not one this loader reads (${SAVE_VERSION})`, { version: metadata.version });
  let full: FullDescription;
  try {
    full = checkDescription(JSON.parse(metadata.description ?? 'null'));
  } catch (e) {
    throw new FormatError(op, `the saved description is not valid: ${(e as Error).message}`);
  }
  if (metadata.vocabulary !== undefined && metadata.vocabulary !== JSON.stringify(full.vocabulary ?? null)) {
    throw new FormatError(op, 'the saved vocabulary differs from the description\'s');
  }
  // The parameters the description needs, in theta order, each from its saved tensor.
  // Every entry of theta is overwritten below (each spec needs its tensor), so the fresh weights never show.
  const model = networkModel(full);
  const { specs, offsets, theta } = model.params;
  const expected = new Set<string>();
  specs.forEach((spec, i) => {
    const name = savedName(spec), want = savedShape(spec);
    expected.add(name);
    const t = tensors.get(name);
    if (t === undefined) throw new FormatError(op, `tensor "${name}" is missing (the description needs it, shape [${want.join(', ')}])`, { tensor: name, expected: want });
    if (t.shape.length !== want.length || t.shape.some((n, d) => n !== want[d])) {
      throw new FormatError(op, `tensor "${name}" has shape [${t.shape.join(', ')}] but the description needs [${want.join(', ')}]`, { tensor: name, found: t.shape, expected: want });
    }
    theta.set(t.data, offsets[i]);
  });
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new FormatError(op, `tensor "${name}" is not a parameter of the described network (it has ${[...expected].join(', ')})`, { tensor: name });
  }
  return new Network(full, model);
}

/** Next-symbol data from a symbol sequence: windows of `length` inputs, each target the symbol after (stride default length). */
export function nextSymbolData(symbols: ArrayLike<number>, length: number, stride = length): NetworkData {
  positiveInt('nextSymbolData', 'length', length, NaN);
  positiveInt('nextSymbolData', 'stride', stride, NaN);
  if (symbols.length < length + 1) throw new ShapeError('nextSymbolData', `needs at least length + 1 = ${length + 1} symbols, got ${symbols.length}`);
  const inputs: Int32Array[] = [], targets: Int32Array[] = [];
  for (let s = 0; s + length < symbols.length; s += stride) {
    inputs.push(Int32Array.from({ length }, (_, t) => symbols[s + t]));
    targets.push(Int32Array.from({ length }, (_, t) => symbols[s + t + 1]));
  }
  return { inputs, targets };
}
