// scripts/golden.ts as a command: nothing to check is an error, and a file
// passes only when every expected/* and grad/* tensor in it was compared.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkGoldenFile, formatReport, uncompared } from '../../scripts/golden.js';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import { GOLDEN_DIR } from '../helpers.js';

const script = fileURLToPath(new URL('../../scripts/golden.js', import.meta.url));
const golden = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60000 });
const shared = GOLDEN_DIR;

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'loopgrad-golden-cli-'));
  dirs.push(d);
  return d;
};

test('no golden file to check: a clear message and a non-zero exit', () => {
  const empty = tempDir();
  const other = tempDir();
  writeFileSync(join(other, 'README.md'), 'no tensors here');
  for (const dir of [empty, other]) {
    const r = golden(dir);
    assert.is(r.status, 2, r.stderr);
    assert.is(r.stderr, `golden: no golden files (*.safetensors) in ${dir}; nothing was checked\n`);
    assert.is(r.stdout, '');
  }
  const missing = golden(join(empty, 'nowhere'));
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /^golden: .*nowhere/);
  assert.not.match(missing.stderr, /\n\s+at /);
});

test('uncompared: the expected/ and grad/ tensors no comparison names', () => {
  const names = ['input/x', 'upstream/output', 'expected/output', 'expected/h_n', 'grad/x', 'grad/weight_hh_l0', 'param/W'];
  const compared = [{ name: 'expected/output', relError: 0 }, { name: 'grad/x', relError: 0 }];
  assert.equal(uncompared(names, compared), ['expected/h_n', 'grad/weight_hh_l0']);
  assert.equal(uncompared(names, [...compared, { name: 'expected/h_n', relError: 0 }, { name: 'grad/weight_hh_l0', relError: 0 }]), []);
});

test('a reference tensor the checker does not compare makes the file fail, with a note', () => {
  for (const [source, extra] of [['gru_1l', 'grad/extra_bias'], ['ctc_basic', 'expected/loss_sum']]) {
    const path = join(shared, `${source}.safetensors`);
    if (!existsSync(path)) continue; // spec/golden.spec.ts insists on the directory; here it only supplies a real file.
    const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(path)));
    assert.is(checkGoldenFile(path).status, 'passed', source);
    const out: Record<string, { dtype: 'F64'; shape: number[]; data: Float64Array }> = {};
    for (const [name, t] of tensors) out[name] = { dtype: 'F64', shape: t.shape, data: Float64Array.from(t.data) };
    out[extra] = { dtype: 'F64', shape: [2], data: Float64Array.from([1, 2]) };
    const copy = join(tempDir(), `${source}-extra.safetensors`);
    writeFileSync(copy, writeSafetensors(out, metadata));
    const report = checkGoldenFile(copy);
    assert.is(report.status, 'failed', formatReport(report));
    assert.is(report.note, `not compared: ${extra}`);
    assert.ok(report.comparisons.every((c) => c.relError <= c.tolerance!), 'everything that was compared agrees');
    const r = golden(copy);
    assert.is(r.status, 1);
    assert.match(r.stdout, new RegExp(`^FAILED\\s+${source}-extra\\.safetensors  \\(not compared: ${extra}\\)`, 'm'));
    assert.match(r.stdout, /0 passed, 1 failed, 0 unsupported/);
  }
});

test('clean up', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  assert.ok(dirs.every((d) => !existsSync(d)));
});

test.run();
