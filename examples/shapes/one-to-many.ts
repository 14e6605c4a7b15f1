// 1 to N: one input per sequence, a target at every step. The task: count on from a symbol, modulo 5 (k, k+1, k+2, ...).
import { pathToFileURL } from 'node:url';
import { Rng } from '../../lib/index.js';                 // in your project: from 'loopgrad'
import { createNetwork } from '../../lib/train/index.js'; // in your project: from 'loopgrad/train'

export function main() {
  const rng = new Rng(3);
  const data = (n: number) => {
    const inputs = Array.from({ length: n }, () => rng.int(5));                                   // inputs[b]: one symbol
    return { inputs, targets: inputs.map((k) => Array.from({ length: 4 + rng.int(4) }, (_, t) => (k + t) % 5)) };  // targets[b][t]
  };
  const train = data(64), test = data(32);
  const net = createNetwork({ embedding: { vocabSize: 5, size: 4 }, hiddenSize: 16, output: { size: 5 }, loss: 'softmax-ce', shape: 'one-to-many', seed: 3 });
  const before = net.evaluate(test);
  const history = net.fit(train, { epochs: 12, batchSize: 16, optimizer: { kind: 'adam', lr: 0.05 } });
  return { before, after: net.evaluate(test), lastEpoch: history.epochs.at(-1), chance: 1 / 5 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(main());
