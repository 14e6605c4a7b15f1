// Sequence to sequence (N to M) as ONE recurrent cell, so every gradient method, the trainer and
// Forward run it unchanged: an encoder cell and a decoder cell sharing one state, and columns of
// the input saying which of the two reads the step. A pair (source of N steps, target of M
// symbols) is one stream of N + M steps:
//   steps 0..N-1    encode: the encoder reads source[t];
//   steps N..N+M-1  decode: the decoder reads the previous target symbol (the start symbol at
//                   step N) and its output is scored against target[t - N].
// The state after the encoder's last step is what the decoder's first step reads: the encoder's
// final state starts the decoder, and reverse mode carries the decoder's d loss / d h_0 into the
// encoder (the two-model chain of spec/rnn/seq2seq.spec.ts, here inside one unroll).
// A batch aligns its pairs' ends of source (lib/train/seq2seq-data.ts): a shorter source waits,
// its state held, until the longest has been read, so every row encodes, then every row decodes,
// and a step runs one half only.
// Input columns: [encode, wait, source (sourceWidth), previous symbol]. Per row,
//   state' = wait ? state : encode ? encoder(state, source) : decoder(state, previous),
//   output = encode ? 0 : decoder's output,
// chosen by selectRows (no mixing, so an unread branch never leaks a value or a gradient). A step
// whose rows are all in one phase runs only that half.
import type { Graph, Var } from '../ad/graph.js';
import { type Cell, forwardTraining } from '../cells/cell.js';
import { joinParamSpecs } from '../cells/params.js';
import { type Mat, sharedZeros } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { ShapeError } from '../mat/errors.js';

/** Where the encoder's and the decoder's parameter names start (saved as encoder.rnn..., decoder.linear...). */
export const ENCODER_PREFIX = 'encoder.';
export const DECODER_PREFIX = 'decoder.';

export interface Seq2seqCell extends Cell {
  readonly encoder: Cell;
  readonly decoder: Cell;
  /** Columns of the source part of a step's input. */
  readonly sourceWidth: number;
}

/** Columns of a seq2seq step's input for a source of `sourceWidth` columns: encode, wait, source, previous symbol. */
export function seq2seqWidth(sourceWidth: number): number {
  return sourceWidth + 3;
}

/** How many rows of a 0/1 column are set. */
function countSet(column: Var): number {
  const m = column.value;
  let n = 0;
  for (let r = 0; r < m.rows; r++) if (m.data[m.offset + r] !== 0) n++;
  return n;
}

/**
 * The encoder (reads sourceWidth columns) and the decoder (reads one column, a symbol index, and
 * emits the logits) as one cell; their states must have the same sizes.
 */
export function seq2seqCell(encoder: Cell, decoder: Cell, sourceWidth: number): Seq2seqCell {
  const op = 'seq2seqCell';
  if (encoder.inputSize !== sourceWidth) throw new ShapeError(op, `the encoder reads ${encoder.inputSize} columns, the source has ${sourceWidth}`);
  if (decoder.inputSize !== 1) throw new ShapeError(op, `the decoder must read one column (a symbol index), it reads ${decoder.inputSize}`);
  const es = encoder.stateSizes, ds = decoder.stateSizes;
  if (es.length !== ds.length || es.some((n, i) => n !== ds[i])) {
    throw new ShapeError(op, `the encoder's state [${es.join(', ')}] must have the decoder's sizes [${ds.join(', ')}] (the decoder starts from it)`);
  }
  if (encoder.causal === false || decoder.causal === false) throw new ShapeError(op, 'encoder and decoder must be causal (they run as one stepped stream)');
  const encoderCount = encoder.paramSpecs.length;
  const { specs } = joinParamSpecs([encoder, decoder], (name, part) => (part === 0 ? ENCODER_PREFIX : DECODER_PREFIX) + name);
  const C = decoder.outputSize;
  const cell: Seq2seqCell = {
    kind: 'seq2seq',
    encoder,
    decoder,
    sourceWidth,
    inputSize: seq2seqWidth(sourceWidth),
    stateSizes: encoder.stateSizes,
    stateNames: encoder.stateNames,
    outputSize: C,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var) {
      const rows = x.value.rows;
      const encode = g.sliceCols(x, 0, 1), wait = g.sliceCols(x, 1, 1);
      // The flag columns are data, not parameters: which halves run is read off their values.
      const encoding = countSet(encode), waiting = countSet(wait);
      const zeros = (): Var => g.constant(sharedZeros(rows, C));
      const encoded = (): Var[] => {
        const e = encoder.step(g, params.slice(0, encoderCount), state, g.sliceCols(x, 2, sourceWidth)).state;
        return waiting === 0 ? e : e.map((s, i) => g.selectRows(wait, state[i], s));
      };
      if (encoding === rows) return { state: encoded(), output: zeros() };
      const d = decoder.step(g, params.slice(encoderCount), state, g.sliceCols(x, 2 + sourceWidth, 1));
      if (encoding === 0) return d;
      return {
        state: encoded().map((s, i) => g.selectRows(encode, s, d.state[i])),
        output: g.selectRows(encode, zeros(), d.output),
      };
    },
    init(mats: readonly Mat[], rng: Rng) {
      encoder.init(mats.slice(0, encoderCount), rng);
      decoder.init(mats.slice(encoderCount), rng);
    },
  };
  // Dropout switches (stacks) of both halves follow the network's train()/eval().
  forwardTraining(cell, [encoder, decoder]);
  return cell;
}
