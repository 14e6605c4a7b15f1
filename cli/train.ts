// loopgrad train <task>: trains a recurrent network on one of the classic
// generated tasks and reports the training curve and the held-out metric.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import '../node/register.js';
import { type Command, type FlagSpec, type Parsed, UsageError, checkWritableDirectory, checkWritableFile, flagError, parseArgs, usageLines } from './args.js';
import { renderSvg, type Series } from '../bench/svg.js';
import { createProgress } from '../bench/progress.js';
import { trainCurriculumUsage } from './train-curriculum.js';
import { hasCheckpoint, loadCheckpoint, readCheckpointMeta, saveCheckpoint } from './checkpoint.js';
import { OPTIMIZER_KINDS, Optimizer } from '../lib/optim/optimizer.js';
import { type NormalizedRunConfig, type TaskRunConfig, type TaskRunReport, buildCell, normalizeRunConfig, trainTask } from '../lib/train/run-task.js';
import { formatInit } from '../lib/train/init.js';
import { CELL_KINDS, type CellKind } from '../lib/cells/registry.js';
import { METHOD_FORMS, THREADED_METHODS, parseMethod, takesThreads } from '../lib/rnn/methods.js';
import { DEFAULT_STEPS, TASK_NAMES, type TaskName, createTask } from '../lib/tasks/registry.js';
import { TASK_TRAINING_DEFAULTS } from '../lib/train/task-defaults.js';
import { Rng, type RngState } from '../lib/mat/rng.js';
import { FormatError } from '../lib/errors.js';
import { type Estimate, libraryLimit, memoryFlags, memoryLimit, parameterCount, refuseOverLimit, probeStep, tapeBytes } from './memory.js';

const specs: Record<string, FlagSpec> = {
  cell: { kind: 'string', help: `${CELL_KINDS.join(' | ')} (default lstm)`, choices: CELL_KINDS },
  hidden: { kind: 'int', help: 'hidden units (default 32)', min: 1 },
  activation: { kind: 'string', help: 'elman non-linearity: tanh | relu | sigmoid (default tanh; relu with --init identity)', choices: ['tanh', 'relu', 'sigmoid'] },
  init: { kind: 'string', help: 'recurrent weights: default | normal:G | xavier[:G] | he[:G] | orthogonal[:G] | identity[:S] (IRNN)' },
  'forget-bias': { kind: 'number', help: 'lstm forget-gate bias at init (default 1)' },
  'learn-h0': { kind: 'boolean', help: 'learn the initial state' },
  method: { kind: 'string', help: `${METHOD_FORMS.join(' | ')} (default bptt)` },
  threads: { kind: 'string', help: `threads for the gradient (bptt, tbptt: the batch split; rtrl: its tangent columns split): an integer from 1 to the cores (${availableParallelism()} here; default 1)` },
  steps: { kind: 'int', help: 'sequence length (copy: the delay); default per task', min: 1 },
  optimizer: { kind: 'string', help: `${OPTIMIZER_KINDS.join(' | ')} (default adam)`, choices: OPTIMIZER_KINDS },
  lr: { kind: 'number', help: 'learning rate (> 0; default per task, 0.003)' },
  momentum: { kind: 'number', help: 'sgd / rmsprop momentum', min: 0 },
  nesterov: { kind: 'boolean', help: 'sgd: Nesterov momentum' },
  'weight-decay': { kind: 'number', help: "adamw's decoupled weight decay", min: 0 },
  schedule: { kind: 'string', help: 'constant | step:EVERY:GAMMA | exp:GAMMA | cosine:TOTAL[:MINLR], optionally +warmup:N' },
  l1: { kind: 'number', help: 'L1 penalty on the weights', min: 0 },
  l2: { kind: 'number', help: 'L2 penalty on the weights', min: 0 },
  clip: { kind: 'number', help: 'clip the gradient global norm to this (> 0; default per task: 1, reber none)' },
  'clip-value': { kind: 'number', help: 'clip each gradient entry to ± this (> 0)' },
  batch: { kind: 'int', help: 'sequences per batch (default 32)', min: 1 },
  iterations: { kind: 'int', help: 'batches to train on, fresh each time (default per task, 1000-4000, ending once solved)', min: 1 },
  'train-size': { kind: 'int', help: 'a fixed training set of this many sequences ...', min: 1 },
  epochs: { kind: 'int', help: '... visited this many times (default 1)', min: 1 },
  seed: { kind: 'int', help: 'seed of the initialisation and training data (default 0)' },
  'held-out': { kind: 'int', help: 'held-out sequences (default 1000)', min: 1 },
  'eval-every': { kind: 'int', help: 'evaluate the held-out metric every N iterations', min: 1 },
  'stop-when-solved': { kind: 'boolean', help: "stop once the held-out metric reaches the task's solved level (the default without --iterations)" },
  'no-stop-when-solved': { kind: 'boolean', help: 'train the whole default budget even once solved' },
  patience: { kind: 'int', help: 'early stopping: evaluations without improvement', min: 1 },
  save: { kind: 'string', help: 'checkpoint directory to save to (at the end, and every --save-every)' },
  'save-every': { kind: 'int', help: 'save a checkpoint every N iterations', min: 1 },
  load: { kind: 'string', help: 'checkpoint directory to continue (weights, optimiser state, iteration count, the settings of the model and data: see below)' },
  svg: { kind: 'string', help: 'write the learning curve to this SVG file' },
  json: { kind: 'boolean', help: 'print one JSON object {config, curve, heldOut}' },
  quiet: { kind: 'boolean', help: 'no progress bar, no summary' },
  ...memoryFlags,
};

const usage = [
  'usage: loopgrad train <task> [options]',
  '',
  `tasks: ${TASK_NAMES.join(', ')}`,
  '',
  'options:',
  usageLines(specs),
  '',
  'Without --iterations, --lr or --clip a task runs with its own defaults (lib/train/task-defaults.ts) and stops once solved;',
  'an unsolved run ends with flags to try.',
  '',
  'With --load DIR (the task may be left out) the checkpoint\'s settings of the model and the data apply:',
  '  taken from it, and refused (exit 2) when given with another value: the task, --steps, --cell, --hidden,',
  '    --activation, --forget-bias, --init, --learn-h0, --seed, --train-size (and --batch with --train-size);',
  '  taken from it when absent, free to change: --batch (fresh batches), --held-out;',
  '  free, their ordinary defaults when absent: --iterations, --epochs, --method, --optimizer, --lr, --momentum,',
  '    --nesterov, --weight-decay, --schedule, --l1, --l2, --clip, --clip-value, --eval-every, --stop-when-solved,',
  '    --no-stop-when-solved, --patience, --save, --save-every, --svg, --json, --quiet, --allow-large, --max-bytes.',
  '',
  'example: loopgrad train adding --steps 100 --cell lstm --hidden 32 --method bptt --lr 0.003 --iterations 3000 --svg curve.svg',
].join('\n');

function flag<T>(parsed: Parsed, name: string): T | undefined {
  return parsed.flags.get(name) as T | undefined;
}

/** The run config a command line asks for; every bad value is a UsageError naming its option. */
export function configFromArgs(argv: readonly string[]): { config: TaskRunConfig; parsed: Parsed } {
  const parsed = parseArgs(argv, specs);
  // --load: the checkpoint's own config defines the model and the data (see checkpointConfig).
  const loadDir = flag<string>(parsed, 'load');
  const saved = loadDir === undefined ? null : savedRunConfig(loadDir);
  if (parsed.positional.length === 0 && saved !== null) parsed.positional.push(saved.task);
  if (parsed.positional.length !== 1) {
    throw new UsageError(parsed.positional.length === 0 ? 'which task? (one of ' + TASK_NAMES.join(', ') + ')' : `one task expected, got ${parsed.positional.join(' ')}`);
  }
  const task = parsed.positional[0];
  if (!(TASK_NAMES as readonly string[]).includes(task)) throw new UsageError(`unknown task "${task}" (one of ${TASK_NAMES.join(', ')})`);
  const defaults = TASK_TRAINING_DEFAULTS[task as TaskName];
  const defaultBudget = !parsed.flags.has('iterations') && !parsed.flags.has('train-size');
  if (parsed.flags.has('stop-when-solved') && parsed.flags.has('no-stop-when-solved')) throw new UsageError('--stop-when-solved and --no-stop-when-solved contradict each other');
  for (const name of ['lr', 'clip', 'clip-value']) {
    const v = flag<number>(parsed, name);
    if (v !== undefined && !(v > 0)) throw new UsageError(`--${name}: ${v} is not positive`);
  }
  const config: TaskRunConfig = {
    task,
    steps: flag<number>(parsed, 'steps'),
    cell: (flag<string>(parsed, 'cell') ?? 'lstm') as CellKind,
    hidden: flag<number>(parsed, 'hidden') ?? 32,
    activation: flag<'tanh' | 'relu' | 'sigmoid'>(parsed, 'activation'),
    init: flag<string>(parsed, 'init'),
    forgetBias: flag<number>(parsed, 'forget-bias'),
    learnInitialState: flag<boolean>(parsed, 'learn-h0'),
    method: flag<string>(parsed, 'method'),
    optimizer: flag<Optimizer['kind']>(parsed, 'optimizer'),
    lr: flag<number>(parsed, 'lr') ?? defaults.lr,
    momentum: flag<number>(parsed, 'momentum'),
    nesterov: flag<boolean>(parsed, 'nesterov'),
    weightDecay: flag<number>(parsed, 'weight-decay'),
    schedule: flag<string>(parsed, 'schedule'),
    l1: flag<number>(parsed, 'l1'),
    l2: flag<number>(parsed, 'l2'),
    clip: flag<number>(parsed, 'clip') ?? (parsed.flags.has('clip-value') ? undefined : defaults.clip ?? undefined),
    clipValue: flag<number>(parsed, 'clip-value'),
    batch: flag<number>(parsed, 'batch') ?? 32,
    trainSize: flag<number>(parsed, 'train-size'),
    epochs: flag<number>(parsed, 'epochs'),
    seed: flag<number>(parsed, 'seed'),
    heldOut: flag<number>(parsed, 'held-out'),
    evalEvery: flag<number>(parsed, 'eval-every'),
    // A budget of the task's own ends once solved; a budget the user set runs in full unless told.
    stopWhenSolved: flag<boolean>(parsed, 'stop-when-solved') ?? (defaultBudget && !parsed.flags.has('no-stop-when-solved') ? true : undefined),
    patience: flag<number>(parsed, 'patience'),
  };
  if (saved !== null) restoreFromCheckpoint(config, parsed, saved, loadDir!);
  if (config.trainSize === undefined) config.iterations = flag<number>(parsed, 'iterations') ?? defaults.iterations;
  else if (parsed.flags.has('iterations')) {
    throw new UsageError('--iterations cannot be combined with --train-size/--epochs'
      + (saved !== null && !parsed.flags.has('train-size') ? ` (the checkpoint in ${loadDir} trained on a fixed set, train-size ${config.trainSize}: continue it with --epochs)` : ''));
  }
  if (config.epochs !== undefined && config.trainSize === undefined) throw new UsageError('--epochs needs --train-size (a fixed training set)');
  // Drop absent options so the library sees only what was given.
  for (const key of Object.keys(config) as (keyof TaskRunConfig)[]) if (config[key] === undefined) delete config[key];
  let normalized: NormalizedRunConfig;
  try {
    normalized = normalizeRunConfig(config);
    createTask(config.task, config.steps);
  } catch (e) {
    throw flagError(e, specs, LIBRARY_FLAGS) ?? new UsageError(cliMessage((e as Error).message));
  }
  if (saved !== null) refuseContradictions(normalized, parsed, saved, loadDir!);
  if (parsed.flags.has('save-every') && !parsed.flags.has('save')) throw new UsageError('--save-every needs --save DIR');
  return { config, parsed };
}

/**
 * What --load takes from the checkpoint's config. LOCKED settings define the model and the data:
 * absent, they are the checkpoint's; given, they must equal it. RESTORED ones are the checkpoint's
 * when absent and may change when given (batch only with fresh batches: a fixed set's batches are
 * its data). Every other flag (the budget, the method, the optimiser and its schedule, clipping,
 * penalties, evaluation, stopping, output) is free and takes its ordinary default when absent.
 */
const LOCKED: readonly { key: keyof TaskRunConfig; flag: string }[] = [
  { key: 'task', flag: 'task' }, { key: 'steps', flag: 'steps' }, { key: 'cell', flag: 'cell' }, { key: 'hidden', flag: 'hidden' },
  { key: 'activation', flag: 'activation' }, { key: 'forgetBias', flag: 'forget-bias' }, { key: 'init', flag: 'init' },
  { key: 'learnInitialState', flag: 'learn-h0' }, { key: 'seed', flag: 'seed' }, { key: 'trainSize', flag: 'train-size' },
];
const RESTORED: readonly { key: keyof TaskRunConfig; flag: string }[] = [{ key: 'batch', flag: 'batch' }, { key: 'heldOut', flag: 'held-out' }];

/** The run config saved with the checkpoint in dir (null: none saved, as by older versions or from code); its faults are UsageErrors naming --load. */
function savedRunConfig(dir: string): TaskRunConfig | null {
  let meta: Record<string, unknown>;
  try {
    if (!hasCheckpoint(dir)) throw new UsageError(`--load: no checkpoint in ${dir}`);
    meta = readCheckpointMeta(dir);
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`--load: ${(e as Error).message}`);
  }
  if (meta.config === undefined) return null;
  const config = meta.config as TaskRunConfig;
  try {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`${JSON.stringify(config)} is not an object`);
    normalizeRunConfig(config);
    createTask(config.task, config.steps);
  } catch (e) {
    throw new UsageError(`--load: the checkpoint in ${dir} has an unusable meta.config: ${(e as Error).message}`);
  }
  return config;
}

/** Fills the settings the command line left out from the checkpoint's config. */
function restoreFromCheckpoint(config: TaskRunConfig, parsed: Parsed, saved: TaskRunConfig, dir: string): void {
  const target = config as unknown as Record<string, unknown>, from = saved as unknown as Record<string, unknown>;
  for (const { key, flag: name } of [...LOCKED, ...RESTORED]) {
    if (key === 'task' || parsed.flags.has(name)) continue;
    if (from[key] === undefined) delete target[key];
    else target[key] = from[key];
  }
  // A fixed training set's batches are its data: the batch size is locked with it.
  if (saved.trainSize !== undefined && parsed.flags.has('batch') && config.batch !== saved.batch) {
    throw new UsageError(`--batch ${config.batch} contradicts the checkpoint in ${dir} (batch ${saved.batch}, a fixed set of train-size ${saved.trainSize}); drop the flag or start a new run`);
  }
}

/** The value a locked setting has in effect in a normalized config, as the message shows it. */
function effective(c: NormalizedRunConfig, key: keyof TaskRunConfig): string {
  switch (key) {
    case 'steps': return String(c.steps ?? DEFAULT_STEPS[c.task as TaskName]);
    case 'activation': return 'activation' in c.cellOptions ? String(c.cellOptions.activation) : 'none';
    case 'forgetBias': return 'forgetBias' in c.cellOptions ? String(c.cellOptions.forgetBias) : 'none';
    case 'init': return formatInit(c.init);
    case 'learnInitialState': return String(c.learnInitialState === true);
    case 'trainSize': return c.trainSize === undefined ? 'none (fresh batches)' : String(c.trainSize);
    default: return String(c[key]);
  }
}

/** Refuses every locked setting the command line gave that differs from the checkpoint's, naming each. */
function refuseContradictions(config: NormalizedRunConfig, parsed: Parsed, saved: TaskRunConfig, dir: string): void {
  const was = normalizeRunConfig(saved);
  const given: string[] = [], had: string[] = [];
  for (const { key, flag: name } of LOCKED) {
    const typed = key === 'task' ? config.task : parsed.flags.get(name);
    if (typed === undefined) continue;
    if (effective(config, key) === effective(was, key)) continue;
    given.push(key === 'task' ? `task ${config.task}` : typeof typed === 'boolean' ? `--${name}` : `--${name} ${String(typed)}`);
    had.push(`${name} ${effective(was, key)}`);
  }
  if (given.length === 0) return;
  const many = given.length > 1;
  throw new UsageError(`${given.join(' and ')} ${many ? 'contradict' : 'contradicts'} the checkpoint in ${dir} (${had.join(', ')}); drop the ${many ? 'flags' : 'flag'} or start a new run`);
}

/** Run-config options whose flag is not their name in kebab case. */
const LIBRARY_FLAGS: Readonly<Record<string, string>> = { learnInitialState: 'learn-h0', clipNorm: 'clip' };

/** Library messages name options in camelCase; the CLI user typed kebab-case flags. */
function cliMessage(message: string): string {
  const names: Record<string, string> = {
    clipValue: 'clip-value', weightDecay: 'weight-decay', forgetBias: 'forget-bias', trainSize: 'train-size', heldOut: 'held-out', evalEvery: 'eval-every',
  };
  return message.replace(/^trainTask: (\w+)/, (_, name: string) => `--${names[name] ?? name}`);
}

/**
 * What a run will hold at its peak, estimated from the config before anything is built:
 * parameters with their gradient and optimiser buffers, the training and held-out data,
 * and the gradient method's memory (BPTT's tape of steps x batch x one step's values and
 * their adjoints, TBPTT's window, RTRL's sensitivities and P-wide tangents).
 */
export function estimateTrainBytes(config: TaskRunConfig): Estimate {
  const task = createTask(config.task, config.steps);
  const cell = buildCell(normalizeRunConfig(config), task);
  const P = parameterCount(cell);
  const estimate: Estimate = [['parameters, gradient and optimiser state', 8 * 6 * P]];
  // Parameters alone too many to probe a step with: refuse on them.
  if (8 * P > 2 ** 30) return estimate;
  let steps = task.steps;
  if (steps === 0) steps = 2 * task.batch(new Rng(0), 1).steps; // lengths vary: a generous guess from one sequence
  const rowNumbers = task.inputSize + task.outputSize + 1; // inputs, targets, mask
  const batch = config.batch;
  const heldOut = config.heldOut ?? 1000;
  const probe = probeStep(cell);
  const perRow = probe.numbers + 2; // plus the loss's values
  const stateNumbers = cell.stateSizes.reduce((a, b) => a + b, 0);
  const dataRows = config.trainSize ?? batch;
  estimate.push([config.trainSize !== undefined ? 'training set' : 'training batch', 8 * steps * dataRows * rowNumbers]);
  estimate.push(['held-out set and its outputs', 8 * steps * heldOut * (rowNumbers + task.outputSize) + 8 * heldOut * perRow]);
  const method = config.method ?? 'bptt';
  const tbptt = /^tbptt:(\d+)(?::(\d+))?$/.exec(method);
  if (method === 'rtrl') {
    estimate.push(['RTRL sensitivities and tangents', 8 * P * (2 * batch * stateNumbers + batch * perRow)]);
  } else {
    const window = tbptt === null ? steps : Math.min(steps, Number(tbptt[1]) + Number(tbptt[2] ?? tbptt[1]));
    estimate.push([tbptt === null ? 'BPTT tape' : 'TBPTT window', tapeBytes(window, batch, perRow, stateNumbers, probe.nodes)]);
  }
  return estimate;
}

function curveSvg(report: TaskRunReport, command: string): string {
  // Average the noisy per-batch loss into at most 200 buckets.
  const curve = report.curve;
  const bucket = Math.max(1, Math.ceil(curve.length / 200));
  const smooth: { x: number; y: number }[] = [];
  for (let i = 0; i < curve.length; i += bucket) {
    const part = curve.slice(i, i + bucket);
    const mean = part.reduce((s, p) => s + p.loss, 0) / part.length;
    if (mean > 0 && Number.isFinite(mean)) smooth.push({ x: part[part.length - 1].step, y: mean });
  }
  const held: Series = { label: `held-out ${report.heldOut.metric}`, points: report.evaluations.filter((e) => Number.isFinite(e.value)).map((e) => ({ x: e.step, y: e.value })) };
  const trainSeries: Series = { label: `training loss (mean of ${bucket})`, points: smooth, markers: false };
  const metricIsLoss = report.heldOut.metric === 'mse';
  const panels = metricIsLoss
    ? [{ title: 'loss', xLabel: 'iteration', yLabel: 'mse', xScale: 'linear' as const, yScale: 'log' as const, series: [trainSeries, held], references: [{ kind: 'horizontal' as const, y: report.baseline, label: 'baseline' }] }]
    : [
      { title: 'training loss', xLabel: 'iteration', yLabel: 'loss', xScale: 'linear' as const, yScale: 'log' as const, series: [trainSeries] },
      { title: `held-out ${report.heldOut.metric}`, xLabel: 'iteration', yLabel: report.heldOut.metric, xScale: 'linear' as const, yScale: 'linear' as const, series: [held], references: [{ kind: 'horizontal' as const, y: report.baseline, label: 'baseline' }], yRange: [0, 1] as const },
    ];
  const c = report.config;
  return renderSvg({ title: `${String(c.task)}: ${String(c.cell)} ${String(c.hidden)}, ${String(c.method)}`, caption: command, panels });
}

/** Whether the method text names a method that takes threads (a text that is no method is refused elsewhere). */
function takesThreadsText(method: string): boolean {
  try {
    return takesThreads(parseMethod(method));
  } catch {
    return true;
  }
}

/** --threads: an integer from 1 to the cores, and only with a method that takes threads (a UsageError naming --threads otherwise). */
export function threadsFromArgs(parsed: Parsed, method: string | undefined): number | undefined {
  const text = flag<string>(parsed, 'threads');
  if (text === undefined) return undefined;
  const cores = availableParallelism();
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > cores) {
    throw new UsageError(`--threads: "${text}" is not an integer from 1 to ${cores} (the cores of this machine)`);
  }
  if (n > 1 && method !== undefined && !takesThreadsText(method)) throw new UsageError(`--threads ${n} works with --method ${THREADED_METHODS} only (got --method ${method})`);
  return n;
}

async function run(argv: readonly string[]): Promise<number> {
  const { config, parsed } = configFromArgs(argv);
  const threads = threadsFromArgs(parsed, config.method);
  const json = flag<boolean>(parsed, 'json') === true;
  const quiet = flag<boolean>(parsed, 'quiet') === true || json;
  const saveDir = flag<string>(parsed, 'save');
  const saveEvery = flag<number>(parsed, 'save-every');
  const loadDir = flag<string>(parsed, 'load');
  const svg = flag<string>(parsed, 'svg');
  // Refuse an output that cannot be written now, not after the whole run.
  if (svg !== undefined) checkWritableFile('svg', svg);
  if (saveDir !== undefined) {
    checkWritableDirectory('save', saveDir);
    // A save reads the current pointer to number the next generation: a broken one would fail only at the end.
    try {
      hasCheckpoint(saveDir);
    } catch (e) {
      throw new UsageError(`--save: ${(e as Error).message}`);
    }
  }
  // A resumed run continues the iteration count and the data's random stream of the checkpoint.
  let resume: { iteration: number; dataRng?: RngState } | undefined;
  if (loadDir !== undefined) {
    let found: boolean;
    try {
      found = hasCheckpoint(loadDir);
    } catch (e) {
      throw new UsageError(`--load: ${(e as Error).message}`);
    }
    if (!found) throw new UsageError(`--load: no checkpoint in ${loadDir}`);
    let meta: Record<string, unknown>;
    try { meta = readCheckpointMeta(loadDir); } catch (e) { throw new UsageError(`--load: ${(e as Error).message}`); }
    const iteration = meta.iteration ?? 0;
    if (!Number.isSafeInteger(iteration) || (iteration as number) < 0) {
      throw new UsageError(`--load: the checkpoint in ${loadDir} has meta.iteration ${JSON.stringify(iteration)}, not an integer >= 0`);
    }
    if (meta.dataRng !== undefined) {
      try { Rng.fromState(meta.dataRng as RngState); } catch (e) { throw new UsageError(`--load: the checkpoint in ${loadDir} has a bad meta.dataRng: ${(e as Error).message}`); }
      resume = { iteration: iteration as number, dataRng: meta.dataRng as RngState };
    } else if (iteration !== 0 && config.trainSize === undefined) {
      if (!quiet) console.error(`loopgrad train: the checkpoint in ${loadDir} has no data stream state (saved by an older loopgrad): the weights and optimiser continue, the data start again from --seed`);
    } else {
      resume = { iteration: iteration as number };
    }
  }
  const limit = memoryLimit(parsed);
  refuseOverLimit('', estimateTrainBytes(config), limit, '--steps, --batch, --hidden, --held-out or --train-size, or --method tbptt:K');
  const start = resume?.iteration ?? 0;
  const planned = config.iterations ?? Math.ceil(config.trainSize! / config.batch) * (config.epochs ?? 1);
  const total = config.iterations ?? Math.max(0, planned - start);
  const progress = createProgress({ total, label: `train ${config.task}`, quiet });
  const started = Date.now();
  let last = '';
  let report: TaskRunReport;
  let dataRng: Rng | null = null;
  // Save failures (a full disk, a lost permission) stop the run; the last good checkpoint stays.
  let saveError: Error | null = null;
  let lastSaved: { generation: number; iteration: number } | null = null;
  const save = (params: TaskRunReport['model']['params'], optimizer: Optimizer, meta: Record<string, unknown>): boolean => {
    try {
      const generation = saveCheckpoint(saveDir!, { params, optimizer: optimizer.saveState(), meta: { ...meta, dataRng: dataRng?.state() } });
      lastSaved = { generation, iteration: meta.iteration as number };
      return true;
    } catch (e) {
      saveError = e as Error;
      return false;
    }
  };
  try {
    report = trainTask(config, {
      maxBytes: libraryLimit(limit),
      ...(threads === undefined ? {} : { threads }),
      resume,
      onDataRng: (rng) => { dataRng = rng; },
      prepare(model, optimizer) {
        if (loadDir === undefined) return;
        const loaded = loadCheckpoint(loadDir, model.params);
        // Same optimiser kind: continue its buffers and step count under this run's hyperparameters.
        try {
          if (loaded.optimizer !== null && Optimizer.fromState(loaded.optimizer).kind === optimizer.kind) {
            optimizer.loadState({ ...loaded.optimizer, config: optimizer.saveState().config });
          }
        } catch (e) {
          throw new FormatError('checkpoint', `the optimiser state in ${loadDir} is unusable: ${(e as Error).message}`, { dir: loadDir });
        }
      },
      onProgress(p, model, optimizer) {
        if (p.heldOut !== undefined) {
          last = `held-out ${p.heldOut.toPrecision(4)}`;
          // No bar to show it (stderr is not a terminal): log each evaluation as a line instead.
          if (!progress.active && !quiet) {
            console.error(`iteration ${p.iteration}/${p.iterations}: loss ${p.loss.toPrecision(4)}, ${last}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
          }
        }
        progress.advance(1, `loss ${p.loss.toPrecision(4)}${last ? ', ' + last : ''}`);
        if (saveDir !== undefined && saveEvery !== undefined && p.iteration % saveEvery === 0) {
          if (!save(model.params, optimizer, { config, iteration: p.iteration })) return 'stop';
        }
      },
    });
  } finally {
    progress.done();
  }
  const wallMs = Date.now() - started;
  if (saveDir !== undefined && saveError === null) {
    save(report.model.params, report.optimizer, { config, iteration: start + report.result.iterations, heldOut: report.heldOut, report: report.config });
  }
  const command = `loopgrad train ${argv.join(' ')}`;
  if (svg !== undefined) {
    try {
      writeFileSync(svg, curveSvg(report, command));
    } catch (e) {
      throw new Error(`cannot write --svg ${svg}: ${(e as Error).message}`);
    }
  }
  if (json) {
    console.log(JSON.stringify({ config: report.config, curve: report.curve, heldOut: report.heldOut }));
  } else if (flag<boolean>(parsed, 'quiet') !== true) {
    const r = report.result;
    const tail = report.curve.slice(-Math.max(1, Math.ceil(report.curve.length / 20)));
    const trainLoss = tail.reduce((s, p) => s + p.loss, 0) / Math.max(1, tail.length);
    console.log(`${command}`);
    console.log(`  ${report.parameters} parameters, ${r.iterations} iterations, ${r.updates} updates, ${(wallMs / 1000).toFixed(1)} s`);
    console.log(`  training loss (last ${tail.length} batches): ${trainLoss.toPrecision(4)}`);
    console.log(`  held-out ${report.heldOut.metric}: ${report.heldOut.value.toPrecision(4)} (baseline ${report.baseline.toPrecision(3)}; ${report.solved ? 'solved' : 'not solved'})`);
    for (const [name, value] of Object.entries(report.extra)) console.log(`  held-out ${name}: ${value.toPrecision(4)}`);
    console.log(`  ${r.stop.message}`);
    if (!report.solved && r.guard === null) console.log(`  ${unsolvedHint(config, parsed, r.iterations)}`);
  }
  if (saveError !== null) {
    const kept = lastSaved as { generation: number; iteration: number } | null;
    console.error(`loopgrad train: cannot save a checkpoint in --save ${saveDir}: ${(saveError as Error).message}; `
      + (kept !== null ? `the last good checkpoint there is generation ${kept.generation} (iteration ${kept.iteration})` : 'no checkpoint of this run was saved (any earlier checkpoint there is untouched)')
      + `; training stopped after ${start + report.result.iterations} iterations`);
    return 1;
  }
  if (report.result.guard !== null) {
    console.error(`loopgrad train: ${report.result.guard.message}`);
    return 1;
  }
  return 0;
}

/** What to try when a run ends unsolved: flags, most promising first, for this task. */
export function unsolvedHint(config: TaskRunConfig, parsed: Parsed, iterations: number): string {
  const tries: string[] = [];
  if (config.trainSize === undefined) tries.push(`--iterations ${Math.max(2 * (config.iterations ?? iterations), 1000)}`);
  const shorter: Record<string, number> = { adding: 50, copy: 5, 'temporal-order': 20, parity: 3 };
  const steps = config.steps ?? DEFAULT_STEPS[config.task as TaskName];
  if (shorter[config.task] !== undefined && steps > shorter[config.task]) tries.push(`--steps ${shorter[config.task]} (a shorter dependency)`);
  if (config.cell !== 'gru') tries.push('--cell gru');
  if (!parsed.flags.has('lr')) tries.push(`--lr ${Number((config.lr / 3).toPrecision(2))} or --lr ${Number((config.lr * 3).toPrecision(2))}`);
  if (config.clip === undefined && config.clipValue === undefined) tries.push('--clip 1');
  return `not solved in ${iterations} iterations; to try: ${tries.join(', ')} (docs/long-term-dependencies.md: what solves which task)`;
}

export const trainCommand: Command = {
  summary: 'train a recurrent network on a generated task (adding, copy, reber, temporal-order, parity, ctc, text)',
  usage: `${usage}\n\nloopgrad train ctc: a bidirectional LSTM with CTC on a speech-like task (loopgrad train ctc --help)\nloopgrad train text: a character-level language model of a text file (loopgrad train text --help)\n\n${trainCurriculumUsage}`,
  // `ctc` and `text` are different kinds of run (their own networks and options); `copy --curriculum` grows the delay.
  run: async (argv) => (argv[0] === 'ctc' ? (await import('./train-ctc.js')).runTrainCtc(argv.slice(1))
    : argv[0] === 'text' ? (await import('./train-text.js')).runTrainText(argv.slice(1))
      : argv.includes('--curriculum') ? (await import('./train-curriculum.js')).runTrainCurriculum(argv) : run(argv)),
};
