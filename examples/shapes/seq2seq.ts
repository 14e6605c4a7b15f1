// N to M: an encoder reads the source, a decoder writes the target. The task: reverse 2 to 4 symbols (1..5), then say 0 (end).
import { pathToFileURL } from 'node:url';
import { Rng } from '../../lib/index.js';                 // in your project: from 'loopgrad'
import { createNetwork } from '../../lib/train/index.js'; // in your project: from 'loopgrad/train'

export function main() {
  const rng = new Rng(4);
  const data = (n: number) => {
    const inputs = Array.from({ length: n }, () => Array.from({ length: 2 + rng.int(3) }, () => 1 + rng.int(5)));  // inputs[b][t]
    return { inputs, targets: inputs.map((s) => [...s].reverse().concat([0])) };  // targets[b]: symbols, its own length
  };
  const train = data(256), test = data(64);
  const net = createNetwork({ embedding: { vocabSize: 6, size: 8 }, cell: 'gru', hiddenSize: 32, output: { size: 6 }, loss: 'softmax-ce', shape: 'seq2seq', seed: 4 });
  const before = net.evaluate(test);
  const history = net.fit(train, { epochs: 12, batchSize: 32, optimizer: { kind: 'adam', lr: 0.02 } });
  const decoded = net.decode(test.inputs, { maxLength: 6, end: 0, beamWidth: 3 });  // or no beamWidth: greedy
  const exact = decoded.filter((d, b) => `${[...d.symbols, 0]}` === `${test.targets[b]}`).length / test.inputs.length;
  return { before, after: net.evaluate(test), lastEpoch: history.epochs.at(-1), exact, examples: test.inputs.slice(0, 3).map((s, b) => `${s} -> ${decoded[b].symbols}`) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(main());
