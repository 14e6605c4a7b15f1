// Kernel benchmark: GFLOP/s of gemm and gemv at square sizes and at the
// shapes an RNN step uses (batch 32 and batch 1, 128 inputs, 512 = 4 gates x 128).

import { uniformMat } from './inputs.js';
import { mat } from '../lib/mat/mat.js';
import { gemm, gemv } from '../lib/mat/gemm.js';
import { Rng } from '../lib/mat/rng.js';

export interface KernelBenchRow {
  /** What was timed, e.g. "gemm 256^3" or "gemv 512x128". */
  readonly name: string;
  /** out is m x n, the shared dimension is k (gemv: n = 1). */
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** 2*m*k*n / median seconds per call, in units of 1e9. */
  readonly gflops: number;
}

interface Case {
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly run: () => void;
}

const SAMPLE_MS = 15; // each timed sample repeats the call for at least this long
const SAMPLES = 9; // median of this many samples
const WARMUP_MS = 150; // lets the JIT settle and the scratch buffers grow first


function gemmCase(name: string, m: number, k: number, n: number, transA: boolean, transB: boolean, rng: Rng): Case {
  const a = transA ? uniformMat(k, m, rng) : uniformMat(m, k, rng);
  const b = transB ? uniformMat(n, k, rng) : uniformMat(k, n, rng);
  const out = mat(m, n);
  return { name, m, k, n, run: () => gemm(out, a, b, transA, transB) };
}

function gemvCase(name: string, rows: number, cols: number, transA: boolean, rng: Rng): Case {
  const a = uniformMat(rows, cols, rng);
  const x = uniformMat(transA ? rows : cols, 1, rng);
  const out = mat(transA ? cols : rows, 1);
  return { name, m: transA ? cols : rows, k: transA ? rows : cols, n: 1, run: () => gemv(out, a, x, transA) };
}

function measure(c: Case): number {
  const flops = 2 * c.m * c.k * c.n;
  let reps = 1;
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) c.run();
  // calibrate: double the repeat count until one sample lasts SAMPLE_MS
  for (;;) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) c.run();
    if (performance.now() - start >= SAMPLE_MS) break;
    reps *= 2;
  }
  const perCall: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) c.run();
    perCall.push((performance.now() - start) / reps);
  }
  perCall.sort((x, y) => x - y);
  const ms = perCall[perCall.length >> 1];
  return flops / (ms * 1e6);
}

/**
 * Times gemm at 64^3 ... 512^3, the RNN shapes [32x128]x[128x512] and [1x128]x[128x512],
 * gemv 512x128, the transposed products of the backward pass, and an RTRL sensitivity update
 * (recurrent Jacobian times S, n = 64, 8192 parameters). Prints an aligned table,
 * or one JSON object {"results": [{name, m, k, n, gflops}, ...]} when json is set.
 */
export function benchKernels(opts: { json: boolean }): KernelBenchRow[] {
  const rng = new Rng(20240611);
  const cases: Case[] = [
    gemmCase('gemm 64^3', 64, 64, 64, false, false, rng),
    gemmCase('gemm 128^3', 128, 128, 128, false, false, rng),
    gemmCase('gemm 256^3', 256, 256, 256, false, false, rng),
    gemmCase('gemm 512^3', 512, 512, 512, false, false, rng),
    gemmCase('gemm [32x128]x[128x512]', 32, 128, 512, false, false, rng),
    gemmCase('gemm [1x128]x[128x512]', 1, 128, 512, false, false, rng),
    gemvCase('gemv 512x128', 512, 128, false, rng),
    gemvCase('gemv 512x128 transposed', 512, 128, true, rng),
    gemmCase('gemm [32x512]x[512x128] (dX)', 32, 512, 128, false, false, rng),
    gemmCase('gemm [32x512]^T x[32x128] (dW)', 512, 32, 128, true, false, rng),
    gemmCase('gemm [32x128]x[512x128]^T (NT)', 32, 128, 512, false, true, rng),
    gemmCase('gemm [1x128]x[512x128]^T (NT)', 1, 128, 512, false, true, rng),
    gemmCase('gemm [1x32]x[512x32]^T (NT)', 1, 32, 512, false, true, rng),
    gemmCase('gemm [64x64]x[64x8192] (RTRL)', 64, 64, 8192, false, false, rng),
  ];
  const results: KernelBenchRow[] = cases.map((c) => ({
    name: c.name, m: c.m, k: c.k, n: c.n, gflops: Math.round(measure(c) * 1000) / 1000,
  }));
  if (opts.json) {
    console.log(JSON.stringify({ results }));
  } else {
    const width = Math.max(...results.map((r) => r.name.length));
    console.log(`${'kernel'.padEnd(width)}      m      k      n  GFLOP/s`);
    for (const r of results) {
      console.log(
        `${r.name.padEnd(width)} ${String(r.m).padStart(6)} ${String(r.k).padStart(6)} ${String(r.n).padStart(6)} ${r.gflops.toFixed(2).padStart(8)}`,
      );
    }
    console.log(`(median of ${SAMPLES} samples of >= ${SAMPLE_MS} ms each, after ${WARMUP_MS} ms warm-up)`);
  }
  return results;
}
