// Two builds of loopgrad against each other and the hand-fused LSTM, in one process, interleaved
// round by round (a machine shared with other work slows all three alike):
//   node scripts/bench-builds.mjs <before build dir> <after build dir> [rounds]
// Each build dir is a `npx tsc -p tsconfig.json` output (build/) holding lib/parallel/model-spec.js.
// Config (b) of bench lstm (batch 1, 20 steps, input 8, hidden 32, dense head, MSE, BPTT + SGD)
// and the same at batch 3, and batch 4 at input 32, hidden 128 (the small-batch gemm path). Prints ms per batch, the ratios to the hand-fused loop, before/after,
// and whether the two builds' first gradients are the same bits.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [beforeArg, afterArg, roundsArg] = process.argv.slice(2);
if (beforeArg === undefined || afterArg === undefined) {
  console.error('usage: node scripts/bench-builds.mjs <before build dir> <after build dir> [rounds]');
  process.exit(2);
}
const dirUrl = (d) => pathToFileURL(resolve(d)).href;
const rounds = Number(roundsArg ?? 100);
const inner = 20;
const load = async (dir) => ({
  spec: await import(`${dir}/lib/parallel/model-spec.js`),
  bptt: await import(`${dir}/lib/rnn/bptt.js`),
  losses: await import(`${dir}/lib/loss/losses.js`),
  mat: await import(`${dir}/lib/mat/mat.js`),
  rng: await import(`${dir}/lib/mat/rng.js`),
});
const before = await load(dirUrl(beforeArg));
const after = await load(dirUrl(afterArg));
const { LstmReference } = await import(`${dirUrl(afterArg)}/bench/lstm-reference.js`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

for (const [batch, steps, inputSize, hiddenSize] of [[1, 20, 8, 32], [3, 20, 8, 32], [4, 20, 32, 128]]) {
  const make = (L) => {
    const model = L.spec.modelFromSpec({ cell: { kind: 'lstm', options: { inputSize, hiddenSize } }, readout: inputSize });
    const rng = new L.rng.Rng(2);
    const xs = L.mat.mat(steps * batch, inputSize);
    rng.fillNormal(xs);
    const targets = L.mat.mat(steps * batch, inputSize);
    rng.fillNormal(targets);
    const bptt = new L.bptt.Bptt(model);
    const loss = L.losses.sequenceLoss({ kind: 'mse', targets, mask: null, batch });
    const theta = model.params.theta;
    const run = () => {
      const g = bptt.run(xs, loss, { batch }).grad;
      for (let p = 0; p < theta.length; p++) theta[p] -= 0.01 * g[p];
      return g;
    };
    return { theta, xs, targets, run };
  };
  const b = make(before), a = make(after);
  const ref = new LstmReference({ batch, steps, inputSize, hiddenSize, outputSize: inputSize });
  const refTheta = b.theta.slice();
  const hand = { run: () => ref.trainBatch(refTheta, b.xs.data, b.targets.data, 0.01) };
  const g1 = b.run(), g2 = a.run();
  hand.run();
  let same = g1.length === g2.length;
  for (let i = 0; same && i < g1.length; i++) if (g1[i] !== g2[i]) same = false;
  const times = { hand: [], before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, v] of [['hand', hand], ['before', b], ['after', a]]) {
      const start = performance.now();
      for (let i = 0; i < inner; i++) v.run();
      times[name].push((performance.now() - start) / inner);
    }
  }
  const h = median(times.hand), tb = median(times.before), ta = median(times.after);
  console.log(`batch ${batch}, ${steps} steps, input ${inputSize}, hidden ${hiddenSize}: hand-fused ${h.toFixed(3)} ms; before ${tb.toFixed(3)} ms (${(tb / h).toFixed(2)}x hand-fused); after ${ta.toFixed(3)} ms (${(ta / h).toFixed(2)}x); before/after ${(tb / ta).toFixed(2)}; first gradients the same bits: ${same}`);
}
