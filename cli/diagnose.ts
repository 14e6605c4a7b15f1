// loopgrad diagnose: how gradients vanish or explode with the lag, for a cell,
// its sizes and an initialisation (or a trained checkpoint).
import { writeFileSync } from 'node:fs';
import { type Command, type FlagSpec, type Parsed, UsageError, checkWritableFile, parseArgs, usageLines } from './args.js';
import { renderSvg, type Series } from '../bench/svg.js';
import { checkWeightsFit, loadCheckpoint, readCheckpointMeta } from './checkpoint.js';
import type { Cell } from '../lib/cells/cell.js';
import { CELL_KINDS, type CellKind, createCell } from '../lib/cells/registry.js';
import { Rng } from '../lib/mat/rng.js';
import { type Mat, mat } from '../lib/mat/mat.js';
import { createModel, type RecurrentModel } from '../lib/rnn/model.js';
import { type BlockSpectrum, type GradientFlowReport, gradientFlow, recurrentSpectrum } from '../lib/rnn/diagnose.js';
import { applyInit, formatInit, parseInit } from '../lib/train/init.js';
import { type TaskRunConfig, buildCell, normalizeRunConfig } from '../lib/train/run-task.js';
import { createTask } from '../lib/tasks/registry.js';
import { type Estimate, libraryLimit, memoryFlags, memoryLimit, parameterCount, refuseOverLimit, NODE_OVERHEAD_BYTES, probeStep } from './memory.js';

// The kinds with recurrent weights weight_hh (the ones diagnose reads), found by building each once.
const KINDS = CELL_KINDS.filter((kind) => createCell(kind, { inputSize: 1, hiddenSize: 1 }).paramSpecs.some((s) => s.name === 'weight_hh'));

const specs: Record<string, FlagSpec> = {
  cell: { kind: 'string', help: `${KINDS.join(' | ')} (default elman)`, choices: KINDS },
  activation: { kind: 'string', help: 'elman non-linearity: tanh | relu | sigmoid (default tanh; relu with identity init)', choices: ['tanh', 'relu', 'sigmoid'] },
  init: { kind: 'string', help: 'default | normal:G | xavier[:G] | he[:G] | orthogonal[:G] | identity[:S]' },
  'forget-bias': { kind: 'number', help: 'lstm forget-gate bias (default 1)' },
  hidden: { kind: 'int', help: 'hidden units (default 32)', min: 1 },
  input: { kind: 'int', help: 'input features (default 4)', min: 1 },
  steps: { kind: 'int', help: 'T, the longest lag (default 100)', min: 1 },
  'input-std': { kind: 'number', help: 'standard deviation of the random inputs (default 1)', min: 0 },
  seed: { kind: 'int', help: 'seed of the weights and inputs (default 0)' },
  load: { kind: 'string', help: 'diagnose the trained model of a `loopgrad train --save` checkpoint' },
  svg: { kind: 'string', help: 'plot the norms against the lag into this SVG file' },
  json: { kind: 'boolean', help: 'print one JSON object' },
  ...memoryFlags,
};

/**
 * What gradientFlow holds for a cell over T steps: a reverse-mode tape of T steps on
 * (state numbers + 1) rows, every value with its adjoint, and the state history.
 */
export function estimateDiagnoseBytes(cell: Cell, steps: number): Estimate {
  const P = parameterCount(cell);
  const N = cell.stateSizes.reduce((a, b) => a + b, 0);
  const rows = N + 1;
  const estimate: Estimate = [['parameters and their gradient', 8 * 2 * P]];
  if (8 * P > 2 ** 30) return estimate; // too many to probe a step with: refuse on them
  const probe = probeStep(cell);
  estimate.push([`tape of ${steps} steps x ${rows} rows`, steps * (2 * 8 * rows * (probe.numbers + N + cell.inputSize) + NODE_OVERHEAD_BYTES * (probe.nodes + 4))]);
  estimate.push(['Jacobian', 8 * N * N]);
  return estimate;
}

const usage = [
  'usage: loopgrad diagnose [CASE ...] [options]',
  '',
  'Reports ‖∂s_T/∂s_k‖ and ‖∂L/∂s_k‖ against the lag T - k (s: the whole state, L: a loss at',
  'step T) and the spectral radius of the recurrent weights. Without CASEs, one case from the',
  'options; each CASE is CELL[/ACTIVATION][@INIT] (lstm/forget:B for a forget-gate bias B), e.g.',
  '  loopgrad diagnose elman/tanh@normal:0.5 elman/tanh@normal:3 elman/relu@identity lstm/forget:2 --svg flow.svg',
  '',
  'options:',
  usageLines(specs),
].join('\n');

interface CaseSpec {
  label: string;
  cell: CellKind;
  activation?: 'tanh' | 'relu' | 'sigmoid';
  /** lstm only; default: --forget-bias. */
  forgetBias?: number;
  init: string;
}

function parseCase(text: string): CaseSpec {
  const m = new RegExp(`^(${KINDS.join('|')})(?:/(tanh|relu|sigmoid|forget:[-+0-9.e]+))?(?:@(.+))?$`).exec(text);
  if (m === null) throw new UsageError(`case "${text}" is not CELL[/ACTIVATION][@INIT] (CELL: ${KINDS.join(', ')}; lstm/forget:B sets the forget bias)`);
  const cell = m[1] as CaseSpec['cell'];
  const option = m[2];
  if (option !== undefined && option.startsWith('forget:')) {
    if (cell !== 'lstm') throw new UsageError(`case "${text}": a forget bias applies to lstm only`);
    const forgetBias = Number(option.slice('forget:'.length));
    if (!Number.isFinite(forgetBias)) throw new UsageError(`case "${text}": the forget bias is not a number`);
    return { label: text, cell, forgetBias, init: m[3] ?? 'default' };
  }
  if (option !== undefined && cell !== 'elman') throw new UsageError(`case "${text}": an activation applies to elman only`);
  return { label: text, cell, activation: option as CaseSpec['activation'], init: m[3] ?? 'default' };
}

function makeCell(c: CaseSpec, inputSize: number, hiddenSize: number, forgetBias: number): Cell {
  const initKind = parseInit(c.init).kind;
  if (c.cell === 'elman') return createCell('elman', { inputSize, hiddenSize, activation: c.activation ?? (initKind === 'identity' ? 'relu' : 'tanh') });
  if (c.cell === 'lstm') return createCell('lstm', { inputSize, hiddenSize, forgetBias: c.forgetBias ?? forgetBias });
  return createCell(c.cell, { inputSize, hiddenSize });
}

interface CaseResult {
  label: string;
  parameters: number;
  spectrum: BlockSpectrum[];
  flow: GradientFlowReport;
}

function flag<T>(parsed: Parsed, name: string): T | undefined {
  return parsed.flags.get(name) as T | undefined;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(2) : String(v);
}

function plot(results: CaseResult[], command: string): string {
  const series = (pick: (f: GradientFlowReport) => number[]): Series[] => results.map((r) => ({
    label: r.label,
    markers: false,
    // A log axis cannot show 0 or Infinity: those lags are left out.
    points: pick(r.flow).map((y, lag) => ({ x: lag, y })).filter((p) => p.y > 0 && Number.isFinite(p.y)),
  }));
  // Fit the log axis to the data (one decade of room each side).
  const range = (pick: (f: GradientFlowReport) => number[]): [number, number] => {
    const all = results.flatMap((r) => pick(r.flow)).filter((v) => v > 0 && Number.isFinite(v));
    const lo = Math.min(...all), hi = Math.max(...all);
    return all.length === 0 ? [1e-3, 10] : [lo / 10, hi * 10];
  };
  return renderSvg({
    title: 'gradient flow against the lag',
    caption: command,
    panels: [
      { title: '‖∂s_T / ∂s_k‖₂', xLabel: 'lag T - k', yLabel: 'spectral norm', xScale: 'linear', yScale: 'log', series: series((f) => f.jacobianNorm), references: [{ kind: 'horizontal', y: 1 }], yRange: range((f) => f.jacobianNorm) },
      { title: '‖∂L / ∂s_k‖₂ (loss at step T)', xLabel: 'lag T - k', yLabel: 'norm', xScale: 'linear', yScale: 'log', series: series((f) => f.lossGradNorm), yRange: range((f) => f.lossGradNorm) },
    ],
  });
}

async function run(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv, specs);
  const hidden = flag<number>(parsed, 'hidden') ?? 32;
  const inputSize = flag<number>(parsed, 'input') ?? 4;
  const steps = flag<number>(parsed, 'steps') ?? 100;
  const seed = flag<number>(parsed, 'seed') ?? 0;
  const inputStd = flag<number>(parsed, 'input-std') ?? 1;
  const forgetBias = flag<number>(parsed, 'forget-bias') ?? 1;
  const loadDir = flag<string>(parsed, 'load');
  const svg = flag<string>(parsed, 'svg');
  if (svg !== undefined) checkWritableFile('svg', svg);
  const limit = memoryLimit(parsed);
  const models: { label: string; model: RecurrentModel; inputs: Mat | null }[] = [];
  if (loadDir !== undefined) {
    if (parsed.positional.length > 0) throw new UsageError('--load diagnoses the saved model; it takes no CASE');
    for (const name of ['cell', 'activation', 'init', 'hidden', 'input', 'forget-bias']) {
      if (parsed.flags.has(name)) throw new UsageError(`--${name} cannot be combined with --load (the checkpoint fixes the model)`);
    }
    let meta: Record<string, unknown>;
    try { meta = readCheckpointMeta(loadDir); } catch (e) { throw new UsageError(`--load: ${(e as Error).message}`); }
    const config = meta.config as TaskRunConfig | undefined;
    if (config === undefined) throw new UsageError(`--load: the checkpoint in ${loadDir} has no training config`);
    // Everything checked before anything is built: the config's values, its sizes against the weights', the memory.
    let task, cell: Cell;
    try {
      if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`meta.config is ${JSON.stringify(config)}, not an object`);
      const normalized = normalizeRunConfig({ ...config });
      task = createTask(config.task, config.steps);
      cell = buildCell(normalized, task);
    } catch (e) {
      throw new UsageError(`--load: the training config of the checkpoint in ${loadDir} is invalid: ${(e as Error).message}`);
    }
    const specs = [...cell.paramSpecs, ...(config.learnInitialState ? cell.stateSizes.map((size, i) => ({ name: `init_${cell.stateNames[i]}`, rows: 1, cols: size, role: 'initial' as const })) : [])];
    try { checkWeightsFit(loadDir, specs); } catch (e) { throw new UsageError(`--load: ${(e as Error).message}`); }
    // The inputs are drawn a whole sequence of the task at a time (of the checkpoint's --steps).
    const sequence = 8 * (task.steps || steps) * (task.inputSize + task.outputSize + 1);
    refuseOverLimit('', [...estimateDiagnoseBytes(cell, steps), ['inputs', 8 * steps * task.inputSize], ['one sequence of the task', sequence]], limit, '--steps');
    // The readout is irrelevant to the state's Jacobian: diagnose the inner cell with the trained weights.
    const withReadout = createModel(cell, { initialState: config.learnInitialState ? 'learned' : 'zero' });
    try { loadCheckpoint(loadDir, withReadout.params); } catch (e) { throw new UsageError(`--load: ${(e as Error).message}`); }
    // Drive it with one sequence of its own task, as long as --steps (whole sequences, concatenated).
    const rng = new Rng(seed);
    const inputs = mat(steps, task.inputSize);
    for (let t = 0; t < steps;) {
      const xs = task.batch(rng, 1).xs;
      const n = Math.min(xs.rows, steps - t);
      inputs.data.set(xs.data.subarray(0, n * task.inputSize), t * task.inputSize);
      t += n;
    }
    models.push({ label: `${config.cell} trained on ${task.name} (${loadDir})`, model: withReadout, inputs });
  } else {
    const cases = parsed.positional.length > 0
      ? parsed.positional.map(parseCase)
      : [{
        label: `${flag<string>(parsed, 'cell') ?? 'elman'}${flag<string>(parsed, 'activation') ? '/' + flag<string>(parsed, 'activation') : ''}@${flag<string>(parsed, 'init') ?? 'default'}`,
        cell: (flag<string>(parsed, 'cell') ?? 'elman') as CaseSpec['cell'],
        activation: flag<CaseSpec['activation']>(parsed, 'activation'),
        init: flag<string>(parsed, 'init') ?? 'default',
      }];
    if (parsed.positional.length > 0 && (parsed.flags.has('cell') || parsed.flags.has('activation') || parsed.flags.has('init'))) {
      throw new UsageError('give the cell, activation and init either as CASEs or as --cell/--activation/--init, not both');
    }
    if (parsed.flags.has('forget-bias') && !cases.some((c) => c.cell === 'lstm')) {
      throw new UsageError(`--forget-bias applies to lstm only, not ${[...new Set(cases.map((c) => c.cell))].join(', ')}`);
    }
    for (const c of cases) {
      if (c.activation !== undefined && c.cell !== 'elman') throw new UsageError('--activation applies to elman only');
      let model: RecurrentModel;
      let cell: Cell;
      // A scheme from --init is named by its flag; one from a CASE by the case.
      const initError = (e: unknown): UsageError => {
        const message = (e as Error).message;
        return new UsageError(parsed.flags.has('init') ? message.replace(/^init: /, '--init: ') : `case "${c.label}": ${message}`);
      };
      try {
        parseInit(c.init);
      } catch (e) {
        throw initError(e);
      }
      try {
        cell = makeCell(c, inputSize, hidden, forgetBias);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      refuseOverLimit('', estimateDiagnoseBytes(cell, steps), limit, '--steps, --hidden or --input');
      try {
        const scheme = parseInit(c.init);
        model = createModel(cell, { seed });
        applyInit(model.params, scheme, new Rng(seed).fork());
        if (c.label.endsWith('@default') && c.init === 'default') c.label = c.label.slice(0, -'@default'.length) + '@' + formatInit(scheme);
      } catch (e) {
        throw initError(e);
      }
      models.push({ label: c.label, model, inputs: null });
    }
  }

  const results: CaseResult[] = models.map(({ label, model, inputs }) => ({
    label,
    parameters: model.params.theta.length,
    spectrum: recurrentSpectrum(model.params, model.cell.kind),
    flow: gradientFlow(model, inputs === null ? { steps, seed, inputStd, maxBytes: libraryLimit(limit) } : { steps, seed, inputs, maxBytes: libraryLimit(limit) }),
  }));

  const command = `loopgrad diagnose ${argv.join(' ')}`;
  if (svg !== undefined) {
    try {
      writeFileSync(svg, plot(results, command));
    } catch (e) {
      throw new Error(`cannot write --svg ${svg}: ${(e as Error).message}`);
    }
  }
  if (flag<boolean>(parsed, 'json')) {
    console.log(JSON.stringify({
      config: { hidden, input: inputSize, steps, seed, inputStd, forgetBias, ...(loadDir !== undefined ? { load: loadDir } : {}) },
      cases: results.map((r) => ({
        label: r.label, parameters: r.parameters, spectrum: r.spectrum, factorPerStep: r.flow.factorPerStep,
        lags: r.flow.lags, jacobianNorm: r.flow.jacobianNorm, lossGradNorm: r.flow.lossGradNorm,
      })),
    }));
    return 0;
  }
  const shown = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter((l) => l <= steps);
  if (!shown.includes(steps)) shown.push(steps);
  console.log(command);
  for (const r of results) {
    console.log(`\n${r.label}: ${r.flow.stateSize} state numbers, ${r.parameters} parameters`);
    console.log(`  recurrent weights: ${r.spectrum.map((b) => `${b.block} ρ=${b.radius.toFixed(3)} ‖·‖₂=${b.norm.toFixed(3)}`).join(', ')}`);
    console.log(`  per-step factor of ‖∂s_T/∂s_k‖ over ${steps} steps: ${r.flow.factorPerStep.toFixed(4)}`);
    console.log(`  ${'lag'.padStart(6)}  ${'‖∂s_T/∂s_k‖'.padStart(12)}  ${'‖∂L/∂s_k‖'.padStart(12)}`);
    for (const lag of shown) console.log(`  ${String(lag).padStart(6)}  ${fmt(r.flow.jacobianNorm[lag]).padStart(12)}  ${fmt(r.flow.lossGradNorm[lag]).padStart(12)}`);
  }
  return 0;
}

export const diagnoseCommand: Command = {
  summary: 'gradient norms against the lag and spectral radius of the recurrent weights (vanishing/exploding gradients)',
  usage,
  run,
};
