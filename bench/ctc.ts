// CTC benchmark: loss + fused logits gradient for a batch, and the cost's growth in T * S.

import { ctcLossGradLogits, type CtcOptions } from '../lib/loss/ctc.js';
import { Rng } from '../lib/mat/rng.js';

export interface CtcBenchRow {
  /** Frames. */
  readonly T: number;
  /** Target length (labels per item). */
  readonly S: number;
  readonly C: number;
  readonly N: number;
  /** Median milliseconds for loss and gradient of the whole batch. */
  readonly ms: number;
  /** ms / (T * S), per batch: flat when the cost is linear in T * S. */
  readonly msPerTS: number;
  /** Nanoseconds per cell of the (T, 2S + 1) lattice per item. */
  readonly nsPerCell: number;
  readonly repeats: number;
}

function seeded(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.uniform();
}

function runCase(T: number, S: number, C: number, N: number, seed: number): CtcBenchRow {
  const rand = seeded(seed);
  const logits = new Float64Array(T * N * C);
  for (let i = 0; i < logits.length; i++) logits[i] = 4 * rand() - 2;
  const targets = new Float64Array(N * S);
  for (let i = 0; i < targets.length; i++) targets[i] = 1 + Math.floor(rand() * (C - 1));
  const options: CtcOptions = {
    T, N, C, targets, paddedTargetLength: S,
    inputLengths: new Array<number>(N).fill(T), targetLengths: new Array<number>(N).fill(S),
    reduction: 'mean',
  };
  const gx = new Float64Array(T * N * C);
  // warm up, then repeat until about 300 ms or 50 runs, report the median
  for (let i = 0; i < 2; i++) ctcLossGradLogits(logits, options, { gx });
  const times: number[] = [];
  let spent = 0;
  while ((spent < 300 && times.length < 50) || times.length < 5) {
    const start = performance.now();
    const r = ctcLossGradLogits(logits, options, { gx });
    const ms = performance.now() - start;
    if (!Number.isFinite(r.loss)) throw new Error(`benchCtc: loss ${r.loss} for T ${T}, S ${S}`);
    times.push(ms);
    spent += ms;
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  return { T, S, C, N, ms, msPerTS: ms / (T * S), nsPerCell: (ms * 1e6) / (N * T * (2 * S + 1)), repeats: times.length };
}

/**
 * Times CTC loss + gradient (fused through log_softmax) for T = 400, C = 30, target length 120,
 * batch 8, and for a ladder of (T, S) showing the cost is linear in T * S. Prints a table, or
 * one JSON object when json is set; returns the rows.
 */
export function benchCtc(opts: { json: boolean }): CtcBenchRow[] {
  const C = 30, N = 8;
  const shapes: [number, number][] = [
    [400, 120],
    [100, 30], [200, 60], [800, 240], [1600, 480],
    [400, 30], [400, 60], [800, 120], [1600, 120],
  ];
  const rows = shapes.map(([T, S], i) => runCase(T, S, C, N, 1000 + i));
  if (opts.json) {
    console.log(JSON.stringify({ bench: 'ctc', unit: 'ms', rows }));
  } else {
    console.log(`CTC loss + logits gradient, C = ${C}, batch ${N} (median ms)`);
    console.log('     T      S         ms   ms/(T*S)   ns/cell');
    for (const r of rows) {
      console.log(
        `${String(r.T).padStart(6)} ${String(r.S).padStart(6)} ${r.ms.toFixed(2).padStart(10)} ` +
        `${r.msPerTS.toExponential(2).padStart(10)} ${r.nsPerCell.toFixed(1).padStart(9)}`,
      );
    }
  }
  return rows;
}
