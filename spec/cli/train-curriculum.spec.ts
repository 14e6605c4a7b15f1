// `loopgrad train copy --curriculum` as a user runs it: JSON and text reports of tiny runs that
// agree with themselves, the curve as SVG, and bad input refused with exit status 2 naming the flag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curriculumConfigFromArgs } from '../../cli/train-curriculum.js';
import { UsageError } from '../../cli/args.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const curriculum = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', 'copy', '--curriculum', ...args], { encoding: 'utf8', timeout: 60000 });

test('--json: one object whose checks, solves and reached delay agree; --svg draws both panels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-curriculum-'));
  try {
    const svg = join(dir, 'curve.svg');
    const r = curriculum('--iterations', '40', '--check-every', '5', '--hidden', '6', '--length', '1', '--symbols', '2', '--lr', '0.03', '--method', 'snap1', '--json', '--svg', svg);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.is(out.config.method, 'snap1');
    assert.is(out.config.hidden, 6);
    assert.is(out.stop, 'iterations');
    assert.equal(out.points.map((p: { iteration: number }) => p.iteration), [5, 10, 15, 20, 25, 30, 35, 40]);
    // The delay grows by one after each solve, and reached is the last delay solved.
    let delay = 1;
    for (const p of out.points) {
      assert.is(p.delay, delay);
      if (p.accuracy >= 0.95) delay++;
    }
    assert.is(out.reached, delay - 1);
    assert.is(out.solved.length, delay - 1);
    assert.ok(out.reached >= 1, `a 1-symbol binary copy is solved at delay 1 within 40 batches (reached ${out.reached})`);
    const text = readFileSync(svg, 'utf8');
    assert.ok(text.startsWith('<svg'));
    assert.match(text, /against data seen/);
    assert.match(text, /against wall time/);
    assert.match(text, /--method snap1/); // the caption is the command
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text: one line per solved delay, then the final line; the time budget stops the run', () => {
  const r = curriculum('--time-budget', '0.6', '--hidden', '6', '--length', '1', '--symbols', '2', '--lr', '0.03', '--method', 'bptt');
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const final = /^reached delay (\d+) \(time budget spent\): (\d+) batches, (\d+) input steps, ([0-9.]+) s/.exec(lines[lines.length - 1]);
  assert.ok(final !== null, r.stdout);
  assert.ok(Number(final![4]) >= 0.6, `stopped after ${final![4]} s`);
  const solvedLines = lines.slice(0, -1);
  assert.is(solvedLines.length, Number(final![1]));
  solvedLines.forEach((line, i) => assert.match(line, new RegExp(`^  delay ${i + 1} solved: \\d+ batches, \\d+ input steps seen, [0-9.]+ s$`)));
  assert.match(r.stderr, /training gru 6 by bptt on the copy curriculum for 0.6 s/);
});

test('--help shows the curriculum options', () => {
  const r = curriculum('--help');
  assert.is(r.status, 0);
  assert.match(r.stdout, /loopgrad train copy --curriculum \[options\]/);
  assert.match(r.stdout, /--time-budget <number>/);
});

// Parsing in-process (fast); the exit status and usage of a refusal through the CLI below.
for (const [args, message] of [
  [['--time-budget', '0'], /^--time-budget: 0 is not positive$/],
  [['--time-budget', 'soon'], /^--time-budget: "soon" is not a number$/],
  [['--lr', '0'], /^--lr: 0 is not positive$/],
  [['--clip', '-1'], /^--clip: -1 is not positive$/],
  [['--hidden', '0'], /^--hidden: 0 is below the minimum 1$/],
  [['--cell', 'banana'], /^--cell: "banana" is not one of/],
  [['--method', 'snap0'], /^--method: .*snap0/],
  [['--solved', '2'], /^--solved: 2 is not an accuracy in \(0, 1\]$/],
  [['--start-delay', '5', '--max-delay', '3'], /^--max-delay: 3 is below the start delay 5$/],
  [['--steps', '10'], /^unknown option --steps$/],
] as [string[], RegExp][]) {
  test(`train copy --curriculum ${args.join(' ')}: a usage error naming the flag`, () => {
    try {
      curriculumConfigFromArgs(['copy', '--curriculum', ...args]);
      assert.unreachable(`${args.join(' ')} was accepted`);
    } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, message);
    }
  });
}

test('the parsed config: defaults for a time-budgeted run, flags as given', () => {
  const { config } = curriculumConfigFromArgs(['copy', '--curriculum', '--method', 'uoro', '--time-budget', '2.5', '--hidden', '8', '--start-delay', '3']);
  assert.equal(config, { cell: 'gru', hidden: 8, method: 'uoro', lr: 0.003, clip: 1, startDelay: 3, budgetMs: 2500, maxIterations: Number.MAX_SAFE_INTEGER });
});

for (const [args, message] of [
  [['--time-budget', '0'], /--time-budget: 0 is not positive/],
  [['--method', 'kf-rtrl'], /--method: kf-rtrl: the gru cell is not of the form/],
  [['--svg', '/nonexistent-loopgrad-dir/curve.svg'], /--svg: directory \/nonexistent-loopgrad-dir does not exist/],
] as [string[], RegExp][]) {
  test(`loopgrad train copy --curriculum ${args.join(' ')}: one line naming the flag, the usage, exit 2`, () => {
    const r = curriculum('--time-budget', '0.1', ...args);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: loopgrad train/);
    assert.not.match(r.stderr, /\n\s+at /);
  });
}

test('--curriculum with a task other than copy is refused', () => {
  const r = spawnSync(process.execPath, [cli, 'train', 'adding', '--curriculum'], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 2);
  assert.match(r.stderr, /--curriculum trains the copy task only/);
});

test.run();
