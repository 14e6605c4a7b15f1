// `loopgrad train --load DIR` takes the model's and the data's settings from the checkpoint's
// saved config: absent flags are filled from it, contradicting ones are refused naming each flag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpointMeta } from '../../cli/checkpoint.js';
import { configFromArgs } from '../../cli/train.js';
import { DEFAULT_STEPS } from '../../lib/tasks/registry.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOOPGRAD_DEBUG: '' }, timeout: 60000 });
const root = mkdtempSync(join(tmpdir(), 'loopgrad-load-config-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

// A tiny run far from every default: elman 3 (default lstm 32), steps 5, batch 2, seed 7, held-out 4.
const dir = join(root, 'tiny');
const saved = run('train', 'adding', '--steps', '5', '--cell', 'elman', '--hidden', '3', '--batch', '2', '--held-out', '4', '--seed', '7', '--iterations', '4', '--save', dir, '--quiet');
const firstLine = (text: string) => text.split('\n')[0];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('the tiny run saved a checkpoint of 4 iterations', () => {
  assert.is(saved.status, 0, saved.stderr);
  assert.is(readCheckpointMeta(dir).iteration, 4);
});

test('--load with no architecture flag (and no task) rebuilds the saved model and continues the iteration count', () => {
  const r = run('train', '--load', dir, '--iterations', '3', '--json', '--save', dir);
  assert.is(r.status, 0, r.stderr);
  const { config, curve } = JSON.parse(r.stdout);
  assert.equal(curve.map((p: { step: number }) => p.step), [5, 6, 7]);
  for (const [k, v] of Object.entries({ task: 'adding', steps: 5, cell: 'elman', hidden: 3, activation: 'tanh', batch: 2, heldOut: 4, seed: 7 })) assert.is(config[k], v, k);
  assert.is(readCheckpointMeta(dir).iteration, 7);
});

test('configFromArgs fills absent locked and restored settings from the checkpoint, free ones keep their defaults', () => {
  const { config } = configFromArgs(['adding', '--load', dir, '--iterations', '2']);
  assert.is(config.cell, 'elman');
  assert.is(config.hidden, 3);
  assert.is(config.steps, 5);
  assert.is(config.seed, 7);
  assert.is(config.batch, 2);
  assert.is(config.heldOut, 4);
  assert.is(config.method, undefined);
  // Free settings may change: another batch size, method and learning rate.
  const free = configFromArgs(['adding', '--load', dir, '--iterations', '2', '--batch', '5', '--method', 'tbptt:2', '--lr', '0.1']).config;
  assert.equal([free.batch, free.method, free.lr, free.hidden], [5, 'tbptt:2', 0.1, 3]);
});

test('--load with a contradicting --hidden and --cell exits 2 naming each flag, its value and the saved value', () => {
  const r = run('train', 'adding', '--load', dir, '--iterations', '2', '--hidden', '64', '--cell', 'gru', '--quiet');
  assert.is(r.status, 2, r.stderr);
  assert.is(firstLine(r.stderr), `loopgrad train: --cell gru and --hidden 64 contradict the checkpoint in ${dir} (cell elman, hidden 3); drop the flags or start a new run`);
  const one = run('train', 'adding', '--load', dir, '--iterations', '2', '--hidden', '64', '--quiet');
  assert.is(one.status, 2, one.stderr);
  assert.match(firstLine(one.stderr), new RegExp(`--hidden 64 contradicts the checkpoint in ${escape(dir)} \\(hidden 3\\); drop the flag or start a new run$`));
});

test('--load refuses another task, --steps, --seed, --init, --activation and --learn-h0, as typed', () => {
  const cases: [string[], string][] = [
    [['copy'], 'task copy contradicts the checkpoint in DIR (task adding)'],
    [['adding', '--steps', '6'], '--steps 6 contradicts the checkpoint in DIR (steps 5)'],
    [['adding', '--seed', '0'], '--seed 0 contradicts the checkpoint in DIR (seed 7)'],
    [['adding', '--init', 'xavier'], '--init xavier contradicts the checkpoint in DIR (init default)'],
    [['adding', '--activation', 'relu'], '--activation relu contradicts the checkpoint in DIR (activation tanh)'],
    [['adding', '--learn-h0'], '--learn-h0 contradicts the checkpoint in DIR (learn-h0 false)'],
    [['adding', '--train-size', '8'], '--train-size 8 contradicts the checkpoint in DIR (train-size none (fresh batches))'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => configFromArgs([...args, '--load', dir]), (e: Error) => e.constructor.name === 'UsageError' && e.message.startsWith(message.replace('DIR', dir)), args.join(' '));
  }
});

test('explicit flags equal to the saved values, as they take effect, are accepted', () => {
  const r = run('train', 'adding', '--load', dir, '--iterations', '1', '--steps', '5', '--cell', 'elman', '--hidden', '3', '--seed', '7', '--activation', 'tanh', '--init', 'default', '--json');
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).curve.map((p: { step: number }) => p.step), [readCheckpointMeta(dir).iteration as number + 1]);
  // A checkpoint saved without --steps holds the task's default length: giving it explicitly is no contradiction.
  const plain = join(root, 'plain');
  assert.is(run('train', 'parity', '--cell', 'gru', '--hidden', '2', '--batch', '2', '--held-out', '4', '--iterations', '1', '--save', plain, '--quiet').status, 0);
  const { config } = configFromArgs(['parity', '--load', plain, '--steps', String(DEFAULT_STEPS.parity), '--iterations', '1']);
  assert.is(config.steps, DEFAULT_STEPS.parity);
  assert.throws(() => configFromArgs(['parity', '--load', plain, '--steps', String(DEFAULT_STEPS.parity + 1)]), new RegExp(`\\(steps ${DEFAULT_STEPS.parity}\\)`));
});

test('a fixed training set locks its batch size and continues with --epochs, not --iterations', () => {
  const fixed = join(root, 'fixed');
  assert.is(run('train', 'adding', '--steps', '4', '--cell', 'gru', '--hidden', '2', '--batch', '2', '--held-out', '4', '--train-size', '6', '--save', fixed, '--quiet').status, 0);
  assert.throws(() => configFromArgs(['adding', '--load', fixed, '--batch', '3']), /--batch 3 contradicts the checkpoint in .* \(batch 2, a fixed set of train-size 6\)/);
  assert.throws(() => configFromArgs(['adding', '--load', fixed, '--iterations', '3']), /trained on a fixed set, train-size 6: continue it with --epochs/);
  const { config } = configFromArgs(['adding', '--load', fixed, '--epochs', '2']);
  assert.equal([config.trainSize, config.batch, config.epochs], [6, 2, 2]);
});

test.run();
