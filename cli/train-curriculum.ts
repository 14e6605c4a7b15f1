// loopgrad train copy --curriculum: the copy task whose delay grows by one each time it is solved
// (lib/train/curriculum.ts), within a wall-time budget and/or a number of batches. Reports how far
// the delay got, with how much data and time, and draws the curve (delay against data seen and
// against wall time).
import { writeFileSync } from 'node:fs';
import { type FlagSpec, type Parsed, UsageError, checkWritableFile, parseArgs, usageLines } from './args.js';
import { curriculumSvg } from '../bench/curriculum-figure.js';
import { type CurriculumConfig, type CurriculumReport, trainCopyCurriculum } from '../lib/train/curriculum.js';
import { CELL_KINDS, type CellKind } from '../lib/cells/registry.js';
import { METHOD_FORMS, parseMethod } from '../lib/rnn/methods.js';
import { OPTIMIZER_KINDS, type OptimizerKind } from '../lib/optim/optimizer.js';
import { ConfigError } from '../lib/errors.js';

const specs: Record<string, FlagSpec> = {
  curriculum: { kind: 'boolean', help: 'train on the copy task with a growing delay (this mode)' },
  'time-budget': { kind: 'number', help: 'seconds of training (default 60)' },
  iterations: { kind: 'int', help: 'at most this many batches (default: no limit but the time budget)', min: 1 },
  cell: { kind: 'string', help: `${CELL_KINDS.join(' | ')} (default gru)`, choices: CELL_KINDS },
  hidden: { kind: 'int', help: 'hidden units (default 16)', min: 1 },
  method: { kind: 'string', help: `${METHOD_FORMS.join(' | ')} (default bptt)` },
  optimizer: { kind: 'string', help: `${OPTIMIZER_KINDS.join(' | ')} (default adam)`, choices: OPTIMIZER_KINDS },
  lr: { kind: 'number', help: 'learning rate (> 0; default 0.003)' },
  clip: { kind: 'number', help: 'clip the gradient global norm to this (> 0; default 1)' },
  batch: { kind: 'int', help: 'sequences per batch (default 8)', min: 1 },
  length: { kind: 'int', help: 'symbols to recall (default 3)', min: 1 },
  symbols: { kind: 'int', help: 'alphabet size (default 4)', min: 2 },
  'start-delay': { kind: 'int', help: 'the first delay (default 1)', min: 1 },
  'max-delay': { kind: 'int', help: 'stop once this delay is solved (default 1000)', min: 1 },
  'check-every': { kind: 'int', help: 'batches between held-out checks (default 10)', min: 1 },
  'held-out': { kind: 'int', help: 'held-out sequences per check (default 100)', min: 1 },
  solved: { kind: 'number', help: 'held-out recall accuracy that counts as solved (default 0.95)' },
  seed: { kind: 'int', help: 'seed of the initialisation and data (default 0)', min: 0 },
  svg: { kind: 'string', help: 'write the curve (delay against data seen and wall time) to this SVG file' },
  json: { kind: 'boolean', help: 'print one JSON object {config, points, solved, reached, stop}' },
  quiet: { kind: 'boolean', help: 'print only the final line' },
};

export const trainCurriculumUsage = [
  'usage: loopgrad train copy --curriculum [options]',
  '',
  'The copy task (recall 3 symbols after a delay); the delay starts at 1 and grows by one each time',
  'the held-out recall is solved, one model and optimiser throughout, until the budget is spent.',
  '',
  'options:',
  usageLines(specs),
  '',
  'example: loopgrad train copy --curriculum --cell gru --hidden 16 --method snap2 --lr 0.003 --time-budget 60 --svg curve.svg',
].join('\n');

// The library's option names, as the flags a user typed.
const FLAG_OF: Record<string, string> = {
  cell: 'cell', hidden: 'hidden', method: 'method', optimizer: 'optimizer', lr: 'lr', clip: 'clip', batch: 'batch', length: 'length',
  symbols: 'symbols', startDelay: 'start-delay', maxDelay: 'max-delay', solved: 'solved', checkEvery: 'check-every', heldOut: 'held-out',
  budgetMs: 'time-budget', maxIterations: 'iterations', seed: 'seed',
};

/** The curriculum config a command line asks for; every bad value is a UsageError naming its flag. */
export function curriculumConfigFromArgs(argv: readonly string[]): { config: CurriculumConfig; parsed: Parsed } {
  const parsed = parseArgs(argv, specs);
  if (parsed.positional.length !== 1 || parsed.positional[0] !== 'copy') {
    throw new UsageError(`--curriculum trains the copy task only: loopgrad train copy --curriculum (got ${parsed.positional.length === 0 ? 'no task' : parsed.positional.join(' ')})`);
  }
  const get = <T>(name: string) => parsed.flags.get(name) as T | undefined;
  for (const name of ['time-budget', 'lr', 'clip']) {
    const v = get<number>(name);
    if (v !== undefined && !(v > 0)) throw new UsageError(`--${name}: ${v} is not positive`);
  }
  const solved = get<number>('solved');
  if (solved !== undefined && !(solved > 0 && solved <= 1)) throw new UsageError(`--solved: ${solved} is not an accuracy in (0, 1]`);
  const method = get<string>('method') ?? 'bptt';
  try {
    parseMethod(method);
  } catch (e) {
    throw new UsageError(`--method: ${(e as Error).message}`);
  }
  const seconds = get<number>('time-budget') ?? 60;
  const config: CurriculumConfig = {
    cell: (get<string>('cell') ?? 'gru') as CellKind,
    hidden: get<number>('hidden') ?? 16,
    method,
    optimizer: get<OptimizerKind>('optimizer'),
    lr: get<number>('lr') ?? 0.003,
    clip: get<number>('clip') ?? 1,
    batch: get<number>('batch'),
    length: get<number>('length'),
    symbols: get<number>('symbols'),
    startDelay: get<number>('start-delay'),
    maxDelay: get<number>('max-delay'),
    solved,
    checkEvery: get<number>('check-every'),
    heldOut: get<number>('held-out'),
    budgetMs: seconds * 1000,
    maxIterations: get<number>('iterations') ?? Number.MAX_SAFE_INTEGER,
    seed: get<number>('seed'),
  };
  for (const key of Object.keys(config) as (keyof CurriculumConfig)[]) if (config[key] === undefined) delete config[key];
  if (config.maxDelay !== undefined && config.maxDelay < (config.startDelay ?? 1)) {
    throw new UsageError(`--max-delay: ${config.maxDelay} is below the start delay ${config.startDelay ?? 1}`);
  }
  return { config, parsed };
}

function svgOf(report: CurriculumReport, command: string): string {
  const c = report.config;
  const last = report.points[report.points.length - 1];
  const run = {
    label: `${String(c.method)}: delay ${report.reached}`,
    solved: report.solved,
    end: { steps: last?.steps ?? 0, elapsedMs: last?.elapsedMs ?? 0 },
    startDelay: c.startDelay as number,
    firstSteps: report.points[0]?.steps ?? 1,
  };
  return curriculumSvg([run], `copy curriculum: ${String(c.cell)} ${String(c.hidden)}, ${String(c.method)}, lr ${String(c.lr)}`, command);
}

export async function runTrainCurriculum(argv: readonly string[]): Promise<number> {
  const { config, parsed } = curriculumConfigFromArgs(argv);
  const json = parsed.flags.get('json') === true;
  const quiet = parsed.flags.get('quiet') === true || json;
  const svg = parsed.flags.get('svg') as string | undefined;
  if (svg !== undefined) checkWritableFile('svg', svg);
  const command = `loopgrad train ${argv.join(' ')}`;
  if (!quiet) console.error(`training ${config.cell} ${config.hidden} by ${config.method} on the copy curriculum for ${config.budgetMs! / 1000} s ...`);
  let report: CurriculumReport;
  try {
    // A line per delay as it is solved (not with --json, which prints one object at the end, nor --quiet).
    report = trainCopyCurriculum(config, quiet ? {} : {
      onCheck: (p, solved) => {
        if (solved) console.log(`  delay ${p.delay} solved: ${p.iteration} batches, ${p.steps} input steps seen, ${(p.elapsedMs / 1000).toFixed(1)} s`);
      },
    });
  } catch (e) {
    // Settings only the library can judge (an Elman-only method on another cell ...): name the flag.
    if (e instanceof ConfigError && typeof e.details.option === 'string' && FLAG_OF[e.details.option] !== undefined) {
      throw new UsageError(`--${FLAG_OF[e.details.option]}: ${e.message}`);
    }
    // A method that refuses this cell (kf-rtrl on anything but an Elman cell) refuses as its own op.
    if (e instanceof ConfigError && e.op === parseMethod(config.method).kind) throw new UsageError(`--method: ${e.message}`);
    throw e;
  }
  if (svg !== undefined) {
    try {
      writeFileSync(svg, svgOf(report, command));
    } catch (e) {
      throw new Error(`cannot write --svg ${svg}: ${(e as Error).message}`);
    }
  }
  const last = report.points[report.points.length - 1];
  const steps = last?.steps ?? 0, seconds = (last?.elapsedMs ?? 0) / 1000, batches = last?.iteration ?? 0;
  if (json) {
    console.log(JSON.stringify({ config: report.config, points: report.points, solved: report.solved, reached: report.reached, stop: report.stop }));
  } else {
    const why = { budget: 'time budget spent', iterations: 'batch limit reached', 'max-delay': 'maximum delay solved', diverged: 'training diverged', callback: 'stopped' }[report.stop];
    const current = last === undefined ? '' : `; at delay ${last.delay} the held-out accuracy was ${last.accuracy.toFixed(3)}`;
    console.log(`reached delay ${report.reached} (${why}): ${batches} batches, ${steps} input steps, ${seconds.toFixed(1)} s${current}`);
  }
  if (report.stop === 'diverged') {
    console.error(`loopgrad train: the copy curriculum diverged (a non-finite loss or gradient) after ${batches} batches at delay ${last?.delay ?? config.startDelay ?? 1}; try a lower --lr or a --clip`);
    return 1;
  }
  return 0;
}
