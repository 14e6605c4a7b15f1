// Per-step time and kept memory of SnAp-1, SnAp-2, exact RTRL and BPTT (issue: SnAp), for LSTM,
// GRU and IndRNN at hidden 16 and 64 (input 8, batch 1, a loss term at every step).
//   - the online methods: ms of one step(), best of a few samples after a warm-up;
//   - BPTT: Bptt.run over STEPS steps, divided by STEPS (its tape grows with the sequence).
// Bytes: what each keeps for its gradient between steps (Snap.stateBytes, Rtrl's S, BPTT's tape over STEPS steps).
import { type CellKind, createCell } from '../lib/cells/registry.js';
import { type Mat, mat, rowsView } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { Bptt } from '../lib/rnn/bptt.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { type RecurrentModel, createModel } from '../lib/rnn/model.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Snap } from '../lib/rnn/snap.js';

const INPUT = 8;
const STEPS = 50;
const SAMPLE_MS = 150;

export interface SnapStepRow {
  cell: CellKind;
  hidden: number;
  params: number;
  method: string;
  msPerStep: number;
  /** Bytes kept for the gradient (see the file comment). */
  bytes: number;
}

export interface SnapStepBenchOptions {
  json?: boolean;
  cells?: CellKind[];
  hidden?: number[];
}

function lossFor(outputs: Mat, rows: number): SequenceLoss {
  return { step: (g, t, out) => g.dot(out, g.constant(rowsView(outputs, (t % STEPS) * rows, rows))) };
}

function random(rng: Rng, rows: number, cols: number): Mat {
  const m = mat(rows, cols);
  rng.fillNormal(m, 0, 1);
  return m;
}

/** ms per call of f: the best mean over samples of at least SAMPLE_MS (and at least 2 calls) each. */
function timePerCall(f: () => void, samples: number): number {
  f();
  let best = Infinity;
  for (let s = 0; s < samples; s++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (calls < 2 || now - start < SAMPLE_MS) { f(); calls++; now = performance.now(); }
    best = Math.min(best, (now - start) / calls);
  }
  return best;
}

function online(method: Rtrl | Snap, xs: Mat, loss: SequenceLoss, samples: number): number {
  method.reset({});
  let t = 0;
  return timePerCall(() => {
    method.step(rowsView(xs, t % STEPS, 1), loss);
    t++;
    method.zeroGrad();
  }, samples);
}

function benchOne(cell: CellKind, hidden: number, rng: Rng): SnapStepRow[] {
  const model: RecurrentModel = createModel(createCell(cell, { inputSize: INPUT, hiddenSize: hidden }), { seed: 1 });
  const xs = random(rng, STEPS, INPUT);
  const loss = lossFor(random(rng, STEPS, hidden), 1);
  const params = model.params.theta.length;
  // Exact RTRL and dense SnAp-2 cost N²·P a step: fewer samples at the large sizes.
  const samples = hidden >= 64 ? 1 : 3;
  const rows: SnapStepRow[] = [];
  for (const order of [1, 2]) {
    const snap = new Snap(model, { order, maxBytes: 2 ** 33 });
    const msPerStep = online(snap, xs, loss, samples);
    rows.push({ cell, hidden, params, method: `snap${order}`, msPerStep, bytes: snap.stateBytes() });
  }
  const rtrl = new Rtrl(model, { maxBytes: 2 ** 33 });
  rows.push({ cell, hidden, params, method: 'rtrl', msPerStep: online(rtrl, xs, loss, samples), bytes: rtrl.stateBytes() });
  const bptt = new Bptt(model);
  let tape = 0;
  const msPerRun = timePerCall(() => { tape = bptt.run(xs, loss).tapeBytes; }, 3);
  rows.push({ cell, hidden, params, method: 'bptt', msPerStep: msPerRun / STEPS, bytes: tape });
  return rows;
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function bytes(b: number): string {
  return b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
}

/** Measures, prints a table (or one JSON object {rows, method}) and returns the rows. */
export function benchSnapStep(opts: SnapStepBenchOptions = {}): { rows: SnapStepRow[]; method: string } {
  const cells = opts.cells ?? ['lstm', 'gru', 'indrnn'];
  const hiddens = opts.hidden ?? [16, 64];
  for (const h of hiddens) if (!Number.isInteger(h) || h < 1) throw new Error(`benchSnapStep: hidden size ${h} is not a positive integer`);
  const rng = new Rng(7);
  const rows: SnapStepRow[] = [];
  for (const cell of cells) for (const hidden of hiddens) rows.push(...benchOne(cell, hidden, rng));
  const method = `input ${INPUT}, batch 1, a loss term at every step; online methods: ms of one step (best of 1-3 samples of >= ${SAMPLE_MS} ms); `
    + `bptt: Bptt.run over ${STEPS} steps / ${STEPS}. bytes: Snap.stateBytes, Rtrl's S, BPTT's tape of ${STEPS} steps.`;
  if (opts.json) {
    console.log(JSON.stringify({ rows, method }));
    return { rows, method };
  }
  const lines = ['cell    hidden       P  method   ms/step      bytes'];
  for (const r of rows) {
    lines.push([r.cell.padEnd(6), String(r.hidden).padStart(6), String(r.params).padStart(7), r.method.padEnd(6), fmt(r.msPerStep).padStart(9), bytes(r.bytes).padStart(10)].join('  '));
  }
  lines.push('', `(${method})`);
  console.log(lines.join('\n'));
  return { rows, method };
}
