// An embedding layer under a cell: the network reads one symbol index per step (a batch x 1 column
// of row numbers) and the inner cell reads row index of a trainable table E (vocabSize x size,
// PyTorch's nn.Embedding.weight): x̃_t = E[i_t]. The lookup is the gatherRows primitive, so BPTT
// and RTRL differentiate the table like any other parameter (a step touches only the rows it
// reads). The table joins theta after the inner cell's parameters, so the inner cell (which reads
// its parameters by position) is unchanged; a readout wrapped around this cell comes after it.
import type { Graph, Var } from '../ad/graph.js';
import { type Cell, type ScanResult, type StepMasks, forwardTraining } from '../cells/cell.js';
import { joinParamSpecs } from '../cells/params.js';
import type { Mat } from '../mat/mat.js';
import { sharedZeros } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { checkInt } from '../mat/options.js';
import { scanCell } from '../rnn/unroll.js';
import { ConfigError } from '../mat/errors.js';

/** The name of the table in theta. */
export const EMBEDDING_PARAM = 'embedding_weight';

export interface EmbeddedCell extends Cell {
  readonly inner: Cell;
  readonly vocabSize: number;
}

export function withEmbedding(inner: Cell, vocabSize: number): EmbeddedCell {
  checkInt('withEmbedding', 'vocabSize', vocabSize);
  for (const s of inner.paramSpecs) {
    if (s.name === EMBEDDING_PARAM) throw new ConfigError('withEmbedding', `the ${inner.kind} cell already has a parameter named ${EMBEDDING_PARAM}`, { cell: inner.kind, name: EMBEDDING_PARAM });
  }
  const innerCount = inner.paramSpecs.length;
  const { specs } = joinParamSpecs([inner, { paramSpecs: [{ name: EMBEDDING_PARAM, rows: vocabSize, cols: inner.inputSize, role: 'weight' }] }], (name) => name);
  const lookup = (g: Graph, params: readonly Var[], x: Var): Var => g.gatherRows(params[innerCount], x);
  const cell: EmbeddedCell = {
    kind: inner.kind,
    inner,
    vocabSize,
    ...(inner.causal === undefined ? {} : { causal: inner.causal }),
    inputSize: 1,
    inputSymbols: vocabSize,
    stateSizes: inner.stateSizes,
    stateNames: inner.stateNames,
    outputSize: inner.outputSize,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var) {
      return inner.step(g, params, state, lookup(g, params, x));
    },
    init(mats: readonly Mat[], rng: Rng) {
      inner.init(mats.slice(0, innerCount), rng);
      // PyTorch's nn.Embedding default: N(0, 1).
      rng.fillNormal(mats[innerCount], 0, 1);
    },
  };
  if (inner.scan !== undefined) {
    // The inner cell's own scan over the looked-up rows. A finished sequence's padding is never
    // read: its rows look up row 0 instead (the unroll's step feeds zeros the same way).
    (cell as { scan?: Cell['scan'] }).scan = (g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult => {
      const rows = xs.map((x, t) => {
        const active = masks === null || (t < masks.steps && masks.full[t])
          ? x
          : g.selectRows(g.constant(masks.keep[t]), x, g.constant(sharedZeros(x.value.rows, 1)));
        return lookup(g, params, active);
      });
      return scanCell(g, inner, params.slice(0, innerCount), rows, initial, masks);
    };
  }
  forwardTraining(cell, [inner]);
  return cell;
}
