// The speed targets of the two modes (issue 3), for Elman, LSTM and GRU at
// hidden 16, 32, 64 (input 8, batch 1):
//
// - RTRL: the time of one step against the time of the one product that
//   should dominate it, the recurrent weight times S_{t-1}:
//   gemm(out, W_hh (gates·H x H), S_h (H x P), beta = 1), exactly the call the
//   forward-mode matmul rule makes. Target: step <= 2x that gemm.
// - BPTT: forward + backward over 100 steps (Bptt.run) against the forward
//   pass alone, measured two ways: the cell on a Graph in 'eval' mode (values
//   only: the target's reference), and on a 'reverse' Graph recording its tape
//   without calling backward (what the forward half of Bptt.run costs).
//   Target: forward + backward <= 3x the eval forward.
//
// Every step carries a loss term (a dot product of the output with a fixed
// random cotangent), as in training.

import { uniformMat } from './inputs.js';
import { bestMsPerCall } from './timing.js';
import { Graph, type Var } from '../lib/ad/graph.js';
import { type CellKind, cellGates, createCell } from '../lib/cells/registry.js';
import { flopCounter, gemm } from '../lib/mat/gemm.js';
import { type Mat, rowsView } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { Bptt } from '../lib/rnn/bptt.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { type RecurrentModel, createModel } from '../lib/rnn/model.js';
import { Unroll } from '../lib/rnn/unroll.js';
import { Rtrl } from '../lib/rnn/rtrl.js';

export const RTRL_TARGET = 2; // RTRL step / recurrent gemm
export const BPTT_TARGET = 3; // forward+backward / forward (eval)

export interface RtrlStepRow {
  cell: CellKind;
  hidden: number;
  /** P, the tangent directions. */
  params: number;
  /** ms of one Rtrl.step (loss term included). */
  stepMs: number;
  /** ms of gemm(out, W_hh, S_{t-1}, beta 1): (gates·H x H) times (H x P). */
  gemmMs: number;
  /** stepMs / gemmMs; the target is <= 2. */
  ratio: number;
  /** Flops of one step as the engine counts them, and of the gemm alone (2·gates·H·H·P). */
  stepFlops: number;
  gemmFlops: number;
  withinTarget: boolean;
}

export interface BpttStepRow {
  cell: CellKind;
  hidden: number;
  params: number;
  steps: number;
  /** Forward pass over all steps on a Graph in 'eval' mode (values only). */
  forwardMs: number;
  /** The same forward pass on a 'reverse' Graph (tape recorded, no backward). */
  tapeForwardMs: number;
  /** Bptt.run: forward with tape, then backward to the parameter gradient. */
  forwardBackwardMs: number;
  /** forwardBackwardMs / forwardMs; the target is <= 3. */
  ratio: number;
  withinTarget: boolean;
}

export interface RtrlStepBench {
  rtrl: RtrlStepRow[];
  bptt: BpttStepRow[];
  /** How the numbers were taken. */
  method: string;
}

export interface RtrlStepBenchOptions {
  json: boolean;
  cells?: readonly CellKind[];
  hidden?: readonly number[];
  /** BPTT sequence length (default 100). */
  steps?: number;
  /** Samples per measurement, the fastest reported (default 7). */
  samples?: number;
}

const INPUT = 8;
const SAMPLE_MS = 20;
const WARMUP_MS = 100;

function measure(fn: () => void, samples: number): number {
  return bestMsPerCall(fn, samples, WARMUP_MS, SAMPLE_MS);
}


/** A loss term at every step: <output_t, c_t> with fixed random cotangents c_t. */
function dotLoss(cotangents: readonly Mat[]): SequenceLoss {
  return { step: (g, t, output) => g.dot(output, g.constant(cotangents[t % cotangents.length])) };
}

function benchRtrl(kind: CellKind, hidden: number, samples: number): RtrlStepRow {
  const rng = new Rng(1000 + hidden);
  const model = createModel(createCell(kind, { inputSize: INPUT, hiddenSize: hidden }), { seed: hidden });
  const P = model.params.theta.length;
  const inputs = Array.from({ length: 64 }, () => uniformMat(1, INPUT, rng));
  const loss = dotLoss(Array.from({ length: 64 }, () => uniformMat(1, model.cell.outputSize, rng)));
  const rtrl = new Rtrl(model);
  rtrl.reset();
  let t = 0;
  const step = () => { rtrl.step(inputs[t % inputs.length], loss); t++; };
  step(); // allocates the arena
  const f0 = flopCounter.count;
  step();
  const stepFlops = flopCounter.count - f0;
  const stepMs = measure(step, samples);
  // The recurrent product, as the forward-mode rule of x·Wᵀ issues it for the h input.
  const rows = cellGates(kind) * hidden;
  const weight = uniformMat(rows, hidden, rng);
  const sensitivity = uniformMat(hidden, P, rng);
  const out = uniformMat(rows, P, rng);
  const product = () => gemm(out, weight, sensitivity, false, false, 1, 1);
  const gemmMs = measure(product, samples);
  const ratio = stepMs / gemmMs;
  return {
    cell: kind, hidden, params: P, stepMs, gemmMs, ratio, stepFlops, gemmFlops: 2 * rows * hidden * P,
    withinTarget: ratio <= RTRL_TARGET,
  };
}

/** Runs the unroll forward over every step on graph g (any mode) with the loss at every step. */
function forward(g: Graph, model: RecurrentModel, views: readonly Mat[], loss: SequenceLoss, requiresGrad: boolean): void {
  g.reset();
  const unroll = new Unroll(model, 'bench');
  const params = unroll.leaves(g, { requiresGrad });
  const cellParams = unroll.cellParams(params);
  let state = unroll.initialState(g, 1, params, null);
  let total: Var | null = null;
  for (let t = 0; t < views.length; t++) {
    const result = unroll.step(g, cellParams, state, g.leaf(views[t]), t, null);
    state = result.state;
    const term = loss.step!(g, t, result.output, state)!;
    total = total === null ? term : g.add(total, term);
  }
}

function benchBptt(kind: CellKind, hidden: number, steps: number, samples: number): BpttStepRow {
  const rng = new Rng(2000 + hidden);
  const model = createModel(createCell(kind, { inputSize: INPUT, hiddenSize: hidden }), { seed: hidden });
  const xs = uniformMat(steps, INPUT, rng);
  const views = Array.from({ length: steps }, (_, t) => rowsView(xs, t, 1));
  const loss = dotLoss(Array.from({ length: steps }, () => uniformMat(1, model.cell.outputSize, rng)));
  const evalGraph = new Graph('eval');
  const tapeGraph = new Graph('reverse');
  const bptt = new Bptt(model);
  const forwardMs = measure(() => forward(evalGraph, model, views, loss, false), samples);
  const tapeForwardMs = measure(() => forward(tapeGraph, model, views, loss, true), samples);
  const forwardBackwardMs = measure(() => { bptt.run(xs, loss); }, samples);
  const ratio = forwardBackwardMs / forwardMs;
  return {
    cell: kind, hidden, params: model.params.theta.length, steps, forwardMs, tapeForwardMs, forwardBackwardMs, ratio,
    withinTarget: ratio <= BPTT_TARGET,
  };
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/**
 * Measures the RTRL step against its recurrent gemm and BPTT's forward + backward
 * against its forward, prints a table (or one JSON object {rtrl, bptt, method}),
 * and returns the rows.
 */
export function benchRtrlStep(opts: RtrlStepBenchOptions): RtrlStepBench {
  const cells = opts.cells ?? ['elman', 'lstm', 'gru'];
  const hiddens = opts.hidden ?? [16, 32, 64];
  const steps = opts.steps ?? 100;
  const samples = opts.samples ?? 7;
  for (const h of hiddens) if (!Number.isInteger(h) || h < 1) throw new Error(`benchRtrlStep: hidden size ${h} is not a positive integer`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`benchRtrlStep: steps ${steps} is not a positive integer`);
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`benchRtrlStep: samples ${samples} is not a positive integer`);
  const rtrl: RtrlStepRow[] = [];
  const bptt: BpttStepRow[] = [];
  for (const cell of cells) {
    for (const hidden of hiddens) {
      rtrl.push(benchRtrl(cell, hidden, samples));
      bptt.push(benchBptt(cell, hidden, steps, samples));
    }
  }
  const method = `input ${INPUT}, batch 1, loss term at every step; best of ${samples} samples (each >= ${SAMPLE_MS} ms) after ${WARMUP_MS} ms warm-up. `
    + `RTRL gemm: gemm(out, W_hh (gates*H x H), S (H x P), beta 1). BPTT forward: the cell on a Graph in 'eval' mode; `
    + `tape forward: a 'reverse' Graph without backward; forward+backward: Bptt.run over ${steps} steps.`;
  const result: RtrlStepBench = { rtrl, bptt, method };
  if (opts.json) {
    console.log(JSON.stringify(result));
    return result;
  }
  const lines: string[] = [];
  lines.push(`RTRL: one step vs the recurrent gemm W_hh · S_{t-1} (target: step <= ${RTRL_TARGET}x gemm)`);
  lines.push('cell    hidden      P   step ms   gemm ms  ratio  step GF/s  gemm GF/s  step flops / gemm flops  target');
  for (const r of rtrl) {
    lines.push([
      r.cell.padEnd(6), String(r.hidden).padStart(6), String(r.params).padStart(6), ms(r.stepMs).padStart(9), ms(r.gemmMs).padStart(9),
      r.ratio.toFixed(2).padStart(6), (r.stepFlops / r.stepMs / 1e6).toFixed(2).padStart(10), (r.gemmFlops / r.gemmMs / 1e6).toFixed(2).padStart(10),
      (r.stepFlops / r.gemmFlops).toFixed(2).padStart(24), r.withinTarget ? '    ok' : 'MISSED',
    ].join(' '));
  }
  lines.push('');
  lines.push(`BPTT over ${steps} steps: forward + backward vs forward alone (target: <= ${BPTT_TARGET}x the eval forward)`);
  lines.push('cell    hidden      P  fwd (eval) ms  fwd (tape) ms  fwd+bwd ms  ratio  target');
  for (const r of bptt) {
    lines.push([
      r.cell.padEnd(6), String(r.hidden).padStart(6), String(r.params).padStart(6), ms(r.forwardMs).padStart(14), ms(r.tapeForwardMs).padStart(14),
      ms(r.forwardBackwardMs).padStart(11), r.ratio.toFixed(2).padStart(6), r.withinTarget ? '    ok' : 'MISSED',
    ].join(' '));
  }
  lines.push('');
  lines.push(`(${method})`);
  console.log(lines.join('\n'));
  return result;
}
