// The network API's costs, each against what it wraps:
//   fit     one epoch of network.fit against the raw loop it drives (Bptt.run + the optimiser
//           step on the same batches of the same model and loss), on the `bench bilstm` shape
//           (2-layer bidirectional LSTM, input 32, hidden 128, batch 32, 50 steps) with a linear
//           output layer of 10 and mse; runs alternate (raw, fit, raw, fit, ...) and the best of each
//           is compared, so drift on a shared machine hits both; times are the process's CPU time;
//   generate  symbols per CPU second sampled by generate from a 1-layer 128-unit LSTM over 65 symbols
//           (embedding 32, and one-hot input);
//   load    milliseconds of loadNetwork on the saved bytes of a 2-layer 128-unit LSTM over 65 symbols.
import { createNetwork, loadNetwork } from '../lib/train/network.js';
import { Optimizer } from '../lib/optim/optimizer.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { sequenceLoss } from '../lib/loss/losses.js';
import { mat } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { cpuMs, median } from './timing.js';

export interface NetworkBenchOptions {
  json: boolean;
  /** Batches per timed run of the fit comparison (default 4). */
  batches?: number;
  /** Alternating raw / fit runs compared (default 3). */
  rounds?: number;
  /** Symbols per generate run (default 20000). */
  symbols?: number;
}

export interface NetworkBenchResult {
  /** Best ms per batch of each (and every run's ms per batch, in the order they ran: raw, fit, raw, fit ...). */
  readonly fit: { rawMsPerBatch: number; fitMsPerBatch: number; ratio: number; batches: number; rounds: number; parameters: number; rawRuns: number[]; fitRuns: number[] };
  readonly generate: { embedding: number; oneHot: number; symbols: number };
  readonly load: { ms: number; bytes: number; parameters: number };
}


function best(times: number[]): number {
  return Math.min(...times);
}

function benchFit(batches: number, rounds: number): NetworkBenchResult['fit'] {
  const batch = 32, steps = 50, F = 32, C = 10;
  const net = createNetwork({ inputSize: F, hiddenSize: 128, layers: 2, bidirectional: true, output: { size: C }, loss: 'mse', seed: 1 });
  const rng = new Rng(2);
  const count = batch * batches;
  const flat = new Float64Array(count * steps * F), flatTargets = new Float64Array(count * steps * C);
  for (let i = 0; i < flat.length; i++) flat[i] = rng.normal(0, 1);
  for (let i = 0; i < flatTargets.length; i++) flatTargets[i] = rng.normal(0, 1);
  const data = { inputs: { data: flat, shape: [count, steps, F] }, targets: { data: flatTargets, shape: [count, steps, C] } };
  // The raw loop's batches, time-major, made before timing (fit's own conversion is part of its time).
  const raw = Array.from({ length: batches }, (_, k) => {
    const xs = mat(steps * batch, F), ys = mat(steps * batch, C);
    for (let b = 0; b < batch; b++) for (let t = 0; t < steps; t++) {
      const s = k * batch + b;
      xs.data.set(flat.subarray((s * steps + t) * F, (s * steps + t + 1) * F), (t * batch + b) * F);
      ys.data.set(flatTargets.subarray((s * steps + t) * C, (s * steps + t + 1) * C), (t * batch + b) * C);
    }
    return { xs, ys };
  });
  const bptt = new Bptt(net.model);
  const opt = new Optimizer({ kind: 'sgd', lr: 0.001 });
  const runRaw = () => {
    const start = cpuMs();
    for (const { xs, ys } of raw) {
      const r = bptt.run(xs, sequenceLoss({ kind: 'mse', targets: ys, mask: null, batch }), { batch });
      opt.step(net.model.params.theta, r.grad);
    }
    return (cpuMs() - start) / batches;
  };
  const runFit = () => {
    const start = cpuMs();
    net.fit(data, { epochs: 1, batchSize: batch, shuffle: false, optimizer: { kind: 'sgd', lr: 0.001 } });
    return (cpuMs() - start) / batches;
  };
  runRaw(); runFit(); // warm-up: JIT, arenas
  const rawTimes: number[] = [], fitTimes: number[] = [];
  for (let round = 0; round < rounds; round++) { rawTimes.push(runRaw()); fitTimes.push(runFit()); }
  const rawMs = best(rawTimes), fitMs = best(fitTimes);
  return { rawMsPerBatch: rawMs, fitMsPerBatch: fitMs, ratio: fitMs / rawMs, batches, rounds, parameters: net.parameterCount, rawRuns: rawTimes, fitRuns: fitTimes };
}

function benchGenerate(symbols: number): NetworkBenchResult['generate'] {
  const rate = (embedding: boolean) => {
    const V = 65;
    const net = createNetwork(embedding
      ? { embedding: { vocabSize: V, size: 32 }, hiddenSize: 128, output: { size: V }, loss: 'softmax-ce', seed: 3 }
      : { inputSize: V, hiddenSize: 128, output: { size: V }, loss: 'softmax-ce', seed: 3, vocabulary: Array.from({ length: V }, (_, i) => String.fromCharCode(48 + i)) });
    net.generateIndices({ prime: [1, 2, 3], length: 2000, seed: 1 }); // warm-up
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const start = cpuMs();
      net.generateIndices({ prime: [1, 2, 3], length: symbols, temperature: 0.8, topK: 10, seed: r });
      times.push(cpuMs() - start);
    }
    return symbols / (best(times) / 1000);
  };
  return { embedding: rate(true), oneHot: rate(false), symbols };
}

function benchLoad(): NetworkBenchResult['load'] {
  const net = createNetwork({ embedding: { vocabSize: 65, size: 32 }, hiddenSize: 128, layers: 2, output: { size: 65 }, loss: 'softmax-ce', seed: 4 });
  const bytes = net.save();
  loadNetwork(bytes);
  const times: number[] = [];
  for (let r = 0; r < 20; r++) {
    const start = performance.now();
    loadNetwork(bytes);
    times.push(performance.now() - start);
  }
  return { ms: median(times), bytes: bytes.length, parameters: net.parameterCount };
}

export function benchNetwork(opts: NetworkBenchOptions): NetworkBenchResult {
  const load = benchLoad();
  const generate = benchGenerate(opts.symbols ?? 20000);
  const fit = benchFit(opts.batches ?? 4, opts.rounds ?? 3);
  const result: NetworkBenchResult = { fit, generate, load };
  if (opts.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`network: fit vs the raw Bptt loop, 2-layer bidirectional LSTM 32->128, batch 32, 50 steps, mse over 10 outputs (${fit.parameters} parameters)`);
    console.log(`  CPU time: raw ${fit.rawMsPerBatch.toFixed(0)} ms/batch, fit ${fit.fitMsPerBatch.toFixed(0)} ms/batch: fit/raw ${fit.ratio.toFixed(3)} (best of ${fit.rounds} alternating runs of ${fit.batches} batches each)`);
    console.log(`  every run, ms/batch: raw ${fit.rawRuns.map((t) => t.toFixed(0)).join(', ')}; fit ${fit.fitRuns.map((t) => t.toFixed(0)).join(', ')}`);
    console.log(`  generate: ${generate.embedding.toFixed(0)} symbols/s (embedding 32), ${generate.oneHot.toFixed(0)} symbols/s (one-hot), 1-layer 128-unit LSTM over 65 symbols, topK 10 (per CPU second)`);
    console.log(`  loadNetwork: median ${load.ms.toFixed(2)} ms for ${(load.bytes / 2 ** 20).toFixed(2)} MiB (2-layer 128-unit LSTM, ${load.parameters} parameters)`);
  }
  return result;
}

// node build/bench/network.js [--json]
if (typeof process !== 'undefined' && process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  benchNetwork({ json: process.argv.includes('--json') });
}
