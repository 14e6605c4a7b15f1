import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCheckpoint, loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../../cli/checkpoint.js';
import { temporaryPath } from '../../cli/atomic-write.js';
import { createParams } from '../../lib/cells/params.js';
import { Optimizer } from '../../lib/optim/optimizer.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
// The timeout turns a run that should have been refused up front (and trains for long) into a failure, not a hang.
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOOPGRAD_DEBUG: '' }, timeout: 60000 });
const tiny = ['--steps', '5', '--cell', 'elman', '--hidden', '3', '--iterations', '4', '--batch', '4', '--held-out', '10'];

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'loopgrad-train-'));
  dirs.push(d);
  return d;
};

test('train --json prints exactly {config, curve, heldOut}', () => {
  const r = run('train', 'adding', ...tiny, '--json');
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(Object.keys(out), ['config', 'curve', 'heldOut']);
  assert.is(out.curve.length, 4);
  for (const [i, p] of out.curve.entries()) {
    assert.equal(Object.keys(p), ['step', 'loss']);
    assert.is(p.step, i + 1);
    assert.type(p.loss, 'number');
  }
  assert.equal(Object.keys(out.heldOut), ['metric', 'value']);
  assert.is(out.heldOut.metric, 'mse');
  assert.type(out.heldOut.value, 'number');
  assert.is(out.config.task, 'adding');
  assert.is(out.config.cell, 'elman');
  assert.is(out.config.method, 'bptt');
  assert.is(r.stderr, '');
});

test('train: bad hyperparameters, unknown tasks and options exit 2 with one line and the usage, no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['adding', '--lr', '-1'], /--lr: -1 is not positive/],
    [['adding', '--lr', '0'], /--lr: 0 is not positive/],
    [['adding', '--hidden', '0x10'], /--hidden: "0x10" is not an integer/],
    [['adding', '--hidden', '1e1'], /--hidden: "1e1" is not an integer/],
    [['adding', '--lr', '0x1'], /--lr: "0x1" is not a number/],
    [['adding', '--svg', '--json'], /--svg needs a value/],
    [['adding', '--method', 'tbptt:4:2'], /method: "tbptt:4:2"/],
    [['adding', '--clip', '0'], /--clip: 0 is not positive/],
    [['adding', '--clip-value', '-3'], /--clip-value: -3 is not positive/],
    [['addition'], /unknown task "addition"/],
    [['adding', '--frobnicate'], /unknown option --frobnicate/],
    [['adding', '--method', 'tbptt:0'], /method: "tbptt:0"/],
    [['adding', '--init', 'glorot'], /init: unknown scheme "glorot"/],
    [['adding', '--schedule', 'exp:-2'], /gamma must be a positive number/],
    [['adding', '--cell', 'lstm', '--activation', 'relu'], /--activation applies to elman only/],
    [['adding', '--epochs', '3'], /--epochs needs --train-size/],
    [[], /which task/],
  ];
  for (const [args, message] of cases) {
    const r = run('train', ...args);
    assert.is(r.status, 2, `${args.join(' ')}: status ${r.status}`);
    const lines = r.stderr.split('\n');
    assert.match(lines[0], /^loopgrad train: /);
    assert.match(lines[0], message);
    assert.match(lines[1], /^usage: loopgrad train/);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.is(r.stdout, '');
  }
});

test('train --svg writes the learning curve; --save and --load round-trip a checkpoint', () => {
  const dir = tempDir();
  const svg = join(dir, 'curve.svg');
  const ckpt = join(dir, 'ckpt');
  const first = run('train', 'parity', ...tiny, '--svg', svg, '--save', ckpt, '--quiet');
  assert.is(first.status, 0, first.stderr);
  assert.match(readFileSync(svg, 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(hasCheckpoint(ckpt));
  assert.equal(readdirSync(ckpt).sort(), ['checkpoint.json', 'optimizer-000001.json', 'weights-000001.safetensors']);
  const second = run('train', 'parity', ...tiny, '--load', ckpt, '--save', ckpt, '--json');
  assert.is(second.status, 0, second.stderr);
  assert.equal(readdirSync(ckpt).sort(), ['checkpoint.json', 'optimizer-000002.json', 'weights-000002.safetensors']);
  const missing = run('train', 'parity', ...tiny, '--load', join(dir, 'nowhere'));
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /--load: no checkpoint/);
});

// Long enough that a run which was not refused up front hits the spawn timeout.
const long = ['--steps', '5', '--cell', 'elman', '--hidden', '3', '--iterations', '100000000', '--batch', '4', '--held-out', '10'];

test('outputs that cannot be written are refused before any training: exit 2, one line naming the option', () => {
  const dir = tempDir();
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const cases: [string[], RegExp, RegExp][] = [
    [['train', 'adding', ...long, '--svg', join(dir, 'missing', 'x.svg')], /^loopgrad train: --svg: directory .*missing does not exist$/, /^usage: loopgrad train/],
    [['train', 'adding', ...long, '--svg', dir], /^loopgrad train: --svg: .* is a directory$/, /^usage: loopgrad train/],
    [['train', 'adding', ...long, '--save', join(file, 'ckpt')], /^loopgrad train: --save: .*a-file is not a directory$/, /^usage: loopgrad train/],
    [['train', 'adding', ...long, '--save', file], /^loopgrad train: --save: .*a-file is not a directory$/, /^usage: loopgrad train/],
    [['train', 'ctc', '--iterations', '100000000', '--svg', join(dir, 'missing', 'x.svg')], /^loopgrad train: --svg: directory .*missing does not exist$/, /^usage: loopgrad train ctc/],
    [['train', 'ctc', '--svg', '--json'], /^loopgrad train: --svg needs a value$/, /^usage: loopgrad train ctc/],
    [['diagnose', '--steps', '5', '--hidden', '3', '--svg', join(dir, 'missing', 'x.svg')], /^loopgrad diagnose: --svg: directory .*missing does not exist$/, /^usage: loopgrad diagnose/],
    [['diagnose', '--svg', '--json'], /^loopgrad diagnose: --svg needs a value$/, /^usage: loopgrad diagnose/],
    [['diagnose', '--hidden', '1e1'], /^loopgrad diagnose: --hidden: "1e1" is not an integer$/, /^usage: loopgrad diagnose/],
  ];
  for (const [args, message, usageLine] of cases) {
    const r = run(...args);
    assert.is(r.status, 2, `${args.join(' ')}: status ${r.status} ${r.error?.message ?? ''}`);
    const lines = r.stderr.split('\n');
    assert.match(lines[0], message);
    assert.match(lines[1], usageLine);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.is(r.stdout, '');
  }
  assert.ok(!existsSync(join(dir, 'missing')) && !existsSync(join(dir, '--json')));
  // --save may name a directory that does not exist yet.
  const nested = join(dir, 'new', 'deeper');
  const ok = run('train', 'parity', ...tiny, '--save', nested, '--quiet');
  assert.is(ok.status, 0, ok.stderr);
  assert.ok(hasCheckpoint(nested));
});

test('diagnose: cases, JSON and errors', () => {
  const r = run('diagnose', 'elman/tanh@normal:0.5', 'lstm', '--steps', '10', '--hidden', '4', '--json');
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.cases.length, 2);
  assert.is(out.cases[0].jacobianNorm.length, 11);
  assert.ok(Math.abs(out.cases[0].jacobianNorm[0] - 1) < 1e-12);
  assert.ok(out.cases[0].jacobianNorm[10] < 1e-2);
  assert.equal(out.cases[1].spectrum.map((b: { block: string }) => b.block), ['i', 'f', 'g', 'o']);
  const text = run('diagnose', '--cell', 'elman', '--activation', 'relu', '--init', 'identity', '--steps', '5', '--hidden', '3');
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /elman\/relu@identity: 3 state numbers/);
  for (const [args, message] of [[['lstm/tanh'], /activation applies to elman only/], [['rnn@identity'], /is not CELL/], [['--init', 'wide'], /unknown scheme "wide"/]] as [string[], RegExp][]) {
    const bad = run('diagnose', ...args);
    assert.is(bad.status, 2, args.join(' '));
    assert.match(bad.stderr.split('\n')[0], message);
  }
});

function params(values: number[]) {
  const p = createParams([{ name: 'weight_hh', rows: 2, cols: 2, role: 'weight' }, { name: 'bias_hh', rows: 1, cols: 2, role: 'bias' }]);
  p.theta.set(values);
  return p;
}

test('checkpoints: weights and optimiser state round-trip exactly', () => {
  const dir = join(tempDir(), 'c');
  const p = params([0.1, -0.2, Math.PI, 1e-300, 5, -6]);
  const opt = new Optimizer({ kind: 'adam', lr: 0.01 });
  opt.step(p.theta, Float64Array.from([1, 2, 3, 4, 5, 6]));
  saveCheckpoint(dir, { params: p, optimizer: opt.saveState(), meta: { iteration: 7 } });
  const q = params([0, 0, 0, 0, 0, 0]);
  const loaded = loadCheckpoint(dir, q);
  assert.equal(Array.from(q.theta), Array.from(p.theta));
  assert.equal(loaded.optimizer, opt.saveState());
  assert.equal(loaded.meta, { iteration: 7 });
  assert.is(loaded.generation, 1);
});

test('an interrupted save leaves the previous checkpoint intact; the next save cleans up', () => {
  const dir = join(tempDir(), 'c');
  saveCheckpoint(dir, { params: params([1, 2, 3, 4, 5, 6]), meta: { n: 1 } });
  // Crash after the new data files are on disk, before the pointer moves.
  assert.throws(() => saveCheckpoint(dir, { params: params([9, 9, 9, 9, 9, 9]), meta: { n: 2 } }, { beforeCommit: () => { throw new Error('power cut'); } }), /power cut/);
  // A crash in the middle of writing a file leaves only a temporary.
  writeFileSync(join(dir, 'weights-000003.safetensors.tmp-1-2-3'), 'half a file');
  writeFileSync(temporaryPath(join(dir, 'optimizer-000003.json')), 'half a file');
  const q = params([0, 0, 0, 0, 0, 0]);
  const loaded = loadCheckpoint(dir, q);
  assert.equal(Array.from(q.theta), [1, 2, 3, 4, 5, 6]);
  assert.equal(loaded.meta, { n: 1 });
  const gen = saveCheckpoint(dir, { params: params([7, 7, 7, 7, 7, 7]), meta: { n: 3 } });
  assert.is(gen, 2);
  assert.equal(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-000002.json', 'weights-000002.safetensors']);
  loadCheckpoint(dir, q);
  assert.equal(Array.from(q.theta), [7, 7, 7, 7, 7, 7]);
});

test('a checkpoint whose files do not match its pointer is refused', () => {
  const dir = join(tempDir(), 'c');
  saveCheckpoint(dir, { params: params([1, 2, 3, 4, 5, 6]) });
  const pointer = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...pointer, generation: 5 }));
  assert.throws(() => loadCheckpoint(dir, params([0, 0, 0, 0, 0, 0])), /is generation 1, the pointer says 5/);
  writeFileSync(join(dir, 'checkpoint.json'), '{"format": "loopgrad-checkpoint", ');
  assert.throws(() => loadCheckpoint(dir, params([0, 0, 0, 0, 0, 0])), /is not valid JSON/);
  assert.throws(() => loadCheckpoint(join(dir, 'none'), params([0, 0, 0, 0, 0, 0])), /directory .*none does not exist/);
  const other = createParams([{ name: 'weight_hh', rows: 3, cols: 2, role: 'weight' }, { name: 'bias_hh', rows: 1, cols: 2, role: 'bias' }]);
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(pointer));
  assert.throws(() => loadCheckpoint(dir, other), /has shape \[2, 2\] but weight_hh needs \[3, 2\]/);
});

test('a checkpoint pointer may only name the generated data files (no path traversal)', () => {
  const outside = tempDir();
  const dir = join(tempDir(), 'c');
  const p = params([1, 2, 3, 4, 5, 6]);
  saveCheckpoint(dir, { params: p, meta: { n: 1 } });
  const pointer = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
  // A copy of a real file outside the checkpoint, which a crafted pointer tries to reach.
  writeFileSync(join(outside, 'weights-000001.safetensors'), readFileSync(join(dir, 'weights-000001.safetensors')));
  writeFileSync(join(outside, 'optimizer-000001.json'), readFileSync(join(dir, 'optimizer-000001.json')));
  const bad: [Record<string, string>, RegExp][] = [
    [{ weights: join('..', '..', outside.split('/').pop()!, 'weights-000001.safetensors') }, /names weights file ".*", not weights-NNNNNN\.safetensors/],
    [{ weights: join(outside, 'weights-000001.safetensors') }, /names weights file/],
    [{ weights: 'weights-1.safetensors' }, /names weights file "weights-1\.safetensors"/],
    [{ weights: 'weights-000001.safetensors/' }, /names weights file/],
    [{ optimizer: '../optimizer-000001.json' }, /names optimiser file "\.\.\/optimizer-000001\.json", not optimizer-NNNNNN\.json/],
    [{ optimizer: 'optimizer-000001.json\u0000' }, /names optimiser file/],
  ];
  for (const [change, message] of bad) {
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...pointer, ...change }));
    assert.throws(() => loadCheckpoint(dir, params([0, 0, 0, 0, 0, 0])), message, JSON.stringify(change));
    assert.throws(() => readCheckpointMeta(dir), message);
    assert.throws(() => hasCheckpoint(dir), message);
  }
  // The CLI refuses it up front as a usage error naming the option.
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...pointer, optimizer: '../../etc/passwd' }));
  for (const args of [['train', 'parity', ...long, '--load', dir], ['train', 'parity', ...long, '--save', dir], ['diagnose', '--load', dir]]) {
    const r = run(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], /^loopgrad (train|diagnose): --(load|save): checkpoint: .* names optimiser file "\.\.\/\.\.\/etc\/passwd"/);
    assert.not.match(r.stderr, /\n\s+at /);
  }
  // The generated names still load.
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(pointer));
  const q = params([0, 0, 0, 0, 0, 0]);
  loadCheckpoint(dir, q);
  assert.equal(Array.from(q.theta), [1, 2, 3, 4, 5, 6]);
});

test('clean up', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  assert.ok(dirs.every((d) => !existsSync(d)));
});

test.run();
