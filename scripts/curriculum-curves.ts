// The learning-curve grid of docs/online-methods.md: every gradient method on the copy curriculum
// (lib/train/curriculum.ts), the same cell, the same wall-time budget per run, each learning rate
// of a small grid; the best rate per method (longest delay solved, then the earliest to solve it)
// goes into the figures. Runs one after another, never in parallel, so each has the machine's
// share it would have alone.
//   npx tsc -p tsconfig.dist.json && node dist/scripts/curriculum-curves.js [options]
// Writes OUT/online-methods-runs.json (every run, appended as each ends, so an interrupted grid
// resumes with --resume) and OUT/online-methods-<set>.svg; prints the tables of the doc.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { UsageError, parseArgs, type FlagSpec } from '../cli/args.js';
import { trainCopyCurriculum } from '../lib/train/curriculum.js';
import { type CurriculumRun, curriculumSvg } from '../bench/curriculum-figure.js';
import type { CellKind } from '../lib/cells/registry.js';

interface RunRecord {
  set: string;
  cell: string;
  hidden: number;
  method: string;
  lr: number;
  /** The budget: seconds of wall time, or (with --batches) null and a number of batches. */
  budgetSeconds: number | null;
  batches?: number;
  reached: number;
  stop: string;
  iterations: number;
  steps: number;
  elapsedMs: number;
  /** The 1-minute load average before and after the run (the machine is shared). */
  load: [number, number];
  solved: { delay: number; iteration: number; steps: number; elapsedMs: number }[];
}

const specs: Record<string, FlagSpec> = {
  budget: { kind: 'number', help: 'seconds of training per run (default 45)', min: 0.001 },
  batches: { kind: 'int', help: 'instead of a time budget: this many batches per run (the same data for every method)', min: 1 },
  lrs: { kind: 'list', help: 'learning rates to try per method (default 0.001,0.003,0.01)' },
  hidden: { kind: 'int', help: 'hidden units (default 16)', min: 1 },
  sets: { kind: 'list', help: 'gru (bptt, tbptt, rtrl, snap1, snap2, uoro) and/or elman (the same and kf-rtrl); default both', choices: ['gru', 'lstm', 'elman'] },
  methods: { kind: 'list', help: 'only these methods (default all of the set)' },
  tbptt: { kind: 'int', help: 'the truncation K of tbptt:K (default 16)', min: 1 },
  out: { kind: 'string', help: 'directory for the JSON and SVGs (default docs)' },
  resume: { kind: 'boolean', help: 'keep the runs already in the JSON, run only the missing ones' },
  'plot-only': { kind: 'boolean', help: 'run nothing: draw the figures and print the tables from the JSON' },
};

// The curriculum's settings (those of trainCopyCurriculum's defaults, written out).
const BATCH = 8, CHECK_EVERY = 10, LENGTH = 3;

function main(argv: string[]): number {
  const parsed = parseArgs(argv, specs);
  if (parsed.positional.length > 0) throw new UsageError(`unexpected argument "${parsed.positional[0]}"`);
  const get = <T>(name: string) => parsed.flags.get(name) as T | undefined;
  const batches = get<number>('batches');
  if (batches !== undefined && parsed.flags.has('budget')) throw new UsageError('--batches replaces the time budget: give one of --budget and --batches');
  const budgetSeconds = batches === undefined ? get<number>('budget') ?? 45 : null;
  const sameBudget = (r: RunRecord) => r.budgetSeconds === budgetSeconds && r.batches === batches;
  const budgetText = budgetSeconds === null ? `${batches} batches` : `${budgetSeconds} s`;
  const lrs = (get<string[]>('lrs') ?? ['0.001', '0.003', '0.01']).map((t) => {
    const v = Number(t);
    if (!(v > 0 && Number.isFinite(v))) throw new UsageError(`--lrs: "${t}" is not a positive number`);
    return v;
  });
  const hidden = get<number>('hidden') ?? 16;
  const K = get<number>('tbptt') ?? 16;
  const out = get<string>('out') ?? 'docs';
  const sets = get<string[]>('sets') ?? ['gru', 'elman'];
  const only = get<string[]>('methods');
  const file = join(out, budgetSeconds === null ? `online-methods-runs-${batches}-batches.json` : 'online-methods-runs.json');
  const runs: RunRecord[] = get<boolean>('resume') || get<boolean>('plot-only') ? (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as RunRecord[] : []) : [];
  // The figures' caption: the command that ran the grid (a redraw names it too).
  const command = `node dist/scripts/curriculum-curves.js ${argv.filter((a) => a !== '--plot-only' && a !== '--resume').join(' ')}`.trim();

  const methodsOf = (set: string) => {
    const base = ['bptt', `tbptt:${K}`, 'rtrl', 'snap1', 'snap2', 'uoro'];
    const all = set === 'elman' ? [...base, 'kf-rtrl'] : base;
    return only === undefined ? all : all.filter((m) => only.includes(m));
  };

  if (!get<boolean>('plot-only')) {
    console.error(`${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const set of sets) {
      for (const method of methodsOf(set)) {
        for (const lr of lrs) {
          if (runs.some((r) => r.set === set && r.method === method && r.lr === lr && r.hidden === hidden && sameBudget(r))) continue;
          const loadBefore = loadavg()[0];
          const report = trainCopyCurriculum({
            cell: set as CellKind, hidden, method, lr, clip: 1, batch: BATCH, checkEvery: CHECK_EVERY, length: LENGTH, ...(budgetSeconds === null ? { maxIterations: batches } : { budgetMs: budgetSeconds * 1000, maxIterations: Number.MAX_SAFE_INTEGER }), seed: 1,
          });
          const last = report.points[report.points.length - 1];
          const record: RunRecord = {
            set, cell: set, hidden, method, lr, budgetSeconds, ...(batches === undefined ? {} : { batches }), reached: report.reached, stop: report.stop,
            iterations: last?.iteration ?? 0, steps: last?.steps ?? 0, elapsedMs: last?.elapsedMs ?? 0,
            load: [loadBefore, loadavg()[0]], solved: report.solved,
          };
          runs.push(record);
          writeFileSync(file, JSON.stringify(runs, null, 1) + '\n');
          console.error(`${set} ${hidden} ${method} lr ${lr}: reached delay ${record.reached} in ${record.iterations} batches, ${record.steps} steps, ${(record.elapsedMs / 1000).toFixed(1)} s (${record.stop}; load ${record.load.map((l) => l.toFixed(1)).join(' -> ')})`);
        }
      }
    }
  }

  // Per set: the grid table, the best rate per method, the figure.
  for (const set of sets) {
    const mine = runs.filter((r) => r.set === set && r.hidden === hidden && sameBudget(r));
    if (mine.length === 0) continue;
    const methods = methodsOf(set).filter((m) => mine.some((r) => r.method === m));
    const rates = [...new Set(mine.map((r) => r.lr))].sort((a, b) => a - b);
    const time = (r: RunRecord) => (r.solved.length > 0 ? r.solved[r.solved.length - 1].elapsedMs : Infinity);
    const best = methods.map((m) => mine.filter((r) => r.method === m).sort((a, b) => b.reached - a.reached || time(a) - time(b))[0]);
    console.log(`\n${set}, hidden ${hidden}, ${budgetText} per run: longest delay solved per learning rate (best in bold)`);
    console.log(`| method | ${rates.map((r) => `lr ${r}`).join(' | ')} | batches (best) | input steps (best) | ms per batch (best) |`);
    console.log(`| --- | ${rates.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`);
    methods.forEach((m, i) => {
      const b = best[i];
      const cells = rates.map((lr) => {
        const r = mine.find((x) => x.method === m && x.lr === lr);
        return r === undefined ? '' : r === b ? `**${r.reached}**` : String(r.reached);
      });
      console.log(`| ${m} | ${cells.join(' | ')} | ${b.iterations} | ${b.steps} | ${(b.elapsedMs / Math.max(1, b.iterations)).toFixed(1)} |`);
    });
    // Data efficiency, the papers' axis: the delay each best run had solved by a given amount of data
    // ('-' where the run ended before it had seen that much).
    const most = Math.max(...best.map((r) => r.steps));
    const marks = [3e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6].filter((m) => m <= most);
    console.log(`\n${set}: longest delay solved by the input steps seen (best lr per method)`);
    console.log(`| method | ${marks.map((m) => m.toExponential(0).replace('e+', 'e')).join(' | ')} |`);
    console.log(`| --- | ${marks.map(() => '---:').join(' | ')} |`);
    for (const b of best) {
      const cells = marks.map((m) => (b.steps < m ? '-' : String(b.solved.filter((x) => x.steps <= m).reduce((d, x) => Math.max(d, x.delay), 0))));
      console.log(`| ${b.method} (lr ${b.lr}) | ${cells.join(' | ')} |`);
    }
    // The first check comes after CHECK_EVERY batches at delay 1 (sequences of 1 + 2 * LENGTH steps).
    const firstSteps = CHECK_EVERY * BATCH * (1 + 2 * LENGTH);
    const curves: CurriculumRun[] = best.map((b) => ({ label: `${b.method} (lr ${b.lr}): ${b.reached}`, solved: b.solved, end: { steps: b.steps, elapsedMs: b.elapsedMs }, firstSteps }));
    const svg = join(out, budgetSeconds === null ? `online-methods-${set}-${batches}-batches.svg` : `online-methods-${set}.svg`);
    writeFileSync(svg, curriculumSvg(curves, `copy curriculum: ${set} ${hidden}, ${budgetText} per method, best lr of ${rates.join(', ')}`, command));
    console.log(`wrote ${svg}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`curriculum-curves: ${e.message}`);
  process.exitCode = 2;
}
