// The four examples of docs/first-network.md (examples/shapes/*.ts) run as a user runs them, and
// each learns its task: held-out accuracy far above chance (and above the untrained network's),
// so an example that stops compiling, running or learning fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { main as oneToMany } from '../../examples/shapes/one-to-many.js';
import { main as manyToOne } from '../../examples/shapes/many-to-one.js';
import { main as manyToMany } from '../../examples/shapes/many-to-many.js';
import { main as seq2seq } from '../../examples/shapes/seq2seq.js';

const CHANCE = { 'one-to-many': 1 / 5, 'many-to-one': 1 / 2, 'many-to-many': 1 / 4, seq2seq: 1 / 6 };

// seq2seq's run, kept for the decoding test (the example is the slowest of the four).
let seq2seqResult: ReturnType<typeof seq2seq> | null = null;

for (const [shape, main] of [['one-to-many', oneToMany], ['many-to-one', manyToOne], ['many-to-many', manyToMany], ['seq2seq', seq2seq]] as const) {
  test(`examples/shapes/${shape}.ts learns: accuracy far above chance`, () => {
    const result = main();
    if (shape === 'seq2seq') seq2seqResult = result as ReturnType<typeof seq2seq>;
    const { before, after, lastEpoch } = result;
    const chance = CHANCE[shape];
    assert.ok(after.accuracy! > 0.9, `${shape}: held-out accuracy ${after.accuracy} (chance ${chance})`);
    assert.ok(after.accuracy! > before.accuracy! + 0.3, `${shape}: accuracy ${before.accuracy} -> ${after.accuracy}`);
    assert.ok(after.loss < 0.3 * before.loss, `${shape}: held-out loss ${before.loss} -> ${after.loss}`);
    assert.ok(lastEpoch !== undefined && lastEpoch.loss < before.loss, `${shape}: last epoch's training loss ${lastEpoch?.loss}`);
  });
}

test('examples/shapes/seq2seq.ts decodes whole sequences right (beam search, width 3)', () => {
  const { exact, examples } = seq2seqResult!;
  // One exact reversal by chance: at most (1/5)^2 · 1/6.
  assert.ok(exact > 0.6, `exactly reversed ${exact} of the held-out sequences`);
  assert.is(examples.length, 3);
});

test('docs/first-network.md shows each example as it is in examples/shapes', () => {
  const doc = readFileSync('docs/first-network.md', 'utf8');
  for (const shape of Object.keys(CHANCE)) {
    const code = readFileSync(`examples/shapes/${shape}.ts`, 'utf8').trimEnd();
    assert.ok(doc.includes('```ts\n' + code + '\n```'), `docs/first-network.md lacks examples/shapes/${shape}.ts verbatim`);
  }
});

test.run();
