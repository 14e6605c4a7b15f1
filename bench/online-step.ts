// Time of one online step: UORO and KF-RTRL (Elman only) against exact RTRL and against BPTT's
// forward + backward per step (Bptt.run over a 100-step sequence, divided by 100), for Elman, GRU
// and LSTM at hidden 16 and 64 (input 8, batch 1, a loss term at every step).
// Expected shape: UORO a small multiple of BPTT's per-step cost (a few passes of the step plus
// O(P)); KF-RTRL adds the H x H x H product D·A; RTRL grows with P·(state), n⁴ overall.
import { uniformMat } from './inputs.js';
import { bestMsPerCall, cpuMs, median } from './timing.js';
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


/** The bench's model, inputs and loss for a cell and hidden size (the same for every method). */
function setup(kind: CellKind, hidden: number) {
  const rng = new Rng(hidden);
  const model = createModel(createCell(kind, { inputSize: INPUT, hiddenSize: hidden }), { seed: hidden });
  const xs = uniformMat(STEPS, INPUT, rng);
  const cot = uniformMat(STEPS, model.cell.outputSize, rng);
  // An online method's t counts every step since reset (the timing loop runs far past STEPS): wrap it.
  const loss: SequenceLoss = { step: (g, t, out) => g.dot(out, g.constant({ rows: 1, cols: cot.cols, data: cot.data, offset: (t % STEPS) * cot.cols })) };
  const inputs = Array.from({ length: STEPS }, (_, t) => ({ rows: 1, cols: INPUT, data: xs.data, offset: t * INPUT }));
  return { model, xs, loss, inputs };
}

type Setup = ReturnType<typeof setup>;

function onlineMs(method: { reset(): void; step(x: Mat, loss: SequenceLoss): Mat }, { loss, inputs }: Setup, samples: number): number {
  method.reset();
  let t = 0;
  return measure(() => { method.step(inputs[t % STEPS], loss); t++; }, samples);
}

function bpttMs(bptt: Bptt, { xs, loss }: Setup, samples: number): number {
  return measure(() => { bptt.run(xs, loss); }, samples) / STEPS;
}

function row(kind: CellKind, hidden: number, samples: number): OnlineStepRow {
  const s = setup(kind, hidden), { model } = s;
  return {
    cell: kind, hidden, params: model.params.theta.length,
    uoroMs: onlineMs(new Uoro(model), s, samples),
    kfRtrlMs: kind === 'elman' ? onlineMs(new KfRtrl(model), s, samples) : null,
    rtrlMs: onlineMs(new Rtrl(model), s, samples),
    bpttMs: bpttMs(new Bptt(model), s, samples),
  };
}

export interface UoroRatioOptions {
  cells?: readonly CellKind[];
  hidden?: number;
  /** Rounds, each timing UORO and BPTT with their samples interleaved (default 5). */
  rounds?: number;
  samples?: number;
  /** 'cpu' (default): this process's CPU time, robust to other jobs queueing for the cores; 'wall': elapsed time. */
  clock?: 'cpu' | 'wall';
}

export interface UoroRatioRow {
  cell: CellKind;
  hidden: number;
  /** uoro / bptt per step, one per round. */
  ratios: number[];
  median: number;
  uoroMs: number[];
  bpttMs: number[];
}

/** Milliseconds of this process's CPU time (user + system), or of the wall clock. */
function clockOf(kind: 'cpu' | 'wall'): () => number {
  if (kind === 'wall') return () => performance.now();
  return cpuMs;
}

/**
 * Best ms per call of each function, their samples taken in turn (a, b, a, b, ...) so that load
 * from other jobs falls on both alike; each warmed up and its sample sized as bestMsPerCall does.
 * With the 'cpu' clock a sample counts only the time this process ran: on a machine with more
 * runnable jobs than cores, time spent waiting for a core is left out.
 */
function interleavedBest(fns: readonly (() => void)[], samples: number, clock: () => number): number[] {
  const reps = fns.map((fn) => {
    const end = performance.now() + WARMUP_MS;
    let calls = 0;
    const start = performance.now();
    do { fn(); calls++; } while (performance.now() < end);
    return Math.max(1, Math.ceil(SAMPLE_MS / Math.max((performance.now() - start) / calls, 1e-4)));
  });
  const best = fns.map(() => Infinity);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < fns.length; i++) {
      const start = clock();
      for (let r = 0; r < reps[i]; r++) fns[i]();
      best[i] = Math.min(best[i], (clock() - start) / reps[i]);
    }
  }
  return best;
}

/**
 * UORO's step against BPTT's forward + backward per step (issue 13's target: at most 3x at hidden
 * 64), on a shared machine: each round takes both's samples in turn (interleavedBest), so load
 * that comes and goes touches both; the median ratio over rounds is reported. RTRL is left out (seconds per row).
 */
export function benchUoroRatio(opts: UoroRatioOptions = {}): UoroRatioRow[] {
  const cells = opts.cells ?? ['gru', 'lstm'];
  const hidden = opts.hidden ?? 64, rounds = opts.rounds ?? 5, samples = opts.samples ?? 7;
  const clockKind = opts.clock ?? 'cpu', clock = clockOf(clockKind);
  const rows: UoroRatioRow[] = [];
  for (const kind of cells) {
    const s = setup(kind, hidden);
    const uoro = new Uoro(s.model), bptt = new Bptt(s.model);
    const r: UoroRatioRow = { cell: kind, hidden, ratios: [], median: 0, uoroMs: [], bpttMs: [] };
    uoro.reset();
    let t = 0;
    const uoroStep = () => { uoro.step(s.inputs[t % STEPS], s.loss); t++; };
    const bpttRun = () => { bptt.run(s.xs, s.loss); };
    for (let i = 0; i < rounds; i++) {
      const [u, b100] = interleavedBest([uoroStep, bpttRun], samples, clock);
      const b = b100 / STEPS;
      r.uoroMs.push(u);
      r.bpttMs.push(b);
      r.ratios.push(u / b);
    }
    r.median = median(r.ratios);
    console.log(`${kind} hidden ${hidden} (${clockKind} time): uoro/bptt median ${r.median.toFixed(2)} over ${rounds} rounds; rounds (uoro ms, bptt ms, ratio): ${r.ratios.map((x, i) => `${fmt(r.uoroMs[i])} ${fmt(r.bpttMs[i])} ${x.toFixed(2)}`).join(' | ')}`);
    rows.push(r);
  }
  return rows;
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

// Run directly: the UORO/BPTT ratio, e.g.
// `node build/bench/online-step.js --rounds 5 [--wall] [--cells gru,lstm,elman] [--hidden 64]`.
if (typeof process !== 'undefined' && process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const value = (flag: string): string | undefined => { const at = process.argv.indexOf(flag); return at < 0 ? undefined : process.argv[at + 1]; };
  const cells = value('--cells')?.split(',') as UoroRatioOptions['cells'] | undefined;
  const hidden = value('--hidden');
  benchUoroRatio({
    rounds: Number(value('--rounds') ?? 5), clock: process.argv.includes('--wall') ? 'wall' : 'cpu',
    ...(cells === undefined ? {} : { cells }), ...(hidden === undefined ? {} : { hidden: Number(hidden) }),
  });
}
