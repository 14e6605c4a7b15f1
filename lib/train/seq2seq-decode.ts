// Decoding with a seq2seq model (lib/arch/seq2seq.ts) in eval mode: Forward runs the encode rows
// of every source to its final state, then steps the decoder (decode rows) from it, each
// step fed the symbol chosen at the step before (the start symbol first). Greedy decoding runs all
// sources as one batch; beam search (lib/train/beam.ts) runs one source at a time, its
// hypotheses as the batch, the state rows reordered to follow their parents.
import { type Mat, mat } from '../mat/mat.js';
import * as pm from '../mat/math.js';
import { Forward } from '../rnn/forward.js';
import type { RecurrentModel } from '../rnn/model.js';
import type { Decoded, DecoderStepper } from './beam.js';

export class Seq2seqDecoder {
  private readonly forward: Forward;
  /** Columns of a step's input; the last one is the decoder's symbol. */
  private readonly width: number;
  /** Target symbols (classes); the start symbol is their count. */
  readonly symbols: number;

  constructor(model: RecurrentModel, width: number) {
    this.forward = new Forward(model);
    this.width = width;
    this.symbols = model.cell.outputSize;
  }

  /** The encoder's final state for every source (rows: each source's encode rows, length x width), their ends aligned by wait rows as in training. */
  encode(rows: readonly Float64Array[], lengths: Int32Array): Mat[] {
    const N = rows.length, W = this.width;
    let T = 0;
    for (let b = 0; b < N; b++) T = Math.max(T, lengths[b]);
    const xs = mat(T * N, W);
    for (let b = 0; b < N; b++) {
      const pad = T - lengths[b];
      for (let t = 0; t < pad; t++) { xs.data[(t * N + b) * W] = 1; xs.data[(t * N + b) * W + 1] = 1; }
      for (let t = 0; t < lengths[b]; t++) xs.data.set(rows[b].subarray(t * W, (t + 1) * W), ((pad + t) * N + b) * W);
    }
    return this.forward.run(xs, { batch: N }).finalState;
  }

  // One decoder step of `rows` streams from `state`, each fed its symbol; returns the logits.
  private stepFrom(state: readonly Mat[], inputs: ArrayLike<number>, rows: number): Mat {
    const W = this.width;
    this.forward.reset({ batch: rows, initialState: state });
    const x = mat(rows, W);
    for (let r = 0; r < rows; r++) x.data[r * W + W - 1] = inputs[r];
    return this.forward.step(x);
  }

  /** Greedy decoding of every source at once: argmax (the first of equal maxima) until `end` or maxLength. */
  greedy(encoded: readonly Mat[], maxLength: number, end: number): Decoded[] {
    const N = encoded[0].rows, V = this.symbols;
    const symbols: number[][] = Array.from({ length: N }, () => []);
    const logProb = new Float64Array(N), ended = new Uint8Array(N), inputs = new Int32Array(N).fill(V);
    // One stream from the encoded states: the forward pass carries the state from step to step.
    const W = this.width, x = mat(N, W);
    this.forward.reset({ batch: N, initialState: encoded });
    let open = N;
    for (let k = 0; k < maxLength && open > 0; k++) {
      for (let r = 0; r < N; r++) x.data[r * W + W - 1] = inputs[r];
      const out = this.forward.step(x);
      const z = out.data, o = out.offset;
      for (let b = 0; b < N; b++) {
        if (ended[b]) continue;
        const row = o + b * V;
        let best = 0, max = z[row];
        for (let c = 1; c < V; c++) if (z[row + c] > max) { max = z[row + c]; best = c; }
        let sum = 0;
        for (let c = 0; c < V; c++) sum += pm.exp(z[row + c] - max);
        // As beam search scores: log softmax(z)[c] = z[c] - (max + log Σ exp(z - max)).
        logProb[b] += z[row + best] - (max + pm.log(sum));
        if (best === end) { ended[b] = 1; open--; } else symbols[b].push(best);
        inputs[b] = best;
      }
    }
    return symbols.map((s, b) => ({ symbols: Int32Array.from(s), logProb: logProb[b], ended: ended[b] === 1 }));
  }

  /** Beam search's view of the decoder started from source b's encoded state. */
  stepper(encoded: readonly Mat[], b: number): DecoderStepper {
    let state: Mat[] = [];
    const copyRows = (from: readonly Mat[], pick: (r: number) => number, rows: number): Mat[] => from.map((m) => {
      const c = mat(rows, m.cols);
      for (let r = 0; r < rows; r++) {
        const at = m.offset + pick(r) * m.cols;
        c.data.set(m.data.subarray(at, at + m.cols), r * m.cols);
      }
      return c;
    });
    return {
      symbols: this.symbols,
      start: (rows) => { state = copyRows(encoded, () => b, rows); },
      step: (parents, inputs, rows) => {
        const out = this.stepFrom(copyRows(state, (r) => parents[r], rows), inputs, rows);
        state = copyRows(this.forward.state, (r) => r, rows);
        return out.data.subarray(out.offset, out.offset + rows * this.symbols);
      },
    };
  }
}
