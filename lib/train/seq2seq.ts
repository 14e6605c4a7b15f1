// Sequence to sequence (N to M) as ONE recurrent cell, so every gradient method, the trainer and
// Forward run it unchanged: an encoder cell and a decoder cell sharing one state, and a phase
// column in the input saying which of the two reads the step. A sequence pair (source of N
// steps, target of M symbols) is one stream of N + M steps:
//   steps 0..N-1    phase 1: the encoder reads source[t];
//   steps N..N+M-1  phase 0: the decoder reads the previous target symbol (the start symbol at
//                   step N) and its output is scored against target[t - N].
// The state after the encoder's last step is what the decoder's first step reads: the encoder's
// final state starts the decoder, and reverse mode carries the decoder's d loss / d h_0 into the
// encoder (the two-model chain of spec/rnn/seq2seq.spec.ts, here inside one unroll).
// Input columns: [phase, source (sourceWidth), previous symbol]. Per row,
//   state' = phase ? encoder(state, source) : decoder(state, previous),
//   output = phase ? 0 : decoder's output,
// chosen by selectRows (no mixing, so an unread branch never leaks a value or a gradient). A step
// whose rows are all in one phase runs only that branch.
import type { Graph, Var } from '../ad/graph.js';
import type { Cell } from '../cells/cell.js';
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

/** Columns of a seq2seq step's input for a source of `sourceWidth` columns: phase, source, previous symbol. */
export function seq2seqWidth(sourceWidth: number): number {
  return sourceWidth + 2;
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
      const phase = g.sliceCols(x, 0, 1);
      // The phase column is data, not a parameter: which branches run is read off its values.
      const p = phase.value;
      let encoding = 0;
      for (let r = 0; r < rows; r++) if (p.data[p.offset + r] !== 0) encoding++;
      const zeros = (): Var => g.constant(sharedZeros(rows, C));
      if (encoding === rows) {
        const e = encoder.step(g, params.slice(0, encoderCount), state, g.sliceCols(x, 1, sourceWidth));
        return { state: e.state, output: zeros() };
      }
      const d = decoder.step(g, params.slice(encoderCount), state, g.sliceCols(x, 1 + sourceWidth, 1));
      if (encoding === 0) return d;
      const e = encoder.step(g, params.slice(0, encoderCount), state, g.sliceCols(x, 1, sourceWidth));
      return {
        state: e.state.map((s, i) => g.selectRows(phase, s, d.state[i])),
        output: g.selectRows(phase, zeros(), d.output),
      };
    },
    init(mats: readonly Mat[], rng: Rng) {
      encoder.init(mats.slice(0, encoderCount), rng);
      decoder.init(mats.slice(encoderCount), rng);
    },
  };
  // Dropout switches (stacks) of both halves follow the network's train()/eval().
  if ('training' in encoder || 'training' in decoder) {
    const halves = [encoder, decoder].filter((c) => 'training' in c) as (Cell & { training: boolean })[];
    Object.defineProperty(cell, 'training', {
      get: () => halves[0].training,
      set: (on: boolean) => { for (const h of halves) h.training = on; },
      enumerable: true,
    });
  }
  return cell;
}
