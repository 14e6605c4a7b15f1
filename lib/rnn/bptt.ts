// Backpropagation through time: run the cell forward over the whole sequence
// on a reverse-mode graph (the tape keeps every step's activations: O(T·n)
// memory), then walk the tape backwards once (O(T·n²) time).
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, clone, mat, rowsView } from '../mat/mat.js';
import { type RecurrentModel, checkSequence, initialStateVars } from './model.js';
import type { SequenceLoss } from './loss-spec.js';

export interface BpttOptions {
  /** Sequences in the batch (default 1). xs is time-major: rows [t*batch, (t+1)*batch) are step t. */
  batch?: number;
  /** Explicit initial state for this run (batch x size or 1 x size each); overrides the model's. */
  initialState?: readonly Mat[];
  /** Also return d loss / d xs. */
  inputGrad?: boolean;
}

export interface BpttResult {
  loss: number;
  /** d loss / d theta, laid out like model.params.theta. */
  grad: Float64Array;
  /** Outputs of every step, time-major ((T*batch) x outputSize). */
  outputs: Mat;
  /** The state after the last step. */
  finalState: Mat[];
  /** d loss / d xs when asked for. */
  inputGrad: Mat | null;
  /** d loss / d explicit initial state when one was given. */
  initialStateGrad: Mat[] | null;
  /** Bytes of activations the tape kept for the backward pass. */
  tapeBytes: number;
}

/** Reusable BPTT: repeated runs of the same shapes reuse every buffer. */
export class Bptt {
  readonly model: RecurrentModel;
  readonly graph = new Graph('reverse');

  constructor(model: RecurrentModel) {
    this.model = model;
  }

  run(xs: Mat, loss: SequenceLoss, options: BpttOptions = {}): BpttResult {
    const { model, graph: g } = this;
    const { cell, params } = model;
    const batch = options.batch ?? 1;
    const steps = checkSequence('bptt', model, xs, batch);
    g.reset();
    const paramVars = params.mats.map((m) => g.leaf(m, { requiresGrad: true }));
    const cellParams = paramVars.slice(0, model.cellParamCount);
    const fixed = options.initialState ?? null;
    let state = initialStateVars(g, model, batch, paramVars, fixed, fixed !== null);
    const initialLeaves = state.slice();
    const inputs: Var[] = [];
    const outputs = mat(steps * batch, cell.outputSize);
    const terms: Var[] = [];
    for (let t = 0; t < steps; t++) {
      const x = g.leaf(rowsView(xs, t * batch, batch), { requiresGrad: options.inputGrad === true });
      inputs.push(x);
      const result = cell.step(g, cellParams, state, x);
      state = result.state;
      outputs.data.set(result.output.value.data.subarray(result.output.value.offset, result.output.value.offset + batch * cell.outputSize), t * batch * cell.outputSize);
      const term = loss.step?.(g, t, result.output, state) ?? null;
      if (term !== null) terms.push(term);
    }
    const finalTerm = loss.final?.(g, state) ?? null;
    if (finalTerm !== null) terms.push(finalTerm);
    const finalState = state.map((v) => clone(v.value));
    const grad = new Float64Array(params.theta.length);
    if (terms.length === 0) {
      return { loss: 0, grad, outputs, finalState, inputGrad: options.inputGrad ? mat(xs.rows, xs.cols) : null, initialStateGrad: null, tapeBytes: g.recordedBytes() };
    }
    let total = terms[0];
    for (let i = 1; i < terms.length; i++) total = g.add(total, terms[i]);
    const tapeBytes = g.recordedBytes();
    g.backward(total);
    paramVars.forEach((v, i) => {
      if (v.grad !== null) grad.set(v.grad.data.subarray(0, v.grad.rows * v.grad.cols), params.offsets[i]);
    });
    let inputGrad: Mat | null = null;
    if (options.inputGrad) {
      inputGrad = mat(xs.rows, xs.cols);
      const width = batch * xs.cols;
      inputs.forEach((v, t) => { if (v.grad) inputGrad!.data.set(v.grad.data.subarray(0, width), t * width); });
    }
    const initialStateGrad = fixed === null ? null : initialLeaves.map((v, i) => {
      // A 1 x size initial state was broadcast through addRow: its leaf is that node's second input.
      const leafGrad = v.grad === null ? null : v.grad;
      return fixed[i].rows === batch && leafGrad !== null ? clone(leafGrad) : broadcastGrad(v, fixed[i]);
    });
    return { loss: total.value.data[total.value.offset], grad, outputs, finalState, inputGrad, initialStateGrad, tapeBytes };
  }
}

function broadcastGrad(v: Var, m: Mat): Mat {
  // d loss / d row = Σ over the batch of d loss / d broadcast state.
  const out = mat(m.rows, m.cols);
  if (v.grad === null) return out;
  for (let r = 0; r < v.grad.rows; r++) {
    for (let c = 0; c < m.cols; c++) out.data[c] += v.grad.data[r * m.cols + c];
  }
  return out;
}

/** One-shot BPTT. */
export function bptt(model: RecurrentModel, xs: Mat, loss: SequenceLoss, options: BpttOptions = {}): BpttResult {
  return new Bptt(model).run(xs, loss, options);
}
