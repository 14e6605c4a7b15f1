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
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Params } from '../lib/cells/params.js';
import { pytorchStateDict, loadPytorchParams } from '../lib/io/pytorch.js';
import { readSafetensors, writeSafetensors } from '../lib/io/safetensors.js';
import type { OptimizerState } from '../lib/optim/optimizer.js';

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
}

export interface SaveOptions {
  /** Test hook: runs after the data files are written, before the pointer moves. Throwing simulates a crash. */
  beforeCommit?: () => void;
}

let tempCounter = 0;

/** Writes bytes to path atomically: temp file in the same directory, fsync, rename, fsync of the directory. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const temp = `${path}.tmp-${process.pid}-${Date.now()}-${tempCounter++}`;
  let fd = -1;
  try {
    fd = openSync(temp, 'wx', 0o644);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw e;
  }
  syncDirectory(join(path, '..'));
}

function syncDirectory(dir: string): void {
  // Makes the rename durable. Some platforms cannot open a directory for fsync; that is not an error there.
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function readPointer(dir: string): Pointer | null {
  const path = join(dir, POINTER);
  if (!existsSync(path)) return null;
  let pointer: Pointer;
  try {
    pointer = JSON.parse(readFileSync(path, 'utf8')) as Pointer;
  } catch (e) {
    throw new Error(`checkpoint: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (pointer === null || typeof pointer !== 'object' || pointer.format !== FORMAT || pointer.version !== 1
    || !Number.isInteger(pointer.generation) || typeof pointer.weights !== 'string' || typeof pointer.optimizer !== 'string') {
    throw new Error(`checkpoint: ${path} is not a loopgrad checkpoint pointer`);
  }
  // The pointer's file names are joined to dir: accept only the names saveCheckpoint
  // writes, so a crafted pointer cannot reach outside the directory ("../../x").
  if (!WEIGHTS_NAME.test(pointer.weights)) {
    throw new Error(`checkpoint: ${path} names weights file ${JSON.stringify(pointer.weights)}, not weights-NNNNNN.safetensors`);
  }
  if (!OPTIMIZER_NAME.test(pointer.optimizer)) {
    throw new Error(`checkpoint: ${path} names optimiser file ${JSON.stringify(pointer.optimizer)}, not optimizer-NNNNNN.json`);
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
  writeFileAtomic(join(dir, names.weights), weights);
  const side = { format: FORMAT, generation, optimizer: data.optimizer ?? null, meta: data.meta ?? {} };
  writeFileAtomic(join(dir, names.optimizer), JSON.stringify(side));
  options.beforeCommit?.();
  const pointer: Pointer = { format: FORMAT, version: 1, generation, ...names };
  writeFileAtomic(join(dir, POINTER), JSON.stringify(pointer, null, 1) + '\n');
  // The new generation is current: older data files and stray temporaries can go.
  for (const name of readdirSync(dir)) {
    const stale = ((WEIGHTS_NAME.test(name) || OPTIMIZER_NAME.test(name)) && name !== names.weights && name !== names.optimizer)
      || /\.tmp-\d+-\d+-\d+$/.test(name);
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

/** Loads the current generation of dir: weights into params (shapes must match), the rest returned. */
export function loadCheckpoint(dir: string, params: Params): LoadedCheckpoint {
  const pointer = readPointer(dir);
  if (pointer === null) throw new Error(`checkpoint: no ${POINTER} in ${dir}`);
  const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(join(dir, pointer.weights))));
  if (metadata['loopgrad.generation'] !== String(pointer.generation)) {
    throw new Error(`checkpoint: ${pointer.weights} is generation ${metadata['loopgrad.generation']}, the pointer says ${pointer.generation}`);
  }
  let side: { format?: string; generation?: number; optimizer?: OptimizerState | null; meta?: Record<string, unknown> };
  try {
    side = JSON.parse(readFileSync(join(dir, pointer.optimizer), 'utf8')) as typeof side;
  } catch (e) {
    throw new Error(`checkpoint: ${join(dir, pointer.optimizer)} is not valid JSON (${(e as Error).message})`);
  }
  if (side.format !== FORMAT || side.generation !== pointer.generation) {
    throw new Error(`checkpoint: ${pointer.optimizer} is generation ${side.generation}, the pointer says ${pointer.generation}`);
  }
  loadPytorchParams(params, tensors);
  return { generation: pointer.generation, optimizer: side.optimizer ?? null, meta: side.meta ?? {} };
}

/** The metadata of the current generation without loading weights (e.g. to rebuild the model first). */
export function readCheckpointMeta(dir: string): Record<string, unknown> {
  const pointer = readPointer(dir);
  if (pointer === null) throw new Error(`checkpoint: no ${POINTER} in ${dir}`);
  const side = JSON.parse(readFileSync(join(dir, pointer.optimizer), 'utf8')) as { meta?: Record<string, unknown> };
  return side.meta ?? {};
}
