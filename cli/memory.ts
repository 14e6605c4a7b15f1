// Up-front memory estimates for the CLI: every command that allocates in
// proportion to its input (sequence length, batch, hidden size) adds up what a
// run will hold before building anything, and refuses over a limit with the
// estimate in the message and the flags that change it. --allow-large lifts
// the limit (the CLI's and the library's: RTRL gets it as maxBytes); --max-bytes
// sets another one.
import type { Cell } from '../lib/cells/cell.js';
import { probeCellStep } from '../lib/rnn/unroll.js';
import { type FlagSpec, type Parsed, UsageError } from './args.js';

export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

export const memoryFlags: Record<string, FlagSpec> = {
  'allow-large': { kind: 'boolean', help: `run even when the run is estimated to need more than --max-bytes (default ${DEFAULT_MAX_BYTES / 1024 ** 3} GiB)` },
  'max-bytes': { kind: 'int', help: `refuse runs estimated to need more memory than this many bytes (default ${DEFAULT_MAX_BYTES})`, min: 1 },
};

/** The limit a command line asks for: Infinity with --allow-large. */
export function memoryLimit(parsed: Parsed): number {
  if (parsed.flags.get('allow-large') === true) return Infinity;
  return (parsed.flags.get('max-bytes') as number | undefined) ?? DEFAULT_MAX_BYTES;
}

/** The maxBytes to hand to a library method (Rtrl): finite, and never below its own default unless asked. */
export function libraryLimit(limit: number): number {
  return Number.isFinite(limit) ? limit : Number.MAX_SAFE_INTEGER;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** Named parts of an estimate, in bytes. */
export type Estimate = [what: string, bytes: number][];

export function totalBytes(estimate: Estimate): number {
  return estimate.reduce((s, [, b]) => s + b, 0);
}

/**
 * Throws a UsageError when the estimate passes the limit: the total, its largest parts,
 * and the flags to change (`hint`) or --allow-large / --max-bytes.
 */
export function refuseOverLimit(command: string, estimate: Estimate, limit: number, hint: string): void {
  const total = totalBytes(estimate);
  if (!(total > limit)) return;
  const parts = estimate.filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([what, b]) => `${what} ${formatBytes(b)}`).join(', ');
  throw new UsageError(`${command === '' ? '' : command + ': '}this run would need about ${formatBytes(total)} (${parts}), over the limit of ${formatBytes(limit)}; `
    + `use smaller ${hint}, or pass --allow-large (or --max-bytes N) to run it anyway`);
}

/** Numbers of a cell's parameters, from its specs (nothing allocated). */
export function parameterCount(cell: Cell): number {
  return cell.paramSpecs.reduce((s, p) => s + p.rows * p.cols, 0);
}

/**
 * Numbers one step of the cell computes per batch row (its values on a tape), by running
 * one step on a single row. Allocates the parameters once: check parameterCount first.
 */
export function stepNumbersPerRow(cell: Cell): number {
  return probeStep(cell).numbers;
}

/** Bytes a tape spends per recorded node besides its values (the node object, its adjoint's header). */
export const NODE_OVERHEAD_BYTES = 256;

/** One step of the cell on a single row: the numbers it computes and the nodes it records. */
export function probeStep(cell: Cell): { numbers: number; nodes: number } {
  const probe = probeCellStep(cell, 1);
  return { numbers: probe.bytes / 8, nodes: probe.nodes };
}

/**
 * Bytes of a BPTT tape over `steps` steps of `batch` rows: each step keeps its values and their
 * adjoints (2 · 8 bytes per number: perRow computed, stateNumbers carried) and its nodes' overhead
 * (the probe's nodes plus the loss's few).
 */
export function tapeBytes(steps: number, batch: number, perRow: number, stateNumbers: number, nodes: number): number {
  return steps * (2 * 8 * batch * (perRow + stateNumbers) + NODE_OVERHEAD_BYTES * (nodes + 4));
}
