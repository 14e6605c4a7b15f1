// Every error lib/ throws on purpose is typed (ShapeError, ConfigError, FormatError, ResourceError
// from lib/mat/errors.ts), so a caller can tell them apart without parsing messages. This suite
// reads the TypeScript sources of lib/ as text and fails, naming the file and line, when a plain
// `new Error(` (or an engine error class) appears outside the short allow-list below, so the
// typing cannot silently regress.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { sourceFiles, repoRoot as sharedRepoRoot } from './lib-sources.js';

/**
 * The files that may still construct plain errors, with how many sites each and why. Only
 * internal invariants stay plain: a bug in loopgrad, never the caller's fault, so no caller
 * could act on a typed kind. Each count is exact: a converted site lowers it, a new one fails.
 */
const ALLOWED: Readonly<Record<string, { readonly sites: number; readonly why: string }>> = {
  'lib/rnn/snap.ts': { sites: 1, why: 'internal invariant: a state tangent that is not dense' },
  'lib/rnn/snap-pattern.ts': { sites: 1, why: 'internal invariant: an entry missing from its own pattern' },
  'lib/rnn/kf-rtrl.ts': { sites: 1, why: 'internal invariant: the elman state always has a dense tangent' },
  'lib/rnn/uoro.ts': { sites: 1, why: 'internal invariant: no leaf of the step carries a seed tangent' },
};

/** `new Error(`, and the engine's own classes, which lib/ should not throw on purpose either. */
const PLAIN = /(?<![\w$.])new\s+(?:Error|TypeError|RangeError|SyntaxError|ReferenceError)\s*\(/g;

/** The source with comments and the contents of '...' and "..." blanked (newlines kept). */
function codeOnly(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i], next = source[i + 1];
    if (ch === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') { out += ' '; i++; }
    } else if (ch === '/' && next === '*') {
      while (i < source.length && !(source[i] === '*' && source[i + 1] === '/')) { out += source[i] === '\n' ? '\n' : ' '; i++; }
      out += '  ';
      i += 2;
    } else if (ch === '\'' || ch === '"') {
      out += ch;
      i++;
      while (i < source.length && source[i] !== ch && source[i] !== '\n') {
        out += source[i] === '\\' ? '  ' : ' ';
        i += source[i] === '\\' ? 2 : 1;
      }
      if (i < source.length) { out += source[i]; i++; }
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** The 1-based lines of every plain error constructed in one source file. */
export function plainErrorLines(source: string): number[] {
  const code = codeOnly(source);
  return [...code.matchAll(PLAIN)].map((m) => code.slice(0, m.index).split('\n').length);
}

const tsFiles = (dir: string): string[] => sourceFiles(dir, /\.ts$/);
const repoRoot = (): string => sharedRepoRoot('typed-errors', import.meta.url);

test('the scanner finds plain errors in code, not in comments or strings', () => {
  const source = [
    'const a = 1; // throw new Error(`x: y`)',
    '/* return new Error(\'x\') */',
    "const s = 'new Error(';",
    'if (bad) throw new Error(`op: ${value}`);',
    'throw new RangeError("op: too big");',
    'throw new ShapeError(\'op\', `a is ${shapeOf(a)}`);',
    'const e = new ConfigError(op, \'bad\'); const f = new   Error (`op: z`);',
    'class MyError extends Error {} throw new MyError();',
  ].join('\n');
  assert.equal(plainErrorLines(source), [4, 5, 7]);
});

test('lib/ constructs no plain Error outside the allow-list, and the allow-list has no stale entry', () => {
  const root = repoRoot();
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const file of tsFiles(join(root, 'lib'))) {
    const rel = relative(root, file).split(sep).join('/');
    const lines = plainErrorLines(readFileSync(file, 'utf8'));
    if (lines.length === 0) continue;
    seen.add(rel);
    const allowed = ALLOWED[rel];
    const where = `${rel}:${lines.join(',')}`;
    if (allowed === undefined) {
      problems.push(`${where}: ${lines.length} plain Error(s); throw a ShapeError, ConfigError, FormatError or ResourceError (lib/mat/errors.ts) instead`);
    } else if (lines.length > allowed.sites) {
      problems.push(`${where}: ${lines.length} plain Error(s), the allow-list grants ${allowed.sites} (${allowed.why}); type the new one`);
    } else if (lines.length < allowed.sites) {
      problems.push(`${where}: ${lines.length} plain Error(s), fewer than the ${allowed.sites} the allow-list grants: lower it`);
    }
  }
  for (const rel of Object.keys(ALLOWED)) {
    if (!seen.has(rel)) problems.push(`${rel}: in the allow-list but has no plain Error left: remove the entry`);
  }
  assert.equal(problems, [], problems.join('\n'));
});

test('typed errors take the op apart from the message, never the whole "op: message" as the op', () => {
  const root = repoRoot();
  const problems: string[] = [];
  for (const file of tsFiles(join(root, 'lib'))) {
    const source = readFileSync(file, 'utf8');
    const code = codeOnly(source);
    for (const m of code.matchAll(/(?<![\w$.])new\s+(ShapeError|ConfigError|FormatError|ResourceError)\s*\(\s*(\S)/g)) {
      // The op comes first: a name, a quoted op or a template, never the whole "op: message" text.
      const line = code.slice(0, m.index).split('\n').length;
      const rest = source.slice((m.index ?? 0) + m[0].length - 1, (m.index ?? 0) + m[0].length + 200);
      if (/^['`][^'`]*: /.test(rest)) problems.push(`${relative(root, file)}:${line}: ${m[1]}'s op holds "op: ": pass the op and the message apart`);
    }
  }
  assert.equal(problems, [], problems.join('\n'));
});

test.run();
