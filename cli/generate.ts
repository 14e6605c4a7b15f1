// loopgrad generate --load model.safetensors: text from a network saved by `loopgrad train text
// --save`, sampled character by character (network.generate: softmax(logits / T) among the top
// k, each sample fed back in), after a prime that sets the state.
// Exit status: 2 for a bad option (the flag named; a --prime character outside the saved
// vocabulary is one), 1 for a file that cannot be read or is not a saved text model (the file named).
import { type FlagSpec, UsageError, parseArgs, usageLines, type Command } from './args.js';
import { readTextNetwork } from './saved-network.js';

const DEFAULT_LENGTH = 200;

const flags: Record<string, FlagSpec> = {
  load: { kind: 'string', help: 'the network saved by loopgrad train text --save (required)' },
  length: { kind: 'int', min: 0, help: `characters to generate after the prime (default ${DEFAULT_LENGTH})` },
  temperature: { kind: 'number', help: 'softmax temperature T > 0: p ∝ exp(logits / T); below 1 safer, above 1 wilder (default 1)' },
  'top-k': { kind: 'int', min: 1, help: 'sample among the k most likely characters only (default all; 1: always the most likely)' },
  prime: { kind: 'string', help: 'text to start from, every character in the vocabulary (default a newline, or a space, or the first symbol)' },
  seed: { kind: 'int', min: 0, help: 'seed of the sampling: the same seed and options give the same text (default 0)' },
};

const usage = `usage: loopgrad generate --load model.safetensors [options]

Prints the prime followed by --length characters sampled from a network saved
by loopgrad train text --save.

options:
${usageLines(flags)}

exit status: 0 done; 2 a bad option (named), such as a --prime character the
network's vocabulary lacks; 1 a --load file that cannot be read or is not a
saved text model (named).

example: loopgrad generate --load model.safetensors --length 300 --temperature 0.7 --prime "The "`;

function run(argv: readonly string[]): number {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const path = f.get('load') as string | undefined;
  if (path === undefined) throw new UsageError('--load is required: the file saved by loopgrad train text --save');
  if (path.trim() === '') throw new UsageError('--load needs a file name');
  const temperature = (f.get('temperature') as number | undefined) ?? 1;
  if (!(temperature > 0)) throw new UsageError(`--temperature must be positive, got ${temperature}`);
  const primeFlag = f.get('prime') as string | undefined;
  if (primeFlag === '') throw new UsageError('--prime needs at least one character');
  const network = readTextNetwork('load', path);
  const vocabulary = network.vocabulary!;
  const has = (s: string) => vocabulary.symbols.includes(s);
  const prime = primeFlag ?? (has('\n') ? '\n' : has(' ') ? ' ' : vocabulary.symbols[0]);
  Array.from(prime).forEach((ch, i) => {
    if (!has(ch)) {
      throw new UsageError(`--prime: character ${JSON.stringify(ch)} (position ${i}) is not in the vocabulary of --load ${path} (${vocabulary.size} symbols: ${JSON.stringify(vocabulary.symbols.join(''))})`);
    }
  });
  const topK = f.get('top-k') as number | undefined;
  const text = network.generate({
    prime,
    length: (f.get('length') as number | undefined) ?? DEFAULT_LENGTH,
    temperature,
    ...(topK === undefined ? {} : { topK }),
    seed: (f.get('seed') as number | undefined) ?? 0,
  });
  process.stdout.write(`${prime}${text}\n`);
  return 0;
}

export const generateCommand: Command = {
  summary: 'print text sampled from a network saved by loopgrad train text --save',
  usage,
  run,
};
