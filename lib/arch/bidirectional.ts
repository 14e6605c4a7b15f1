// A bidirectional layer: one cell reads the sequence forwards, another reads it
// backwards, and the output at position t is [forward_t, backward_t] side by
// side (forward first, as PyTorch does). The backward direction at t depends on
// x_t ... x_{T-1}, the future, so a bidirectional layer cannot be stepped one
// input at a time: BPTT over the whole sequence trains it, RTRL cannot, and
// asking for a step is an Error that says so.
//
// Parameters: the forward cell's, then the backward cell's with a "_reverse"
// suffix (weight_ih, ..., weight_ih_reverse, ...). State vectors likewise:
// the forward cell's, then the backward cell's (h, c, h_reverse, c_reverse).
import type { Graph, Var } from '../ad/graph.js';
import type { Cell, ScanResult, StepMasks } from '../cells/cell.js';
import { joinParamSpecs } from '../cells/params.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { scanCell } from '../rnn/unroll.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export interface BidirectionalLayer extends Cell {
  readonly kind: 'bidirectional';
  readonly forward: Cell;
  readonly backward: Cell;
}

export function isBidirectional(cell: Cell): cell is BidirectionalLayer {
  return cell.kind === 'bidirectional' && 'forward' in cell && 'backward' in cell;
}

/** The reason RTRL (or any step-at-a-time runner) cannot run a bidirectional layer. */
export function bidirectionalStepError(where: string): ConfigError {
  return new ConfigError(
    where,
    'a bidirectional layer cannot be stepped one input at a time — its backward direction reads the ' +
    'future of the sequence. RTRL (forward in time) cannot train it; run the whole sequence with Bptt.',
  );
}

/**
 * A bidirectional layer from a forward cell and a backward cell (the same cell
 * for both when `backward` is absent: cells hold no parameters, so each
 * direction still gets its own).
 */
export function bidirectional(forward: Cell, backward: Cell = forward): BidirectionalLayer {
  if (isBidirectional(forward) || isBidirectional(backward)) {
    throw new ConfigError('bidirectional', 'a direction cannot itself be bidirectional');
  }
  if (forward.inputSize !== backward.inputSize) {
    throw new ShapeError('bidirectional', `forward ${forward.kind} takes ${forward.inputSize} inputs, backward ${backward.kind} takes ${backward.inputSize}`, { forward: forward.inputSize, backward: backward.inputSize });
  }
  const fwdCount = forward.paramSpecs.length, fwdStates = forward.stateSizes.length;
  return {
    kind: 'bidirectional',
    causal: false,
    forward,
    backward,
    inputSize: forward.inputSize,
    stateSizes: [...forward.stateSizes, ...backward.stateSizes],
    stateNames: [...forward.stateNames, ...backward.stateNames.map((n) => `${n}_reverse`)],
    outputSize: forward.outputSize + backward.outputSize,
    paramSpecs: joinParamSpecs([forward, backward], (name, direction) => (direction === 0 ? name : `${name}_reverse`)).specs,
    step(): never {
      throw bidirectionalStepError('bidirectional');
    },
    // The output at t is [forward_t, backward_t]; states[t] the forward state after reading t,
    // then the backward state after reading t; final: forward's state at each sequence's last
    // step, then backward's after reading step 0.
    scan(g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult {
      const fwd = scanCell(g, forward, params.slice(0, fwdCount), xs, initial.slice(0, fwdStates), masks);
      const bwd = scanCell(g, backward, params.slice(fwdCount), xs, initial.slice(fwdStates), masks, true);
      const steps = xs.length;
      const outputs: Var[] = new Array<Var>(steps);
      const states: Var[][] = new Array<Var[]>(steps);
      for (let t = 0; t < steps; t++) {
        outputs[t] = g.concatCols([fwd.outputs[t], bwd.outputs[t]]);
        states[t] = [...fwd.states[t], ...bwd.states[t]];
      }
      return { outputs, states, final: [...fwd.final, ...bwd.final] };
    },
    init(mats: readonly Mat[], rng: Rng) {
      forward.init(mats.slice(0, fwdCount), rng);
      backward.init(mats.slice(fwdCount), rng);
    },
  };
}
