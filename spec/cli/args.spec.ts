// The shared command-line parser: strict numbers, values that are not flags,
// choices, and the checks that an output path can be written before a run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlagSpec, UsageError, checkWritableDirectory, checkWritableFile, parseArgs } from '../../cli/args.js';

const specs: Record<string, FlagSpec> = {
  hidden: { kind: 'int', help: '', min: 1 },
  seed: { kind: 'int', help: '' },
  lr: { kind: 'number', help: '', min: 0 },
  bias: { kind: 'number', help: '' },
  sizes: { kind: 'ints', help: '', min: 1 },
  svg: { kind: 'string', help: '' },
  cell: { kind: 'string', help: '', choices: ['elman', 'lstm'] },
  method: { kind: 'list', help: '', choices: ['bptt', 'tbptt:'], choicesText: 'bptt, tbptt:K' },
  json: { kind: 'boolean', help: '' },
};

const parse = (...argv: string[]) => parseArgs(argv, specs);

/** The UsageError message parsing argv throws (fails the test if it does not throw one). */
function usageError(...argv: string[]): string {
  try {
    parse(...argv);
  } catch (e) {
    assert.instance(e, UsageError, `${argv.join(' ')}: ${String(e)}`);
    return (e as Error).message;
  }
  assert.unreachable(`${argv.join(' ')} was accepted`);
  return '';
}

test('values of every kind, with a space or with =', () => {
  const p = parse('task', '--hidden', '16', '--seed=-3', '--lr', '3e-3', '--bias', '-.5', '--sizes', '8, 16,32', '--svg', 'a.svg', '--cell=lstm', '--method', 'bptt,tbptt:4', '--json');
  assert.equal(p.positional, ['task']);
  assert.is(p.flags.get('hidden'), 16);
  assert.is(p.flags.get('seed'), -3);
  assert.is(p.flags.get('lr'), 0.003);
  assert.is(p.flags.get('bias'), -0.5);
  assert.equal(p.flags.get('sizes'), [8, 16, 32]);
  assert.is(p.flags.get('svg'), 'a.svg');
  assert.is(p.flags.get('cell'), 'lstm');
  assert.equal(p.flags.get('method'), ['bptt', 'tbptt:4']);
  assert.is(p.flags.get('json'), true);
  assert.is(parse('--lr', '1.').flags.get('lr'), 1);
  assert.is(parse('--lr', '+2.5E+1').flags.get('lr'), 25);
  assert.is(parse('--hidden', '+007').flags.get('hidden'), 7);
});

test('integers are plain decimal digits', () => {
  for (const text of ['0x10', '1e1', '1.0', '0b11', '0o7', ' 5', '5 ', '', 'Infinity', '1_000']) {
    assert.match(usageError('--hidden', text), /^--hidden: ".*" is not an integer$/, text);
  }
  assert.match(usageError('--sizes', '8,0x10'), /^--sizes: "0x10" is not an integer$/);
  assert.match(usageError('--sizes', '8,,16'), /^--sizes: "" is not an integer$/);
  assert.match(usageError('--seed', '99999999999999999999'), /^--seed: "99999999999999999999" is out of range$/);
  assert.match(usageError('--hidden', '0'), /^--hidden: 0 is below the minimum 1$/);
});

test('numbers are decimals, with an optional fraction and exponent', () => {
  for (const text of ['0x10', '0b1', 'Infinity', '-Infinity', 'NaN', '1e', '.', 'e3', '1,5', ' 1', '1 ', '']) {
    assert.match(usageError('--bias', text), /^--bias: ".*" is not a number$/, text);
  }
  assert.match(usageError('--bias', '1e999'), /^--bias: "1e999" is out of range$/);
  assert.match(usageError('--lr', '-1'), /^--lr: -1 is below the minimum 0$/);
});

test('a value may not be the next flag', () => {
  assert.is(usageError('--svg', '--json'), '--svg needs a value');
  assert.is(usageError('--hidden', '--json'), '--hidden needs a value');
  assert.is(usageError('--method', '--svg', 'x.svg'), '--method needs a value');
  assert.is(usageError('--svg'), '--svg needs a value');
  // A negative number is a value, and --flag=--x says so explicitly.
  assert.is(parse('--bias', '-2').flags.get('bias'), -2);
  assert.is(parse('--svg=--odd.svg').flags.get('svg'), '--odd.svg');
});

test('unknown flags, values for booleans, choices', () => {
  assert.is(usageError('--frobnicate'), 'unknown option --frobnicate');
  assert.is(usageError('--json=yes'), '--json takes no value');
  assert.is(usageError('--cell', 'gru'), '--cell: "gru" is not one of elman, lstm');
  assert.is(usageError('--method', 'rtrl'), '--method: "rtrl" is not one of bptt, tbptt:K');
});

test('checkWritableFile: the directory must exist and be a writable directory; the path must not be a directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-args-'));
  try {
    checkWritableFile('svg', join(dir, 'plot.svg'));
    writeFileSync(join(dir, 'plot.svg'), 'old');
    checkWritableFile('svg', join(dir, 'plot.svg'));
    const message = (f: () => void): string => {
      try { f(); } catch (e) { assert.instance(e, UsageError); return (e as Error).message; }
      assert.unreachable('accepted');
      return '';
    };
    assert.match(message(() => checkWritableFile('svg', join(dir, 'missing', 'plot.svg'))), /^--svg: directory .*missing does not exist$/);
    assert.match(message(() => checkWritableFile('svg', join(dir, 'plot.svg', 'x.svg'))), /^--svg: .*plot\.svg is not a directory$/);
    assert.match(message(() => checkWritableFile('svg', dir)), /^--svg: .* is a directory$/);
    assert.is(message(() => checkWritableFile('svg', '')), '--svg needs a file name');
    // --save may name a directory still to be created, under a writable one.
    checkWritableDirectory('save', join(dir, 'a', 'b'));
    mkdirSync(join(dir, 'ckpt'));
    checkWritableDirectory('save', join(dir, 'ckpt'));
    assert.match(message(() => checkWritableDirectory('save', join(dir, 'plot.svg'))), /^--save: .*plot\.svg is not a directory$/);
    assert.match(message(() => checkWritableDirectory('save', join(dir, 'plot.svg', 'ckpt'))), /^--save: .*plot\.svg is not a directory$/);
    if (process.getuid?.() !== 0) {
      // Permissions mean nothing to root.
      const locked = join(dir, 'locked');
      mkdirSync(locked, 0o555);
      assert.match(message(() => checkWritableFile('svg', join(locked, 'x.svg'))), /^--svg: cannot write in directory /);
      assert.match(message(() => checkWritableDirectory('save', join(locked, 'ckpt'))), /^--save: cannot write in directory /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
