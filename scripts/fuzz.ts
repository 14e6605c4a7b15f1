// Long runs of the mutation fuzzers: the safetensors reader (scripts/fuzz-core.ts, the
// default) and the checkpoint loader (scripts/checkpoint-fuzz-core.ts).
//   npm run fuzz -- [--target safetensors|checkpoint|all] [--count N] [--seed S] [--save DIR]
// Prints progress every 10 000 cases, then one line of counts (accepted, refused,
// crashes, inconsistent, slow) and the first failures; --save writes each failing input
// to DIR/case-<index>.safetensors (safetensors only). Exits 1 when any case crashed, was
// inconsistent or slow, or (checkpoint) accepted a changed weights file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFuzzSummary, fuzzCheckpoint } from './checkpoint-fuzz-core.js';
import { fuzzSafetensors, fuzzSummary } from './fuzz-core.js';

const USAGE = 'usage: npm run fuzz -- [--target safetensors|checkpoint|all] [--count N] [--seed S] [--save DIR]';
const TARGETS = ['safetensors', 'checkpoint', 'all'] as const;
type Target = (typeof TARGETS)[number];

function parseArgs(argv: string[]): { target: Target; count: number; seed: number; save?: string } {
  const args = { target: 'safetensors', count: 100_000, seed: 1 } as { target: Target; count: number; seed: number; save?: string };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if ((flag === '--count' || flag === '--seed' || flag === '--save' || flag === '--target') && value === undefined) {
      throw new Error(`${flag} needs a value\n${USAGE}`);
    }
    if (flag === '--count' || flag === '--seed') {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || (flag === '--count' && n < 1)) throw new Error(`${flag} ${value} is not ${flag === '--count' ? 'a positive' : 'an'} integer\n${USAGE}`);
      if (flag === '--count') args.count = n;
      else args.seed = n;
      i++;
    } else if (flag === '--target') {
      if (!(TARGETS as readonly string[]).includes(value)) throw new Error(`--target ${value} is not one of ${TARGETS.join(', ')}\n${USAGE}`);
      args.target = value as Target;
      i++;
    } else if (flag === '--save') {
      args.save = value;
      i++;
    } else {
      throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  return args;
}

/** How often each mutation was applied and how often the result was still accepted. */
function perMutation(byMutation: Record<string, { accepted: number; applied: number }>): string {
  return `accepted/applied per mutation: ${Object.entries(byMutation).map(([name, m]) => `${name} ${m.accepted}/${m.applied}`).join(', ')}`;
}

/** The checkpoint loader's run; returns the number of failures. */
function runCheckpoint(args: ReturnType<typeof parseArgs>): number {
  console.log(`fuzzing the checkpoint loader: ${args.count} cases, seed ${args.seed}`);
  const result = fuzzCheckpoint({
    count: args.count,
    seed: args.seed,
    onProgress: (r) => console.log(`  ${checkpointFuzzSummary(r)}`),
  });
  console.log(checkpointFuzzSummary(result));
  console.log(perMutation(result.byMutation));
  for (const f of result.failures) console.log(`FAIL case ${f.caseIndex} (${f.kind}, ${f.file}/${f.mutation}): ${f.message}`);
  return result.crashes + result.corruptions + result.slow;
}

/** The safetensors reader's run; returns the number of failures. */
function runSafetensors(args: ReturnType<typeof parseArgs>): number {
  console.log(`fuzzing the safetensors reader: ${args.count} cases, seed ${args.seed}`);
  const result = fuzzSafetensors({
    count: args.count,
    seed: args.seed,
    onProgress: (r) => console.log(`  ${fuzzSummary(r)}`),
  });
  console.log(fuzzSummary(result));
  console.log(perMutation(result.byMutation));
  for (const f of result.failures) {
    console.log(`FAIL case ${f.caseIndex} (${f.kind}, ${f.mutations.join(' + ')}): ${f.message}`);
    if (args.save) {
      mkdirSync(args.save, { recursive: true });
      writeFileSync(join(args.save, `case-${f.caseIndex}.safetensors`), f.bytes);
    }
  }
  return result.crashes + result.inconsistent + result.slow;
}

function main(): void {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  let failures = 0;
  if (args.target !== 'checkpoint') failures += runSafetensors(args);
  if (args.target !== 'safetensors') failures += runCheckpoint(args);
  process.exit(failures > 0 ? 1 : 0);
}

main();
