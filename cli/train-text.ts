// loopgrad train text --file corpus.txt: a character-level language model. The vocabulary is the
// file's distinct characters; the last --held-out fraction of the text is never trained on and
// is scored in bits per character during training and at the end, beside count baselines on the
// same characters (a Kneser-Ney and an add-one bigram, an add-one unigram; lib/train/bigram.ts).
// Training windows: the training part cut into chunks of --seq-length characters (each target
// the next character), a random phase and a fresh order every epoch, --batch chunks per update.
// --save writes the network (network.save(), one safetensors file) through a temporary file and
// a rename; --load continues a saved network, refusing flags that contradict its description.
import { readFileSync, statSync } from 'node:fs';
import { type FlagSpec, type Parsed, UsageError, checkWritableFile, parseArgs, usageLines } from './args.js';
import { type Estimate, libraryLimit, memoryFlags, memoryLimit, parameterCount, probeStep, refuseOverLimit, tapeBytes, totalBytes } from './memory.js';
import { writeFileAtomic } from './atomic-write.js';
import { readTextNetwork } from './saved-network.js';
import { CELL_KINDS, type CellKind } from '../lib/cells/registry.js';
import { METHOD_FORMS, type MethodSpec, createMethod, parseMethod } from '../lib/rnn/methods.js';
import { createModel } from '../lib/rnn/model.js';
import { estimateRtrlBytes } from '../lib/rnn/rtrl.js';
import { estimateUoroBytes } from '../lib/rnn/uoro.js';
import { estimateKfRtrlBytes } from '../lib/rnn/kf-rtrl.js';
import { Optimizer } from '../lib/optim/optimizer.js';
import { Rng } from '../lib/mat/rng.js';
import { type Network, createNetwork } from '../lib/train/network.js';
import { type FullDescription, type NetworkDescription, checkDescription } from '../lib/train/network-description.js';
import { networkCell } from '../lib/train/network-build.js';
import { Vocabulary } from '../lib/train/vocabulary.js';
import { BigramModel, unigramBits } from '../lib/train/bigram.js';

const DEFAULTS = { hidden: 128, layers: 1, embedding: 32, seqLength: 64, batch: 32, lr: 0.002, clip: 5, heldOut: 0.05, evalEvery: 100, time: 300 };
/**
 * Batches handed to one fit call. Not a memory bound (fit keeps targets as class indices, 12 bytes
 * a step with the inputs, and makes one batch's one-hot rows at a time): a Ctrl-C is seen only
 * between fit calls, so this bounds how many batches run after it (docs/text.md says 8).
 */
const BATCHES_PER_FIT = 8;
/** Held-out windows evaluated together. */
const EVAL_WINDOWS = 64;
/** The text as a string (2 bytes a character), split into characters (a pointer each) and as indices (4 bytes). */
const TEXT_BYTES_PER_BYTE = 24;

const flags: Record<string, FlagSpec> = {
  file: { kind: 'string', help: 'the text to learn (UTF-8; required); its distinct characters are the vocabulary' },
  load: { kind: 'string', help: 'continue the network saved in this file (its description and vocabulary; the optimiser starts afresh)' },
  save: { kind: 'string', help: 'save the network to this file at the end (written to a temporary file, then renamed over it)' },
  cell: { kind: 'string', help: `${CELL_KINDS.join(' | ')} (default lstm)`, choices: CELL_KINDS },
  hidden: { kind: 'int', min: 1, help: `units per layer (default ${DEFAULTS.hidden})` },
  layers: { kind: 'int', min: 1, help: `recurrent layers (default ${DEFAULTS.layers})` },
  embedding: { kind: 'int', min: 0, help: `size of the learned character embedding (default ${DEFAULTS.embedding}; 0: one-hot inputs)` },
  dropout: { kind: 'number', help: 'dropout between layers, in [0, 1) (needs --layers 2 or more; default 0)' },
  method: { kind: 'string', help: `gradient method: ${METHOD_FORMS.join(' | ')} (default bptt)` },
  'seq-length': { kind: 'int', min: 1, help: `characters per training window (default ${DEFAULTS.seqLength})` },
  batch: { kind: 'int', min: 1, help: `windows per update (default ${DEFAULTS.batch})` },
  lr: { kind: 'number', help: `Adam's learning rate (default ${DEFAULTS.lr})` },
  clip: { kind: 'number', help: `clip the gradient's global norm to this (default ${DEFAULTS.clip})` },
  iterations: { kind: 'int', min: 1, help: 'stop after this many updates' },
  epochs: { kind: 'int', min: 1, help: 'stop after this many passes over the training text' },
  time: { kind: 'number', help: `stop after this many seconds of training (default ${DEFAULTS.time} when no --iterations, --epochs or --time is given)` },
  'held-out': { kind: 'number', help: `fraction of the text, at its end, held out for scoring (default ${DEFAULTS.heldOut})` },
  'eval-every': { kind: 'int', min: 1, help: `score the held-out text every N updates (default ${DEFAULTS.evalEvery}; always at the end)` },
  seed: { kind: 'int', min: 0, help: 'seed of the weights (a new network) and of the window order (with --load, mixed with the saved weights; default 0)' },
  json: { kind: 'boolean', help: 'print one JSON object with the config, the curves and the held-out scores' },
  quiet: { kind: 'boolean', help: 'no progress lines' },
  ...memoryFlags,
};

export const trainTextUsage = `usage: loopgrad train text --file corpus.txt [options]

A character-level language model (an LSTM by default) trained on a text file. The
last --held-out fraction of the text is never trained on; its bits per character
are reported during training and at the end, beside what count models score on
the same characters: an interpolated Kneser-Ney bigram (one absolute discount),
an add-one bigram and an add-one unigram, all counted on the training part.
The held-out text is scored in windows of --seq-length characters, each window
starting from the initial state; every held-out character after the first is
scored once, by the network and by the count models alike. An iteration is one
batch of --batch windows (one Adam update with bptt; tbptt and the online
methods update more often). Ctrl-C stops training (after at most 8 more
batches), then scores and saves as usual. The run's memory is estimated before
anything is built and refused over --max-bytes.

exit status: 0 done; 2 a bad option, named (a --load file whose description a
flag contradicts, a --file character outside its vocabulary); 1 a --load file
that is not a saved text model, a diverging run, or a failed save (a failed run
never touches an existing --save file).

options:
${usageLines(flags)}

examples:
  loopgrad train text --file corpus.txt --save model.safetensors
  loopgrad train text --file corpus.txt --load model.safetensors --time 600 --save model.safetensors
  loopgrad generate --load model.safetensors --length 300 --prime "The "`;

/** Description fields a flag sets, for --load's contradiction check. */
const DESCRIPTION_FLAGS = ['cell', 'hidden', 'layers', 'embedding', 'dropout'] as const;

interface TextConfig {
  file: string;
  cell: CellKind;
  hidden: number;
  layers: number;
  embedding: number;
  dropout: number;
  method: string;
  seqLength: number;
  batch: number;
  lr: number;
  clip: number;
  iterations: number | null;
  epochs: number | null;
  time: number | null;
  heldOut: number;
  evalEvery: number;
  seed: number;
  load: string | null;
  save: string | null;
}

function configOf(parsed: Parsed): TextConfig {
  const f = parsed.flags;
  const get = <T>(name: string): T | undefined => f.get(name) as T | undefined;
  if (parsed.positional.length > 0) throw new UsageError(`unexpected argument "${parsed.positional[0]}"`);
  const file = get<string>('file');
  if (file === undefined) throw new UsageError('--file is required: the text file to learn');
  for (const name of ['lr', 'clip', 'time']) {
    const v = get<number>(name);
    if (v !== undefined && !(v > 0)) throw new UsageError(`--${name} must be positive, got ${v}`);
  }
  const heldOut = get<number>('held-out') ?? DEFAULTS.heldOut;
  if (!(heldOut > 0 && heldOut < 1)) throw new UsageError(`--held-out must be a fraction in (0, 1), got ${heldOut}`);
  const dropout = get<number>('dropout') ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${dropout}`);
  const method = get<string>('method') ?? 'bptt';
  try {
    parseMethod(method);
  } catch (e) {
    throw new UsageError(`--method: ${(e as Error).message}`);
  }
  const budget = ['iterations', 'epochs', 'time'].some((n) => f.has(n));
  return {
    file,
    cell: (get<string>('cell') ?? 'lstm') as CellKind,
    hidden: get<number>('hidden') ?? DEFAULTS.hidden,
    layers: get<number>('layers') ?? DEFAULTS.layers,
    embedding: get<number>('embedding') ?? DEFAULTS.embedding,
    dropout,
    method,
    seqLength: get<number>('seq-length') ?? DEFAULTS.seqLength,
    batch: get<number>('batch') ?? DEFAULTS.batch,
    lr: get<number>('lr') ?? DEFAULTS.lr,
    clip: get<number>('clip') ?? DEFAULTS.clip,
    iterations: get<number>('iterations') ?? null,
    epochs: get<number>('epochs') ?? null,
    time: get<number>('time') ?? (budget ? null : DEFAULTS.time),
    heldOut,
    evalEvery: get<number>('eval-every') ?? DEFAULTS.evalEvery,
    seed: get<number>('seed') ?? 0,
    load: get<string>('load') ?? null,
    save: get<string>('save') ?? null,
  };
}

/** The description a new network gets from the flags and the vocabulary. */
function describe(c: TextConfig, vocabulary: Vocabulary): NetworkDescription {
  const V = vocabulary.size;
  if (c.dropout > 0 && c.layers < 2) throw new UsageError(`--dropout acts between layers: it needs --layers 2 or more (got --layers ${c.layers})`);
  const d: NetworkDescription = {
    ...(c.embedding > 0 ? { embedding: { vocabSize: V, size: c.embedding } } : { inputSize: V }),
    cell: c.cell, hiddenSize: c.hidden, layers: c.layers, dropout: c.dropout,
    output: { size: V }, loss: 'softmax-ce', seed: c.seed, vocabulary: vocabulary.symbols.slice(),
  };
  checkDescription(d);
  return d;
}

/** The flags given that say something else than the saved description, each with both values. */
function contradictions(parsed: Parsed, saved: FullDescription): string[] {
  const out: string[] = [];
  const savedValue: Record<(typeof DESCRIPTION_FLAGS)[number], string | number> = {
    cell: saved.cell, hidden: saved.hiddenSize, layers: saved.layers,
    embedding: saved.embedding === undefined ? 0 : saved.embedding.size, dropout: saved.dropout,
  };
  const what: Record<(typeof DESCRIPTION_FLAGS)[number], string> = {
    cell: 'cell', hidden: 'hidden size', layers: 'layers', embedding: 'embedding size (0: one-hot)', dropout: 'dropout',
  };
  for (const name of DESCRIPTION_FLAGS) {
    const given = parsed.flags.get(name);
    if (given !== undefined && given !== savedValue[name]) out.push(`--${name} ${String(given)} (the file's ${what[name]} is ${savedValue[name]})`);
  }
  return out;
}

/**
 * What a run holds at its peak, from the description before the network is built: the text
 * (the string, its characters split, the indices), the parameters with gradient, Adam's moments
 * and the trainer's restore copies, one fit call's windows (inputs and target indices) with one
 * batch's one-hot targets, the gradient method's memory (BPTT's tape over a window, or an online
 * method's sensitivities), and one held-out chunk with its outputs.
 */
function estimateTextBytes(d: FullDescription, c: TextConfig, fileBytes: number, method: MethodSpec, limit: number): Estimate {
  const V = d.output.size, B = c.batch, L = c.seqLength;
  const cell = networkCell(d);
  const P = parameterCount(cell);
  const estimate: Estimate = [
    ['the text and its indices', TEXT_BYTES_PER_BYTE * fileBytes],
    ['parameters, gradient, optimiser state and restore copies', 8 * 8 * P],
  ];
  // Over the limit already, or parameters too many to probe a step with: refuse on what is known.
  if (totalBytes(estimate) > limit || 8 * P > 2 ** 30) return estimate;
  const probe = probeStep(cell);
  const perRow = probe.numbers + 2 * V;
  const stateNumbers = cell.stateSizes.reduce((a, b) => a + b, 0);
  // A fit call's windows: 8 bytes an input index and 4 a target index per step; one batch: inputs, one-hot targets, mask.
  estimate.push(['training windows and one-hot targets', 12 * BATCHES_PER_FIT * B * L + 8 * L * B * (V + 2)]);
  estimate.push(['held-out chunk and its outputs', 8 * EVAL_WINDOWS * L * (2 * V + 2 + probe.numbers)]);
  const tape = (steps: number) => tapeBytes(steps, B, perRow, stateNumbers, probe.nodes);
  if (method.kind === 'bptt') estimate.push(['BPTT tape', tape(L)]);
  else if (method.kind === 'tbptt') estimate.push(['TBPTT window', tape(Math.min(L, method.k1 + method.k2))]);
  else {
    // The online methods' own estimates read a model: build one (its parameters are small, checked above).
    // A method that cannot train this network (kf-rtrl on an LSTM ...) says so here: name the flag.
    const model = createModel(cell, { initialState: d.initialState, seed: 0 });
    let bytes: number;
    try {
      createMethod(model, method, { maxBytes: Number.MAX_SAFE_INTEGER });
      bytes = method.kind === 'rtrl' ? estimateRtrlBytes(model, B)
        : method.kind === 'uoro' ? estimateUoroBytes(model, B)
          : method.kind === 'kf-rtrl' ? estimateKfRtrlBytes(model, B)
            // SnAp-N keeps at most one number per (state entry reached, parameter): SnAp-1 one per state vector, deeper orders up to RTRL's.
            : 8 * B * P * (method.order === 1 ? cell.stateSizes.length : stateNumbers) * 2;
    } catch (e) {
      throw new UsageError(`--method ${c.method}: ${(e as Error).message}`);
    }
    estimate.push([`${method.kind} sensitivities`, bytes]);
  }
  return estimate;
}

/** Held-out windows: chunks of L inputs, each target the next character; the last chunk shorter, so every character after the first is scored once. */
function heldOutWindows(symbols: Int32Array, L: number): { inputs: Int32Array[]; targets: Int32Array[] } {
  const inputs: Int32Array[] = [], targets: Int32Array[] = [];
  for (let s = 0; s + 1 < symbols.length; s += L) {
    const n = Math.min(L, symbols.length - 1 - s);
    inputs.push(symbols.subarray(s, s + n));
    targets.push(symbols.subarray(s + 1, s + 1 + n));
  }
  return { inputs, targets };
}

/** The network's mean bits per character over every held-out window (each starting from the initial state). */
function heldOutBits(network: Network, windows: { inputs: Int32Array[]; targets: Int32Array[] }): number {
  let bits = 0, count = 0;
  for (let i = 0; i < windows.inputs.length; i += EVAL_WINDOWS) {
    const inputs = windows.inputs.slice(i, i + EVAL_WINDOWS), targets = windows.targets.slice(i, i + EVAL_WINDOWS);
    const n = targets.reduce((s, t) => s + t.length, 0);
    bits += network.evaluate({ inputs, targets }, { batchSize: EVAL_WINDOWS }).bitsPerSymbol! * n;
    count += n;
  }
  return bits / count;
}

/** FNV-1a over the weights' bytes: a 32-bit fingerprint (different weights almost always differ in it). */
function weightsHash(theta: Float64Array): number {
  const bytes = new Uint8Array(theta.buffer, theta.byteOffset, theta.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}

/** The text of --file; a file that cannot be read as text is a UsageError naming the flag. */
function readText(path: string): string {
  try {
    if (statSync(path).isDirectory()) throw new Error('it is a directory');
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--file ${path}: cannot read it: ${(e as Error).message}`);
  }
}

export async function runTrainText(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv, flags);
  const c = configOf(parsed);
  const json = parsed.flags.get('json') === true;
  const quiet = json || parsed.flags.get('quiet') === true;
  if (c.save !== null) checkWritableFile('save', c.save);
  const method = parseMethod(c.method);

  // The network's description: the saved one (contradicting flags refused) or one from the flags.
  let saved: Network | null = null;
  if (c.load !== null) {
    saved = readTextNetwork('load', c.load);
    const wrong = contradictions(parsed, saved.description);
    if (wrong.length > 0) {
      throw new UsageError(`${wrong.join(', ')} ${wrong.length === 1 ? 'contradicts' : 'contradict'} the network saved in --load ${c.load}; drop ${wrong.length === 1 ? 'it' : 'them'} to continue that network, or train a new one without --load`);
    }
  }
  const limit = memoryLimit(parsed);
  const hint = '--hidden, --layers, --batch or --seq-length (or a smaller --file)';
  // The text alone, from the file's size, before reading it.
  let fileBytes = 0;
  try { fileBytes = statSync(c.file).size; } catch { /* readText names the problem */ }
  refuseOverLimit('', [['the text and its indices', TEXT_BYTES_PER_BYTE * fileBytes]], limit, hint);
  const text = readText(c.file);
  const chars = Array.from(text).length;
  const heldCount = Math.max(2, Math.ceil(c.heldOut * chars));
  const trainCount = chars - heldCount;
  if (trainCount < c.seqLength + 1) {
    throw new UsageError(`--file ${c.file} has ${chars} characters: after holding out ${heldCount} (--held-out ${c.heldOut}), ${trainCount} are left to train on, fewer than --seq-length + 1 = ${c.seqLength + 1}`);
  }
  let symbols: Int32Array;
  let description: FullDescription;
  if (saved !== null) {
    description = saved.description;
    try {
      symbols = saved.vocabulary!.encode(text);
    } catch (e) {
      const m = /symbol (".*?"|\S+) at position (\d+)/.exec((e as Error).message);
      throw new UsageError(`--file ${c.file}: ${m === null ? (e as Error).message : `character ${m[1]} at position ${m[2]}`} is not in the vocabulary of the network in --load ${c.load} (${saved.vocabulary!.size} symbols)`);
    }
  } else {
    const vocabulary = Vocabulary.fromText(text);
    try {
      description = checkDescription(describe(c, vocabulary));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError((e as Error).message);
    }
    symbols = vocabulary.encode(text);
  }
  // Everything else, from the description, before the network is built.
  refuseOverLimit('', estimateTextBytes(description, c, Buffer.byteLength(text), method, limit), limit, hint);
  const network = saved ?? createNetwork(description);
  const V = network.vocabulary!.size;
  const d = network.description;
  const training = symbols.subarray(0, trainCount), held = symbols.subarray(trainCount);
  const windows = heldOutWindows(held, c.seqLength);
  const baselines = {
    bigramKneserNey: BigramModel.fit(training, V, 'kneser-ney').bitsPerSymbol(held),
    bigramAddOne: BigramModel.fit(training, V, 'add-one').bitsPerSymbol(held),
    unigram: unigramBits(training, held, V, 1),
  };
  const log = (line: string) => { if (!quiet) console.error(line); };
  const architecture = `${d.cell} ${d.layers}x${d.hiddenSize}, ${d.embedding === undefined ? 'one-hot inputs' : `embedding ${d.embedding.size}`}, ${network.parameterCount} parameters`;
  log(`train text: ${chars} characters, ${V} symbols; training on the first ${trainCount}, scoring the last ${heldCount}`);
  log(`train text: ${saved !== null ? `continuing ${c.load}: ` : ''}${architecture}; ${c.method}, windows of ${c.seqLength}, batch ${c.batch}, adam lr ${c.lr}, clip ${c.clip}`);
  log(`train text: held-out bits per character of the count models: Kneser-Ney bigram ${baselines.bigramKneserNey.toFixed(3)}, add-one bigram ${baselines.bigramAddOne.toFixed(3)}, unigram ${baselines.unigram.toFixed(3)}`);

  // Ctrl-C: stop after the current fit call (at most BATCHES_PER_FIT batches), then score and save as usual; a second one quits.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    log('train text: interrupted: finishing the current batches, then scoring and saving (Ctrl-C again to quit without saving)');
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);

  const optimizer = new Optimizer({ kind: 'adam', lr: c.lr });
  // A continued run draws its window order from the saved weights too, so it does not replay the first run's order.
  const rng = new Rng(saved === null ? c.seed + 1 : (c.seed + 1 + weightsHash(saved.model.params.theta)) % 2 ** 32);
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const curve: { iteration: number; trainBits: number }[] = [];
  const evaluations: { iteration: number; seconds: number; heldOutBits: number }[] = [];
  let iteration = 0, epoch = 0, epochsDone = 0, firstLoss = NaN, periodLoss = 0, periodCount = 0;
  let stop = '', failure: string | null = null;
  let order = new Int32Array(0), phase = 0, position = 0;
  const evaluate = () => {
    const bits = heldOutBits(network, windows);
    evaluations.push({ iteration, seconds: seconds(), heldOutBits: bits });
    const trainBits = periodCount > 0 ? periodLoss / periodCount / Math.LN2 : NaN;
    if (periodCount > 0) curve.push({ iteration, trainBits });
    periodLoss = 0; periodCount = 0;
    log(`iteration ${iteration} (epoch ${epoch}): training ${Number.isNaN(trainBits) ? '-' : trainBits.toFixed(3)} bits/char, held-out ${bits.toFixed(3)} bits/char, ${seconds().toFixed(1)} s`);
  };
  const budgetLeft = (): boolean => {
    if (interrupted) { stop = 'interrupted (Ctrl-C)'; return false; }
    if (c.iterations !== null && iteration >= c.iterations) { stop = `completed ${c.iterations} iterations`; return false; }
    if (c.epochs !== null && epochsDone >= c.epochs) { stop = `completed ${c.epochs} epochs`; return false; }
    if (c.time !== null && seconds() >= c.time) { stop = `time budget of ${c.time} s reached`; return false; }
    return true;
  };
  const newEpoch = () => {
    // A random phase moves the window boundaries from one epoch to the next.
    phase = rng.int(c.seqLength);
    if (trainCount - 1 - phase < c.seqLength) phase = 0;
    order = Int32Array.from({ length: Math.floor((trainCount - 1 - phase) / c.seqLength) }, (_, i) => i);
    rng.shuffle(order);
    position = 0;
    epoch++;
  };
  newEpoch();
  let lastEval = -1;
  try {
    while (failure === null && budgetLeft()) {
      // Signals are events: let a Ctrl-C in between fit calls.
      await new Promise((resolve) => setImmediate(resolve));
      if (!budgetLeft()) break;
      if (position >= order.length) {
        epochsDone++;
        position = 0;
        if (!budgetLeft()) break;
        newEpoch();
      }
      // Up to BATCHES_PER_FIT batches, not past the epoch, the next evaluation or the iteration budget.
      const untilEval = c.evalEvery - (iteration % c.evalEvery);
      const untilBudget = c.iterations === null ? Infinity : c.iterations - iteration;
      const batches = Math.min(BATCHES_PER_FIT, untilEval, untilBudget, Math.ceil((order.length - position) / c.batch));
      const count = Math.min(batches * c.batch, order.length - position);
      const inputs: Int32Array[] = [], targets: Int32Array[] = [];
      for (let i = 0; i < count; i++) {
        const s = phase + order[position + i] * c.seqLength;
        inputs.push(training.subarray(s, s + c.seqLength));
        targets.push(training.subarray(s + 1, s + 1 + c.seqLength));
      }
      const history = network.fit({ inputs, targets }, {
        method: c.method, optimizer, batchSize: c.batch, epochs: 1, shuffle: false, clipNorm: c.clip, maxBytes: libraryLimit(limit),
        onProgress: (p) => {
          iteration++;
          position += Math.min(c.batch, count - (p.batch - 1) * c.batch);
          if (Number.isNaN(firstLoss)) firstLoss = p.loss;
          // Divergence, as the trainer judges it within one fit: far above the untrained loss.
          if (!(p.loss <= 1e4 * firstLoss)) {
            failure = `training diverged: the batch loss ${p.loss.toPrecision(3)} at iteration ${iteration} is over 1e4 times the first batch's ${firstLoss.toPrecision(3)} (a smaller --lr may help)`;
            return 'stop';
          }
          periodLoss += p.loss; periodCount++;
          if (iteration % c.evalEvery === 0 || !budgetLeft()) return 'stop';
        },
      });
      if (history.guard !== null) failure = history.guard.message;
      if (failure === null && iteration % c.evalEvery === 0 && iteration !== lastEval) { evaluate(); lastEval = iteration; }
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
  if (failure !== null) {
    console.error(`loopgrad train text: ${failure}; ${c.save !== null ? `nothing saved (--save ${c.save} is unchanged)` : 'nothing saved'}`);
    return 1;
  }
  if (iteration !== lastEval) evaluate();
  const final = evaluations[evaluations.length - 1].heldOutBits;
  if (c.save !== null) writeFileAtomic(c.save, network.save());
  const report = {
    config: { ...c, description: { ...d, vocabulary: undefined } },
    text: { characters: chars, symbols: V, training: trainCount, heldOut: heldCount },
    parameters: network.parameterCount,
    iterations: iteration,
    epochs: epochsDone + (position > 0 ? position / order.length : 0),
    seconds: seconds(),
    stop,
    curve,
    evaluations,
    heldOut: { network: final, ...baselines, characters: heldCount - 1 },
    saved: c.save,
  };
  if (json) {
    console.log(JSON.stringify(report));
    return 0;
  }
  console.log(`loopgrad train text ${argv.join(' ')}`);
  console.log(`  text: ${chars} characters, ${V} symbols; trained on the first ${trainCount}, held out the last ${heldCount}`);
  console.log(`  network: ${architecture}`);
  console.log(`  ${iteration} iterations (${report.epochs.toFixed(2)} epochs) of ${c.batch} windows of ${c.seqLength}, ${c.method}, in ${report.seconds.toFixed(1)} s: ${stop}`);
  console.log(`  held-out bits per character (${heldCount - 1} characters, each given the ones before it in its window):`);
  console.log(`    network                      ${final.toFixed(3)}`);
  console.log(`    bigram, Kneser-Ney           ${baselines.bigramKneserNey.toFixed(3)}`);
  console.log(`    bigram, add-one              ${baselines.bigramAddOne.toFixed(3)}`);
  console.log(`    unigram, add-one             ${baselines.unigram.toFixed(3)}`);
  if (c.save !== null) console.log(`  saved to ${c.save}`);
  return 0;
}
