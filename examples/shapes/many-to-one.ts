// N to 1: one target per sequence. The task: is the sum of a sequence of numbers (3 to 8 of them) positive?
import { pathToFileURL } from 'node:url';
import { Rng } from '../../lib/index.js';                 // in your project: from 'loopgrad'
import { createNetwork } from '../../lib/train/index.js'; // in your project: from 'loopgrad/train'

export function main() {
  const rng = new Rng(2);
  const data = (n: number) => {
    const inputs = Array.from({ length: n }, () => Array.from({ length: 3 + rng.int(6) }, () => [rng.normal()]));  // inputs[b][t]: 1 feature
    return { inputs, targets: inputs.map((s) => (s.reduce((sum, [x]) => sum + x, 0) > 0 ? 1 : 0)) };                // targets[b]: a class
  };
  const train = data(128), test = data(64);
  const net = createNetwork({ inputSize: 1, cell: 'gru', hiddenSize: 8, output: { size: 2 }, loss: 'softmax-ce', shape: 'many-to-one', seed: 2 });
  const before = net.evaluate(test);
  const history = net.fit(train, { epochs: 15, batchSize: 16, optimizer: { kind: 'adam', lr: 0.03 } });
  return { before, after: net.evaluate(test), lastEpoch: history.epochs.at(-1), chance: 1 / 2 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(main());
