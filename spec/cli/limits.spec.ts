import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const run = (...args: string[]) => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOOPGRAD_DEBUG: '' }, timeout: 30000 });
  return { ...r, ms: Date.now() - started };
};

// Each of these used to allocate for tens of seconds (or abort out of memory) before failing.
const refused: [string[], RegExp][] = [
  [['train', 'adding', '--steps', '1000000', '--hidden', '8', '--batch', '1', '--iterations', '1', '--held-out', '1'], /BPTT tape/],
  [['train', 'adding', '--batch', '100000'], /BPTT tape/],
  [['train', 'adding', '--method', 'rtrl', '--hidden', '200', '--batch', '64'], /RTRL sensitivities/],
  [['diagnose', '--steps', '1000000000'], /tape of 1000000000 steps/],
  [['diagnose', '--hidden', '100000'], /parameters/],
  [['train', 'ctc', '--hidden', '3000'], /parameters/],
];

for (const [args, part] of refused) {
  test(`refused up front with the estimate and the flags: ${args.join(' ')}`, () => {
    const r = run(...args);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, /this run would need about [0-9.]+ [KMGTPE]iB/);
    assert.match(r.stderr, part);
    assert.match(r.stderr, /over the limit of 2\.0 GiB/);
    assert.match(r.stderr, /--allow-large/);
    assert.not.match(r.stderr, /\n\s+at /); // no stack trace
    // Node's start-up included; the refusal itself takes well under a second.
    assert.ok(r.ms < 3000, `took ${r.ms} ms`);
  });
}

test('--max-bytes lowers the limit; --allow-large lifts it', () => {
  const small = ['train', 'adding', '--steps', '5', '--cell', 'elman', '--hidden', '3', '--iterations', '2', '--batch', '2', '--held-out', '4', '--quiet'];
  const low = run(...small, '--max-bytes', '1000');
  assert.is(low.status, 2, low.stderr);
  assert.match(low.stderr, /over the limit of 1000 B/);
  const lifted = run(...small, '--max-bytes', '1000', '--allow-large');
  assert.is(lifted.status, 0, lifted.stderr);
  const diagnose = run('diagnose', '--steps', '3', '--hidden', '2', '--max-bytes', '10', '--json');
  assert.is(diagnose.status, 2, diagnose.stderr);
  assert.is(run('diagnose', '--steps', '3', '--hidden', '2', '--max-bytes', '10', '--allow-large', '--json').status, 0);
});

test('train: Adam at --lr 1e6 is stopped as diverging and exits 1, not 0', () => {
  const r = run('train', 'adding', '--optimizer', 'adam', '--lr', '1e6', '--iterations', '50', '--steps', '10', '--hidden', '8', '--quiet');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /training diverged/);
});

test.run();
