// Data in the shapes people have, turned into what the unroll takes: time-major matrices, a length
// per sequence (padding handled by the unroll's masks), targets and their masks.
//
// Inputs, in one of three forms (`batchFirst` says which axis comes first; default true, never
// guessed from the shapes):
//   nested, batch first:  inputs[b][t] — a list of sequences, each a list of steps; sequences may
//                         differ in length (each its own length, or lengths[b] of a padded one);
//   nested, time major:   inputs[t][b] — every step holds one entry per sequence (padded; the
//                         real lengths in `lengths`, default all of them);
//   flat:                 { data, shape } with shape [N, T, F] (batch first) or [T, N, F].
// A step is a feature vector (ArrayLike of inputSize numbers) for a network with inputSize, or
// a symbol index (an integer; the flat shape drops F) for a network with an embedding or a
// vocabulary (one-hot); with a vocabulary a sequence may also be a string.
// Targets follow the inputs' layout:
//   many-to-many: a target per step: a class index (softmax-ce), or a vector of output.size
//                 numbers (one-hot or a distribution for softmax-ce, values for mse and bce; a
//                 plain number when output.size is 1); flat [N, T] (indices) or [N, T, C];
//   many-to-one:  one target per sequence, the same kinds; flat [N] or [N, C]; the loss is taken
//                 at each sequence's last real step;
//   ctc:          one label sequence per sequence (integers in [1, output.size): 0 is the blank).
// one-to-many: one input per sequence (inputs[b] is one step: a vector or a symbol index; flat
// [N, F] or [N]), read at every step; a sequence runs as many steps as its targets have
// (many-to-many targets, each sequence its own length), or `steps` when predicting.
// seq2seq: sources as inputs above, targets a list of symbol sequences (lib/train/seq2seq-data.ts).
import { ConfigError, ShapeError } from '../mat/errors.js';
import { type Mat, mat, matFrom } from '../mat/mat.js';
import type { Vocabulary } from './vocabulary.js';

type Step = number | ArrayLike<number>;
/** Nested sequences (see the file comment; one step each, a number or a vector, for one-to-many) or a flat array with its shape. */
export type SequenceInputs = readonly (ArrayLike<Step> | string | number)[] | FlatArray;
export type SequenceTargetsInput = readonly (Step | ArrayLike<Step>)[] | FlatArray;

export interface FlatArray {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export interface NetworkData {
  inputs: SequenceInputs;
  targets?: SequenceTargetsInput;
  /** Whether the first axis is the sequence (true, the default) or the step (false). */
  batchFirst?: boolean;
  /** The real length of each sequence of padded inputs (the steps after it are never read). */
  lengths?: ArrayLike<number>;
}

export const NETWORK_DATA_KEYS = ['inputs', 'targets', 'batchFirst', 'lengths'];

/** What the data conversion needs to know of a network. */
export interface DataLayout {
  /** Symbol indices in (embedding or vocabulary), else feature vectors. */
  readonly indices: boolean;
  /** Index range (indices) or features per step (vectors). */
  readonly inputs: number;
  /** Columns a step's input occupies in xs: 1 for an embedding, else inputs (one-hot for a vocabulary without embedding). */
  readonly width: number;
  readonly oneHot: boolean;
  readonly vocabulary: Vocabulary | null;
  readonly outputs: number;
  readonly loss: 'softmax-ce' | 'mse' | 'bce' | 'ctc';
  readonly shape: 'many-to-many' | 'many-to-one' | 'one-to-many' | 'seq2seq';
}

/** Sequences checked and copied out, one per entry. */
export interface Prepared {
  readonly count: number;
  readonly lengths: Int32Array;
  /** Per sequence: length x 1 indices or length x inputs features, row-major. */
  readonly inputs: Float64Array[];
  /** Per sequence: length x outputs (many-to-many) or outputs (many-to-one) target values; null without targets, for ctc, or when `classes` holds them. */
  readonly targets: Float64Array[] | null;
  /**
   * softmax-ce with every target a class index: per sequence its classes (length of them, or one
   * for many-to-one), kept as indices (4 bytes a step instead of 8·outputs) and written as one-hot
   * rows only into each batch (`oneHotRows`).
   */
  readonly classes?: Int32Array[] | null;
  /** The one-hot target rows of the latest batch built from `classes`: reused by the next batch, grown when it needs more. */
  oneHotRows?: Float64Array;
  /** ctc: each sequence's labels. */
  readonly labels: Int32Array[] | null;
  /** seq2seq: each pair's source steps (the first of its rows; its targets are then the other rows'; lib/train/seq2seq-data.ts batches these). */
  readonly sourceLengths?: Int32Array;
}

/** One batch as the unroll takes it. */
export interface Batch {
  readonly batch: number;
  readonly steps: number;
  /** (steps·batch) x width, time-major; padding zero. */
  readonly xs: Mat;
  /** null when every sequence runs every step. */
  readonly lengths: Int32Array | null;
  readonly allLengths: Int32Array;
  /** (steps·batch) x outputs and the 0/1 mask of the rows that have a target (null: all). */
  readonly targets: Mat | null;
  readonly mask: Mat | null;
  readonly labels: Int32Array[] | null;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object' && 'length' in (v as object)) return `an array of ${(v as ArrayLike<unknown>).length}`;
  return typeof v;
}

const isArrayLike = (v: unknown): v is ArrayLike<unknown> =>
  v !== null && typeof v === 'object' && typeof (v as { length?: unknown }).length === 'number';
const isFlat = (v: unknown): v is FlatArray =>
  v !== null && typeof v === 'object' && !isArrayLike(v) && 'data' in (v as object) && 'shape' in (v as object);

function checkFlat(op: string, name: string, f: FlatArray, ranks: readonly number[]): number[] {
  const { data, shape } = f;
  if (!isArrayLike(data) || !Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new ShapeError(op, `${name} must be { data: an array of numbers, shape: an array of sizes }`, { name });
  }
  if (!ranks.includes(shape.length)) throw new ShapeError(op, `${name}.shape is [${shape.join(', ')}], needs ${ranks.join(' or ')} dimensions here`, { name, shape });
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new ShapeError(op, `${name}.data holds ${data.length} numbers but shape [${shape.join(', ')}] needs ${n}`, { name, shape });
  return shape.slice();
}

/**
 * Checks inputs (and targets when `withTargets`) against a network and copies them out per
 * sequence. Errors name the argument and the entry: `fit: inputs[2][5] has 4 features, the network takes 3`.
 */
export function prepareData(op: string, layout: DataLayout, data: NetworkData, withTargets: boolean, steps?: number): Prepared {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(op, `data must be { inputs, targets, batchFirst, lengths }, got ${show(data)}`);
  for (const k of Object.keys(data)) {
    if (!NETWORK_DATA_KEYS.includes(k)) throw new ConfigError(op, `unknown data field "${k}" (accepted: ${NETWORK_DATA_KEYS.join(', ')})`, { field: k });
  }
  const batchFirst = data.batchFirst ?? true;
  if (typeof batchFirst !== 'boolean') throw new ConfigError(op, `batchFirst must be true or false, got ${show(batchFirst)}`);
  if (layout.shape === 'one-to-many') return prepareOneToMany(op, layout, data, batchFirst, withTargets, steps);
  const { inputs, lengths: given } = readInputs(op, layout, data.inputs, batchFirst, data.lengths);
  const count = inputs.length;
  if (!withTargets) return { count, lengths: given, inputs, targets: null, labels: null };
  if (data.targets === undefined) throw new ConfigError(op, 'data.targets is missing (needed to fit or evaluate)');
  if (layout.loss === 'ctc') return { count, lengths: given, inputs, targets: null, labels: readLabels(op, layout, data.targets, count) };
  return { count, lengths: given, inputs, ...readTargets(op, layout, data.targets, batchFirst, given, data.lengths !== undefined), labels: null };
}

// ---- one-to-many ----

function prepareOneToMany(op: string, layout: DataLayout, data: NetworkData, batchFirst: boolean, withTargets: boolean, steps: number | undefined): Prepared {
  if (data.lengths !== undefined) throw new ConfigError(op, 'lengths do not apply to one-to-many data: each sequence runs as many steps as its targets have', { field: 'lengths' });
  // One step per sequence, read as a batch of sequences of one step.
  const raw = data.inputs;
  let oneStep: SequenceInputs = raw;
  if (isFlat(raw)) {
    const shape = checkFlat(op, 'inputs', raw, [layout.indices ? 1 : 2]);
    oneStep = { data: raw.data, shape: [shape[0], 1, ...shape.slice(1)] };
  } else if (Array.isArray(raw)) {
    oneStep = raw.map((x) => [x as Step] as ArrayLike<Step>);
  }
  let first: Float64Array[];
  try {
    first = readInputs(op, layout, oneStep, true, undefined).inputs;
  } catch (e) {
    // The per-step names readInputs gives (inputs[b][0]) are inputs[b] here.
    if (e instanceof ShapeError || e instanceof ConfigError) {
      const Kind = e instanceof ShapeError ? ShapeError : ConfigError;
      throw new Kind(op, e.message.slice(op.length + 2).replace(/inputs\[(\d+)\]\[0\]/g, 'inputs[$1]'), e.details);
    }
    throw e;
  }
  const count = first.length;
  const lengths = new Int32Array(count);
  if (withTargets) {
    const t = data.targets;
    if (t === undefined) throw new ConfigError(op, 'data.targets is missing (needed to fit or evaluate)');
    for (let b = 0; b < count; b++) lengths[b] = targetSteps(op, t, b, count, batchFirst);
  } else {
    if (steps === undefined) throw new ConfigError(op, 'a one-to-many network needs steps (how many outputs to make per sequence)', { option: 'steps' });
    lengths.fill(steps);
  }
  const inputs = first.map((x, b) => {
    const out = new Float64Array(lengths[b] * x.length);
    for (let t = 0; t < lengths[b]; t++) out.set(x, t * x.length);
    return out;
  });
  const targets = withTargets ? readTargets(op, layout, data.targets, batchFirst, lengths, false) : { targets: null, classes: null };
  return { count, lengths, inputs, ...targets, labels: null };
}

/** Steps of sequence b's targets (one-to-many: they set its length). */
function targetSteps(op: string, targets: unknown, b: number, count: number, batchFirst: boolean): number {
  let n: number;
  if (isFlat(targets)) {
    const shape = checkFlat(op, 'targets', targets, [2, 3]);
    n = batchFirst ? shape[1] : shape[0];
  } else if (Array.isArray(targets)) {
    if (!batchFirst) n = targets.length;
    else {
      if (targets.length !== count) throw new ShapeError(op, `targets has ${targets.length} sequences, inputs has ${count}`, { found: targets.length, expected: count });
      const seq = targets[b];
      if (!isArrayLike(seq)) throw new ShapeError(op, `targets[${b}] must be a sequence of per-step targets, got ${show(seq)}`, { index: b });
      n = seq.length;
    }
  } else {
    throw new ConfigError(op, `targets must be an array or { data, shape }, got ${show(targets)}`);
  }
  if (n < 1) throw new ShapeError(op, `targets[${b}] has no steps`, { index: b });
  return n;
}

// ---- inputs ----

/** Reads inputs in any of the forms of the file comment: per sequence length x (1 or features), and the lengths. */
export function readInputs(op: string, layout: DataLayout, inputs: unknown, batchFirst: boolean, lengthsIn: ArrayLike<number> | undefined): { inputs: Float64Array[]; lengths: Int32Array } {
  const F = layout.indices ? 1 : layout.inputs;
  let count: number, padded: (b: number) => number, at: (b: number, t: number) => unknown;
  let flatData: ArrayLike<number> | null = null, flatShape: number[] = [];
  if (isFlat(inputs)) {
    flatShape = checkFlat(op, 'inputs', inputs, [layout.indices ? 2 : 3]);
    if (!layout.indices && flatShape[2] !== F) throw new ShapeError(op, `inputs.shape is [${flatShape.join(', ')}]: ${flatShape[2]} features per step, the network takes ${F}`, { shape: flatShape, expected: F });
    flatData = inputs.data;
    count = batchFirst ? flatShape[0] : flatShape[1];
    const T = batchFirst ? flatShape[1] : flatShape[0];
    padded = () => T;
    at = () => null;
  } else if (Array.isArray(inputs)) {
    if (batchFirst) {
      count = inputs.length;
      const seqs = inputs.map((s, b) => {
        if (typeof s === 'string') {
          if (layout.vocabulary === null) throw new ConfigError(op, `inputs[${b}] is a string, but the network has no vocabulary`, { index: b });
          return layout.vocabulary.encode(s);
        }
        if (!isArrayLike(s)) throw new ShapeError(op, `inputs[${b}] must be a sequence (an array of steps), got ${show(s)}`, { index: b });
        return s;
      });
      padded = (b) => seqs[b].length;
      at = (b, t) => seqs[b][t];
    } else {
      const T = inputs.length;
      if (T === 0) throw new ShapeError(op, 'inputs (time major) has no steps');
      const rows = inputs.map((r, t) => {
        if (!isArrayLike(r)) throw new ShapeError(op, `inputs[${t}] (time major: step ${t}) must be an array of one entry per sequence, got ${show(r)}`, { step: t });
        return r as ArrayLike<unknown>;
      });
      count = rows[0].length;
      rows.forEach((r, t) => {
        if (r.length !== count) throw new ShapeError(op, `inputs[${t}] (time major) has ${r.length} sequences, inputs[0] has ${count}`, { step: t });
      });
      padded = () => T;
      at = (b, t) => rows[t][b];
    }
  } else {
    throw new ConfigError(op, `inputs must be an array of sequences or { data, shape }, got ${show(inputs)}`);
  }
  if (count === 0) throw new ShapeError(op, 'inputs holds no sequence');
  let lengths: Int32Array;
  if (lengthsIn !== undefined) {
    if (!isArrayLike(lengthsIn) || lengthsIn.length !== count) throw new ShapeError(op, `lengths has ${isArrayLike(lengthsIn) ? lengthsIn.length : show(lengthsIn)} entries for ${count} sequences`, { count });
    lengths = new Int32Array(count);
    for (let b = 0; b < count; b++) {
      const n = lengthsIn[b];
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(op, `lengths[${b}] must be an integer >= 1, got ${show(n)}`, { index: b, value: n });
      if (n > padded(b)) throw new ShapeError(op, `lengths[${b}] is ${n}, longer than the padded sequence inputs[${b}] of ${padded(b)} steps`, { index: b, length: n, padded: padded(b) });
      lengths[b] = n;
    }
  } else {
    lengths = new Int32Array(count);
    for (let b = 0; b < count; b++) {
      lengths[b] = padded(b);
      if (lengths[b] === 0) throw new ShapeError(op, `inputs[${b}] is an empty sequence`, { index: b });
    }
  }
  const out: Float64Array[] = new Array<Float64Array>(count);
  for (let b = 0; b < count; b++) {
    const L = lengths[b], seq = new Float64Array(L * F);
    for (let t = 0; t < L; t++) {
      if (flatData !== null) {
        const T = batchFirst ? flatShape[1] : flatShape[0];
        const base = (batchFirst ? b * T + t : t * count + b) * F;
        for (let f = 0; f < F; f++) seq[t * F + f] = flatData[base + f];
        if (layout.indices) checkIndex(op, `inputs.data (sequence ${b}, step ${t})`, seq[t], layout.inputs);
        else for (let f = 0; f < F; f++) checkFinite(op, `inputs.data (sequence ${b}, step ${t}, feature ${f})`, seq[t * F + f]);
        continue;
      }
      const name = batchFirst ? `inputs[${b}][${t}]` : `inputs[${t}][${b}]`;
      const v = at(b, t);
      if (layout.indices) {
        seq[t] = checkIndex(op, name, v, layout.inputs);
      } else {
        if (!isArrayLike(v)) throw new ShapeError(op, `${name} must be a vector of ${F} features, got ${show(v)}`, { name });
        if (v.length !== F) throw new ShapeError(op, `${name} has ${v.length} features, the network takes ${F}`, { name, found: v.length, expected: F });
        for (let f = 0; f < F; f++) seq[t * F + f] = checkFinite(op, `${name}[${f}]`, (v as ArrayLike<unknown>)[f]);
      }
    }
    out[b] = seq;
  }
  return { inputs: out, lengths };
}

function checkIndex(op: string, name: string, v: unknown, range: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(op, `${name} must be a symbol index (an integer in [0, ${range})), got ${show(v)}`, { name, value: v });
  if (v < 0 || v >= range) throw new ConfigError(op, `${name} is symbol ${v}, outside [0, ${range})`, { name, value: v, range });
  return v;
}

function checkFinite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(op, `${name} must be a finite number, got ${show(v)}`, { name, value: v });
  return v;
}

// ---- targets ----

/** Writes one target (class index or vector) into out at offset; `name` for errors. */
function writeTarget(op: string, layout: DataLayout, name: string, v: unknown, out: Float64Array, offset: number): void {
  const C = layout.outputs;
  if (typeof v === 'number') {
    if (layout.loss === 'softmax-ce') {
      if (!Number.isInteger(v) || v < 0 || v >= C) throw new ConfigError(op, `${name} is class ${v}, outside [0, ${C}) (output.size ${C})`, { name, value: v, classes: C });
      out[offset + v] = 1;
      return;
    }
    if (C !== 1) throw new ShapeError(op, `${name} is a number, but the network has ${C} outputs: give a vector of ${C} (class indices are for softmax-ce)`, { name, expected: C });
    out[offset] = checkFinite(op, name, v);
    return;
  }
  if (!isArrayLike(v)) throw new ShapeError(op, `${name} must be ${layout.loss === 'softmax-ce' ? 'a class index or ' : ''}a vector of ${C} numbers, got ${show(v)}`, { name });
  if (v.length !== C) throw new ShapeError(op, `${name} has ${v.length} values, the network has ${C} outputs`, { name, found: v.length, expected: C });
  for (let c = 0; c < C; c++) out[offset + c] = checkFinite(op, `${name}[${c}]`, (v as ArrayLike<unknown>)[c]);
}

/** Thrown by writeClass at the first target that is not a number: read the targets again as rows. */
const NOT_A_CLASS = Symbol('not a class index');

/** Writes one class index into out[step] (the checks and messages of writeTarget for a softmax-ce index). */
function writeClass(op: string, layout: DataLayout, name: string, v: unknown, out: Int32Array, step: number): void {
  if (typeof v !== 'number') throw NOT_A_CLASS;
  const C = layout.outputs;
  if (!Number.isInteger(v) || v < 0 || v >= C) throw new ConfigError(op, `${name} is class ${v}, outside [0, ${C}) (output.size ${C})`, { name, value: v, classes: C });
  out[step] = v;
}

/**
 * Targets per sequence: for softmax-ce with every target a class index, the indices (`classes`);
 * else the rows of values (`targets`). A pass as indices stops at the first target that is not a
 * number and the targets are read again as rows, so errors are the same either way.
 */
function readTargets(op: string, layout: DataLayout, targets: unknown, batchFirst: boolean, lengths: Int32Array, padded: boolean): { targets: Float64Array[] | null; classes: Int32Array[] | null } {
  if (layout.loss === 'softmax-ce') {
    try {
      return { targets: null, classes: readTargetsAs(true, op, layout, targets, batchFirst, lengths, padded) as Int32Array[] };
    } catch (e) {
      if (e !== NOT_A_CLASS) throw e;
    }
  }
  return { targets: readTargetsAs(false, op, layout, targets, batchFirst, lengths, padded) as Float64Array[], classes: null };
}

// `asClasses`: per sequence an Int32Array of one class a step (writeClass), else one row of outputs a step (writeTarget).
// `padded`: lengths were given, so a sequence of targets may run past its length (padding); without
// them a sequence's targets must have exactly its inputs' steps.
function readTargetsAs(asClasses: boolean, op: string, layout: DataLayout, targets: unknown, batchFirst: boolean, lengths: Int32Array, padded: boolean): (Float64Array | Int32Array)[] {
  const count = lengths.length, C = layout.outputs;
  const out: (Float64Array | Int32Array)[] = new Array<Float64Array | Int32Array>(count);
  const alloc = (steps: number) => (asClasses ? new Int32Array(steps) : new Float64Array(steps * C));
  const write = (name: string, v: unknown, seq: Float64Array | Int32Array, step: number) => {
    if (asClasses) writeClass(op, layout, name, v, seq as Int32Array, step);
    else writeTarget(op, layout, name, v, seq as Float64Array, step * C);
  };
  if (layout.shape === 'many-to-one') {
    if (isFlat(targets)) {
      const shape = checkFlat(op, 'targets', targets, [1, 2]);
      if (shape[0] !== count) throw new ShapeError(op, `targets.shape is [${shape.join(', ')}] for ${count} sequences`, { shape, count });
      if (shape.length === 2 && shape[1] !== C) throw new ShapeError(op, `targets.shape is [${shape.join(', ')}]: ${shape[1]} values per sequence, the network has ${C} outputs`, { shape, expected: C });
      for (let b = 0; b < count; b++) {
        out[b] = alloc(1);
        if (shape.length === 1) write(`targets.data[${b}]`, targets.data[b], out[b], 0);
        else write(`targets.data[${b}]`, Array.prototype.slice.call(targets.data, b * C, (b + 1) * C), out[b], 0);
      }
      return out;
    }
    if (!Array.isArray(targets)) throw new ConfigError(op, `targets must be an array (one per sequence) or { data, shape }, got ${show(targets)}`);
    if (targets.length !== count) throw new ShapeError(op, `targets has ${targets.length} entries for ${count} sequences (many-to-one: one target per sequence)`, { found: targets.length, expected: count });
    for (let b = 0; b < count; b++) {
      out[b] = alloc(1);
      write(`targets[${b}]`, targets[b], out[b], 0);
    }
    return out;
  }
  // many-to-many: a target at every real step.
  if (isFlat(targets)) {
    const shape = checkFlat(op, 'targets', targets, [2, 3]);
    const N = batchFirst ? shape[0] : shape[1], T = batchFirst ? shape[1] : shape[0];
    if (N !== count) throw new ShapeError(op, `targets.shape is [${shape.join(', ')}] for ${count} sequences`, { shape, count });
    if (shape.length === 3 && shape[2] !== C) throw new ShapeError(op, `targets.shape is [${shape.join(', ')}]: ${shape[2]} values per step, the network has ${C} outputs`, { shape, expected: C });
    const per = shape.length === 3 ? C : 1;
    for (let b = 0; b < count; b++) {
      const L = lengths[b];
      if (L > T) throw new ShapeError(op, `targets cover ${T} steps, sequence ${b} has ${L}`, { index: b });
      out[b] = alloc(L);
      for (let t = 0; t < L; t++) {
        const base = (batchFirst ? b * T + t : t * count + b) * per;
        const v = per === 1 ? targets.data[base] : Array.prototype.slice.call(targets.data, base, base + C);
        write(`targets.data (sequence ${b}, step ${t})`, v, out[b], t);
      }
    }
    return out;
  }
  if (!Array.isArray(targets)) throw new ConfigError(op, `targets must be an array or { data, shape }, got ${show(targets)}`);
  if (batchFirst) {
    if (targets.length !== count) throw new ShapeError(op, `targets has ${targets.length} sequences, inputs has ${count}`, { found: targets.length, expected: count });
  } else {
    const T = Math.max(...lengths);
    if (targets.length < T) throw new ShapeError(op, `targets (time major) has ${targets.length} steps, the inputs have ${T}`, { found: targets.length, expected: T });
  }
  for (let b = 0; b < count; b++) {
    const L = lengths[b];
    out[b] = alloc(L);
    const seq = batchFirst ? targets[b] : null;
    if (batchFirst && !isArrayLike(seq)) throw new ShapeError(op, `targets[${b}] must be a sequence of per-step targets, got ${show(seq)}`, { index: b });
    const steps = seq === null ? L : (seq as ArrayLike<unknown>).length;
    if (steps < L || (!padded && steps !== L)) throw new ShapeError(op, `targets[${b}] has ${steps} steps, inputs[${b}] has ${L}`, { index: b, found: steps, expected: L });
    for (let t = 0; t < L; t++) {
      let v: unknown;
      if (batchFirst) v = (seq as ArrayLike<unknown>)[t];
      else {
        const row = targets[t];
        if (!isArrayLike(row) || row.length !== count) throw new ShapeError(op, `targets[${t}] (time major) must hold one target per sequence (${count}), got ${show(row)}`, { step: t });
        v = (row as ArrayLike<unknown>)[b];
      }
      write(batchFirst ? `targets[${b}][${t}]` : `targets[${t}][${b}]`, v, out[b], t);
    }
  }
  return out;
}

function readLabels(op: string, layout: DataLayout, targets: unknown, count: number): Int32Array[] {
  if (!Array.isArray(targets)) throw new ConfigError(op, `targets (ctc) must be an array of label sequences, got ${show(targets)}`);
  if (targets.length !== count) throw new ShapeError(op, `targets has ${targets.length} label sequences for ${count} sequences`, { found: targets.length, expected: count });
  const C = layout.outputs;
  return targets.map((labels, b) => {
    if (!isArrayLike(labels)) throw new ShapeError(op, `targets[${b}] must be a label sequence, got ${show(labels)}`, { index: b });
    const out = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const v = (labels as ArrayLike<unknown>)[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v >= C) {
        throw new ConfigError(op, `targets[${b}][${i}] is label ${show(v)}, outside [1, ${C}) (0 is the blank)`, { index: b, position: i, value: v });
      }
      out[i] = v;
    }
    return out;
  });
}

// ---- batches ----

/** The sequences `order[start, start + size)` as one time-major batch, padded with zeros. */
export function assembleBatch(layout: DataLayout, data: Prepared, order: ArrayLike<number>, start: number, size: number): Batch {
  const { width, outputs: C } = layout;
  let steps = 0, full = true;
  const allLengths = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    allLengths[i] = data.lengths[order[start + i]];
    steps = Math.max(steps, allLengths[i]);
  }
  for (let i = 0; i < size; i++) if (allLengths[i] !== steps) full = false;
  const xs = mat(steps * size, width);
  const x = xs.data;
  for (let i = 0; i < size; i++) {
    const s = data.inputs[order[start + i]], L = allLengths[i];
    if (layout.oneHot) {
      for (let t = 0; t < L; t++) x[(t * size + i) * width + s[t]] = 1;
    } else {
      for (let t = 0; t < L; t++) x.set(s.subarray(t * width, (t + 1) * width), (t * size + i) * width);
    }
  }
  let targets: Mat | null = null, mask: Mat | null = null;
  const classes = data.classes ?? null;
  if (classes !== null) {
    // One-hot rows of this batch only, in the buffer the previous batch used (zeroed first).
    const rows = steps * size, need = rows * C;
    let buffer = data.oneHotRows;
    if (buffer === undefined || buffer.length < need) buffer = data.oneHotRows = mat(rows, C).data;
    else buffer.fill(0, 0, need);
    targets = matFrom(rows, C, buffer);
    const many = layout.shape !== 'many-to-one';
    if (!full || !many) mask = mat(rows, 1);
    for (let i = 0; i < size; i++) {
      const k = classes[order[start + i]], L = allLengths[i];
      if (many) {
        for (let t = 0; t < L; t++) buffer[(t * size + i) * C + k[t]] = 1;
        if (mask !== null) for (let t = 0; t < L; t++) mask.data[t * size + i] = 1;
      } else {
        buffer[((L - 1) * size + i) * C + k[0]] = 1;
        mask!.data[(L - 1) * size + i] = 1;
      }
    }
  } else if (data.targets !== null) {
    targets = mat(steps * size, C);
    const many = layout.shape !== 'many-to-one';
    if (!full || !many) mask = mat(steps * size, 1);
    for (let i = 0; i < size; i++) {
      const tgt = data.targets[order[start + i]], L = allLengths[i];
      if (many) {
        for (let t = 0; t < L; t++) targets.data.set(tgt.subarray(t * C, (t + 1) * C), (t * size + i) * C);
        if (mask !== null) for (let t = 0; t < L; t++) mask.data[t * size + i] = 1;
      } else {
        targets.data.set(tgt, ((L - 1) * size + i) * C);
        mask!.data[(L - 1) * size + i] = 1;
      }
    }
  }
  const labels = data.labels === null ? null : Array.from({ length: size }, (_, i) => data.labels![order[start + i]]);
  return { batch: size, steps, xs, lengths: full ? null : allLengths, allLengths, targets, mask, labels };
}

/** Bytes of the typed arrays prepared data holds for the whole data set (not the one batch's `oneHotRows`). */
export function preparedBytes(data: Prepared): number {
  let bytes = data.lengths.byteLength + (data.sourceLengths?.byteLength ?? 0);
  for (const list of [data.inputs, data.targets, data.classes ?? null, data.labels]) {
    if (list !== null) for (const a of list) bytes += a.byteLength;
  }
  return bytes;
}
