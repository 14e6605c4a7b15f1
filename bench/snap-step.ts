// Per-step time and kept memory of SnAp-1, SnAp-2, exact RTRL and BPTT (issue: SnAp), for LSTM,
// GRU and IndRNN at hidden 16 and 64 (input 8, batch 1, a loss term at every step).
//   - the online methods: ms of one step(), best of a few samples after a warm-up;
//   - BPTT: Bptt.run over STEPS steps, divided by STEPS (its tape grows with the sequence).
// Bytes: what each keeps for its gradient between steps (Snap.stateBytes, Rtrl's S, BPTT's tape over STEPS steps).
// Then the targets of issue 13 as ratios measured in one run: per cell at each hidden size, ROUNDS
// rounds each timing SnAp-1's step and then BPTT's step (RATIO_SAMPLE_MS of the process's CPU time
// each, the one after the other, so both see the same machine load); the median of the rounds' ratios is reported, with Ŝ's bytes
// (8 per kept sensitivity) against 2 x 8 x P.
import { CELL_KINDS, type CellKind, createCell, isCellKind } from '../lib/cells/registry.js';
import { type Mat, mat, rowsView } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { Bptt } from '../lib/rnn/bptt.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { type RecurrentModel, createModel } from '../lib/rnn/model.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Snap } from '../lib/rnn/snap.js';
import { cpuMs, median } from './timing.js';

const INPUT = 8;
const STEPS = 50;
const SAMPLE_MS = 150;
const WARM_MS = 300;

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
  /** Only the SnAp-1 / BPTT ratios (no table of SnAp-2 and RTRL, which are slow at n = 64). */
  ratiosOnly?: boolean;
  /** Rounds per ratio (default ROUNDS). */
  rounds?: number;
}

export interface SnapRatioRow {
  cell: CellKind;
  hidden: number;
  params: number;
  /** Medians over the rounds: ms per SnAp-1 step, per BPTT step, and of the rounds' ratios. */
  snapMs: number;
  bpttMs: number;
  ratio: number;
  /** The rounds' ratios, ascending. */
  ratios: number[];
  /** Ŝ's bytes (8 per kept sensitivity) and 2 x 8 x P. */
  sensitivityBytes: number;
  /** Snap.stateBytes(): Ŝ, the state and the pending dL/ds, what SnAp-1 carries from step to step. */
  keptBytes: number;
  limitBytes: number;
  /** Whether SnAp-1 took the fused path (Cell.unitInfluence). */
  fused: boolean;
}

const ROUNDS = 15;
/** ms of one ratio sample: short, so that a round's two samples see the same load of a shared machine. */
const RATIO_SAMPLE_MS = 40;

function lossFor(outputs: Mat, rows: number): SequenceLoss {
  return { step: (g, t, out) => g.dot(out, g.constant(rowsView(outputs, (t % STEPS) * rows, rows))) };
}

function random(rng: Rng, rows: number, cols: number): Mat {
  const m = mat(rows, cols);
  rng.fillNormal(m, 0, 1);
  return m;
}

/** ms per call of f: the best mean over samples of at least SAMPLE_MS (and at least 2 calls) each, after a warm-up of WARM_MS (at least 1 call: the JIT's tiers). */
function timePerCall(f: () => void, samples: number): number {
  const warm = performance.now();
  do f(); while (performance.now() - warm < WARM_MS);
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

/** CPU ms per call of f over one sample of at least `ms` (and 2 calls), after no warm-up. */
function sample(f: () => void, ms = RATIO_SAMPLE_MS): number {
  let calls = 0;
  const start = cpuMs();
  let now = start;
  while (calls < 2 || now - start < ms) { f(); calls++; now = cpuMs(); }
  return (now - start) / calls;
}

function ratioOne(cell: CellKind, hidden: number, rng: Rng, rounds: number): SnapRatioRow {
  const model: RecurrentModel = createModel(createCell(cell, { inputSize: INPUT, hiddenSize: hidden }), { seed: 1 });
  const xs = random(rng, STEPS, INPUT);
  const loss = lossFor(random(rng, STEPS, hidden), 1);
  const snap = new Snap(model, { order: 1 });
  snap.reset({});
  let t = 0;
  const snapStep = () => { snap.step(rowsView(xs, t % STEPS, 1), loss); t++; snap.zeroGrad(); };
  const bptt = new Bptt(model);
  const bpttRun = () => { bptt.run(xs, loss); };
  sample(snapStep, WARM_MS); sample(bpttRun, WARM_MS); // warm-up
  const snapMs: number[] = [], bpttMs: number[] = [], ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = sample(snapStep), b = sample(bpttRun) / STEPS;
    snapMs.push(a); bpttMs.push(b); ratios.push(a / b);
  }
  const P = model.params.theta.length;
  return {
    cell, hidden, params: P, snapMs: median(snapMs), bpttMs: median(bpttMs), ratio: median(ratios), ratios: ratios.sort((a, b) => a - b),
    sensitivityBytes: 8 * snap.sensitivityCount(), keptBytes: snap.stateBytes(), limitBytes: 2 * 8 * P, fused: snap.fused !== null,
  };
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function bytes(b: number): string {
  return b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
}

/** Measures, prints a table and the ratios (or one JSON object {rows, ratios, method}) and returns them. */
export function benchSnapStep(opts: SnapStepBenchOptions = {}): { rows: SnapStepRow[]; ratios: SnapRatioRow[]; method: string } {
  const cells = opts.cells ?? ['lstm', 'gru', 'indrnn'];
  const hiddens = opts.hidden ?? [16, 64];
  const rounds = opts.rounds ?? ROUNDS;
  for (const h of hiddens) if (!Number.isInteger(h) || h < 1) throw new Error(`benchSnapStep: hidden size ${h} is not a positive integer`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`benchSnapStep: rounds ${rounds} is not a positive integer`);
  const rng = new Rng(7);
  const rows: SnapStepRow[] = [];
  if (opts.ratiosOnly !== true) for (const cell of cells) for (const hidden of hiddens) rows.push(...benchOne(cell, hidden, rng));
  const ratios: SnapRatioRow[] = [];
  for (const cell of cells) for (const hidden of hiddens) ratios.push(ratioOne(cell, hidden, rng, rounds));
  const method = `input ${INPUT}, batch 1, a loss term at every step; online methods: ms of one step (best of 1-3 samples of >= ${SAMPLE_MS} ms, after ${WARM_MS} ms of warm-up); `
    + `bptt: Bptt.run over ${STEPS} steps / ${STEPS}. bytes: Snap.stateBytes, Rtrl's S, BPTT's tape of ${STEPS} steps. `
    + `ratios: ${rounds} rounds of (SnAp-1 step, BPTT step) samples of >= ${RATIO_SAMPLE_MS} ms of process CPU time each, medians; kept = Snap.stateBytes() (Ŝ = 8 x Snap.sensitivityCount(), the state, the pending dL/ds).`;
  if (opts.json) {
    console.log(JSON.stringify({ rows, ratios, method }));
    return { rows, ratios, method };
  }
  const lines: string[] = [];
  if (rows.length > 0) {
    lines.push('cell    hidden       P  method   ms/step      bytes');
    for (const r of rows) {
      lines.push([r.cell.padEnd(6), String(r.hidden).padStart(6), String(r.params).padStart(7), r.method.padEnd(6), fmt(r.msPerStep).padStart(9), bytes(r.bytes).padStart(10)].join('  '));
    }
    lines.push('');
  }
  lines.push('cell    hidden       P  snap1 ms  bptt ms  snap1/bptt (rounds min..max)      kept / 2x8xP  fused');
  for (const r of ratios) {
    lines.push([r.cell.padEnd(6), String(r.hidden).padStart(6), String(r.params).padStart(7), fmt(r.snapMs).padStart(8), fmt(r.bpttMs).padStart(7),
      `${r.ratio.toFixed(2)} (${r.ratios[0].toFixed(2)}..${r.ratios[r.ratios.length - 1].toFixed(2)})`.padEnd(28),
      `${bytes(r.keptBytes)} / ${bytes(r.limitBytes)}`.padStart(21), r.fused ? 'yes' : 'no'].join('  '));
  }
  lines.push('', `(${method})`);
  console.log(lines.join('\n'));
  return { rows, ratios, method };
}

// node build/bench/snap-step.js [--json] [--ratios] [--rounds N] [--cells lstm,gru,indrnn] [--hidden 16,64]
if (typeof process !== 'undefined' && process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const value = (flag: string): string | undefined => { const at = process.argv.indexOf(flag); return at > 0 ? process.argv[at + 1] : undefined; };
  const rounds = value('--rounds'), cells = value('--cells'), hidden = value('--hidden');
  for (const c of cells?.split(',') ?? []) if (!isCellKind(c)) throw new Error(`snap-step: unknown cell ${JSON.stringify(c)} (one of ${CELL_KINDS.join(', ')})`);
  benchSnapStep({
    json: process.argv.includes('--json'), ratiosOnly: process.argv.includes('--ratios'),
    ...(rounds === undefined ? {} : { rounds: Number(rounds) }),
    ...(cells === undefined ? {} : { cells: cells.split(',') as CellKind[] }),
    ...(hidden === undefined ? {} : { hidden: hidden.split(',').map(Number) }),
  });
}
