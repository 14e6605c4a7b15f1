// A seeded mutation fuzzer for the checkpoint loader (cli/checkpoint.ts), shared by
// spec/cli/checkpoint-fuzz.spec.ts (a couple of thousand cases) and
// `npm run fuzz -- --target checkpoint` (long runs). Node only: it writes files.
//
// One valid checkpoint of a small LSTM (with an Adam state and some meta) is saved once;
// each case restores its three files, mutates ONE of them (byte flips, truncation,
// insertion, JSON-aware edits, a renamed or swapped file, a file turned into a directory),
// then calls readCheckpointMeta, loadCheckpoint into fresh params, and Optimizer.fromState
// on the loaded optimiser state. Each case is classified:
//   refused     a plain Error (constructor === Error) or a LoopgradError whose message names a
//               checkpoint file (Optimizer.fromState's own errors count as refusals too);
//   accepted    everything loads, and the loaded weights equal the saved ones bit for bit;
//   corruption  accepted although the weights file's bytes changed (the CRC must catch it),
//               or accepted with different weights;
//   crash       anything else thrown (TypeError, RangeError, SyntaxError, a vague message);
//   slow        a single case took longer than slowMs.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../cli/checkpoint.js';
import { lstm } from '../lib/cells/lstm.js';
import { createParams } from '../lib/cells/params.js';
import { Rng } from '../lib/mat/rng.js';
import { LoopgradError } from '../lib/mat/errors.js';
import { Optimizer } from '../lib/optim/optimizer.js';
import { createModel } from '../lib/rnn/model.js';

export type FileKey = 'pointer' | 'weights' | 'optimizer';

export interface CheckpointFuzzFailure {
  caseIndex: number;
  kind: 'crash' | 'corruption' | 'slow';
  file: FileKey;
  mutation: string;
  message: string;
}

export interface CheckpointFuzzResult {
  cases: number;
  accepted: number;
  refused: number;
  crashes: number;
  corruptions: number;
  slow: number;
  slowestMs: number;
  elapsedMs: number;
  /** Per "file/mutation": how often it ran and how often the result was accepted. */
  byMutation: Record<string, { applied: number; accepted: number }>;
  failures: CheckpointFuzzFailure[];
}

export interface CheckpointFuzzOptions {
  seed?: number;
  count: number;
  slowMs?: number;
  maxFailures?: number;
  onProgress?: (result: CheckpointFuzzResult) => void;
  progressEvery?: number;
}

/** A fixed checkpoint: a small LSTM, an Adam state after two updates, a meta object. */
export function baseCheckpoint(dir: string): { theta: Float64Array; files: Record<FileKey, string> } {
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 3 }), { seed: 5 });
  const opt = new Optimizer({ kind: 'adam', lr: 0.01 });
  const grad = new Float64Array(model.params.theta.length).map((_, i) => Math.sin(i + 1));
  opt.step(model.params.theta, grad);
  opt.step(model.params.theta, grad);
  const meta = { config: { cell: 'lstm', hidden: 3, steps: [1, 2, 3] }, step: 2, metric: 0.125, note: 'ünï ✓' };
  saveCheckpoint(dir, { params: model.params, optimizer: opt.saveState(), meta });
  return {
    theta: model.params.theta.slice(),
    files: { pointer: 'checkpoint.json', weights: 'weights-000001.safetensors', optimizer: 'optimizer-000001.json' },
  };
}

// ---------------------------------------------------------------------------------------
// Mutations of one file's bytes

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

const BYTE_MUTATIONS: Record<string, (b: Uint8Array, rng: Rng) => Uint8Array> = {
  flip(b, rng) {
    const out = b.slice();
    for (let k = 0, n = 1 + rng.int(4); k < n && out.length > 0; k++) out[rng.int(out.length)] ^= 1 + rng.int(255);
    return out;
  },
  truncate(b, rng) { return b.slice(0, rng.int(b.length)); },
  insert(b, rng) {
    const at = rng.int(b.length + 1);
    const extra = new Uint8Array(1 + rng.int(8)).map(() => rng.int(256));
    const out = new Uint8Array(b.length + extra.length);
    out.set(b.subarray(0, at), 0);
    out.set(extra, at);
    out.set(b.subarray(at), at + extra.length);
    return out;
  },
};

const REPLACEMENTS = ['null', 'true', '"1"', '[]', '{}', '-1', '0', '1e308', '-0', 'NaN', 'Infinity', '1.5', '""', '"../../etc/passwd"', '9007199254740993'];
const SENTINEL = '\u0000fuzz-sentinel';

/** Every path (keys and indices) to a value inside v, the root included. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) {
    // Long buffers: a few indices are enough.
    const step = Math.max(1, Math.floor(v.length / 4));
    for (let i = 0; i < v.length; i += step) paths(v[i], [...prefix, i], out);
  } else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...prefix, k], out);
  }
  return out;
}

function getAt(root: unknown, path: (string | number)[]): unknown {
  let v = root;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

/** root with the value at path replaced by raw JSON text (which may be invalid JSON, like NaN). */
function replaceRaw(root: unknown, path: (string | number)[], raw: string): string {
  if (path.length === 0) return raw;
  const copy = JSON.parse(JSON.stringify(root)) as Record<string | number, unknown>;
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]] = SENTINEL;
  return JSON.stringify(copy).replace(JSON.stringify(SENTINEL), () => raw);
}

const JSON_MUTATIONS: Record<string, (root: unknown, rng: Rng) => string> = {
  replaceValue(root, rng) { return replaceRaw(root, pick(rng, paths(root)), pick(rng, REPLACEMENTS)); },
  deleteKey(root, rng) {
    const keyed = paths(root).filter((p) => p.length > 0 && typeof p[p.length - 1] === 'string');
    const path = pick(rng, keyed);
    const copy = JSON.parse(JSON.stringify(root)) as unknown;
    delete (getAt(copy, path.slice(0, -1)) as Record<string, unknown>)[path[path.length - 1] as string];
    return JSON.stringify(copy);
  },
  duplicateKey(root, rng) {
    const objects = paths(root).filter((p) => { const v = getAt(root, p); return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0; });
    const path = pick(rng, objects);
    const obj = getAt(root, path) as Record<string, unknown>;
    const key = pick(rng, Object.keys(obj));
    const dup = `${JSON.stringify(key)}:${pick(rng, REPLACEMENTS)}`;
    const body = JSON.stringify(obj).slice(1, -1);
    return replaceRaw(root, path, rng.uniform() < 0.5 ? `{${dup},${body}}` : `{${body},${dup}}`);
  },
  nestDeep(root, rng) {
    const depth = pick(rng, [100, 5000, 200_000]);
    const open = rng.uniform() < 0.5 ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return replaceRaw(root, pick(rng, paths(root)), open.repeat(depth) + '1' + close.repeat(depth));
  },
  changeGeneration(root, rng) {
    const g = pick(rng, ['0', '2', '-1', '1.5', '"1"', '1e21', '999999999']);
    const path = (root !== null && typeof root === 'object' && 'generation' in root) ? ['generation'] : [];
    return path.length ? replaceRaw(root, path, g) : JSON.stringify(root);
  },
};

/** The weights file's header metadata is JSON too: change the generation it records, keeping the file well-formed. */
function weightsGeneration(b: Uint8Array, rng: Rng): Uint8Array {
  const text = new TextDecoder().decode(b);
  const g = pick(rng, ['2', '0', '01', ' 1', 'x']);
  const edited = text.replace('"loopgrad.generation":"1"', `"loopgrad.generation":"${g}"`);
  const bytes = new TextEncoder().encode(edited);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, view.getUint32(0, true) + (edited.length - text.length), true);
  return bytes;
}

const FILE_OPS = ['swapNames', 'makeDirectory', 'remove', 'renameGeneration'] as const;

export const CHECKPOINT_MUTATIONS: readonly string[] = [
  ...Object.keys(BYTE_MUTATIONS).flatMap((m) => [`pointer/${m}`, `weights/${m}`, `optimizer/${m}`]),
  ...Object.keys(JSON_MUTATIONS).flatMap((m) => [`pointer/${m}`, `optimizer/${m}`]),
  'weights/generation',
  ...FILE_OPS.flatMap((m) => (m === 'renameGeneration' ? [] : [`pointer/${m}`])).concat(FILE_OPS.flatMap((m) => [`weights/${m}`, `optimizer/${m}`])),
];

// ---------------------------------------------------------------------------------------
// The run

/** A refusal on purpose: a plain Error, or one of loopgrad's typed errors (a LoopgradError: a ConfigError from the optimiser's checks). */
function isPlainError(err: unknown): err is Error {
  return err instanceof Error && (err.constructor === Error || err instanceof LoopgradError) && typeof err.message === 'string';
}

function namesAFile(message: string, dir: string): boolean {
  return message.includes(dir) || /checkpoint\.json|weights-\d+\.safetensors|optimizer-\d+\.json/.test(message);
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.slice(0, 300)}`;
  return `a thrown ${typeof err}: ${String(err).slice(0, 100)}`;
}

export function fuzzCheckpoint(options: CheckpointFuzzOptions): CheckpointFuzzResult {
  const seed = options.seed ?? 1;
  const slowMs = options.slowMs ?? 1000;
  const maxFailures = options.maxFailures ?? 20;
  const progressEvery = options.progressEvery ?? 10_000;
  const rng = new Rng(seed);
  const root = mkdtempSync(join(tmpdir(), 'loopgrad-ckpt-fuzz-'));
  const baseDir = join(root, 'base');
  const dir = join(root, 'case');
  const { theta, files } = baseCheckpoint(baseDir);
  const original = {} as Record<FileKey, Uint8Array>;
  for (const key of ['pointer', 'weights', 'optimizer'] as FileKey[]) original[key] = new Uint8Array(readFileSync(join(baseDir, files[key]))); // a copy: Buffer.slice would share
  const specs = createModel(lstm({ inputSize: 2, hiddenSize: 3 })).params.specs;
  const result: CheckpointFuzzResult = {
    cases: 0, accepted: 0, refused: 0, crashes: 0, corruptions: 0, slow: 0, slowestMs: 0, elapsedMs: 0, byMutation: {}, failures: [],
  };
  for (const name of CHECKPOINT_MUTATIONS) result.byMutation[name] = { applied: 0, accepted: 0 };
  const started = Date.now();
  const record = (f: CheckpointFuzzFailure): void => { if (result.failures.length < maxFailures) result.failures.push(f); };
  try {
    for (let caseIndex = 0; caseIndex < options.count; caseIndex++) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      const name = pick(rng, CHECKPOINT_MUTATIONS);
      const [file, mutation] = name.split('/') as [FileKey, string];
      let weightsChanged = false;
      const write = (key: FileKey, bytes: Uint8Array | string): void => writeFileSync(join(dir, files[key]), bytes);
      for (const key of ['pointer', 'weights', 'optimizer'] as FileKey[]) if (key !== file) write(key, original[key]);
      if (mutation in BYTE_MUTATIONS) {
        const bytes = BYTE_MUTATIONS[mutation](original[file], rng);
        write(file, bytes);
        weightsChanged = file === 'weights' && Buffer.compare(Buffer.from(bytes), Buffer.from(original.weights)) !== 0;
      } else if (mutation in JSON_MUTATIONS) {
        write(file, JSON_MUTATIONS[mutation](JSON.parse(new TextDecoder().decode(original[file])) as unknown, rng));
      } else if (mutation === 'generation') {
        write(file, weightsGeneration(original.weights, rng));
        weightsChanged = true;
      } else {
        write(file, original[file]);
        const path = join(dir, files[file]);
        if (mutation === 'swapNames') {
          const other = join(dir, files[file === 'weights' ? 'optimizer' : 'weights']);
          renameSync(path, `${path}.swap`);
          renameSync(other, path);
          renameSync(`${path}.swap`, other);
          weightsChanged = true;
        } else if (mutation === 'makeDirectory') {
          rmSync(path);
          mkdirSync(path);
          weightsChanged = file === 'weights';
        } else if (mutation === 'remove') {
          rmSync(path);
          weightsChanged = file === 'weights';
        } else { // the file as another generation's
          renameSync(path, path.replace('000001', '000002'));
          weightsChanged = file === 'weights';
        }
      }
      const t0 = performance.now();
      let accepted = false;
      let stage = 'readCheckpointMeta';
      try {
        readCheckpointMeta(dir);
        stage = 'loadCheckpoint';
        const params = createParams(specs);
        const loaded = loadCheckpoint(dir, params);
        stage = 'Optimizer.fromState';
        if (loaded.optimizer !== null) Optimizer.fromState(loaded.optimizer);
        accepted = true;
        if (weightsChanged) {
          result.corruptions++;
          record({ caseIndex, kind: 'corruption', file, mutation, message: 'a changed weights file was accepted' });
        } else if (!params.theta.every((v, i) => Object.is(v, theta[i]))) {
          result.corruptions++;
          record({ caseIndex, kind: 'corruption', file, mutation, message: 'accepted, but the loaded weights differ from the saved ones' });
        }
      } catch (err) {
        const fromState = stage === 'Optimizer.fromState';
        if (isPlainError(err) && (fromState || namesAFile(err.message, dir))) {
          result.refused++;
        } else {
          result.crashes++;
          record({ caseIndex, kind: 'crash', file, mutation, message: `${stage}: ${describe(err)}` });
        }
      }
      const ms = performance.now() - t0;
      if (ms > result.slowestMs) result.slowestMs = ms;
      if (ms > slowMs) {
        result.slow++;
        record({ caseIndex, kind: 'slow', file, mutation, message: `took ${ms.toFixed(0)} ms` });
      }
      result.byMutation[name].applied++;
      if (accepted) {
        result.accepted++;
        result.byMutation[name].accepted++;
      }
      result.cases++;
      if (options.onProgress && result.cases % progressEvery === 0) {
        result.elapsedMs = Date.now() - started;
        options.onProgress(result);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  result.elapsedMs = Date.now() - started;
  return result;
}

/** One line of counts. */
export function checkpointFuzzSummary(r: CheckpointFuzzResult): string {
  return `${r.cases} cases: ${r.accepted} accepted, ${r.refused} refused, ${r.crashes} crashes, ${r.corruptions} accepted weight corruptions, ` +
    `${r.slow} slow (slowest case ${r.slowestMs.toFixed(1)} ms), ${(r.elapsedMs / 1000).toFixed(1)} s`;
}
