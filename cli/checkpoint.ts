// Checkpoints on disk: the weights as safetensors (float64, PyTorch-style
// names), the optimiser state and training facts as JSON, in one directory.
//
//   DIR/checkpoint.json            the pointer: which generation is current
//   DIR/weights-<gen>.safetensors  that generation's weights
//   DIR/optimizer-<gen>.json       that generation's optimiser state and metadata
//
// Every file is written atomically (a temporary file in the same directory,
// fsync, rename over the target, fsync of the directory), and a new
// generation's two data files are complete on disk before the pointer moves
// to them. A save interrupted at any moment therefore leaves the previous
// checkpoint intact: the pointer still names the old generation, whose files
// are only deleted after the new pointer is in place.
import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPORARY_NAME, writeFileAtomic } from './atomic-write.js';
import type { Params } from '../lib/cells/params.js';
import { pytorchStateDict, loadPytorchParams } from '../lib/io/pytorch.js';
import { type TensorInfo, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../lib/io/safetensors.js';
import type { OptimizerState } from '../lib/optim/optimizer.js';
import { FormatError, ShapeError } from '../lib/errors.js';

const POINTER = 'checkpoint.json';
const FORMAT = 'loopgrad-checkpoint';
/** The data file names fileNames() generates: the generation, zero-padded to at least 6 digits. */
const WEIGHTS_NAME = /^weights-[0-9]{6,}\.safetensors$/;
const OPTIMIZER_NAME = /^optimizer-[0-9]{6,}\.json$/;

export interface CheckpointData {
  params: Params;
  optimizer?: OptimizerState | null;
  /** Anything JSON-able worth keeping: the training config, the step, the held-out metric ... */
  meta?: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  generation: number;
  /** Copied into the params passed to loadCheckpoint. */
  optimizer: OptimizerState | null;
  meta: Record<string, unknown>;
}

interface Pointer {
  format: typeof FORMAT;
  version: 1;
  generation: number;
  weights: string;
  optimizer: string;
  /** CRC-32 of the weights file's bytes, 8 hex digits (absent in checkpoints written before it existed). */
  weightsCrc32?: string;
  weightsBytes?: number;
}

/** The optimiser file's contents. */
interface Side {
  format: typeof FORMAT;
  generation: number;
  optimizer: OptimizerState | null;
  meta: Record<string, unknown>;
  weightsCrc32?: string;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the zlib / PNG polynomial) of bytes, as 8 lower-case hex digits. */
export function crc32(bytes: Uint8Array): string {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

/** Reads a file of a checkpoint, turning ENOENT / EISDIR / EACCES into a sentence naming it. */
function readCheckpointFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`checkpoint: the ${what} ${path} is missing`);
    if (code === 'EISDIR') throw new Error(`checkpoint: the ${what} ${path} is a directory, not a file`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`checkpoint: cannot read the ${what} ${path} (permission denied)`);
    throw new Error(`checkpoint: cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Deeper nesting than any checkpoint file needs; deeper values overflow the stack of JSON.stringify and the checks. */
const MAX_JSON_DEPTH = 100;

/** The deepest nesting of arrays and objects in JSON text (brackets inside strings skipped). */
function jsonDepth(text: string): number {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

function parseJsonFile(path: string, what: string): unknown {
  const text = readCheckpointFile(path, what).toString('utf8');
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw new FormatError('checkpoint', `${path} nests arrays and objects ${depth} deep, more than ${MAX_JSON_DEPTH}`, { path, depth });
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FormatError('checkpoint', `${path} is not valid JSON (${(e as Error).message})`, { path });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface SaveOptions {
  /** Test hook: runs after the data files are written, before the pointer moves. Throwing simulates a crash. */
  beforeCommit?: () => void;
  /** Test hook: writes one file (default writeFileAtomic); throwing simulates ENOSPC and the like. */
  writeFile?: (path: string, data: Uint8Array | string) => void;
}

function readPointer(dir: string): Pointer | null {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`checkpoint: ${dir} is a file, not a checkpoint directory`);
  const path = join(dir, POINTER);
  if (!existsSync(path)) return null;
  const raw = parseJsonFile(path, 'checkpoint pointer');
  if (!isObject(raw) || raw.format !== FORMAT) throw new FormatError('checkpoint', `${path} is not a loopgrad checkpoint pointer (format is not "${FORMAT}")`, { path, format: isObject(raw) ? raw.format : raw });
  if (raw.version !== 1) throw new FormatError('checkpoint', `${path}: version ${JSON.stringify(raw.version)} is not 1`, { path, version: raw.version });
  if (!Number.isSafeInteger(raw.generation) || (raw.generation as number) < 1) throw new FormatError('checkpoint', `${path}: generation ${JSON.stringify(raw.generation)} is not an integer >= 1`, { path, generation: raw.generation });
  for (const field of ['weights', 'optimizer']) {
    if (typeof raw[field] !== 'string') throw new FormatError('checkpoint', `${path}: ${field} is ${JSON.stringify(raw[field]) ?? 'missing'}, not a file name`, { path, field, value: raw[field] });
  }
  if (raw.weightsCrc32 !== undefined && (typeof raw.weightsCrc32 !== 'string' || !/^[0-9a-f]{8}$/.test(raw.weightsCrc32))) {
    throw new FormatError('checkpoint', `${path}: weightsCrc32 ${JSON.stringify(raw.weightsCrc32)} is not 8 hex digits`, { path, weightsCrc32: raw.weightsCrc32 });
  }
  if (raw.weightsBytes !== undefined && (!Number.isSafeInteger(raw.weightsBytes) || (raw.weightsBytes as number) < 0)) {
    throw new FormatError('checkpoint', `${path}: weightsBytes ${JSON.stringify(raw.weightsBytes)} is not a byte count`, { path, weightsBytes: raw.weightsBytes });
  }
  const pointer = raw as unknown as Pointer;
  // The pointer's file names are joined to dir: accept only the names saveCheckpoint
  // writes, so a crafted pointer cannot reach outside the directory ("../../x").
  if (!WEIGHTS_NAME.test(pointer.weights)) {
    throw new FormatError('checkpoint', `${path} names weights file ${JSON.stringify(pointer.weights)}, not weights-NNNNNN.safetensors`, { path, weights: pointer.weights });
  }
  if (!OPTIMIZER_NAME.test(pointer.optimizer)) {
    throw new FormatError('checkpoint', `${path} names optimiser file ${JSON.stringify(pointer.optimizer)}, not optimizer-NNNNNN.json`, { path, optimizer: pointer.optimizer });
  }
  return pointer;
}

function fileNames(generation: number): { weights: string; optimizer: string } {
  const g = String(generation).padStart(6, '0');
  return { weights: `weights-${g}.safetensors`, optimizer: `optimizer-${g}.json` };
}

/** Saves a new generation into dir (created if needed) and returns its number. */
export function saveCheckpoint(dir: string, data: CheckpointData, options: SaveOptions = {}): number {
  mkdirSync(dir, { recursive: true });
  const previous = readPointer(dir);
  const generation = previous === null ? 1 : previous.generation + 1;
  const names = fileNames(generation);
  const weights = writeSafetensors(pytorchStateDict(data.params), {
    format: 'pt',
    'loopgrad.generation': String(generation),
    'loopgrad.parameters': JSON.stringify(data.params.specs),
  });
  const weightsCrc32 = crc32(weights);
  const written: string[] = [];
  try {
    (options.writeFile ?? writeFileAtomic)(join(dir, names.weights), weights);
    written.push(names.weights);
    const side: Side = { format: FORMAT, generation, optimizer: data.optimizer ?? null, meta: data.meta ?? {}, weightsCrc32 };
    (options.writeFile ?? writeFileAtomic)(join(dir, names.optimizer), JSON.stringify(side));
    written.push(names.optimizer);
    options.beforeCommit?.();
    const pointer: Pointer = { format: FORMAT, version: 1, generation, ...names, weightsCrc32, weightsBytes: weights.length };
    (options.writeFile ?? writeFileAtomic)(join(dir, POINTER), JSON.stringify(pointer, null, 1) + '\n');
  } catch (e) {
    // The pointer did not move: the new generation's files are orphans. The previous checkpoint stays as it was.
    for (const name of written) {
      try { unlinkSync(join(dir, name)); } catch { /* already gone */ }
    }
    throw e;
  }
  // The new generation is current: older data files and stray temporaries can go.
  for (const name of readdirSync(dir)) {
    const stale = ((WEIGHTS_NAME.test(name) || OPTIMIZER_NAME.test(name)) && name !== names.weights && name !== names.optimizer)
      || TEMPORARY_NAME.test(name);
    if (stale) {
      try { unlinkSync(join(dir, name)); } catch { /* another process may have removed it */ }
    }
  }
  return generation;
}

/** Whether dir holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return readPointer(dir) !== null;
}

function requirePointer(dir: string): Pointer {
  const pointer = readPointer(dir);
  if (pointer === null) {
    throw new Error(existsSync(dir) ? `checkpoint: no ${POINTER} in ${dir}` : `checkpoint: directory ${dir} does not exist`);
  }
  return pointer;
}

/** The optimiser file of the pointer's generation, every field checked. */
function readSide(dir: string, pointer: Pointer): Side {
  const path = join(dir, pointer.optimizer);
  const side = parseJsonFile(path, 'optimiser file');
  if (!isObject(side)) throw new FormatError('checkpoint', `${path} holds ${JSON.stringify(side)}, not an object`, { path });
  if (side.format !== FORMAT) throw new FormatError('checkpoint', `${path}: format is ${JSON.stringify(side.format) ?? 'missing'}, not "${FORMAT}"`, { path, format: side.format });
  if (side.generation !== pointer.generation) {
    throw new FormatError('checkpoint', `${pointer.optimizer} is generation ${JSON.stringify(side.generation)}, the pointer says ${pointer.generation}`, { path, generation: side.generation, expected: pointer.generation });
  }
  if (side.optimizer !== null && side.optimizer !== undefined && !isObject(side.optimizer)) {
    throw new FormatError('checkpoint', `${path}: optimizer is ${JSON.stringify(side.optimizer)}, not an object or null`, { path, optimizer: side.optimizer });
  }
  if (side.meta !== undefined && !isObject(side.meta)) throw new FormatError('checkpoint', `${path}: meta is ${JSON.stringify(side.meta)}, not an object`, { path, meta: side.meta });
  if (side.weightsCrc32 !== undefined && side.weightsCrc32 !== pointer.weightsCrc32) {
    throw new FormatError('checkpoint', `${path}: weightsCrc32 ${JSON.stringify(side.weightsCrc32)} differs from the pointer's ${JSON.stringify(pointer.weightsCrc32)}`, { path, weightsCrc32: side.weightsCrc32, expected: pointer.weightsCrc32 });
  }
  return { format: FORMAT, generation: pointer.generation, optimizer: (side.optimizer ?? null) as OptimizerState | null, meta: (side.meta ?? {}) as Record<string, unknown> };
}

/** The weights file's bytes, its size and checksum verified against the pointer. */
function readWeights(dir: string, pointer: Pointer): Uint8Array {
  const path = join(dir, pointer.weights);
  const bytes = new Uint8Array(readCheckpointFile(path, 'weights file'));
  if (pointer.weightsBytes !== undefined && bytes.length !== pointer.weightsBytes) {
    throw new FormatError('checkpoint', `the weights file ${path} is ${bytes.length} bytes, the pointer says ${pointer.weightsBytes} (truncated or replaced)`, { path, bytes: bytes.length, expected: pointer.weightsBytes });
  }
  if (pointer.weightsCrc32 !== undefined) {
    const actual = crc32(bytes);
    if (actual !== pointer.weightsCrc32) {
      throw new FormatError('checkpoint', `the weights file ${path} is corrupt: its CRC-32 is ${actual}, the pointer says ${pointer.weightsCrc32}`, { path, crc32: actual, expected: pointer.weightsCrc32 });
    }
  }
  return bytes;
}

/** The tensors (names and shapes) of the current generation's weights, verified, without decoding them. */
export function readCheckpointShapes(dir: string): TensorInfo[] {
  const pointer = requirePointer(dir);
  const path = join(dir, pointer.weights);
  try {
    return readSafetensorsHeader(readWeights(dir, pointer)).tensors;
  } catch (e) {
    const message = (e as Error).message;
    if (message.startsWith('checkpoint:')) throw e;
    throw new FormatError('checkpoint', `${path}: ${message}`, { path });
  }
}

/** Loads the current generation of dir: weights into params (shapes must match), the rest returned. */
export function loadCheckpoint(dir: string, params: Params): LoadedCheckpoint {
  const pointer = requirePointer(dir);
  const path = join(dir, pointer.weights);
  const bytes = readWeights(dir, pointer);
  let tensors, metadata;
  try {
    ({ tensors, metadata } = readSafetensors(bytes));
  } catch (e) {
    throw new FormatError('checkpoint', `${path}: ${(e as Error).message}`, { path });
  }
  if (metadata['loopgrad.generation'] !== String(pointer.generation)) {
    throw new FormatError('checkpoint', `${pointer.weights} is generation ${metadata['loopgrad.generation']}, the pointer says ${pointer.generation}`, { path, generation: metadata['loopgrad.generation'], expected: pointer.generation });
  }
  const side = readSide(dir, pointer);
  try {
    loadPytorchParams(params, tensors);
  } catch (e) {
    throw new ShapeError('checkpoint', `${path} does not fit the model: ${(e as Error).message}`, { path });
  }
  return { generation: pointer.generation, optimizer: side.optimizer, meta: side.meta };
}

/** The metadata of the current generation without loading weights (e.g. to rebuild the model first). */
export function readCheckpointMeta(dir: string): Record<string, unknown> {
  const pointer = requirePointer(dir);
  return readSide(dir, pointer).meta;
}

/**
 * Checks, before a model is built, that the current generation's weights hold exactly the
 * numbers the given parameter shapes need (a config edited to `hidden: 10000` beside small
 * weights is refused here, not after allocating gigabytes). Returns the count.
 */
export function checkWeightsFit(dir: string, specs: readonly { name: string; rows: number; cols: number }[]): number {
  const tensors = readCheckpointShapes(dir);
  const have = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const need = specs.reduce((s, p) => s + p.rows * p.cols, 0);
  if (have !== need || tensors.length !== specs.length) {
    const pointer = requirePointer(dir);
    throw new FormatError('checkpoint', `the config in ${join(dir, pointer.optimizer)} describes ${specs.length} parameter tensors of ${need} numbers, `
      + `but ${join(dir, pointer.weights)} holds ${tensors.length} tensors of ${have} numbers (config and weights do not match)`, { tensors: tensors.length, numbers: have, expectedTensors: specs.length, expectedNumbers: need });
  }
  return have;
}
