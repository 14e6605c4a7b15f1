// Every command's bad options: exit status 2 and the flag as typed, whether the CLI's parser
// refuses it or the library does (a ConfigError whose details.option the CLI maps to its flag).
// Errors that are not the user's options (a run that diverged) stay exit 1: spec/cli/limits.spec.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, LoopgradError } from '../../lib/errors.js';
import { Optimizer, type OptimizerConfig } from '../../lib/optim/optimizer.js';
import { parseSchedule } from '../../lib/optim/schedule.js';
import { normalizeRunConfig, type TaskRunConfig } from '../../lib/train/run-task.js';
import { train } from '../../lib/train/trainer.js';
import { createModel } from '../../lib/rnn/model.js';
import { elman } from '../../lib/cells/elman.js';
import { parseMethod } from '../../lib/rnn/methods.js';
import { configFromArgs } from '../../cli/train.js';
import { TASK_TRAINING_DEFAULTS } from '../../lib/train/task-defaults.js';
import { TASK_NAMES } from '../../lib/tasks/registry.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const golden = fileURLToPath(new URL('../../scripts/golden.js', import.meta.url));
const fuzz = fileURLToPath(new URL('../../scripts/fuzz.js', import.meta.url));

interface Outcome { status: number | null; stdout: string; stderr: string }

function runNode(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, LOOPGRAD_DEBUG: '' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    // A bad option must be refused before any work: a run that starts training is a failure, not a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

/** Runs every invocation, four at a time (each is a Node start-up and a refusal). */
async function runAll(invocations: string[][]): Promise<Outcome[]> {
  const results: Outcome[] = new Array(invocations.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < invocations.length) {
      const i = next++;
      results[i] = await runNode(invocations[i]);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

// [command line, the flag (or text) stderr must name]
const BAD: [string[], string][] = [
  // train: the optimiser's conflicts, refused by the library, named by their flags
  [['train', 'adding', '--momentum', '0.9'], '--momentum does not apply to --optimizer adam'],
  [['train', 'adding', '--weight-decay', '0.1'], '--weight-decay'],
  [['train', 'adding', '--optimizer', 'sgd', '--weight-decay', '0.1'], '--weight-decay'],
  [['train', 'adding', '--optimizer', 'sgd', '--nesterov'], '--nesterov needs --momentum'],
  [['train', 'adding', '--optimizer', 'rmsprop', '--momentum', '0.5', '--nesterov'], '--nesterov does not apply to --optimizer rmsprop'],
  [['train', 'adding', '--optimizer', 'sgd', '--momentum', '1'], '--momentum'],
  [['train', 'adding', '--schedule', 'step:0:0.5'], '--schedule'],
  [['train', 'adding', '--schedule', 'cosine'], '--schedule'],
  [['train', 'adding', '--init', 'glorot'], '--init'],
  [['train', 'adding', '--method', 'tbptt:4:2'], '--method'],
  [['train', 'adding', '--cell', 'gru', '--forget-bias', '2'], '--forget-bias'],
  [['train', 'adding', '--cell', 'lstm', '--activation', 'relu'], '--activation'],
  [['train', 'adding', '--epochs', '2'], '--epochs'],
  [['train', 'adding', '--stop-when-solved', '--no-stop-when-solved'], '--no-stop-when-solved'],
  [['train', 'adding', '--lr', '0'], '--lr'],
  [['train', 'adding', '--bogus'], '--bogus'],
  // train ctc
  [['train', 'ctc', '--lr', '-1'], '--lr'],
  [['train', 'ctc', '--noise', '-1'], '--noise'],
  [['train', 'ctc', '--momentum', '0.9'], '--momentum'],
  // compare, diagnose, bench
  [['compare', '--method', 'tbptt:5:2'], '--method'],
  [['compare', '--hidden', '0'], '--hidden'],
  [['diagnose', '--forget-bias', '2'], '--forget-bias'],
  [['diagnose', '--init', 'bogus'], '--init'],
  [['diagnose', '--cell', 'lstm', '--activation', 'relu'], '--activation'],
  [['bench', 'kernels', '--bogus'], '--bogus'],
];

test('every bad option of every command exits 2 and names the flag as typed', async () => {
  const outcomes = await runAll(BAD.map(([args]) => [cli, ...args]));
  for (const [i, [args, flag]] of BAD.entries()) {
    const { status, stderr } = outcomes[i];
    const line = `loopgrad ${args.join(' ')}: exit ${status}, stderr ${JSON.stringify(stderr.split('\n')[0])}`;
    assert.is(status, 2, line);
    assert.ok(stderr.split('\n')[0].includes(flag), `${line} does not name ${flag}`);
    assert.not.match(stderr, /\n\s+at /, `${line}: a stack trace`);
    // The library's camelCase name must not reach the user in place of the flag.
    assert.not.match(stderr.split('\n')[0], /\b(weightDecay|clipValue|forgetBias|trainSize|heldOut|evalEvery)\b/, line);
  }
});

test('the scripts: golden and fuzz refuse unknown options with exit 2', async () => {
  const cases: [string[], string][] = [
    [[golden, '--frob'], '--frob'],
    [[golden, '/no/such/dir'], '/no/such/dir'],
    [[fuzz, '--count', '-1'], '--count'],
    [[fuzz, '--target', 'nope'], '--target'],
  ];
  const outcomes = await runAll(cases.map(([args]) => args));
  for (const [i, [args, flag]] of cases.entries()) {
    assert.is(outcomes[i].status, 2, `${args.join(' ')}: ${outcomes[i].stderr}`);
    assert.ok(outcomes[i].stderr.includes(flag), `${args.join(' ')}: ${outcomes[i].stderr}`);
  }
});

test('loopgrad --version and -v print the version of package.json; --help lists it', async () => {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const [long, short, help, extra] = await runAll([[cli, '--version'], [cli, '-v'], [cli, '--help'], [cli, '--version', 'x']]);
  assert.is(long.status, 0, long.stderr);
  assert.is(long.stdout, `${manifest.version}\n`);
  assert.is(short.stdout, long.stdout);
  assert.match(help.stdout, /--version/);
  assert.is(extra.status, 2);
});

/** The ConfigError a call throws (fails the test when it throws anything else or nothing). */
function configError(call: () => unknown): ConfigError {
  try {
    call();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.instance(e, LoopgradError);
    return e as ConfigError;
  }
  return assert.unreachable('no ConfigError thrown') as never;
}

test('the library names the option at fault in details.option (what the CLI maps to a flag)', () => {
  const optimizer = (config: OptimizerConfig) => () => new Optimizer(config);
  const momentum = configError(optimizer({ kind: 'adam', lr: 0.1, momentum: 0.9 }));
  assert.equal([momentum.op, momentum.details.option, momentum.details.kind, momentum.details.acceptedBy], ['adam', 'momentum', 'adam', ['sgd', 'rmsprop']]);
  assert.is(configError(optimizer({ kind: 'sgd', lr: 0.1, weightDecay: 0.1 })).details.option, 'weightDecay');
  assert.is(configError(optimizer({ kind: 'sgd', lr: -1 })).details.option, 'lr');
  assert.is(configError(optimizer({ kind: 'sgd', lr: 0.1, nesterov: true })).details.needs, 'momentum');
  assert.is(configError(() => parseSchedule('exp:0')).details.option, 'schedule');
  const base: TaskRunConfig = { task: 'adding', cell: 'lstm', hidden: 4, lr: 0.01, batch: 2, iterations: 1 };
  assert.is(configError(() => normalizeRunConfig({ ...base, momentum: 0.5 })).details.option, 'momentum');
  assert.is(configError(() => normalizeRunConfig({ ...base, clipValue: -1 })).details.option, 'clipValue');
  assert.is(configError(() => normalizeRunConfig({ ...base, init: 'glorot' })).details.option, 'init');
  const model = createModel(elman({ inputSize: 1, hiddenSize: 2 }), { seed: 1 });
  const next = () => { throw new Error('not reached'); };
  assert.is(configError(() => train(model, { method: parseMethod('bptt'), optimizer: new Optimizer({ kind: 'sgd', lr: 0.1 }), iterations: 1, next, clipNorm: 0 })).details.option, 'clipNorm');
});

test('train: each task has its defaults; a default budget stops once solved, a given one runs in full', () => {
  for (const task of TASK_NAMES) {
    const d = TASK_TRAINING_DEFAULTS[task];
    const { config } = configFromArgs([task]);
    assert.is(config.lr, d.lr, task);
    assert.is(config.clip, d.clip ?? undefined, task);
    assert.is(config.iterations, d.iterations, task);
    assert.is(config.stopWhenSolved, true, task);
  }
  const given = configFromArgs(['adding', '--iterations', '50', '--lr', '0.01', '--clip', '2']).config;
  assert.equal([given.iterations, given.lr, given.clip, given.stopWhenSolved], [50, 0.01, 2, undefined]);
  assert.is(configFromArgs(['adding', '--no-stop-when-solved']).config.stopWhenSolved, undefined);
  assert.is(configFromArgs(['adding', '--iterations', '50', '--stop-when-solved']).config.stopWhenSolved, true);
  // --clip-value alone replaces the default norm clip rather than adding to it.
  assert.is(configFromArgs(['adding', '--clip-value', '0.5']).config.clip, undefined);
});

test('train: a run that ends unsolved says which flags to try; a solved one does not', async () => {
  const tiny = ['--steps', '3', '--hidden', '3', '--batch', '4', '--held-out', '20', '--iterations', '2'];
  const [unsolved] = await runAll([[cli, 'train', 'parity', ...tiny]]);
  assert.is(unsolved.status, 0, unsolved.stderr);
  assert.match(unsolved.stdout, /not solved \(|held-out accuracy: .*not solved/);
  assert.match(unsolved.stdout, /not solved in 2 iterations; to try: --iterations 1000, .*--cell gru, --lr 0\.001 or --lr 0\.009/);
});

test.run();
