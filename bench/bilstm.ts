// Bidirectional LSTM benchmark: a 2-layer bidirectional LSTM (PyTorch's
// nn.LSTM(32, 128, num_layers=2, bidirectional=True)), batch 32, 50 steps.
// One batch = forward over the sequence + backward (BPTT) + an SGD update.
// Reports the median time per batch and GFLOP/s, counting flops with
// flopCounter (every gemm and every graph op) and, separately, the gemm work
// alone (2·m·n·k of the gate products, forward and backward: about 5.25 GFLOP).
import { Optimizer } from '../lib/optim/optimizer.js';
import { flopCounter } from '../lib/mat/gemm.js';
import { mat, rowsView } from '../lib/mat/mat.js';
import { Rng } from '../lib/mat/rng.js';
import { pytorchRnn } from '../lib/io/pytorch.js';
import { createModel } from '../lib/rnn/model.js';
import { Bptt } from '../lib/rnn/bptt.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';

export interface BilstmBenchOptions {
  json: boolean;
  /** Timed batches after one warm-up batch (default 5). */
  batches?: number;
  /** Override the shape (defaults: the 32/50/32/128/2 layers). */
  batch?: number;
  steps?: number;
  inputSize?: number;
  hiddenSize?: number;
  layers?: number;
}

export interface BilstmBenchResult {
  readonly batch: number;
  readonly steps: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly parameters: number;
  /** Median milliseconds per batch (forward + backward + update). */
  readonly msPerBatch: number;
  readonly minMs: number;
  /** Flops per batch counted by flopCounter. */
  readonly countedGflop: number;
  readonly countedGflops: number;
  /** 2·m·n·k of the gate products alone (forward + both backward products). */
  readonly gemmGflop: number;
  readonly gemmGflops: number;
  /** Bytes of activations the tape kept. */
  readonly tapeBytes: number;
  readonly batches: number;
}

/** Gate-product flops of one forward + backward pass of a bidirectional LSTM stack. */
export function bilstmGemmFlops(batch: number, steps: number, inputSize: number, hiddenSize: number, layers: number): number {
  let perStep = 0;
  for (let l = 0; l < layers; l++) {
    const input = l === 0 ? inputSize : 2 * hiddenSize;
    // Two directions, 2·m·n·k each: forward, gradient of the weights, gradient of the
    // inputs (not of x itself, which needs none, in layer 0).
    perStep += 2 * 2 * batch * 4 * hiddenSize * (3 * (input + hiddenSize) - (l === 0 ? input : 0));
  }
  return steps * perStep;
}

export function benchBilstm(opts: BilstmBenchOptions): BilstmBenchResult {
  const batch = opts.batch ?? 32, steps = opts.steps ?? 50, inputSize = opts.inputSize ?? 32;
  const hiddenSize = opts.hiddenSize ?? 128, layers = opts.layers ?? 2, batches = opts.batches ?? 5;
  const cell = pytorchRnn({ module: 'LSTM', inputSize, hiddenSize, numLayers: layers, bidirectional: true });
  const model = createModel(cell, { seed: 1 });
  const rng = new Rng(2);
  const xs = mat(steps * batch, inputSize);
  rng.fillNormal(xs);
  const target = mat(steps * batch, cell.outputSize);
  rng.fillNormal(target);
  // A linear read-out of every step's output: loss = Σ_t <output_t, target_t> / (batch · steps).
  const scale = 1 / (batch * steps);
  const loss: SequenceLoss = {
    step: (g, t, out) => g.scale(g.dot(out, g.constant(rowsView(target, t * batch, batch))), scale),
  };
  const bptt = new Bptt(model);
  const sgd = new Optimizer({ kind: 'sgd', lr: 0.01 });
  const oneBatch = () => {
    const r = bptt.run(xs, loss, { batch });
    sgd.step(model.params.theta, r.grad);
    return r;
  };
  const first = oneBatch(); // warm-up: JIT, arena and scratch buffers
  const times: number[] = [];
  let flops = 0;
  for (let i = 0; i < batches; i++) {
    const before = flopCounter.count;
    const start = performance.now();
    oneBatch();
    times.push(performance.now() - start);
    flops = flopCounter.count - before;
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  const gemmFlops = bilstmGemmFlops(batch, steps, inputSize, hiddenSize, layers);
  const result: BilstmBenchResult = {
    batch, steps, inputSize, hiddenSize, layers,
    parameters: model.params.theta.length,
    msPerBatch: ms,
    minMs: times[0],
    countedGflop: flops / 1e9,
    countedGflops: flops / 1e6 / ms,
    gemmGflop: gemmFlops / 1e9,
    gemmGflops: gemmFlops / 1e6 / ms,
    tapeBytes: first.tapeBytes,
    batches,
  };
  if (opts.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`bilstm: ${layers}-layer bidirectional LSTM, batch ${batch}, ${steps} steps, input ${inputSize}, hidden ${hiddenSize} (${result.parameters} parameters)`);
    console.log(`  forward + backward + SGD update: median ${ms.toFixed(0)} ms per batch (min ${times[0].toFixed(0)} ms, ${batches} batches)`);
    console.log(`  counted work ${result.countedGflop.toFixed(2)} GFLOP -> ${result.countedGflops.toFixed(2)} GFLOP/s`);
    console.log(`  gate products ${result.gemmGflop.toFixed(2)} GFLOP -> ${result.gemmGflops.toFixed(2)} GFLOP/s`);
    console.log(`  tape ${(result.tapeBytes / 2 ** 20).toFixed(1)} MiB`);
  }
  return result;
}

// node build/bench/bilstm.js [--json]
if (typeof process !== 'undefined' && process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  benchBilstm({ json: process.argv.includes('--json') });
}
