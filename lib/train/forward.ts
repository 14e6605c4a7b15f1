// Running a model for its outputs only (evaluation, held-out metrics): the
// cell on an 'eval' graph, no tape, no tangents. The arena is rewound every
// step, so memory does not grow with the sequence.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat, matFrom } from '../mat/mat.js';
import { type RecurrentModel, checkSequence, initialStateVars } from '../rnn/model.js';

export class Forward {
  readonly model: RecurrentModel;
  private readonly graph = new Graph('eval');
  private carried: Mat[] = [];

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
    if (this.carried.length !== cell.stateSizes.length || this.carried[0].rows !== batch) {
      this.carried = cell.stateSizes.map((size) => mat(batch, size));
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
      // Copy the new state out before the next step rewinds the arena.
      for (let i = 0; i < this.carried.length; i++) {
        const v = result.state[i].value;
        this.carried[i].data.set(v.data.subarray(v.offset, v.offset + v.rows * v.cols));
      }
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
