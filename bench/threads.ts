// The `threads` option of Bptt, 1 thread against 2 (or any list), on one LSTM layer with a dense
// head at every step and MSE over every step (issue 15's big config by default).
// usage: node build/bench/threads.js [--batch 32] [--steps 50] [--input 32] [--hidden 128] [--threads 1,2] [--reps 9]
// Prints ms per gradient (the median of reps runs, after 2 warm-up runs) and the CPU ms of every
// thread of the process per gradient, per thread count; the speed ratio to the first count, and
// the gradient's relative difference (max abs diff / max abs entry) from the first count's.
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import '../node/register.js';
import { modelFromSpec } from '../lib/parallel/model-spec.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { sequenceLoss } from '../lib/loss/losses.js';
import { Rng } from '../lib/mat/rng.js';
import { uniformMat } from './inputs.js';
import { median } from './timing.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const batch = Number(option('batch', '32')), steps = Number(option('steps', '50'));
const inputSize = Number(option('input', '32')), hidden = Number(option('hidden', '128'));
const threadList = option('threads', '1,2').split(',').map(Number);
const reps = Number(option('reps', '9'));

const model = modelFromSpec({ cell: { kind: 'lstm', options: { inputSize, hiddenSize: hidden } }, readout: inputSize }, { seed: 1 });
const rng = new Rng(7);
const xs = uniformMat(steps * batch, inputSize, rng);
const targets = uniformMat(steps * batch, inputSize, rng);
const loss = sequenceLoss({ kind: 'mse', targets, mask: null, batch });

/**
 * The cores this process gets right now: `threads` threads (this one and threads - 1 workers)
 * spin for `ms`, and the process's CPU time over the wall time is the answer (at most threads).
 * On a machine shared with other jobs it bounds the speedup any threaded code can show.
 */
async function coresAvailable(threads: number, ms: number): Promise<number> {
  const spin = `const end = Date.now() + ${ms}; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); require('node:worker_threads').parentPort.postMessage(x);`;
  const c0 = process.cpuUsage(), t0 = performance.now();
  const workers = Array.from({ length: threads - 1 }, () => new Worker(spin, { eval: true }));
  const done = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  await Promise.all(done);
  const c = process.cpuUsage(c0), wall = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  return x > 0 ? (c.user + c.system) / 1000 / wall : 0;
}

console.log(`threads bench: lstm batch ${batch}, ${steps} steps, input ${inputSize}, hidden ${hidden}; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
let first: { ms: number; grad: Float64Array } | null = null;
for (const threads of threadList) {
  const method = new Bptt(model, { threads });
  const times: number[] = [], cpu: number[] = [];
  let grad: Float64Array = new Float64Array(0);
  for (let r = 0; r < reps + 2; r++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    grad = method.run(xs, loss, { batch }).grad;
    const c = process.cpuUsage(c0);
    if (r >= 2) { times.push(performance.now() - t0); cpu.push((c.user + c.system) / 1000); }
  }
  method.close();
  const ms = median(times);
  if (first === null) first = { ms, grad };
  let diff = 0, scale = 0;
  for (let i = 0; i < grad.length; i++) { diff = Math.max(diff, Math.abs(grad[i] - first.grad[i])); scale = Math.max(scale, Math.abs(first.grad[i])); }
  const cores = await coresAvailable(threads, 400);
  console.log(`threads ${threads}: ${ms.toFixed(1)} ms per gradient (min ${Math.min(...times).toFixed(1)}; CPU ${median(cpu).toFixed(1)} ms, all threads), ${(first.ms / ms).toFixed(2)}x the first's speed, grad rel diff ${(diff / scale).toExponential(2)}; ${threads} spinning threads got ${cores.toFixed(2)} cores just after`);
}
