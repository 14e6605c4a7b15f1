// N to N: a target at every step. The task: at every step, name the symbol read one step before.
import { pathToFileURL } from 'node:url';
import { Rng } from '../../lib/index.js';                 // in your project: from 'loopgrad'
import { createNetwork } from '../../lib/train/index.js'; // in your project: from 'loopgrad/train'

export function main() {
  const rng = new Rng(1);
  const data = (n: number) => {
    const inputs = Array.from({ length: n }, () => Array.from({ length: 10 }, () => rng.int(4)));  // inputs[b][t]: a symbol
    return { inputs, targets: inputs.map((s) => s.map((_, t) => (t === 0 ? 0 : s[t - 1]))) };      // targets[b][t]: a class
  };
  const train = data(64), test = data(32);
  const net = createNetwork({ embedding: { vocabSize: 4, size: 4 }, hiddenSize: 16, output: { size: 4 }, loss: 'softmax-ce', seed: 1 });
  const before = net.evaluate(test);
  const history = net.fit(train, { epochs: 12, batchSize: 16, optimizer: { kind: 'adam', lr: 0.05 } });
  return { before, after: net.evaluate(test), lastEpoch: history.epochs.at(-1), chance: 1 / 4 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(main());
