// A cell with a linear readout on top: y_t = h_t W_outᵀ + b_out, where h_t is
// what the inner cell emits. LSTM and GRU emit their hidden state; a task
// needs a fixed number of outputs (logits or values), so the trainer wraps
// every cell this way. The readout's parameters join theta after the cell's,
// so BPTT and RTRL differentiate them like any other parameter.
// The wrapper forwards the inner cell's causal flag and a stack's dropout switch.
// It does not yet run a bidirectional layer or stack: runStacked dispatches on the
// cell itself, so Bptt steps the wrapper and the inner layer's step() throws.
import type { Graph, Var } from '../ad/graph.js';
import { type Cell, type ScanResult, type StepMasks, forwardTraining } from '../cells/cell.js';
import { type ParamSpec, joinParamSpecs } from '../cells/params.js';
import type { Mat } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt } from '../mat/options.js';
import { zeroPastEnd } from '../rnn/unroll.js';
import { ConfigError } from '../mat/errors.js';

export interface ReadoutCell extends Cell {
  /** The wrapped cell. */
  readonly inner: Cell;
}

export function withReadout(inner: Cell, outputSize: number): ReadoutCell {
  checkInt('withReadout', 'outputSize', outputSize);
  const innerCount = inner.paramSpecs.length;
  for (const s of inner.paramSpecs) {
    if (s.name === 'weight_out' || s.name === 'bias_out') throw new ConfigError('withReadout', `the ${inner.kind} cell already has a parameter named ${s.name}`, { cell: inner.kind, name: s.name });
  }
  const head: readonly ParamSpec[] = [
    { name: 'weight_out', rows: outputSize, cols: inner.outputSize, role: 'weight' },
    { name: 'bias_out', rows: 1, cols: outputSize, role: 'bias' },
  ];
  const { specs } = joinParamSpecs([inner, { paramSpecs: head }], (name) => name);
  const readout = (g: Graph, params: readonly Var[], h: Var): Var => g.linear(h, params[innerCount], params[innerCount + 1]);
  const cell: ReadoutCell = {
    kind: inner.kind,
    inner,
    // A readout looks at one step's output only, so the wrapper is causal exactly when the
    // inner cell is: Rtrl then refuses a readout over a bidirectional layer up front.
    ...(inner.causal === undefined ? {} : { causal: inner.causal }),
    ...(inner.inputSymbols === undefined ? {} : { inputSymbols: inner.inputSymbols }),
    inputSize: inner.inputSize,
    stateSizes: inner.stateSizes,
    stateNames: inner.stateNames,
    outputSize,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var) {
      // Cells read their parameters by position, so the readout's two at the end go unseen.
      const result = inner.step(g, params, state, x);
      return { state: result.state, output: readout(g, params, result.output) };
    },
    init(mats: readonly Mat[], rng: Rng) {
      inner.init(mats.slice(0, innerCount), rng);
      // PyTorch's Linear default: U(±1/√fan_in) for weight and bias.
      const bound = 1 / Math.sqrt(inner.outputSize);
      uniformInit(mats[innerCount], rng, -bound, bound);
      uniformInit(mats[innerCount + 1], rng, -bound, bound);
    },
  };
  if (inner.scan !== undefined) {
    const innerScan = inner.scan.bind(inner);
    // The inner cell's own scan, then the readout at every step; zero past a sequence's end, as a stepped cell gives.
    (cell as { scan?: Cell['scan'] }).scan = (g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult => {
      const run = innerScan(g, params.slice(0, innerCount), xs, initial, masks);
      const outputs = run.outputs.map((h, t) => zeroPastEnd(g, readout(g, params, h), t, masks));
      return { outputs, states: run.states, final: run.final };
    };
  }
  // SnAp-1's hooks (lib/cells/cell.ts) read the inner cell's parameters by position, as its step does;
  // the readout's two reach the loss without passing through the state (null in unitInfluence).
  if (inner.unitJacobian !== undefined) (cell as { unitJacobian?: Cell['unitJacobian'] }).unitJacobian = inner.unitJacobian.bind(inner);
  if (inner.unitInfluence !== undefined) {
    (cell as { unitInfluence?: Cell['unitInfluence'] }).unitInfluence = { ...inner.unitInfluence, params: [...inner.unitInfluence.params, null, null] };
  }
  // A stack's dropout switch (which Rtrl's memory probe turns off while it steps once) reaches the stack.
  forwardTraining(cell, [inner]);
  return cell;
}
