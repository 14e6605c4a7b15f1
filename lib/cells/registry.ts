// The recurrent cells by name: one list of kinds and one factory, so that the trainer, the CLI,
// the benchmarks and the PyTorch loader build a cell the same way. A new cell is one entry here.
import type { Cell } from './cell.js';
import { type ElmanOptions, elman } from './elman.js';
import { type GruOptions, gru } from './gru.js';
import { type IndrnnOptions, indrnn } from './indrnn.js';
import { type JordanOptions, jordan } from './jordan.js';
import { type LstmOptions, lstm } from './lstm.js';
import { ConfigError } from '../mat/errors.js';

/** Each kind's options: inputSize and hiddenSize, then what that cell alone takes. */
export interface CellOptionsByKind {
  elman: ElmanOptions;
  /** Jordan's fed-back output defaults to hiddenSize units. */
  jordan: Omit<JordanOptions, 'outputSize'> & { outputSize?: number };
  lstm: LstmOptions;
  gru: GruOptions;
  indrnn: IndrnnOptions;
}

export const CELL_KINDS = ['elman', 'jordan', 'lstm', 'gru', 'indrnn'] as const satisfies readonly (keyof CellOptionsByKind)[];
export type CellKind = (typeof CELL_KINDS)[number];
export type CellOptions<K extends CellKind = CellKind> = CellOptionsByKind[K];

interface CellEntry<K extends CellKind> {
  create(options: CellOptionsByKind[K]): Cell;
  /**
   * Rows of the recurrent weight per hidden unit (its gate blocks: Elman 1, LSTM 4 (i, f, g, o),
   * GRU 3 (r, z, n); Jordan 1 at outputSize = hiddenSize): the recurrent product of a step is
   * (gates·n) x n. IndRNN: 1, though its recurrent weight is one 1 x n row (u ⊙ h, n products).
   */
  gates: number;
}

const CELLS: { readonly [K in CellKind]: CellEntry<K> } = {
  elman: { create: elman, gates: 1 },
  jordan: { create: (o) => jordan({ ...o, outputSize: o.outputSize ?? o.hiddenSize }), gates: 1 },
  lstm: { create: lstm, gates: 4 },
  gru: { create: gru, gates: 3 },
  indrnn: { create: indrnn, gates: 1 },
};

export function isCellKind(kind: unknown): kind is CellKind {
  return typeof kind === 'string' && (CELL_KINDS as readonly string[]).includes(kind);
}

function entry<K extends CellKind>(op: string, kind: K): CellEntry<K> {
  if (!isCellKind(kind)) throw new ConfigError(op, `unknown cell ${JSON.stringify(kind)} (one of ${CELL_KINDS.join(', ')})`, { value: kind, accepted: CELL_KINDS });
  return CELLS[kind];
}

/** The cell of a kind: createCell('lstm', { inputSize, hiddenSize, forgetBias }). Unknown kinds are an Error listing the kinds. */
export function createCell<K extends CellKind>(kind: K, options: CellOptionsByKind[K]): Cell {
  return entry('createCell', kind).create(options);
}

/** Rows of a kind's recurrent weight per hidden unit (see CellEntry.gates). */
export function cellGates(kind: CellKind): number {
  return entry('cellGates', kind).gates;
}
