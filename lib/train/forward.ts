// Running a model for its outputs only (evaluation, held-out metrics): the
// cell on an 'eval' graph, no tape, no tangents. The arena is rewound every
// step, so memory does not grow with the sequence. The state is carried in two
// sets of buffers: step t reads one set and its new state is written into the
// other, so a cell that passes a state vector through (new state i is old
// state j, or a view of it, as a delay line does) is never read after being
// overwritten.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat, matFrom } from '../mat/mat.js';
import { type RecurrentModel, checkSequence, initialStateVars } from '../rnn/model.js';

export class Forward {
  readonly model: RecurrentModel;
  private readonly graph = new Graph('eval');
  /** The state entering the next step. */
  private carried: Mat[] = [];
  /** Where the step writes its new state; swapped with carried afterwards. */
  private spare: Mat[] = [];

  constructor(model: RecurrentModel) {
    this.model = model;
  }

  /** Outputs of every step ((steps·batch) x outputSize, time-major) for time-major xs. */
  run(xs: Mat, batch = 1, out?: Mat): Mat {
    const { model, graph: g } = this;
    const { cell, params } = model;
    const steps = checkSequence('forward', model, xs, batch);
    const outputs = out ?? mat(steps * batch, cell.outputSize);
    if (outputs.rows !== steps * batch || outputs.cols !== cell.outputSize) {
      throw new Error(`forward: out is ${outputs.rows}x${outputs.cols}, needs ${steps * batch}x${cell.outputSize}`);
    }
    const sizes = cell.stateSizes;
    if (this.carried.length !== sizes.length || this.carried.some((m, i) => m.rows !== batch || m.cols !== sizes[i])) {
      this.carried = sizes.map((size) => mat(batch, size));
      this.spare = sizes.map((size) => mat(batch, size));
    }
    const width = batch * cell.outputSize;
    for (let t = 0; t < steps; t++) {
      g.reset();
      const paramVars = params.mats.map((m) => g.leaf(m));
      const state: Var[] = t === 0
        ? initialStateVars(g, model, batch, paramVars, null, false)
        : this.carried.map((m) => g.leaf(m));
      const x = g.leaf(matFrom(batch, xs.cols, xs.data, xs.offset + t * batch * xs.cols));
      const result = cell.step(g, paramVars.slice(0, model.cellParamCount), state, x);
      // Copy the new state out before the next step rewinds the arena, into the
      // set this step did not read, then make it the one the next step reads.
      const next = this.spare;
      if (result.state.length !== next.length) {
        throw new Error(`forward: ${cell.kind} returned ${result.state.length} state vectors, its stateSizes has ${next.length}`);
      }
      for (let i = 0; i < next.length; i++) {
        const v = result.state[i].value, n = batch * sizes[i];
        if (v.rows * v.cols !== n) {
          throw new Error(`forward: ${cell.kind} state ${cell.stateNames[i]} is ${v.rows}x${v.cols}, expected ${batch}x${sizes[i]}`);
        }
        next[i].data.set(v.data.subarray(v.offset, v.offset + n));
      }
      this.spare = this.carried;
      this.carried = next;
      const y = result.output.value;
      outputs.data.set(y.data.subarray(y.offset, y.offset + width), outputs.offset + t * width);
    }
    return outputs;
  }
}

/** One-shot forward pass. */
export function forward(model: RecurrentModel, xs: Mat, batch = 1): Mat {
  return new Forward(model).run(xs, batch);
}
