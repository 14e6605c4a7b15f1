// loopgrad train ctc: a bidirectional LSTM learns, with CTC, to label the
// generated speech-like task; prints a progress bar, a final report, and
// optionally the learning curve as SVG or everything as JSON.
import { writeFileSync } from 'node:fs';
import { type FlagSpec, UsageError, checkWritableFile, parseArgs, usageLines } from './args.js';
import { trainCtc } from '../lib/train/ctc.js';
import { createProgress } from '../bench/progress.js';
import { renderSvg } from '../bench/svg.js';
import { speechTask } from '../lib/tasks/speech.js';
import { Rng } from '../lib/mat/rng.js';
import { type Estimate, libraryLimit, memoryFlags, memoryLimit, refuseOverLimit } from './memory.js';

const flags: Record<string, FlagSpec> = {
  hidden: { kind: 'int', min: 1, help: 'LSTM units per direction (default 24)' },
  layers: { kind: 'int', min: 1, help: 'bidirectional LSTM layers (default 1)' },
  batch: { kind: 'int', min: 1, help: 'sequences per update (default 16)' },
  iterations: { kind: 'int', min: 1, help: 'parameter updates (default 600)' },
  lr: { kind: 'number', help: "Adam's learning rate (default 0.01)" },
  clip: { kind: 'number', help: 'global gradient-norm clip (default 5)' },
  'held-out': { kind: 'int', min: 1, help: 'held-out sequences (default 200)' },
  beam: { kind: 'int', min: 0, help: 'prefix beam width for the held-out decode (default 8, 0: greedy only)' },
  noise: { kind: 'number', help: 'noise std of the frames (default 1)' },
  labels: { kind: 'int', min: 1, help: 'distinct labels (default 8)' },
  seed: { kind: 'int', help: 'seed (default 1)' },
  svg: { kind: 'string', help: 'write the learning curve to this SVG file' },
  json: { kind: 'boolean', help: 'print one JSON object' },
  quiet: { kind: 'boolean', help: 'no progress bar' },
  ...memoryFlags,
};

/**
 * What a CTC run holds: the BiLSTM's parameters with gradient and Adam's buffers, and
 * BPTT's tape over the longest sequence of a batch (about 16 values per unit and row per
 * direction and step, with their adjoints), for the training and the held-out batch.
 */
export function estimateCtcBytes(o: { hidden: number; layers: number; batch: number; heldOut: number; labels?: number }): Estimate {
  const task = speechTask({ labels: o.labels });
  const steps = 2 * task.batch(1, new Rng(0)).steps;
  let P = 0, input = task.features;
  for (let l = 0; l < o.layers; l++) {
    P += 2 * 4 * o.hidden * (input + o.hidden + 1);
    input = 2 * o.hidden;
  }
  P += task.classes * (input + 1);
  const perRow = o.layers * 2 * 16 * o.hidden + task.features + 3 * task.classes;
  return [
    ['parameters, gradient and optimiser state', 8 * 5 * P],
    ['BPTT tape', 2 * 8 * steps * o.batch * perRow],
    ['held-out batch and its scores', 8 * steps * o.heldOut * (perRow + task.classes)],
  ];
}

export const trainCtcUsage = `usage: loopgrad train ctc [options]

A bidirectional LSTM trained with CTC on a generated speech-like task (noisy
label prototypes held for random numbers of frames, noise between labels;
the alignment is never given). Reports the held-out label error rate.

options:
${usageLines(flags)}`;

function writeSvg(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new Error(`cannot write --svg ${path}: ${(e as Error).message}`);
  }
}

export async function runTrainCtc(argv: readonly string[]): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const num = (name: string) => f.get(name) as number | undefined;
  const lr = num('lr'), clip = num('clip'), noise = num('noise');
  if (lr !== undefined && !(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`);
  if (clip !== undefined && !(clip > 0)) throw new UsageError(`--clip must be positive, got ${clip}`);
  if (noise !== undefined && !(noise >= 0)) throw new UsageError(`--noise must be >= 0, got ${noise}`);
  const svg = f.get('svg') as string | undefined;
  if (svg !== undefined) checkWritableFile('svg', svg);
  const json = f.get('json') === true;
  const iterations = num('iterations') ?? 600;
  const limit = memoryLimit({ flags: f, positional });
  refuseOverLimit('', estimateCtcBytes({
    hidden: num('hidden') ?? 24, layers: num('layers') ?? 1, batch: num('batch') ?? 16, heldOut: num('held-out') ?? 200, labels: num('labels'),
  }), limit, '--hidden, --layers, --batch or --held-out');
  const progress = createProgress({ total: iterations, label: 'train ctc', quiet: f.get('quiet') === true || json });
  let report;
  try {
    report = trainCtc({
      hidden: num('hidden'), layers: num('layers'), batch: num('batch'), iterations, lr, clip,
      heldOut: num('held-out'), beamWidth: num('beam'), seed: num('seed'),
      task: { noise, labels: num('labels') }, maxBytes: libraryLimit(limit),
    }, { onProgress: (_s, _n, loss) => progress.advance(1, `loss ${loss.toFixed(3)}`) });
  } finally {
    progress.done();
  }
  if (svg !== undefined) {
    writeSvg(svg, renderSvg({
      title: 'CTC training of a bidirectional LSTM',
      caption: `loopgrad train ctc ${argv.join(' ')}`.trim(),
      panels: [{
        title: 'CTC loss per label', xLabel: 'update', yLabel: 'loss', xScale: 'linear', yScale: 'log',
        series: [{ label: 'training batch', points: report.curve.map((p) => ({ x: p.step + 1, y: p.loss })), markers: false }],
      }],
    }));
  }
  const { config, heldOut } = report;
  if (json) {
    console.log(JSON.stringify({
      config: { ...config, task: 'ctc', taskOptions: config.task },
      curve: report.curve,
      heldOut: { metric: 'labelErrorRate', value: heldOut.beamLabelErrorRate ?? heldOut.greedyLabelErrorRate, greedy: heldOut.greedyLabelErrorRate, beam: heldOut.beamLabelErrorRate },
    }));
    return 0;
  }
  const last = report.curve.slice(-20);
  const recent = last.reduce((s, p) => s + p.loss, 0) / Math.max(1, last.length);
  console.log(`BiLSTM ${config.layers}x${config.hidden} per direction, ${report.params} parameters, ${config.iterations} updates of ${config.batch} sequences in ${report.seconds.toFixed(1)} s`);
  console.log(`training CTC loss per label (last 20 updates): ${recent.toFixed(4)}`);
  console.log(`held-out label error rate on ${heldOut.sequences} sequences: greedy ${(100 * heldOut.greedyLabelErrorRate).toFixed(2)}%` +
    (heldOut.beamLabelErrorRate === null ? '' : `, prefix beam (width ${config.beamWidth}) ${(100 * heldOut.beamLabelErrorRate).toFixed(2)}%`));
  return 0;
}
