// A description (lib/train/network-description.ts) made into a model: the recurrent layers from
// the cell registry (a stack when there are several or they are bidirectional), an embedding
// under them when the input is symbol indices, a linear output layer on top; and the names the
// parameters are saved under, PyTorch's where PyTorch has the module (an nn.Module with
// `embedding = nn.Embedding`, `rnn = nn.LSTM(...)`, `linear = nn.Linear` has these state-dict keys).
import type { Cell } from '../cells/cell.js';
import type { ParamSpec } from '../cells/params.js';
import { withReadout } from '../arch/readout.js';
import { EMBEDDING_PARAM, withEmbedding } from '../arch/embedding.js';
import { pytorchName } from '../io/pytorch.js';
import { type RecurrentModel, createModel } from '../rnn/model.js';
import type { FullDescription } from './network-description.js';
import { type ModelSpec, modelFromSpec, recurrentLayers } from '../parallel/model-spec.js';
import { DECODER_PREFIX, ENCODER_PREFIX, seq2seqCell } from '../arch/seq2seq.js';

/** The recurrent layers of a description reading `first` features (one cell, or a stack); `seed` seeds the dropout masks. */
function recurrentCore(d: FullDescription, first: number, seed: number): Cell {
  return recurrentLayers(d.cell, { inputSize: first, hiddenSize: d.hiddenSize }, d.layers, d.bidirectional, { dropout: d.dropout, seed });
}

/** The source's columns in a step's input: 1 (an embedding's index), else inputSize (features, or a vocabulary's one-hot). */
export function sourceWidth(d: FullDescription): number {
  return d.embedding !== undefined ? 1 : d.inputSize!;
}

/**
 * A seq2seq description's two halves: the encoder ([embedding →] layers, no output layer) and
 * the decoder (an embedding of the output.size target symbols plus the start symbol, row
 * output.size → layers → linear output layer). Their dropout masks are seeded apart.
 */
export function seq2seqParts(d: FullDescription): { encoder: Cell; decoder: Cell } {
  let encoder = recurrentCore(d, d.embedding !== undefined ? d.embedding.size : d.inputSize!, d.seed);
  if (d.embedding !== undefined) encoder = withEmbedding(encoder, d.embedding.vocabSize);
  const decoder = withReadout(withEmbedding(recurrentCore(d, d.decoder!.embeddingSize, d.seed + 1), d.output.size + 1), d.output.size);
  return { encoder, decoder };
}

/** The network's cell: [embedding →] recurrent layers → linear output layer; or seq2seq's encoder and decoder as one cell. */
export function networkCell(d: FullDescription): Cell {
  if (d.shape === 'seq2seq') {
    const { encoder, decoder } = seq2seqParts(d);
    return seq2seqCell(encoder, decoder, sourceWidth(d));
  }
  let core = recurrentCore(d, d.embedding !== undefined ? d.embedding.size : d.inputSize!, d.seed);
  if (d.embedding !== undefined) core = withEmbedding(core, d.embedding.vocabSize);
  return withReadout(core, d.output.size);
}

/**
 * The model of a description: fresh weights from its seed, or the given theta. Every network with
 * a zero or learned initial state but a seq2seq one with dropout is made from a ModelSpec (the same
 * cell: its layers, bidirectional pairs, dropout, embedding, output layer and decoder), so that it
 * can cross to workers (fit's threads option).
 */
export function networkModel(d: FullDescription, theta?: Float64Array): RecurrentModel {
  const init = d.initialState;
  const seq2seq = d.shape === 'seq2seq';
  if ((init === 'zero' || init === 'learned') && !(seq2seq && d.dropout > 0)) {
    const first = d.embedding !== undefined ? d.embedding.size : d.inputSize!;
    const spec: ModelSpec = {
      cell: { kind: d.cell, options: { inputSize: first, hiddenSize: d.hiddenSize } },
      ...(d.layers === 1 ? {} : { layers: d.layers }), ...(d.bidirectional ? { bidirectional: true } : {}),
      ...(d.embedding === undefined ? {} : { embedding: { vocabSize: d.embedding.vocabSize } }),
      readout: d.output.size, initialState: init,
      // the masks recurrentCore would draw: the description's dropout, seeded by its seed
      ...(d.dropout === 0 ? {} : { dropout: { p: d.dropout, seed: d.seed } }),
      ...(seq2seq ? { seq2seq: { embeddingSize: d.decoder!.embeddingSize } } : {}),
    };
    return modelFromSpec(spec, theta ?? { seed: d.seed });
  }
  return createModel(networkCell(d), theta === undefined ? { initialState: init, seed: d.seed } : { initialState: init, theta });
}

/** The name a parameter is saved under. */
export function savedName(spec: ParamSpec): string {
  // seq2seq: each half under its module's name (encoder.rnn.weight_ih_l0, decoder.linear.weight ...).
  for (const prefix of [ENCODER_PREFIX, DECODER_PREFIX]) {
    if (spec.name.startsWith(prefix)) return prefix + savedName({ ...spec, name: spec.name.slice(prefix.length) });
  }
  if (spec.name === EMBEDDING_PARAM) return 'embedding.weight';
  if (spec.name === 'weight_out') return 'linear.weight';
  if (spec.name === 'bias_out') return 'linear.bias';
  // A learned initial state (init_h, init_c_l1 ...): no PyTorch module has one.
  if (spec.role === 'initial') return `initial_state.${pytorchName(spec.name.replace(/^init_/, ''))}`;
  return pytorchName(spec.name, 'rnn.');
}

/** The shape a parameter is saved with: a 1 x n row (a bias, an initial state) as PyTorch's 1-D [n]. */
export function savedShape(spec: ParamSpec): number[] {
  return spec.rows === 1 && spec.role !== 'weight' ? [spec.cols] : [spec.rows, spec.cols];
}
