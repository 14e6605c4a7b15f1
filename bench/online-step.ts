// Time of one online step: UORO and KF-RTRL (Elman only) against exact RTRL and against BPTT's
// forward + backward per step (Bptt.run over a 100-step sequence, divided by 100), for Elman, GRU
// and LSTM at hidden 16 and 64 (input 8, batch 1, a loss term at every step).
// Expected shape: UORO a small multiple of BPTT's per-step cost (a few passes of the step plus
// O(P)); KF-RTRL adds the H x H x H product D·A; RTRL grows with P·(state), n⁴ overall.
import { uniformMat } from './inputs.js';
import { bestMsPerCall } from './timing.js';
import { type CellKind, createCell } from '../lib/cells/registry.js';
import { type Mat } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { KfRtrl } from '../lib/rnn/kf-rtrl.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { createModel } from '../lib/rnn/model.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Uoro } from '../lib/rnn/uoro.js';

const INPUT = 8;
const STEPS = 100;
const SAMPLE_MS = 30;
const WARMUP_MS = 200;

export interface OnlineStepRow {
  cell: CellKind;
  hidden: number;
  params: number;
  /** ms per step; null where the method does not take the cell. */
  uoroMs: number;
  kfRtrlMs: number | null;
  rtrlMs: number;
  bpttMs: number;
}

export interface OnlineStepOptions {
  json: boolean;
  cells?: readonly CellKind[];
  hidden?: readonly number[];
  /** Samples per measurement, the fastest kept (default 7). */
  samples?: number;
}

function measure(fn: () => void, samples: number): number {
  return bestMsPerCall(fn, samples, WARMUP_MS, SAMPLE_MS);
}


function row(kind: CellKind, hidden: number, samples: number): OnlineStepRow {
  const rng = new Rng(hidden);
  const model = createModel(createCell(kind, { inputSize: INPUT, hiddenSize: hidden }), { seed: hidden });
  const xs = uniformMat(STEPS, INPUT, rng);
  const cot = uniformMat(STEPS, model.cell.outputSize, rng);
  const loss: SequenceLoss = { step: (g, t, out) => g.dot(out, g.constant({ rows: 1, cols: cot.cols, data: cot.data, offset: t * cot.cols })) };
  const inputs = Array.from({ length: STEPS }, (_, t) => ({ rows: 1, cols: INPUT, data: xs.data, offset: t * INPUT }));
  const online = (method: { reset(): void; step(x: Mat, loss: SequenceLoss): Mat }) => {
    method.reset();
    let t = 0;
    return measure(() => { method.step(inputs[t % STEPS], loss); t++; }, samples);
  };
  const bptt = new Bptt(model);
  return {
    cell: kind, hidden, params: model.params.theta.length,
    uoroMs: online(new Uoro(model)),
    kfRtrlMs: kind === 'elman' ? online(new KfRtrl(model)) : null,
    rtrlMs: online(new Rtrl(model)),
    bpttMs: measure(() => { bptt.run(xs, loss); }, samples) / STEPS,
  };
}

const fmt = (v: number | null) => (v === null ? '-' : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** Measures every (cell, hidden) pair, prints a table (or JSON), returns the rows. */
export function benchOnlineStep(opts: OnlineStepOptions): OnlineStepRow[] {
  const cells = opts.cells ?? ['elman', 'gru', 'lstm'];
  const hiddens = opts.hidden ?? [16, 64];
  const samples = opts.samples ?? 7;
  const rows: OnlineStepRow[] = [];
  for (const kind of cells) for (const h of hiddens) rows.push(row(kind, h, samples));
  if (opts.json) {
    console.log(JSON.stringify({ rows, method: `ms per step, input ${INPUT}, batch 1, fastest of ${samples} samples; bptt = Bptt.run over ${STEPS} steps / ${STEPS}` }));
  } else {
    console.log(`ms per step (input ${INPUT}, batch 1, a loss term every step; bptt: forward + backward of ${STEPS} steps / ${STEPS})`);
    console.log('cell    hidden  params     uoro  kf-rtrl     rtrl     bptt  uoro/bptt');
    for (const r of rows) {
      console.log(`${r.cell.padEnd(7)} ${String(r.hidden).padStart(6)} ${String(r.params).padStart(7)} ${fmt(r.uoroMs).padStart(8)} ${fmt(r.kfRtrlMs).padStart(8)} ${fmt(r.rtrlMs).padStart(8)} ${fmt(r.bpttMs).padStart(8)} ${(r.uoroMs / r.bpttMs).toFixed(1).padStart(10)}`);
    }
  }
  return rows;
}
