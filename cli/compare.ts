// loopgrad compare: BPTT and RTRL side by side on the same cell and data,
// with their time and memory over a grid of hidden sizes and sequence lengths.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import '../node/register.js';
import { type Command, type FlagSpec, UsageError, checkWritableFile, parseArgs, usageLines } from './args.js';
import {
  type CompareConfig, compareSvg, defaultCompareConfig, formatReport, overLimit, planCompare, planCost, runCompare,
} from '../bench/compare.js';
import { CELL_KINDS, type CellKind } from '../lib/cells/registry.js';
import { METHOD_FORMS, THREADED_METHODS, formatMethod, parseMethod } from '../lib/rnn/methods.js';
import { createProgress } from '../bench/progress.js';

const d = defaultCompareConfig;

const flags = {
  cell: { kind: 'string', help: `recurrent cell: ${CELL_KINDS.join('|')} (default ${d.cell})`, choices: CELL_KINDS },
  method: { kind: 'list', help: `methods, comma-separated: ${METHOD_FORMS.join(', ')} (default ${d.methods.join(',')})` },
  hidden: { kind: 'ints', help: `hidden sizes (default ${d.hidden.join(',')})`, min: 1 },
  steps: { kind: 'ints', help: `sequence lengths (default ${d.steps.join(',')})`, min: 1 },
  input: { kind: 'int', help: `input features per step (default ${d.input})`, min: 1 },
  batch: { kind: 'int', help: `sequences per batch (default ${d.batch})`, min: 1 },
  repeats: { kind: 'int', help: `timed samples per row, median reported (default ${d.repeats})`, min: 1 },
  seed: { kind: 'int', help: `seed of parameters and data (default ${d.seed})`, min: 0 },
  threads: { kind: 'int', help: `threads for ${THREADED_METHODS} (bptt's batch split; the columns of S), from 1 to the cores (${availableParallelism()} here; default 1); the other methods run on one`, min: 1 },
  json: { kind: 'boolean', help: 'print one JSON object {config, rows, fits} instead of the table' },
  svg: { kind: 'string', help: 'also write the log-log scaling plot to this SVG file' },
  quiet: { kind: 'boolean', help: 'no progress bar' },
  'allow-large': { kind: 'boolean', help: `run even when a row is estimated to need more than ${d.memoryLimitBytes / 1024 ** 3} GiB` },
} as const satisfies Record<string, FlagSpec>;

const usage = `usage: loopgrad compare [options]

Runs BPTT and RTRL on the same cell, parameters and sequences for every hidden
size and sequence length, and reports time, counted flops, gradient memory,
peak heap, the gradients' agreement, and fitted scaling exponents beside the
theory (RTRL: T·n^4 time, n^3 memory flat in T; BPTT: T·n^2 time, T·n memory).

options:
${usageLines(flags)}

example: loopgrad compare --cell lstm --hidden 8,16,32 --steps 50,100 --svg scaling.svg`;

/** Distinct values, ascending. */
function ascending(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Turns parsed flags into a config; bad combinations become UsageErrors. */
export function configFromArgs(argv: readonly string[]): { config: CompareConfig; json: boolean; svg: string | null; quiet: boolean } {
  const { flags: parsed, positional } = parseArgs(argv, flags);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const methods: string[] = [];
  for (const m of (parsed.get('method') as string[] | undefined) ?? d.methods) {
    if (m === '') throw new UsageError('--method: empty method name');
    let name: string;
    try {
      name = formatMethod(parseMethod(m));
    } catch (e) {
      throw new UsageError(`--${(e as Error).message}`);
    }
    if (!methods.includes(name)) methods.push(name);
  }
  const svg = (parsed.get('svg') as string | undefined) ?? null;
  if (svg !== null) checkWritableFile('svg', svg);
  const seed = (parsed.get('seed') as number | undefined) ?? d.seed;
  if (seed >= 2 ** 32) throw new UsageError(`--seed: ${seed} is above the maximum ${2 ** 32 - 1}`);
  const threads = (parsed.get('threads') as number | undefined) ?? 1;
  const cores = availableParallelism();
  if (threads > cores) throw new UsageError(`--threads: ${threads} is more than the ${cores} cores of this machine`);
  const config: CompareConfig = {
    cell: ((parsed.get('cell') as string | undefined) ?? d.cell) as CellKind,
    methods,
    hidden: ascending((parsed.get('hidden') as number[] | undefined) ?? d.hidden),
    steps: ascending((parsed.get('steps') as number[] | undefined) ?? d.steps),
    input: (parsed.get('input') as number | undefined) ?? d.input,
    batch: (parsed.get('batch') as number | undefined) ?? d.batch,
    repeats: (parsed.get('repeats') as number | undefined) ?? d.repeats,
    seed,
    memoryLimitBytes: d.memoryLimitBytes,
    allowLarge: parsed.get('allow-large') === true,
    threads,
  };
  const tooBig = [...config.hidden, ...config.steps, config.input, config.batch, config.repeats].find((v) => v > 1e7);
  if (tooBig !== undefined) throw new UsageError(`${tooBig} is too large for a size, length or count (at most 10000000)`);
  return { config, json: parsed.get('json') === true, svg, quiet: parsed.get('quiet') === true };
}

export const compareCommand: Command = {
  summary: 'time and memory of BPTT vs RTRL over hidden sizes and sequence lengths',
  usage,
  async run(argv) {
    const { config, json, svg, quiet } = configFromArgs(argv);
    const plan = planCompare(config);
    const over = overLimit(config, plan);
    if (over.length > 0 && !config.allowLarge) {
      throw new UsageError(`${over[0]}${over.length > 1 ? ` (and ${over.length - 1} more)` : ''}; use smaller --hidden/--steps or pass --allow-large`);
    }
    const progress = createProgress({ total: planCost(config, plan), label: 'compare', quiet });
    let result;
    try {
      result = runCompare(config, {
        onStart: (what) => progress.note(what),
        onRow: (_row, cost) => progress.advance(cost),
      });
    } finally {
      progress.done();
    }
    if (svg !== null) {
      try {
        writeFileSync(svg, compareSvg(result));
      } catch (e) {
        throw new Error(`cannot write --svg ${svg}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(formatReport(result));
      if (svg !== null) console.log(`\nplot written to ${svg}`);
    }
    return 0;
  },
};
