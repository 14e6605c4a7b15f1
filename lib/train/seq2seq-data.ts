// seq2seq data: sources in any input form of lib/train/network-data.ts (nested batch first or time
// major, flat, strings with a vocabulary, `lengths` for padding), targets a list of symbol
// sequences (class indices in [0, output.size)), one per source, each its own length (always one
// sequence per source, also when the sources are time major). A pair of N source steps and M
// target symbols becomes one stream of N + M rows (lib/arch/seq2seq.ts), columns [encode, wait,
// source, previous symbol]: [1, 0, source[t], 0] for t < N, then [0, 0, 0, previous symbol] with
// the start symbol (output.size) first; the target rows are scored, the source rows are not.
// A batch puts `wait` rows [1, 1, 0, 0] before a source shorter than the batch's longest, so
// every pair's source ends at the same step and its decoder starts at the same step.
import { ConfigError, ShapeError } from '../mat/errors.js';
import { mat } from '../mat/mat.js';
import { type Batch, type DataLayout, type NetworkData, type Prepared, NETWORK_DATA_KEYS, readInputs } from './network-data.js';

/** The source of every sequence, as the encoder's rows (length x width, phase 1), and the lengths. */
export function readSources(op: string, layout: DataLayout, inputs: unknown, batchFirst: boolean, lengths: ArrayLike<number> | undefined): { rows: Float64Array[]; lengths: Int32Array } {
  const read = readInputs(op, layout, inputs, batchFirst, lengths);
  const W = layout.width, F = layout.indices ? 1 : layout.inputs;
  const rows = read.inputs.map((s, b) => {
    const L = read.lengths[b], out = new Float64Array(L * W);
    for (let t = 0; t < L; t++) {
      out[t * W] = 1;
      if (layout.oneHot) out[t * W + 2 + s[t]] = 1;
      else for (let f = 0; f < F; f++) out[t * W + 2 + f] = s[t * F + f];
    }
    return out;
  });
  return { rows, lengths: read.lengths };
}

function readSymbols(op: string, layout: DataLayout, targets: unknown, count: number): Int32Array[] {
  const C = layout.outputs;
  if (!Array.isArray(targets)) throw new ConfigError(op, `targets (seq2seq) must be an array of symbol sequences, one per source, got ${targets === null ? 'null' : typeof targets}`);
  if (targets.length !== count) throw new ShapeError(op, `targets has ${targets.length} sequences for ${count} sources`, { found: targets.length, expected: count });
  return targets.map((seq: unknown, b) => {
    if (seq === null || typeof seq !== 'object' || typeof (seq as ArrayLike<unknown>).length !== 'number') {
      throw new ShapeError(op, `targets[${b}] must be a sequence of symbols (class indices), got ${typeof seq}`, { index: b });
    }
    const s = seq as ArrayLike<unknown>;
    if (s.length === 0) throw new ShapeError(op, `targets[${b}] is empty: the decoder needs at least one symbol to emit`, { index: b });
    const out = new Int32Array(s.length);
    for (let j = 0; j < s.length; j++) {
      const v = s[j];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= C) {
        throw new ConfigError(op, `targets[${b}][${j}] is ${String(v)}, not a symbol in [0, ${C}) (output.size ${C})`, { index: b, position: j, value: v });
      }
      out[j] = v;
    }
    return out;
  });
}

/** seq2seq data checked and made into streams (see the file comment). */
export function prepareSeq2seq(op: string, layout: DataLayout, data: NetworkData): Prepared {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(op, 'data must be { inputs, targets, batchFirst, lengths }');
  for (const k of Object.keys(data)) {
    if (!NETWORK_DATA_KEYS.includes(k)) throw new ConfigError(op, `unknown data field "${k}" (accepted: ${NETWORK_DATA_KEYS.join(', ')})`, { field: k });
  }
  const batchFirst = data.batchFirst ?? true;
  if (typeof batchFirst !== 'boolean') throw new ConfigError(op, `batchFirst must be true or false, got ${String(batchFirst)}`);
  const sources = readSources(op, layout, data.inputs, batchFirst, data.lengths);
  const count = sources.rows.length;
  if (data.targets === undefined) throw new ConfigError(op, 'data.targets is missing (needed to fit or evaluate)');
  const symbols = readSymbols(op, layout, data.targets, count);
  const W = layout.width, C = layout.outputs;
  const lengths = new Int32Array(count), inputs: Float64Array[] = [], targets: Float64Array[] = [];
  for (let b = 0; b < count; b++) {
    const N = sources.lengths[b], M = symbols[b].length, L = N + M;
    lengths[b] = L;
    // The target rows only: M x C.
    const x = new Float64Array(L * W), y = new Float64Array(M * C);
    x.set(sources.rows[b]);
    for (let j = 0; j < M; j++) {
      x[(N + j) * W + W - 1] = j === 0 ? C : symbols[b][j - 1];
      y[j * C + symbols[b][j]] = 1;
    }
    inputs.push(x); targets.push(y);
  }
  return { count, lengths, inputs, targets, labels: null, sourceLengths: sources.lengths };
}

/** The pairs `order[start, start + size)` as one time-major batch, their sources' ends aligned by wait rows (see the file comment). */
export function assembleSeq2seqBatch(layout: DataLayout, data: Prepared, order: ArrayLike<number>, start: number, size: number): Batch {
  const W = layout.width, C = layout.outputs, source = data.sourceLengths!;
  let longest = 0, steps = 0;
  for (let i = 0; i < size; i++) longest = Math.max(longest, source[order[start + i]]);
  const allLengths = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const k = order[start + i];
    allLengths[i] = longest + data.lengths[k] - source[k];
    steps = Math.max(steps, allLengths[i]);
  }
  let full = true;
  for (let i = 0; i < size; i++) if (allLengths[i] !== steps) full = false;
  const xs = mat(steps * size, W), targets = mat(steps * size, C), mask = mat(steps * size, 1);
  const x = xs.data;
  for (let i = 0; i < size; i++) {
    const k = order[start + i], N = source[k], L = data.lengths[k], pad = longest - N, rows = data.inputs[k], y = data.targets![k];
    for (let t = 0; t < pad; t++) { x[(t * size + i) * W] = 1; x[(t * size + i) * W + 1] = 1; }
    for (let t = 0; t < L; t++) x.set(rows.subarray(t * W, (t + 1) * W), ((pad + t) * size + i) * W);
    for (let j = 0; j < L - N; j++) {
      const row = (longest + j) * size + i;
      targets.data.set(y.subarray(j * C, (j + 1) * C), row * C);
      mask.data[row] = 1;
    }
  }
  return { batch: size, steps, xs, lengths: full ? null : allLengths, allLengths, targets, mask, labels: null };
}
