// A model described as data, so that it can cross a thread boundary: a worker cannot receive a
// cell (its step is a closure), but it can rebuild the same cell from its kind and options. The
// description covers the cells of the registry, stacked in layers (with seeded dropout between
// them: a shard of the batch draws the whole batch's masks and keeps its rows, CellMasks in
// lib/cells/cell.ts), each layer optionally a bidirectional pair, an
// embedding of symbol indices under them, a dense readout at every step on top, and the
// initial-state rules 'zero' and 'learned' (a fixed initial state is not described). The layers
// are built as the network API builds them (lib/train/network-build.ts), the same parameters in
// the same order.
import type { Cell } from '../cells/cell.js';
import { bidirectional } from '../arch/bidirectional.js';
import { withEmbedding } from '../arch/embedding.js';
import { type StackedOptions, stacked } from '../arch/stacked.js';
import { withReadout } from '../arch/readout.js';
import { seq2seqCell } from '../arch/seq2seq.js';
import { type CellKind, type CellOptions, createCell, isCellKind, CELL_KINDS } from '../cells/registry.js';
import { ConfigError } from '../mat/errors.js';
import { checkInt, checkKeys } from '../mat/options.js';
import { type RecurrentModel, createModel } from '../rnn/model.js';

export interface ModelSpec {
  /** A cell of the registry (lib/cells/registry.ts) and its options (those of the first layer). */
  cell: { kind: CellKind; options: CellOptions };
  /** Layers of that cell, stacked (default 1): layer l > 0 reads the output of layer l - 1. */
  layers?: number;
  /** Each layer a bidirectional pair (default false): the model reads the whole sequence (BPTT only). */
  bidirectional?: boolean;
  /** Symbol indices in: an embedding of vocabSize rows under the layers (its size is the cell's inputSize). */
  embedding?: { vocabSize: number };
  /** Outputs of a dense readout at every step (withReadout); absent: the cell's own output. */
  readout?: number;
  /** 'zero' (default) or 'learned'. */
  initialState?: 'zero' | 'learned';
  /** Dropout of probability p in [0, 1) on the inputs of the layers above the first, its masks seeded by seed (default 0). */
  dropout?: { p: number; seed?: number };
  /**
   * Sequence to sequence (lib/arch/seq2seq.ts): the layers (and embedding) above are the encoder;
   * the decoder is the same layers over an embedding, of embeddingSize, of the readout's symbols
   * plus a start symbol, under the readout (required). Not with dropout: the two halves' masks are
   * two streams, which a shard cannot be given.
   */
  seq2seq?: { embeddingSize: number };
}

/**
 * `layers` cells of a kind, stacked bottom first (layer l > 0 reads layer l - 1's output), each a
 * bidirectional pair when `both`: one plain cell when there is one layer and one direction. The
 * network API builds its layers with it too (lib/train/network-build.ts), so a network and its
 * spec have the same parameters in the same order.
 */
export function recurrentLayers(kind: CellKind, options: CellOptions, layers: number, both: boolean, stack: StackedOptions = {}): Cell {
  const built: Cell[] = [];
  for (let l = 0; l < layers; l++) {
    const layer = createCell(kind, l === 0 ? options : { ...options, inputSize: built[l - 1].outputSize });
    built.push(both ? bidirectional(layer) : layer);
  }
  return layers === 1 && !both ? built[0] : stacked(built, stack);
}

// The spec of every model modelFromSpec made, so that a threaded method can send it to workers.
const specs = new WeakMap<RecurrentModel, ModelSpec>();

/** The spec a model was made from (modelFromSpec), or null: a model that cannot cross to a worker. */
export function specOf(model: RecurrentModel): ModelSpec | null {
  return specs.get(model) ?? null;
}

/**
 * Builds the model a spec describes: over theta when given (a view: theta is not copied), else
 * initialised as createModel does from `seed` (default 0). The model remembers its spec (specOf).
 */
export function modelFromSpec(spec: ModelSpec, theta?: Float64Array | { seed?: number }): RecurrentModel {
  const op = 'modelFromSpec';
  if (spec === null || typeof spec !== 'object') throw new ConfigError(op, `a model spec is an object { cell, layers?, bidirectional?, embedding?, readout?, initialState?, dropout?, seq2seq? }, got ${String(spec)}`);
  checkKeys(op, spec, ['cell', 'layers', 'bidirectional', 'embedding', 'readout', 'initialState', 'dropout', 'seq2seq']);
  const cellSpec = spec.cell as unknown;
  if (cellSpec === null || typeof cellSpec !== 'object') throw new ConfigError(op, 'cell must be { kind, options }', { cell: cellSpec });
  checkKeys(`${op} cell`, cellSpec, ['kind', 'options']);
  const { kind, options } = cellSpec as ModelSpec['cell'];
  if (!isCellKind(kind)) throw new ConfigError(op, `unknown cell ${JSON.stringify(kind)} (one of ${CELL_KINDS.join(', ')})`, { kind });
  const initialState = spec.initialState ?? 'zero';
  if (initialState !== 'zero' && initialState !== 'learned') {
    throw new ConfigError(op, `initialState must be 'zero' or 'learned' (a fixed state cannot be described here), got ${JSON.stringify(initialState)}`, { initialState });
  }
  const layers = spec.layers === undefined ? 1 : checkInt(op, 'layers', spec.layers);
  if (spec.bidirectional !== undefined && typeof spec.bidirectional !== 'boolean') throw new ConfigError(op, `bidirectional must be true or false, got ${String(spec.bidirectional)}`, { bidirectional: spec.bidirectional });
  const stack: StackedOptions = {};
  if (spec.dropout !== undefined) {
    const d = spec.dropout as unknown;
    if (d === null || typeof d !== 'object') throw new ConfigError(op, 'dropout must be { p, seed? }', { dropout: d });
    checkKeys(`${op} dropout`, d, ['p', 'seed']);
    const { p, seed } = d as { p: unknown; seed?: unknown };
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ConfigError(op, `dropout.p must be a number in [0, 1), got ${String(p)}`, { p });
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed))) throw new ConfigError(op, `dropout.seed must be a safe integer, got ${String(seed)}`, { seed });
    stack.dropout = p;
    if (seed !== undefined) stack.seed = seed;
  }
  const both = spec.bidirectional === true;
  let cell = recurrentLayers(kind, options, layers, both, stack);
  if (spec.embedding !== undefined) {
    if (spec.embedding === null || typeof spec.embedding !== 'object') throw new ConfigError(op, 'embedding must be { vocabSize }', { embedding: spec.embedding });
    checkKeys(`${op} embedding`, spec.embedding, ['vocabSize']);
    cell = withEmbedding(cell, checkInt(op, 'embedding.vocabSize', spec.embedding.vocabSize));
  }
  if (spec.seq2seq !== undefined) {
    const s2s = spec.seq2seq as unknown;
    if (s2s === null || typeof s2s !== 'object') throw new ConfigError(op, 'seq2seq must be { embeddingSize }', { seq2seq: s2s });
    checkKeys(`${op} seq2seq`, s2s, ['embeddingSize']);
    if (spec.readout === undefined) throw new ConfigError(op, 'seq2seq needs readout: the number of target symbols the decoder scores');
    if (spec.dropout !== undefined && spec.dropout.p > 0) throw new ConfigError(op, 'seq2seq with dropout cannot be described: its encoder\'s and decoder\'s masks are two streams, which a shard of the batch cannot be given', { dropout: spec.dropout.p });
    const embeddingSize = checkInt(op, 'seq2seq.embeddingSize', (s2s as { embeddingSize: unknown }).embeddingSize);
    const symbols = checkInt(op, 'readout', spec.readout);
    // As the network API builds it (lib/train/network-build.ts seq2seqParts): the decoder reads its embedded previous symbol.
    const decoder = withReadout(withEmbedding(recurrentLayers(kind, { ...options, inputSize: embeddingSize }, layers, both), symbols + 1), symbols);
    cell = seq2seqCell(cell, decoder, spec.embedding !== undefined ? 1 : cell.inputSize);
  } else if (spec.readout !== undefined) cell = withReadout(cell, checkInt(op, 'readout', spec.readout));
  let model: RecurrentModel;
  if (theta instanceof Float64Array) model = createModel(cell, { initialState, theta });
  else {
    if (theta !== undefined) checkKeys(op, theta, ['seed']);
    model = createModel(cell, theta?.seed === undefined ? { initialState } : { initialState, seed: theta.seed });
  }
  // A copy: later changes to the caller's object do not change what the model says it is.
  specs.set(model, JSON.parse(JSON.stringify(spec)) as ModelSpec);
  return model;
}
