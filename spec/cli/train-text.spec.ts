// `loopgrad train text` and `loopgrad generate` as a user runs them, on a tiny corpus in a temp
// directory: the saved file is the network that was scored (reloaded, it scores the same held-out
// bits) and the one generate samples from (the same text as network.generate in process); the
// baselines are the bigram module's on the same slice; --load continues and refuses a
// contradicting flag by name; bad options exit 2 naming the flag, bad files exit 1 naming the
// file; a failed run or a failed write leaves an existing save untouched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNetwork } from '../../lib/train/network.js';
import { Vocabulary } from '../../lib/train/vocabulary.js';
import { BigramModel, unigramBits } from '../../lib/train/bigram.js';
import { Rng } from '../../lib/mat/rng.js';
import { temporaryPath, writeFileAtomic } from '../../cli/atomic-write.js';
import { runTrainText } from '../../cli/train-text.js';
import { UsageError } from '../../cli/args.js';
import { generateCommand } from '../../cli/generate.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const loopgrad = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60000 });

const dir = mkdtempSync(join(tmpdir(), 'loopgrad-text-'));
const corpus = join(dir, 'corpus.txt');
const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'hat'];
const rng = new Rng(3);
const text = Array.from({ length: 500 }, () => words[rng.int(words.length)]).join(' ') + '.\n';
writeFileSync(corpus, text);
const TINY = ['--hidden', '8', '--embedding', '4', '--seq-length', '16', '--batch', '4'];
const first = join(dir, 'first.safetensors');

const bytesOf = (path: string) => new Uint8Array(readFileSync(path));
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The held-out bits per character of a network on the last `held` characters, in windows of L (as train text scores them). */
function heldOutBits(path: string, held: number, L: number): number {
  const network = loadNetwork(bytesOf(path));
  const symbols = network.vocabulary!.encode(text).subarray(Array.from(text).length - held);
  const inputs: Int32Array[] = [], targets: Int32Array[] = [];
  for (let s = 0; s + 1 < symbols.length; s += L) {
    const n = Math.min(L, symbols.length - 1 - s);
    inputs.push(symbols.subarray(s, s + n));
    targets.push(symbols.subarray(s + 1, s + 1 + n));
  }
  return network.evaluate({ inputs, targets }).bitsPerSymbol!;
}

test('train text --json --save: the saved network is the one scored, the baselines are the bigram module\'s on the same slice', () => {
  const r = loopgrad('train', 'text', '--file', corpus, ...TINY, '--iterations', '5', '--eval-every', '2', '--json', '--save', first);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.iterations, 5);
  assert.equal(out.evaluations.map((e: { iteration: number }) => e.iteration), [2, 4, 5]);
  const n = Array.from(text).length, held = Math.ceil(0.05 * n);
  assert.equal(out.text, { characters: n, symbols: new Set(text).size, training: n - held, heldOut: held });
  // The saved file: the description asked for, the text's vocabulary, and the weights that scored out.heldOut.network.
  const network = loadNetwork(bytesOf(first));
  assert.is(network.description.hiddenSize, 8);
  assert.equal(network.description.embedding, { vocabSize: new Set(text).size, size: 4 });
  assert.equal(network.vocabulary!.symbols, Vocabulary.fromText(text).symbols);
  assert.ok(Math.abs(heldOutBits(first, held, 16) - out.heldOut.network) < 1e-12, `reloaded ${heldOutBits(first, held, 16)} vs reported ${out.heldOut.network}`);
  // The baselines: counted on the training part, scored on the held-out part.
  const symbols = network.vocabulary!.encode(text), V = network.vocabulary!.size;
  const training = symbols.subarray(0, n - held), heldOut = symbols.subarray(n - held);
  assert.is(out.heldOut.bigramKneserNey, BigramModel.fit(training, V, 'kneser-ney').bitsPerSymbol(heldOut));
  assert.is(out.heldOut.bigramAddOne, BigramModel.fit(training, V, 'add-one').bitsPerSymbol(heldOut));
  assert.is(out.heldOut.unigram, unigramBits(training, heldOut, V, 1));
  assert.ok(out.heldOut.network > 0 && Number.isFinite(out.heldOut.network));
});

test('generate prints the prime and what the saved network samples, the same for the same seed', () => {
  const args = ['generate', '--load', first, '--length', '40', '--prime', 'the ', '--temperature', '0.8', '--top-k', '5', '--seed', '7'];
  const r = loopgrad(...args);
  assert.is(r.status, 0, r.stderr);
  const expected = loadNetwork(bytesOf(first)).generate({ prime: 'the ', length: 40, temperature: 0.8, topK: 5, seed: 7 });
  assert.is(r.stdout, `the ${expected}\n`);
  assert.is(loopgrad(...args).stdout, r.stdout);
  const other = loopgrad('generate', '--load', first, '--length', '40', '--seed', '8');
  assert.is(other.status, 0, other.stderr);
  assert.is(Array.from(other.stdout).length, 1 + 40 + 1, 'default prime (one character), 40 sampled, a newline');
});

test('--load continues the saved network (same description, new weights) and refuses contradicting flags by name', () => {
  const second = join(dir, 'second.safetensors');
  const r = loopgrad('train', 'text', '--file', corpus, '--load', first, '--hidden', '8', '--seq-length', '16', '--iterations', '3', '--json', '--save', second);
  assert.is(r.status, 0, r.stderr);
  const a = loadNetwork(bytesOf(first)), b = loadNetwork(bytesOf(second));
  assert.equal(b.description, a.description);
  const ta = a.model.params.theta, tb = b.model.params.theta;
  assert.ok(ta.length === tb.length && ta.some((x, i) => x !== tb[i]), 'the weights moved');
  assert.is(JSON.parse(r.stdout).config.load, first);
  // Continuing starts from the saved weights: one update of size ~1e-12 leaves the saved network's score
  // (a fresh network of this vocabulary would score about log2(V) bits).
  const still = loopgrad('train', 'text', '--file', corpus, '--load', first, '--seq-length', '16', '--iterations', '1', '--lr', '1e-12', '--json');
  assert.is(still.status, 0, still.stderr);
  const saved = heldOutBits(first, Math.ceil(0.05 * Array.from(text).length), 16);
  assert.ok(Math.abs(JSON.parse(still.stdout).heldOut.network - saved) < 1e-6, `${JSON.parse(still.stdout).heldOut.network} vs the saved network's ${saved}`);
  for (const [flag, value, saved] of [['--hidden', '64', '8'], ['--embedding', '0', '4'], ['--layers', '2', '1'], ['--cell', 'gru', 'lstm']]) {
    const bad = loopgrad('train', 'text', '--file', corpus, '--load', first, flag, value, '--iterations', '1');
    assert.is(bad.status, 2, `${flag} ${value}: ${bad.stderr}`);
    assert.match(bad.stderr, `${flag} ${value} (the file's`);
    assert.match(bad.stderr, ` is ${saved})`);
    assert.match(bad.stderr, 'contradicts the network saved in --load');
  }
  const both = loopgrad('train', 'text', '--file', corpus, '--load', first, '--hidden', '64', '--cell', 'gru');
  assert.is(both.status, 2);
  assert.match(both.stderr, /--cell gru .*, --hidden 64 .* contradict the network/);
  // A text with a character the saved vocabulary lacks.
  const other = join(dir, 'other.txt');
  writeFileSync(other, `${text}Zebra!`);
  const unknown = loopgrad('train', 'text', '--file', other, '--load', first, '--seq-length', '16');
  assert.is(unknown.status, 2);
  assert.match(unknown.stderr, /--file .*other\.txt: character "Z" at position \d+ is not in the vocabulary of the network in --load/);
});

// Every bad option in process (a UsageError, which the CLI prints with the usage and exit 2) ...
const BAD_OPTIONS: [string[], RegExp][] = [
  [[], /--file is required/],
  [['--file', '/nonexistent-loopgrad/corpus.txt'], /--file \/nonexistent-loopgrad\/corpus\.txt: cannot read it/],
  [['--file', corpus, '--lr', '-1'], /--lr must be positive, got -1/],
  [['--file', corpus, '--time', '0'], /--time must be positive, got 0/],
  [['--file', corpus, '--held-out', '1.5'], /--held-out must be a fraction in \(0, 1\), got 1\.5/],
  [['--file', corpus, '--method', 'bogus'], /--method: .*bogus/],
  [['--file', corpus, '--seq-length', '0'], /--seq-length: 0 is below the minimum 1/],
  [['--file', corpus, '--seq-length', '5000'], /--file .* has \d+ characters: .* fewer than --seq-length \+ 1 = 5001/],
  [['--file', corpus, '--dropout', '0.5'], /--dropout acts between layers: it needs --layers 2 or more/],
  [['--file', corpus, '--cell', 'transformer'], /--cell: "transformer" is not one of/],
  [['--file', corpus, '--save', '/nonexistent-loopgrad/model.safetensors'], /--save: directory \/nonexistent-loopgrad does not exist/],
  [['--file', corpus, '--hidden', '4096', '--max-bytes', '100000000'], /this run would need about .* over the limit of 95\.4 MiB; use smaller --hidden.*--allow-large/],
  [['--file', corpus, '--method', 'kf-rtrl', '--hidden', '4'], /--method kf-rtrl: /],
  [['--file', corpus, '--bogus'], /unknown option --bogus/],
  [['--file', corpus, 'extra'], /unexpected argument "extra"/],
];
for (const [args, message] of BAD_OPTIONS) {
  test(`train text ${args.join(' ')}: a UsageError naming the flag`, async () => {
    try {
      await runTrainText(args);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, message);
    }
  });
}

// ... and a few through the command line: exit 2, one line naming the flag, the usage, no stack trace.
test('train text bad options on the command line: exit 2, the flag named, the train text usage', () => {
  for (const i of [2, 11, 12]) {
    const [args, message] = BAD_OPTIONS[i];
    const r = loopgrad('train', 'text', ...args);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: loopgrad train text/);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('generate: bad options exit 2 naming the flag (a prime character outside the vocabulary), bad files exit 1 naming the file', async () => {
  const notNetwork = join(dir, 'not-a-network.safetensors');
  writeFileSync(notNetwork, 'hello, I am text');
  for (const [args, status, message] of [
    [[], 2, /--load is required/],
    [['--load', first, '--temperature', '0'], 2, /--temperature must be positive, got 0/],
    [['--load', first, '--length', '-3'], 2, /--length: -3 is below the minimum 0/],
    [['--load', first, '--prime', 'the Zoo'], 2, /--prime: character "Z" \(position 4\) is not in the vocabulary of --load .*first\.safetensors \(\d+ symbols/],
    [['--load', first, '--prime', ''], 2, /--prime needs at least one character/],
    [['--load', notNetwork], 1, /--load .*not-a-network\.safetensors is not a saved network: loadNetwork: the bytes are not a safetensors file/],
    [['--load', join(dir, 'missing.safetensors')], 1, /--load .*missing\.safetensors: cannot read the file/],
    [['--load', dir], 1, /cannot read the file: it is a directory/],
  ] as [string[], number, RegExp][]) {
    // In process: a UsageError is exit 2 on the command line, any other Error exit 1.
    try {
      await generateCommand.run(args);
      assert.unreachable(`${args.join(' ')} accepted`);
    } catch (e) {
      assert.is(e instanceof UsageError ? 2 : 1, status, `${args.join(' ')}: ${(e as Error).message}`);
      assert.match((e as Error).message, message);
    }
  }
  for (const [args, status, message] of [
    [['--load', first, '--prime', 'Zoo'], 2, /--prime: character "Z"/],
    [['--load', notNetwork], 1, /^loopgrad generate: --load .*not-a-network\.safetensors is not a saved network/],
  ] as [string[], number, RegExp][]) {
    const r = loopgrad('generate', ...args);
    assert.is(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('a failed run leaves an existing --save file untouched (diverging training saves nothing)', () => {
  const before = bytesOf(first);
  const r = loopgrad('train', 'text', '--file', corpus, ...TINY, '--iterations', '4', '--lr', '1000000', '--save', first);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /training diverged/);
  assert.match(r.stderr, /nothing saved \(--save .*first\.safetensors is unchanged\)/);
  assert.ok(same(bytesOf(first), before), 'the file is byte for byte what it was');
});

test('a failed write (the disk full) leaves the existing file untouched and no temporary file behind', () => {
  if (!existsSync('/dev/full')) return;
  const target = join(dir, 'kept.bin');
  writeFileSync(target, 'good bytes');
  // The temporary file is a link to /dev/full: every write to it fails with ENOSPC.
  symlinkSync('/dev/full', temporaryPath(target));
  assert.throws(() => writeFileAtomic(target, new Uint8Array(1000).fill(7)), (e: Error) => /cannot save .*kept\.bin: ENOSPC.*is unchanged/.test(e.message));
  assert.is(readFileSync(target, 'utf8'), 'good bytes');
  assert.not.ok(existsSync(temporaryPath(target)));
  writeFileAtomic(target, new Uint8Array([1, 2, 3]));
  assert.equal([...bytesOf(target)], [1, 2, 3]);
});

test('Ctrl-C stops training after the current batches, then scores and saves as usual', async () => {
  const path = join(dir, 'interrupted.safetensors');
  const child = spawn(process.execPath, [cli, 'train', 'text', '--file', corpus, ...TINY, '--time', '60', '--eval-every', '1', '--save', path]);
  let stderr = '', stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/iteration 2 /.test(stderr) && !child.killed) child.kill('SIGINT');
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  assert.is(status, 0, stderr);
  assert.match(stderr, /interrupted: finishing the current batches/);
  assert.match(stdout, /: interrupted \(Ctrl-C\)/);
  assert.match(stdout, /saved to .*interrupted\.safetensors/);
  assert.ok(loadNetwork(bytesOf(path)).parameterCount > 0);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
