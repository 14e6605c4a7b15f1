// Exact RTRL on 1 thread vs 2 threads (issue 15: an RTRL step at n = 64 at least 1.8x faster on
// 2 threads). LSTM, input 8, batch 1, a loss term at every step (<output, c_t>), as bench/rtrl-step.ts;
// hidden 64 and a smaller size. Several rounds in the same run, the order of 1 and 2 threads
// alternating, each the median ms per step over `steps` steps after a warm-up; the load average
// (os.loadavg, what `uptime` prints) before and after each round, since the machine is shared.
// Also checks that both give the same gradient bit for bit.
//
//   npx tsc -p tsconfig.json && node build/bench/rtrl-threads.js [--hidden 64,32] [--rounds 4] [--steps 8] [--json]
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import '../node/rtrl-threads.js';
import { uniformMat } from './inputs.js';
import { median } from './timing.js';
import type { Mat } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { type ModelSpec, modelFromSpec } from '../lib/parallel/model-spec.js';

const INPUT = 8;

export interface RtrlThreadsRow {
  hidden: number;
  params: number;
  round: number;
  /** Median ms per step on 1 thread and on 2. */
  oneMs: number;
  twoMs: number;
  /** oneMs / twoMs. */
  speedup: number;
  /** 1-minute load average before and after the round. */
  loadBefore: number;
  loadAfter: number;
  /** Whether the two gradients were equal bit for bit after the round's steps. */
  sameBits: boolean;
}

function dotLoss(cotangents: readonly Mat[]): SequenceLoss {
  return { step: (g, t, output) => g.dot(output, g.constant(cotangents[t % cotangents.length])) };
}

function msPerStep(rtrl: Rtrl, inputs: readonly Mat[], loss: SequenceLoss, steps: number): number {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    rtrl.step(inputs[rtrl.steps % inputs.length], loss);
    times.push(performance.now() - s);
  }
  return median(times);
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

export function benchRtrlThreads(hiddens: readonly number[], rounds: number, steps: number, json: boolean): RtrlThreadsRow[] {
  const rows: RtrlThreadsRow[] = [];
  for (const hidden of hiddens) {
    const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize: INPUT, hiddenSize: hidden } } };
    const model = modelFromSpec(spec);
    const rng = new Rng(1000 + hidden);
    const inputs = Array.from({ length: 64 }, () => uniformMat(1, INPUT, rng));
    const loss = dotLoss(Array.from({ length: 64 }, () => uniformMat(1, model.cell.outputSize, rng)));
    const one = new Rtrl(model);
    const two = new Rtrl(model, { threads: 2, spec });
    if (two.shards !== 2) console.error(`hidden ${hidden}: P = ${model.params.theta.length} is too small to split; 2 threads run as 1`);
    one.reset();
    two.reset();
    // Warm-up (JIT, worker start, arenas).
    for (let i = 0; i < 3; i++) { one.step(inputs[i], loss); two.step(inputs[i], loss); }
    for (let round = 0; round < rounds; round++) {
      const loadBefore = loadavg()[0];
      let oneMs: number, twoMs: number;
      if (round % 2 === 0) { oneMs = msPerStep(one, inputs, loss, steps); twoMs = msPerStep(two, inputs, loss, steps); }
      else { twoMs = msPerStep(two, inputs, loss, steps); oneMs = msPerStep(one, inputs, loss, steps); }
      const row: RtrlThreadsRow = {
        hidden, params: model.params.theta.length, round, oneMs, twoMs, speedup: oneMs / twoMs,
        loadBefore, loadAfter: loadavg()[0], sameBits: sameBits(one.grad, two.grad),
      };
      rows.push(row);
      if (json) console.log(JSON.stringify(row));
      else {
        console.log(`lstm hidden ${String(hidden).padStart(3)}  P ${String(row.params).padStart(6)}  round ${round}  1 thread ${oneMs.toFixed(1).padStart(7)} ms  2 threads ${twoMs.toFixed(1).padStart(7)} ms  speedup ${row.speedup.toFixed(2)}  load ${loadBefore.toFixed(2)} -> ${row.loadAfter.toFixed(2)}  same bits ${row.sameBits}`);
      }
    }
    two.close();
  }
  if (!json) {
    for (const hidden of hiddens) {
      const mine = rows.filter((r) => r.hidden === hidden);
      console.log(`hidden ${hidden}: median speedup ${median(mine.map((r) => r.speedup)).toFixed(2)} over ${mine.length} rounds (best ${Math.max(...mine.map((r) => r.speedup)).toFixed(2)})`);
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
  benchRtrlThreads(hiddens, rounds, steps, process.argv.includes('--json'));
}
