// Exact RTRL (or SnAp-n, n >= 2: --method snap2) on 1 thread vs 2 threads (issue 15: an RTRL step
// at n = 64 at least 1.8x faster on 2 threads). LSTM (--cell), input 8, batch 1, a loss term at
// every step (<output, c_t>), as bench/rtrl-step.ts;
// hidden 64 and a smaller size. Several rounds in the same run, the order of 1 and 2 threads
// alternating, each the median ms per step over `steps` steps after a warm-up; the load average
// (os.loadavg, what `uptime` prints) before and after each round, since the machine is shared.
// Also the CPU ms per step of every thread of the process (what 2 threads cost in total against
// 1: the split's overhead, apart from the cores the machine could give), and that both give the
// same gradient bit for bit (RTRL) or how far apart they are (SnAp: to rounding).
//
//   npx tsc -p tsconfig.json && node build/bench/rtrl-threads.js [--hidden 64,32] [--rounds 4] [--steps 8] [--cell lstm] [--method rtrl|snapN] [--json]
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import '../node/rtrl-threads.js';
import { uniformMat } from './inputs.js';
import { median } from './timing.js';
import type { Mat } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Snap } from '../lib/rnn/snap.js';
import { type MethodSpec, formatMethod, parseMethod } from '../lib/rnn/methods.js';
import { type CellKind, isCellKind } from '../lib/cells/registry.js';
import { type ModelSpec, modelFromSpec } from '../lib/parallel/model-spec.js';

const INPUT = 8;

export interface RtrlThreadsRow {
  method: string;
  cell: CellKind;
  hidden: number;
  params: number;
  round: number;
  /** Median ms per step on 1 thread and on 2. */
  oneMs: number;
  twoMs: number;
  /** oneMs / twoMs. */
  speedup: number;
  /** CPU ms per step of the whole process (every thread: process.cpuUsage), 1 thread and 2. */
  oneCpuMs: number;
  twoCpuMs: number;
  /** 1-minute load average before and after the round. */
  loadBefore: number;
  loadAfter: number;
  /** Whether the two gradients were equal bit for bit after the round's steps. */
  sameBits: boolean;
  /** max |g1 - g2| / max |g| of the two gradients after the round's steps. */
  gradRelDiff: number;
  /**
   * What the machine gave two threads just before the round: the same fixed spin on this thread
   * alone, then on this thread and a worker at once; 2 · alone / together (2: two free cores).
   */
  capacity: number;
}

// A fixed amount of scalar work (the same on every thread), for the capacity probe.
const SPIN = `function spin(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 1.0000001 + i) % 1e9; return x; }`;
const SPIN_N = 60_000_000;
const spin = new Function('n', `${SPIN}; return spin(n);`) as (n: number) => number;

/** 2 · (spin alone) / (spin on this thread and on a worker at once): about 2 when two cores are free. */
async function capacity(): Promise<number> {
  const worker = new Worker(`const { parentPort } = require('node:worker_threads'); ${SPIN}
parentPort.on('message', (n) => parentPort.postMessage(spin(n)));`, { eval: true });
  try {
    await new Promise<void>((resolve) => { worker.once('online', () => resolve()); });
    worker.postMessage(1000); await new Promise((r) => worker.once('message', r)); // warm
    spin(1000);
    let s = performance.now();
    spin(SPIN_N);
    const alone = performance.now() - s;
    s = performance.now();
    const done = new Promise((r) => worker.once('message', r));
    worker.postMessage(SPIN_N);
    spin(SPIN_N);
    await done;
    return (2 * alone) / (performance.now() - s);
  } finally {
    await worker.terminate();
  }
}

function dotLoss(cotangents: readonly Mat[]): SequenceLoss {
  return { step: (g, t, output) => g.dot(output, g.constant(cotangents[t % cotangents.length])) };
}

/** Median wall ms per step, and CPU ms per step of the whole process (all threads). */
function msPerStep(rtrl: Rtrl | Snap, inputs: readonly Mat[], loss: SequenceLoss, steps: number): [number, number] {
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    rtrl.step(inputs[rtrl.steps % inputs.length], loss);
    times.push(performance.now() - s);
  }
  const cpu = process.cpuUsage(cpu0);
  return [median(times), (cpu.user + cpu.system) / 1000 / steps];
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(a[i]), Math.abs(b[i])); }
  return m === 0 ? 0 : d / m;
}

export async function benchRtrlThreads(hiddens: readonly number[], rounds: number, steps: number, json: boolean, cell: CellKind = 'lstm', method: MethodSpec = { kind: 'rtrl' }): Promise<RtrlThreadsRow[]> {
  if (method.kind !== 'rtrl' && method.kind !== 'snap') throw new Error(`rtrl-threads: --method ${formatMethod(method)}: rtrl or snapN only`);
  const rows: RtrlThreadsRow[] = [];
  const name = formatMethod(method);
  for (const hidden of hiddens) {
    const spec: ModelSpec = { cell: { kind: cell, options: { inputSize: INPUT, hiddenSize: hidden } } };
    const model = modelFromSpec(spec);
    const rng = new Rng(1000 + hidden);
    const inputs = Array.from({ length: 64 }, () => uniformMat(1, INPUT, rng));
    const loss = dotLoss(Array.from({ length: 64 }, () => uniformMat(1, model.cell.outputSize, rng)));
    const make = (threads: number) => (method.kind === 'snap'
      ? new Snap(model, { order: method.order, maxBytes: 2 ** 33, ...(threads > 1 ? { threads, spec } : {}) })
      : new Rtrl(model, threads > 1 ? { threads, spec } : {}));
    const one = make(1);
    const two = make(2);
    if (two.shards !== 2) console.error(`hidden ${hidden}: P = ${model.params.theta.length} is too small to split; 2 threads run as 1`);
    one.reset();
    two.reset();
    // Warm-up (JIT, worker start, arenas).
    for (let i = 0; i < 3; i++) { one.step(inputs[i], loss); two.step(inputs[i], loss); }
    for (let round = 0; round < rounds; round++) {
      const cap = await capacity();
      const loadBefore = loadavg()[0];
      let oneMs: number, twoMs: number, oneCpuMs: number, twoCpuMs: number;
      if (round % 2 === 0) { [oneMs, oneCpuMs] = msPerStep(one, inputs, loss, steps); [twoMs, twoCpuMs] = msPerStep(two, inputs, loss, steps); }
      else { [twoMs, twoCpuMs] = msPerStep(two, inputs, loss, steps); [oneMs, oneCpuMs] = msPerStep(one, inputs, loss, steps); }
      const row: RtrlThreadsRow = {
        method: name, cell, hidden, params: model.params.theta.length, round, oneMs, twoMs, speedup: oneMs / twoMs, oneCpuMs, twoCpuMs,
        loadBefore, loadAfter: loadavg()[0], sameBits: sameBits(one.grad, two.grad), gradRelDiff: relDiff(one.grad, two.grad), capacity: cap,
      };
      rows.push(row);
      if (json) console.log(JSON.stringify(row));
      else {
        console.log(`${name} ${cell} hidden ${String(hidden).padStart(3)}  P ${String(row.params).padStart(6)}  round ${round}  1 thread ${oneMs.toFixed(1).padStart(7)} ms  2 threads ${twoMs.toFixed(1).padStart(7)} ms  speedup ${row.speedup.toFixed(2)}  cpu ms/step ${oneCpuMs.toFixed(0)} vs ${twoCpuMs.toFixed(0)}  load ${loadBefore.toFixed(2)} -> ${row.loadAfter.toFixed(2)}  capacity ${cap.toFixed(2)}  same bits ${row.sameBits}${row.sameBits ? '' : ` (grad rel diff ${row.gradRelDiff.toExponential(1)})`}`);
      }
    }
    two.close();
  }
  if (!json) {
    for (const hidden of hiddens) {
      const mine = rows.filter((r) => r.hidden === hidden);
      console.log(`hidden ${hidden}: median speedup ${median(mine.map((r) => r.speedup)).toFixed(2)} over ${mine.length} rounds (best ${Math.max(...mine.map((r) => r.speedup)).toFixed(2)}); `
        + `CPU of 2 threads / 1: ${median(mine.map((r) => r.twoCpuMs / r.oneCpuMs)).toFixed(2)}; machine capacity for 2 threads (median) ${median(mine.map((r) => r.capacity)).toFixed(2)}`);
    }
  }
  return rows;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const hiddens = option('hidden', '64,32').split(',').map(Number);
  const rounds = Number(option('rounds', '4')), steps = Number(option('steps', '8'));
  for (const v of [...hiddens, rounds, steps]) if (!Number.isInteger(v) || v < 1) throw new Error(`rtrl-threads: ${v} is not a positive integer`);
  const cell = option('cell', 'lstm');
  if (!isCellKind(cell)) throw new Error(`rtrl-threads: unknown cell ${JSON.stringify(cell)}`);
  await benchRtrlThreads(hiddens, rounds, steps, process.argv.includes('--json'), cell, parseMethod(option('method', 'rtrl')));
}
