// loopgrad bench lstm: one LSTM layer with a dense head at every step, MSE over every step, full
// BPTT and an SGD update per batch, against the same network written by hand as one fused loop
// (bench/lstm-reference.ts, whose gradient equals loopgrad's: spec/bench/lstm-reference.spec.ts).
//   (a) batch 32, 50 steps, input 32, hidden 128
//   (b) batch 1, 20 steps, input 8, hidden 32
//   (c) forward only, batch 1, 50 steps, input 32, hidden 128
// Every variant (the hand-fused loop, loopgrad at each thread count) runs one batch per round
// (10 at config b, 3 at c, timed together), the variants interleaved within each round, so a
// machine shared with other work slows them alike; the median over the rounds is reported. threads 1 is Bptt in this thread; threads N > 1
// is the worker pool (loopgrad/node) splitting the batch into min(N, batch) shards.
// With peers (--peers), every installed library of bench/peers (tfjs cpu and wasm, brain.js,
// jax-js; float32) runs the same config in its own child process, one batch per round after
// loopgrad's, so all of them share the rounds (bench/peers/runner.ts).
import { Worker } from 'node:worker_threads';
import { LstmReference } from './lstm-reference.js';
import { median } from './timing.js';
import { createNodePool } from '../node/pool.js';
import type { WorkerPool } from '../lib/parallel/pool.js';
import { type ModelSpec, modelFromSpec } from '../lib/parallel/model-spec.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { Forward } from '../lib/rnn/forward.js';
import { sequenceLoss } from '../lib/loss/losses.js';
import { mat } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { checkKeys } from '../lib/mat/options.js';
import { ConfigError } from '../lib/errors.js';
import { INSTALL_HINT, type LstmShape, type PeerName, type PeerOptions, PeerProcess, findInstalledPeers, parsePeerOptions } from './peers/runner.js';

export interface LstmConfig extends LstmShape {
  rounds: number;
  /**
   * Batches each runner runs back to back in a round, timed together (default 1): at batch 1 a
   * single batch is a few ms, and one timing of several is less at the mercy of a context switch.
   */
  batchesPerRound?: number;
}

export const LSTM_CONFIGS: readonly LstmConfig[] = [
  { name: 'a', batch: 32, steps: 50, inputSize: 32, hiddenSize: 128, train: true, rounds: 7 },
  { name: 'b', batch: 1, steps: 20, inputSize: 8, hiddenSize: 32, train: true, rounds: 30, batchesPerRound: 10 },
  { name: 'c', batch: 1, steps: 50, inputSize: 32, hiddenSize: 128, train: false, rounds: 20, batchesPerRound: 3 },
];

/** The fields every row of bench lstm starts with: which config, and what was run. */
interface LstmRowConfig {
  config: string;
  batch: number;
  steps: number;
  inputSize: number;
  hiddenSize: number;
  /** 'train': forward + BPTT + SGD; 'forward': outputs only. */
  work: 'train' | 'forward';
}

export interface LstmBenchRow extends LstmRowConfig {
  runner: 'loopgrad';
  threads: number;
  /** Median ms per batch of loopgrad. */
  msPerBatch: number;
  /**
   * Median CPU ms per batch of loopgrad, every thread of the process counted (process.cpuUsage):
   * on a machine shared with other work, msPerBatch / cpuMsPerBatch shows how much of a core
   * the run got, and whether the threads ran at once.
   */
  cpuMsPerBatch: number;
  /** Median ms per batch of the hand-fused loop, measured in the same rounds. */
  handFusedMs: number;
  /** msPerBatch / handFusedMs. */
  ratio: number;
  /** Median ms of one thread in the same rounds / msPerBatch (1 for threads 1). */
  speedupVsOneThread: number;
  /**
   * What N threads can gain on this machine at this moment, measured in the same rounds: N
   * threads spinning on the same arithmetic each, against one (N · t_1 / t_N; N on an idle
   * machine with N cores, less when other work holds the cores). speedupVsOneThread is to be
   * read against it. 1 for threads 1 and for forward-only rows.
   */
  speedupCeiling: number;
  /** max |grad_N - grad_1| / max |grad_1| on the first batch (0 for forward-only rows). */
  gradRelDiffVsOneThread: number;
}

/** A row of the hand-fused loop or of a peer (bench lstm --peers), timed in the same rounds. */
export interface LstmRunnerRow extends LstmRowConfig {
  runner: 'hand-fused' | PeerName;
  threads: 1;
  /** Median ms per batch, or null when the runner did not run this config (see skipped). */
  msPerBatch: number | null;
  handFusedMs: number;
  /** msPerBatch / handFusedMs, or null. */
  ratio: number | null;
  /** The library, its version and how it runs (for the hand-fused loop: float64, this thread). */
  info: string;
  /**
   * A peer's loss on its first batch (forward only: its first output), or null. The float32
   * peers start from the same seeded parameters and data (bench/peers/common.mjs), so equal
   * values say they compute the same function. (loopgrad starts elsewhere: its own init.)
   */
  firstLoss: number | null;
  /** Why the runner has no time for this config (does not fit, failed, died), else absent. */
  skipped?: string;
}

export type LstmRow = LstmBenchRow | LstmRunnerRow;

export interface LstmBenchOptions {
  json: boolean;
  /** Thread counts to compare (default [1]); 1 always runs, as the reference of the others. */
  threads?: readonly number[];
  /** The configs to run (default all three). */
  configs?: readonly LstmConfig[];
  /** Run the peers too (bench/peers/runner.ts options; {} for every installed peer). */
  peers?: PeerOptions;
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

const LR = 0.01;

// Worker threads that each spin on a fixed amount of arithmetic: the machine's parallel ceiling.
const SPIN = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (n) => { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i + s * 1e-300); parentPort.postMessage(s); });`;

class Spinners {
  private readonly workers: Worker[];
  constructor(count: number) {
    this.workers = Array.from({ length: count }, () => new Worker(SPIN, { eval: true }));
    for (const w of this.workers) w.unref();
  }
  /** ms for k workers to spin n iterations each. */
  async time(k: number, n: number): Promise<number> {
    const start = performance.now();
    await Promise.all(this.workers.slice(0, k).map((w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage(n); })));
    return performance.now() - start;
  }
  close(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => w.terminate()));
  }
}

interface PeerRun {
  peer: PeerProcess;
  info: string;
  firstLoss: number | null;
  times: number[];
  /** Why this peer has no time for the config, or null while it runs. */
  skipped: string | null;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Untimed batches before the rounds, the same for every runner (JITs; jax-js compiles on its first). */
const warmupBatches = (cfg: LstmConfig): number => Math.max(2, Math.min(10, Math.floor(cfg.rounds / 3)));

/** Sets each live peer up for cfg and warms it up. */
async function setupPeers(cfg: LstmConfig, peers: readonly PeerProcess[]): Promise<PeerRun[]> {
  const { name, batch, steps, inputSize, hiddenSize, train } = cfg;
  const warmup = warmupBatches(cfg);
  const runs: PeerRun[] = [];
  for (const peer of peers) {
    const run: PeerRun = { peer, info: '', firstLoss: null, times: [], skipped: null };
    try {
      const setup = await peer.setup({ name, batch, steps, inputSize, hiddenSize, train, lr: LR });
      if (setup.kind === 'skip') {
        run.skipped = `does not fit: ${setup.reason}`;
      } else {
        run.info = setup.info;
        run.firstLoss = (await peer.batch()).loss;
        for (let w = 1; w < warmup; w++) await peer.batch();
      }
    } catch (e) {
      run.skipped = `failed: ${errorText(e)}`;
    }
    runs.push(run);
  }
  return runs;
}

async function benchConfig(cfg: LstmConfig, threads: readonly number[], pools: Map<number, WorkerPool>, peers: readonly PeerProcess[] | null): Promise<{ rows: LstmBenchRow[]; others: LstmRunnerRow[] }> {
  const { batch, steps, inputSize, hiddenSize } = cfg;
  const outputSize = inputSize;
  const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize, hiddenSize } }, readout: outputSize };
  const init = modelFromSpec(spec);
  const rng = new Rng(2);
  const xs = mat(steps * batch, inputSize);
  rng.fillNormal(xs);
  const targets = mat(steps * batch, outputSize);
  rng.fillNormal(targets);
  const ref = new LstmReference({ batch, steps, inputSize, hiddenSize, outputSize });
  const refTheta = init.params.theta.slice();
  const loss = { kind: 'mse' as const, targets, mask: null };
  // One model (own theta, updated by its own SGD steps) per variant.
  const variants = threads.map((n) => {
    const model = modelFromSpec(spec, init.params.theta.slice());
    const bptt = new Bptt(model);
    const forward = new Forward(model);
    const seqLoss = sequenceLoss({ ...loss, batch });
    const theta = model.params.theta;
    const pool = pools.get(n) ?? null;
    const oneBatch = async (): Promise<Float64Array | null> => {
      if (!cfg.train) {
        forward.run(xs, { batch });
        return null;
      }
      const grad = pool === null ? bptt.run(xs, seqLoss, { batch }).grad : (await pool.bptt(spec, theta, xs, loss, { batch })).grad;
      for (let p = 0; p < theta.length; p++) theta[p] -= LR * grad[p];
      return grad;
    };
    return { threads: n, oneBatch, times: [] as number[], cpu: [] as number[], ceiling: [] as number[], firstGrad: null as Float64Array | null };
  });
  const maxThreads = Math.max(...threads);
  const spinners = cfg.train && maxThreads > 1 ? new Spinners(maxThreads) : null;
  const refBatch = () => (cfg.train ? ref.trainBatch(refTheta, xs.data, targets.data, LR) : ref.forward(refTheta, xs.data));
  // Warm-up (JIT, arenas, workers' models); the first gradients are at the same theta.
  for (let w = 0; w < warmupBatches(cfg); w++) refBatch();
  for (const v of variants) {
    v.firstGrad = (await v.oneBatch())?.slice() ?? null; // a copy: later batches may reuse the array
    for (let w = 1; w < warmupBatches(cfg); w++) await v.oneBatch();
  }
  const peerRuns = peers === null ? [] : await setupPeers(cfg, peers);
  const refTimes: number[] = [];
  // Spin about as long as one thread's batch takes (calibrated once, after the warm-up).
  let spinIterations = 0;
  if (spinners !== null) {
    const start = performance.now();
    await variants[0].oneBatch();
    const batchMs = performance.now() - start;
    const probe = 1e6;
    spinIterations = Math.max(probe, Math.round(probe * Math.min(batchMs, 200) / Math.max(await spinners.time(1, probe), 0.01)));
  }
  const k = cfg.batchesPerRound ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError('bench lstm', `config ${cfg.name}: batchesPerRound must be a positive integer, got ${k}`, { value: k });
  for (let r = 0; r < cfg.rounds; r++) {
    if (spinners !== null) {
      const one = await spinners.time(1, spinIterations);
      for (const v of variants) if (v.threads > 1) v.ceiling.push((v.threads * one) / (await spinners.time(v.threads, spinIterations)));
    }
    let start = performance.now();
    for (let b = 0; b < k; b++) refBatch();
    refTimes.push((performance.now() - start) / k);
    for (const v of variants) {
      const cpu = process.cpuUsage();
      start = performance.now();
      for (let b = 0; b < k; b++) await v.oneBatch();
      v.times.push((performance.now() - start) / k);
      const used = process.cpuUsage(cpu);
      v.cpu.push((used.user + used.system) / 1000 / k);
    }
    for (const run of peerRuns) {
      if (run.skipped !== null) continue;
      try {
        run.times.push((await run.peer.batch(k)).ms);
      } catch (e) {
        // No partial median: a peer that fails in a round has no time for this config.
        run.skipped = `failed in round ${r + 1}: ${errorText(e)}`;
      }
    }
  }
  await spinners?.close();
  const handFusedMs = median(refTimes);
  const one = variants.find((v) => v.threads === 1)!;
  const oneMs = median(one.times);
  const work = cfg.train ? 'train' as const : 'forward' as const;
  const shape = { config: cfg.name, batch, steps, inputSize, hiddenSize, work, threads: 1 as const, handFusedMs };
  const others: LstmRunnerRow[] = peers === null ? [] : [
    { runner: 'hand-fused', ...shape, msPerBatch: handFusedMs, ratio: 1, info: 'hand-fused float64 loop (bench/lstm-reference.ts), this thread', firstLoss: null },
    ...peerRuns.map((run): LstmRunnerRow => {
      const ms = run.skipped === null ? median(run.times) : null;
      const row: LstmRunnerRow = { runner: run.peer.name, ...shape, msPerBatch: ms, ratio: ms === null ? null : ms / handFusedMs, info: run.info, firstLoss: run.firstLoss };
      if (run.skipped !== null) row.skipped = run.skipped;
      return row;
    }),
  ];
  const rows = variants.map((v): LstmBenchRow => {
    const ms = median(v.times);
    return {
      runner: 'loopgrad',
      config: cfg.name, batch, steps, inputSize, hiddenSize,
      work: cfg.train ? 'train' : 'forward',
      threads: v.threads,
      msPerBatch: ms,
      cpuMsPerBatch: median(v.cpu),
      handFusedMs,
      ratio: ms / handFusedMs,
      speedupVsOneThread: oneMs / ms,
      speedupCeiling: v.ceiling.length === 0 ? 1 : median(v.ceiling),
      gradRelDiffVsOneThread: v.firstGrad === null || one.firstGrad === null ? 0 : relDiff(v.firstGrad, one.firstGrad),
    };
  });
  return { rows, others };
}

/** Starts every chosen peer that is installed; says (on stderr) which are not and how to install them. */
function startPeers(options: PeerOptions): PeerProcess[] {
  const resolved = parsePeerOptions(options);
  const { available, missing } = findInstalledPeers(resolved);
  if (missing.length > 0) {
    const lines = missing.map((m) => `  ${m.name}: ${m.reason}`).join('\n');
    const rest = available.length === 0 ? 'running loopgrad and the hand-fused loop only' : `running ${available.join(', ')} with loopgrad and the hand-fused loop`;
    const hint = resolved.dir === null ? `run it from a git checkout of loopgrad and ${INSTALL_HINT}` : INSTALL_HINT;
    console.error(`bench lstm --peers: ${missing.length === resolved.peers.length ? 'no peer is installed' : 'some peers are not installed'}:\n${lines}\n${hint}; ${rest}`);
  }
  return available.map((name) => new PeerProcess(name, resolved.dir!, resolved.timeoutMs));
}

const cell = (ms: number | null, ratio: number | null): string => (ms === null ? '–' : `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} (${ratio!.toFixed(2)})`);

/** The runners side by side: ms per batch (and / hand-fused), one line per config. */
function printRunnersTable(rows: readonly LstmRow[]): void {
  const columns: string[] = [];
  for (const row of rows) {
    const column = row.runner === 'loopgrad' ? `loopgrad ${row.threads}t` : row.runner;
    if (!columns.includes(column)) columns.push(column);
  }
  columns.sort((x, y) => Number(y === 'hand-fused') - Number(x === 'hand-fused'));
  const configs = [...new Set(rows.map((r) => r.config))];
  console.log('');
  console.log('runners, same rounds: median ms per batch (/ hand-fused)');
  console.log(['config'.padEnd(7), ...columns.map((c) => c.padStart(16))].join(' '));
  for (const config of configs) {
    const cells = columns.map((column) => {
      const row = rows.find((r) => r.config === config && (r.runner === 'loopgrad' ? `loopgrad ${r.threads}t` : r.runner) === column);
      return (row === undefined ? '' : cell(row.msPerBatch, row.ratio)).padStart(16);
    });
    console.log([config.padEnd(7), ...cells].join(' '));
  }
  const infos = new Map<string, string>();
  for (const row of rows) if (row.runner !== 'loopgrad' && row.info !== '') infos.set(row.runner, row.info);
  for (const [runner, info] of infos) console.log(`  ${runner}: ${info}`);
  const losses = rows.filter((r): r is LstmRunnerRow => r.runner !== 'loopgrad' && r.firstLoss !== null);
  for (const config of configs) {
    const here = losses.filter((r) => r.config === config);
    if (here.length > 0) console.log(`  config ${config}, first loss (forward: first output): ${here.map((r) => `${r.runner} ${r.firstLoss!.toPrecision(6)}`).join(', ')}`);
  }
  for (const row of rows) if (row.runner !== 'loopgrad' && row.skipped !== undefined) console.log(`  ${row.runner}, config ${row.config}: ${row.skipped}`);
}

export async function benchLstm(opts: LstmBenchOptions): Promise<LstmRow[]> {
  checkKeys('bench lstm', opts, ['json', 'threads', 'configs', 'peers']);
  const threads = [...new Set([1, ...(opts.threads ?? [1])])].sort((a, b) => a - b);
  const configs = opts.configs ?? LSTM_CONFIGS;
  const pools = new Map<number, WorkerPool>();
  const rows: LstmRow[] = [];
  const peers = opts.peers === undefined ? null : startPeers(opts.peers);
  try {
    for (const n of threads) if (n > 1) pools.set(n, createNodePool({ threads: n }));
    if (!opts.json) {
      console.log('lstm: one LSTM layer + a dense head per step, MSE over every step; train = forward + BPTT + SGD per batch');
      console.log('config  batch steps input hidden work     threads  loopgrad ms  (cpu ms)  hand-fused ms  ratio  speedup vs 1  (ceiling)  grad rel diff vs 1');
    }
    for (const cfg of configs) {
      // A forward-only config has no gradient to split: it runs on this thread alone.
      const { rows: cfgRows, others } = await benchConfig(cfg, cfg.train ? threads : [1], pools, peers);
      for (const row of cfgRows) {
        rows.push(row);
        if (opts.json) {
          console.log(JSON.stringify(row));
        } else {
          console.log(`${row.config.padEnd(7)} ${String(row.batch).padStart(5)} ${String(row.steps).padStart(5)} ${String(row.inputSize).padStart(5)} ${String(row.hiddenSize).padStart(6)} ${row.work.padEnd(8)} ${String(row.threads).padStart(7)} ${row.msPerBatch.toFixed(2).padStart(12)} ${row.cpuMsPerBatch.toFixed(1).padStart(9)} ${row.handFusedMs.toFixed(2).padStart(14)} ${row.ratio.toFixed(2).padStart(6)} ${row.speedupVsOneThread.toFixed(2).padStart(13)} ${row.speedupCeiling.toFixed(2).padStart(10)} ${row.gradRelDiffVsOneThread.toExponential(1).padStart(19)}`);
        }
      }
      for (const row of others) {
        rows.push(row);
        if (opts.json) console.log(JSON.stringify(row));
      }
    }
    if (!opts.json && opts.peers !== undefined) printRunnersTable(rows);
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await Promise.all((peers ?? []).map((p) => p.close()));
  }
  return rows;
}
