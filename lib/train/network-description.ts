// What a network is, as plain JSON-able data: the input (features per step, or an embedding of
// symbol indices), the recurrent layers (a cell kind from the registry, units, depth, direction,
// dropout between layers), the output layer and its loss, the task's shape, the initial state, the
// seed and an optional vocabulary. The description alone rebuilds the network: the same
// description (same seed) gives the same weights. Every field is checked strictly: an unknown key
// or a value out of range is a ConfigError naming the field and the accepted values.
import { ConfigError } from '../mat/errors.js';
import { CELL_KINDS, type CellKind } from '../cells/registry.js';

export type NetworkLoss = 'softmax-ce' | 'mse' | 'bce' | 'ctc';
export const NETWORK_LOSSES: readonly NetworkLoss[] = ['softmax-ce', 'mse', 'bce', 'ctc'];
/**
 * many-to-many: an output (and a target) at every step; many-to-one: one output per sequence,
 * the output at its last real step (the loss is taken there); one-to-many: one input per
 * sequence, read at every step (repeated), and an output at every step; seq2seq (N to M): an
 * encoder reads the source, its final state starts a decoder that emits the target symbol by
 * symbol, reading the previous target symbol (a start symbol first).
 */
export type NetworkShape = 'many-to-many' | 'many-to-one' | 'one-to-many' | 'seq2seq';
export const NETWORK_SHAPES: readonly NetworkShape[] = ['many-to-many', 'many-to-one', 'one-to-many', 'seq2seq'];
/** What predict applies to the output layer: softmax (softmax-ce, ctc), sigmoid (bce), identity/tanh/sigmoid (mse). */
export type OutputActivation = 'identity' | 'softmax' | 'sigmoid' | 'tanh';
export const OUTPUT_ACTIVATIONS: readonly OutputActivation[] = ['identity', 'softmax', 'sigmoid', 'tanh'];

export interface NetworkDescription {
  /** Features per step (vector inputs). Exactly one of inputSize and embedding. */
  inputSize?: number;
  /** Symbol indices in, each looked up in a trainable vocabSize x size table. */
  embedding?: { vocabSize: number; size: number };
  /** The recurrent cell (default 'lstm'). */
  cell?: CellKind;
  hiddenSize: number;
  /** Recurrent layers (default 1). */
  layers?: number;
  /** Each layer reads both directions (default false; then only bptt can train it, and step/generate refuse). */
  bidirectional?: boolean;
  /** Dropout on the inputs of layers 2.. (needs layers >= 2; default 0). */
  dropout?: number;
  /** The output layer: size outputs per step (classes, blank included for ctc) and the activation predict applies. */
  output: { size: number; activation?: OutputActivation };
  loss: NetworkLoss;
  /** Default 'many-to-many'. */
  shape?: NetworkShape;
  /**
   * seq2seq only: the decoder reads its previous target symbol through a table of
   * (output.size + 1) x embeddingSize rows, the last row being the start symbol (default
   * embeddingSize: embedding.size, else hiddenSize).
   */
  decoder?: { embeddingSize?: number };
  /** The state entering step 0: zero or a learned parameter (default 'zero'). */
  initialState?: 'zero' | 'learned';
  /** Seed of the weights and of the dropout masks (default 0). */
  seed?: number;
  /** The symbols of a text model, index i = vocabulary[i]; inputs are then symbol indices. */
  vocabulary?: string[];
}

/** A description with every default filled in (what network.description returns). */
export interface FullDescription {
  inputSize?: number;
  embedding?: { vocabSize: number; size: number };
  cell: CellKind;
  hiddenSize: number;
  layers: number;
  bidirectional: boolean;
  dropout: number;
  output: { size: number; activation: OutputActivation };
  loss: NetworkLoss;
  shape: NetworkShape;
  /** seq2seq only. */
  decoder?: { embeddingSize: number };
  initialState: 'zero' | 'learned';
  seed: number;
  vocabulary?: string[];
}

const KEYS = ['inputSize', 'embedding', 'cell', 'hiddenSize', 'layers', 'bidirectional', 'dropout', 'output', 'loss', 'shape', 'decoder', 'initialState', 'seed', 'vocabulary'];
const OP = 'createNetwork';

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}

function fail(field: string, message: string, value: unknown): never {
  throw new ConfigError(OP, `${field} ${message}, got ${show(value)}`, { field, value });
}

function plainObject(field: string, v: unknown, keys: readonly string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object', v);
  for (const k of Object.keys(v as object)) {
    if (!keys.includes(k)) {
      throw new ConfigError(OP, `unknown field "${field === 'description' ? k : `${field}.${k}`}" (accepted: ${keys.join(', ')})`, { field: k });
    }
  }
  return v as Record<string, unknown>;
}

function count(field: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(field, `must be an integer >= ${min}`, v);
  return v as number;
}

function oneOf<T extends string>(field: string, v: unknown, accepted: readonly T[]): T {
  if (typeof v !== 'string' || !(accepted as readonly string[]).includes(v)) fail(field, `must be one of ${accepted.join(', ')}`, v);
  return v as T;
}

/** The activation each loss allows; the first is the default. */
const ACTIVATIONS_OF: Readonly<Record<NetworkLoss, readonly OutputActivation[]>> = {
  'softmax-ce': ['softmax'],
  ctc: ['softmax'],
  bce: ['sigmoid'],
  mse: ['identity', 'tanh', 'sigmoid'],
};

/** Checks a description (see the file comment) and returns a fresh copy with every default filled in. */
export function checkDescription(description: unknown): FullDescription {
  const d = plainObject('description', description, KEYS);
  const hasInput = d.inputSize !== undefined, hasEmbedding = d.embedding !== undefined;
  if (hasInput === hasEmbedding) {
    throw new ConfigError(OP, `give exactly one of inputSize (features per step) and embedding ({ vocabSize, size }: symbol indices in), got ${hasInput ? 'both' : 'neither'}`, { field: 'inputSize' });
  }
  const out: Partial<FullDescription> = {};
  if (hasInput) out.inputSize = count('inputSize', d.inputSize);
  if (hasEmbedding) {
    const e = plainObject('embedding', d.embedding, ['vocabSize', 'size']);
    out.embedding = { vocabSize: count('embedding.vocabSize', e.vocabSize), size: count('embedding.size', e.size) };
  }
  out.cell = d.cell === undefined ? 'lstm' : oneOf('cell', d.cell, CELL_KINDS);
  out.hiddenSize = count('hiddenSize', d.hiddenSize);
  out.layers = d.layers === undefined ? 1 : count('layers', d.layers);
  if (d.bidirectional !== undefined && typeof d.bidirectional !== 'boolean') fail('bidirectional', 'must be true or false', d.bidirectional);
  out.bidirectional = d.bidirectional === true;
  const dropout = d.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail('dropout', 'must be a number in [0, 1)', dropout);
  if ((dropout as number) > 0 && out.layers < 2) fail('dropout', 'acts between layers, so it needs layers >= 2 (layers is 1)', dropout);
  out.dropout = dropout as number;
  out.loss = oneOf('loss', d.loss, NETWORK_LOSSES);
  const o = plainObject('output', d.output, ['size', 'activation']);
  const size = count('output.size', o.size, out.loss === 'softmax-ce' || out.loss === 'ctc' ? 2 : 1);
  const allowed = ACTIVATIONS_OF[out.loss];
  const activation = o.activation === undefined ? allowed[0] : oneOf(`output.activation (with loss ${out.loss})`, o.activation, allowed);
  out.output = { size, activation };
  out.shape = d.shape === undefined ? 'many-to-many' : oneOf('shape', d.shape, NETWORK_SHAPES);
  if (out.loss === 'ctc' && out.shape !== 'many-to-many') fail('shape', 'must be many-to-many with loss ctc (it scores every frame)', d.shape);
  if (out.shape === 'seq2seq') {
    if (out.loss !== 'softmax-ce') fail('loss', 'must be softmax-ce with shape seq2seq (the decoder emits target symbols)', d.loss);
    if (out.bidirectional) fail('bidirectional', 'must be false with shape seq2seq (encoder and decoder run as one causal stream)', d.bidirectional);
    const dec = d.decoder === undefined ? {} : plainObject('decoder', d.decoder, ['embeddingSize']);
    out.decoder = { embeddingSize: dec.embeddingSize === undefined ? (out.embedding?.size ?? out.hiddenSize) : count('decoder.embeddingSize', dec.embeddingSize) };
  } else if (d.decoder !== undefined) {
    fail('decoder', `applies to shape seq2seq only (shape is ${out.shape})`, d.decoder);
  }
  out.initialState = d.initialState === undefined ? 'zero' : oneOf('initialState', d.initialState, ['zero', 'learned'] as const);
  out.seed = count('seed', d.seed ?? 0, 0);
  if (d.vocabulary !== undefined) {
    const v = d.vocabulary;
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s.length > 0)) fail('vocabulary', 'must be a non-empty array of non-empty strings', v);
    const symbols = v as string[];
    if (new Set(symbols).size !== symbols.length) fail('vocabulary', 'must not repeat a symbol', v);
    const inputs = out.embedding?.vocabSize ?? out.inputSize!;
    if (symbols.length !== inputs) {
      fail('vocabulary', `has ${symbols.length} symbols but the network reads ${inputs} (${out.embedding ? 'embedding.vocabSize' : 'inputSize, one-hot'})`, `${symbols.length} symbols`);
    }
    out.vocabulary = symbols.slice();
  }
  return out as FullDescription;
}

/** A deep copy of a checked description (plain data only). */
export function copyDescription(d: FullDescription): FullDescription {
  return JSON.parse(JSON.stringify(d)) as FullDescription;
}
