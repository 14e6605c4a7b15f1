// `loopgrad train ctc` as a user runs it: JSON of a tiny run, an SVG curve,
// and bad input refused with exit status 2 and the ctc usage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const trainCtc = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', 'ctc', ...args], { encoding: 'utf8', timeout: 60000 });

test('train ctc --json prints one object with config, curve and the held-out label error rate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-ctc-'));
  try {
    const svg = join(dir, 'curve.svg');
    const r = trainCtc('--iterations', '4', '--hidden', '4', '--batch', '4', '--held-out', '6', '--beam', '2', '--json', '--svg', svg);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.is(out.config.task, 'ctc');
    assert.is(out.config.hidden, 4);
    assert.is(out.curve.length, 4);
    for (const p of out.curve) assert.ok(Number.isFinite(p.loss) && p.loss > 0);
    assert.is(out.heldOut.metric, 'labelErrorRate');
    assert.ok(out.heldOut.value >= 0);
    assert.ok(readFileSync(svg, 'utf8').startsWith('<svg'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [args, message] of [
  [['--lr', '-1'], /--lr must be positive, got -1/],
  [['--hidden', '0'], /--hidden: 0 is below the minimum 1/],
  [['--iterations', 'many'], /--iterations: "many" is not an integer/],
  [['--bogus'], /unknown option --bogus/],
  [['extra'], /unexpected argument "extra"/],
  [['--lr', '0'], /--lr must be positive, got 0/],
  [['--hidden', '1e1'], /--hidden: "1e1" is not an integer/],
  [['--lr', '0x1'], /--lr: "0x1" is not a number/],
  [['--svg', '--json'], /--svg needs a value/],
  [['--svg', '/nonexistent-loopgrad-dir/curve.svg'], /--svg: directory \/nonexistent-loopgrad-dir does not exist/],
] as [string[], RegExp][]) {
  test(`train ctc ${args.join(' ')}: one line, the ctc usage, exit 2, no stack trace`, () => {
    const r = trainCtc(...args);
    assert.is(r.status, 2);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: loopgrad train ctc/);
    assert.not.match(r.stderr, /\n\s+at /);
  });
}

test.run();
