// A recurrent model: one cell, its parameters, and how the state starts.
import type { Cell } from '../cells/cell.js';
import { type Params, type ParamSpec, createParams } from '../cells/params.js';
import { type Mat, shapeOf } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';

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
  const initialState = options.initialState ?? 'zero';
  const specs: ParamSpec[] = [...cell.paramSpecs];
  if (initialState === 'learned') {
    cell.stateSizes.forEach((size, i) => specs.push({ name: `init_${cell.stateNames[i]}`, rows: 1, cols: size }));
  } else if (initialState !== 'zero') {
    if (!Array.isArray(initialState) || initialState.length !== cell.stateSizes.length) {
      throw new Error(`createModel: a fixed initial state needs ${cell.stateSizes.length} matrices (${cell.stateNames.join(', ')})`);
    }
    initialState.forEach((m, i) => {
      if (m.cols !== cell.stateSizes[i]) {
        throw new Error(`createModel: initial ${cell.stateNames[i]} is ${shapeOf(m)}, needs ${cell.stateSizes[i]} columns`);
      }
    });
  }
  const params = createParams(specs, options.theta);
  if (options.theta === undefined) {
    cell.init(params.mats.slice(0, cell.paramSpecs.length), new Rng(options.seed ?? 0));
  }
  return { cell, params, initialState, cellParamCount: cell.paramSpecs.length };
}
