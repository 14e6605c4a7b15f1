// A recurrent model: one cell, its parameters, and how the state starts.
import type { Cell } from '../cells/cell.js';
import { type Params, type ParamSpec, createParams } from '../cells/params.js';
import { type Mat, shapeOf } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { checkKeys } from '../mat/options.js';
import { ShapeError } from '../mat/errors.js';

/**
 * How h_0 is chosen: 'zero'; a fixed value per state vector (1 x size, shared
 * by the batch, or batch x size); or 'learned', a parameter per state vector
 * (init_h, init_c ...) whose gradient both modes compute.
 */
export type InitialState = 'zero' | 'learned' | readonly Mat[];

export interface RecurrentModel {
  readonly cell: Cell;
  /** The cell's parameters, then the learned initial state (if any), in one theta. */
  readonly params: Params;
  readonly initialState: InitialState;
  /** How many leading entries of params.mats belong to the cell. */
  readonly cellParamCount: number;
}

export interface ModelOptions {
  initialState?: InitialState;
  /** Seed of the initialisation (default 0). Ignored when theta is given. */
  seed?: number;
  /** Existing parameters (row-major, in the order of params.specs). */
  theta?: Float64Array;
}

export function createModel(cell: Cell, options: ModelOptions = {}): RecurrentModel {
  checkKeys('createModel', options, ['initialState', 'seed', 'theta']);
  const initialState = options.initialState ?? 'zero';
  const specs: ParamSpec[] = [...cell.paramSpecs];
  if (initialState === 'learned') {
    cell.stateSizes.forEach((size, i) => specs.push({ name: `init_${cell.stateNames[i]}`, rows: 1, cols: size, role: 'initial' }));
  } else if (initialState !== 'zero') {
    checkInitialState('createModel', cell, initialState);
  }
  const params = createParams(specs, options.theta);
  if (options.theta === undefined) {
    cell.init(params.mats.slice(0, cell.paramSpecs.length), new Rng(options.seed ?? 0));
  }
  return { cell, params, initialState, cellParamCount: cell.paramSpecs.length };
}

/**
 * Checks a fixed initial state against a cell: an array of one matrix per state vector, each
 * as wide as its vector and, when batch is given, with 1 row (shared) or batch rows.
 * Throws an Error naming the offending vector.
 */
export function checkInitialState(op: string, cell: Cell, state: unknown, batch?: number): readonly Mat[] {
  const count = cell.stateSizes.length, names = cell.stateNames.join(', ');
  if (!Array.isArray(state)) {
    throw new ShapeError(op, `a fixed initial state is an array of ${count} matrices (${names}), got ${typeof state === 'string' ? JSON.stringify(state) : String(state)}`, { expected: count });
  }
  if (state.length !== count) throw new ShapeError(op, `a fixed initial state needs ${count} matrices (${names}), got ${state.length}`, { expected: count, found: state.length });
  state.forEach((m: unknown, i) => {
    const name = cell.stateNames[i], size = cell.stateSizes[i];
    const v = m as Mat | null;
    if (v === null || typeof v !== 'object' || !(v.data instanceof Float64Array) || !Number.isInteger(v.rows) || !Number.isInteger(v.cols)) {
      throw new ShapeError(op, `initial ${name} is ${v === null ? 'null' : typeof v}, not a matrix`, { name });
    }
    if (v.cols !== size) throw new ShapeError(op, `initial ${name} is ${shapeOf(v)}, needs ${size} columns`, { name, shape: [v.rows, v.cols], size });
    if (batch !== undefined && v.rows !== 1 && v.rows !== batch) {
      throw new ShapeError(op, `initial ${name} is ${shapeOf(v)}; it needs 1 row (shared by the batch) or batch ${batch} rows`, { name, shape: [v.rows, v.cols], batch });
    }
  });
  return state as readonly Mat[];
}
