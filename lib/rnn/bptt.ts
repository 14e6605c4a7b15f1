// Backpropagation through time: run the model forward over the whole sequence
// on a reverse-mode graph (the tape keeps every step's activations: O(T·n)
// memory), then walk the tape backwards once (O(T·n²) time). Any model: a
// cell stepped through time, a stack layer by layer, bidirectional layers in
// both directions, variable-length batches with masks (lib/rnn/stacked.ts).
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, clone, mat, rowsView } from '../mat/mat.js';
import { type RecurrentModel, checkSequence, initialStateVars } from './model.js';
import { LengthMasks } from './packed.js';
import { runStacked } from './stacked.js';
import type { SequenceLoss } from './loss-spec.js';

export interface BpttOptions {
  /** Sequences in the batch (default 1). xs is time-major: rows [t*batch, (t+1)*batch) are step t. */
  batch?: number;
  /** Explicit initial state for this run (batch x size or 1 x size each); overrides the model's. */
  initialState?: readonly Mat[];
  /** Also return d loss / d xs. */
  inputGrad?: boolean;
  /** Length of each sequence of the batch (PyTorch's packed semantics); absent or null: all run every step. */
  lengths?: ArrayLike<number> | null;
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

/**
 * Reusable BPTT over whole sequences, for any model: a plain cell, a stack, bidirectional
 * layers, variable-length batches. loss.step receives the network's output at t and every
 * layer's state at position t. Repeated runs of the same shapes reuse every graph buffer; the result (grad, outputs, final state) is fresh each run.
 */
export class Bptt {
  readonly model: RecurrentModel;
  readonly graph = new Graph('reverse');
  private masks: LengthMasks | null = null;

  constructor(model: RecurrentModel) {
    this.model = model;
  }

  run(xs: Mat, loss: SequenceLoss, options: BpttOptions = {}): BpttResult {
    const { model, graph: g } = this;
    const { cell, params } = model;
    const batch = options.batch ?? 1;
    const steps = checkSequence('bptt', model, xs, batch);
    let masks: LengthMasks | null = null;
    if (options.lengths !== undefined && options.lengths !== null) {
      if (this.masks === null || !this.masks.matches(options.lengths, steps)) this.masks = new LengthMasks(options.lengths, steps);
      if (this.masks.batch !== batch) throw new Error(`bptt: ${this.masks.batch} lengths for a batch of ${batch}`);
      masks = this.masks.allFull ? null : this.masks;
    }
    g.reset();
    const paramVars = params.mats.map((m) => g.leaf(m, { requiresGrad: true }));
    const cellParams = paramVars.slice(0, model.cellParamCount);
    const fixed = options.initialState ?? null;
    const initial = initialStateVars(g, model, batch, paramVars, fixed, fixed !== null);
    const inputs: Var[] = [];
    for (let t = 0; t < steps; t++) inputs.push(g.leaf(rowsView(xs, t * batch, batch), { requiresGrad: options.inputGrad === true }));
    const run = runStacked(g, cell, cellParams, inputs, initial, { masks });
    const outSize = cell.outputSize;
    const outputs = mat(steps * batch, outSize);
    const terms: Var[] = [];
    for (let t = 0; t < steps; t++) {
      const o = run.outputs[t].value;
      outputs.data.set(o.data.subarray(o.offset, o.offset + batch * outSize), t * batch * outSize);
      const term = loss.step?.(g, t, run.outputs[t], run.states[t]) ?? null;
      if (term !== null) terms.push(term);
    }
    const finalTerm = loss.final?.(g, run.final) ?? null;
    if (finalTerm !== null) terms.push(finalTerm);
    const finalState = run.final.map((v) => clone(v.value));
    const grad = new Float64Array(params.theta.length);
    if (terms.length === 0) {
      return { loss: 0, grad, outputs, finalState, inputGrad: options.inputGrad ? mat(xs.rows, xs.cols) : null, initialStateGrad: null, tapeBytes: g.recordedBytes() };
    }
    let total = terms[0];
    for (let i = 1; i < terms.length; i++) total = g.add(total, terms[i]);
    const tapeBytes = g.recordedBytes();
    g.backward(total);
    paramVars.forEach((v, i) => {
      if (v.grad !== null) grad.set(v.grad.data.subarray(v.grad.offset, v.grad.offset + v.grad.rows * v.grad.cols), params.offsets[i]);
    });
    let inputGrad: Mat | null = null;
    if (options.inputGrad) {
      inputGrad = mat(xs.rows, xs.cols);
      const width = batch * xs.cols;
      inputs.forEach((v, t) => { if (v.grad) inputGrad!.data.set(v.grad.data.subarray(v.grad.offset, v.grad.offset + width), t * width); });
    }
    const initialStateGrad = fixed === null ? null : initial.map((v, i) => initialGrad(v, fixed[i], batch));
    return { loss: total.value.data[total.value.offset], grad, outputs, finalState, inputGrad, initialStateGrad, tapeBytes };
  }
}

// d loss / d an explicit initial state: the leaf's gradient (batch x size), or
// summed over the batch when a 1 x size row was broadcast through addRow.
function initialGrad(v: Var, m: Mat, batch: number): Mat {
  if (m.rows === batch) return v.grad === null ? mat(m.rows, m.cols) : clone(v.grad);
  const out = mat(m.rows, m.cols);
  if (v.grad === null) return out;
  for (let r = 0; r < v.grad.rows; r++) {
    for (let c = 0; c < m.cols; c++) out.data[c] += v.grad.data[v.grad.offset + r * m.cols + c];
  }
  return out;
}

/** One-shot BPTT. */
export function bptt(model: RecurrentModel, xs: Mat, loss: SequenceLoss, options: BpttOptions = {}): BpttResult {
  return new Bptt(model).run(xs, loss, options);
}
