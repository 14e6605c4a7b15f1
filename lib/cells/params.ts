// A cell's parameters live in one flat Float64Array theta, each named matrix a
// view into it. theta is what RTRL differentiates (its P directions), what an
// optimiser updates and what a checkpoint saves; the views are what cells use.
import { type Mat, matFrom } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

/**
 * What a parameter is for: a weight matrix (decayed and penalised), a bias, or a learned
 * initial state (both spared by weightMask). Names are for PyTorch; decisions use the role.
 */
export type ParamRole = 'weight' | 'bias' | 'initial';

export interface ParamSpec {
  /** PyTorch-style name without the layer suffix: weight_ih, weight_hh, bias_ih, ... */
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly role: ParamRole;
}

export interface Params {
  readonly specs: readonly ParamSpec[];
  /** All parameters, row-major, concatenated in the order of specs. */
  readonly theta: Float64Array;
  /** Views into theta, in the order of specs. */
  readonly mats: readonly Mat[];
  /** Offset of each parameter in theta. */
  readonly offsets: readonly number[];
}

export function createParams(specs: readonly ParamSpec[], theta?: Float64Array): Params {
  const offsets: number[] = [];
  let total = 0;
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new ConfigError('createParams', `parameter "${s.name}" appears twice`, { name: s.name });
    names.add(s.name);
    if (!Number.isInteger(s.rows) || !Number.isInteger(s.cols) || s.rows < 1 || s.cols < 1) {
      throw new ShapeError('createParams', `parameter "${s.name}" has shape ${s.rows}x${s.cols}`, { name: s.name, shape: [s.rows, s.cols] });
    }
    if (s.role !== 'weight' && s.role !== 'bias' && s.role !== 'initial') {
      throw new ConfigError('createParams', `parameter "${s.name}" has role ${JSON.stringify(s.role)}, not weight, bias or initial`, { name: s.name, role: s.role });
    }
    offsets.push(total);
    total += s.rows * s.cols;
  }
  if (theta !== undefined && theta.length !== total) {
    throw new ShapeError('createParams', `theta has ${theta.length} numbers but the parameters need ${total}`, { found: theta.length, expected: total });
  }
  const data = theta ?? new Float64Array(total);
  const mats = specs.map((s, i) => matFrom(s.rows, s.cols, data, offsets[i]));
  return { specs, theta: data, mats, offsets };
}

export function paramIndex(params: Params, name: string): number {
  const i = params.specs.findIndex((s) => s.name === name);
  if (i < 0) throw new ConfigError('params', `no parameter named "${name}" (have ${params.specs.map((s) => s.name).join(', ')})`, { name, have: params.specs.map((s) => s.name) });
  return i;
}

export function param(params: Params, name: string): Mat {
  return params.mats[paramIndex(params, name)];
}

/** A part of a chain: it reads inputSize features and emits outputSize. */
export interface ChainPart {
  readonly kind: string;
  readonly inputSize: number;
  readonly outputSize: number;
}

/**
 * Checks that parts (layers, levels) form a chain, each reading what the one below emits:
 * `op: layer 1 (gru) takes 5 inputs but layer 0 (lstm) emits 4`.
 */
export function checkChain(op: string, parts: readonly ChainPart[], noun: string, unit: string): void {
  if (parts.length === 0) throw new ConfigError(op, `needs at least one ${noun}`, { noun });
  for (let l = 1; l < parts.length; l++) {
    const part = parts[l], below = parts[l - 1];
    if (part.inputSize !== below.outputSize) {
      throw new ShapeError(op, `${noun} ${l} (${part.kind}) takes ${part.inputSize} ${unit} but ${noun} ${l - 1} (${below.kind}) emits ${below.outputSize}`, { index: l, takes: part.inputSize, emits: below.outputSize });
    }
  }
}

/** Initialises each part's slice of mats (parts laid out as joinParamSpecs lays them). */
export function initParts(
  parts: readonly { init(mats: readonly Mat[], rng: Rng): void }[], starts: readonly number[], mats: readonly Mat[], rng: Rng,
): void {
  parts.forEach((part, i) => part.init(mats.slice(starts[i], starts[i + 1]), rng));
}

/**
 * The parameters of parts laid end to end (a stack of layers): every part's specs renamed by
 * `rename(name, part)` (shape and role kept), and where each part's parameters start (length parts + 1).
 */
export function joinParamSpecs(
  parts: readonly { readonly paramSpecs: readonly ParamSpec[] }[], rename: (name: string, part: number) => string,
): { specs: ParamSpec[]; starts: number[] } {
  const specs: ParamSpec[] = [], starts: number[] = [0];
  parts.forEach((part, i) => {
    for (const s of part.paramSpecs) specs.push({ ...s, name: rename(s.name, i) });
    starts.push(specs.length);
  });
  return { specs, starts };
}

/** A copy with its own theta. */
export function cloneParams(params: Params): Params {
  return createParams(params.specs, params.theta.slice());
}
