// lib/ runs in browsers: it may import no Node built-in, touch no Node-only
// global and draw no Math.random (randomness goes through the seeded Rng).
// This suite scans the TypeScript sources of lib/ and fails naming the file,
// the line and what it found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { sourceFiles, repoRoot as sharedRepoRoot } from './lib-sources.js';

interface Finding {
  line: number;
  what: string;
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

function isNodeBuiltin(specifier: string): boolean {
  if (specifier.startsWith('node:')) return true;
  return BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]);
}

/**
 * The source with comments replaced by spaces (newlines kept, so line numbers
 * hold). Quoted strings are kept, so import specifiers stay readable, unless
 * blankStrings: then their contents become spaces too (template literals are
 * always kept, since their ${} parts are code).
 */
export function stripComments(source: string, blankStrings = false): string {
  let out = '';
  let i = 0;
  const n = source.length;
  while (i < n) {
    const ch = source[i];
    const next = source[i + 1];
    if (ch === '/' && next === '/') {
      while (i < n && source[i] !== '\n') { out += ' '; i++; }
    } else if (ch === '/' && next === '*') {
      out += '  ';
      i += 2;
      while (i < n && !(source[i] === '*' && source[i + 1] === '/')) { out += source[i] === '\n' ? '\n' : ' '; i++; }
      if (i < n) { out += '  '; i += 2; }
    } else if (ch === '\'' || ch === '"' || ch === '`') {
      const blank = blankStrings && ch !== '`';
      out += ch;
      i++;
      while (i < n && source[i] !== ch) {
        if (source[i] === '\\' && i + 1 < n) { out += blank ? '  ' : source[i] + source[i + 1]; i += 2; continue; }
        if (ch !== '`' && source[i] === '\n') break; // unterminated: stop at the line end
        out += blank ? ' ' : source[i];
        i++;
      }
      if (i < n) { out += source[i]; i++; }
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

// import x from 'm' / import 'm' / export ... from 'm' / import('m') / require('m')
const SPECIFIER_PATTERNS: RegExp[] = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
  /\bimport\s*(['"])([^'"]+)\1/g,
  /\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g,
  /\brequire\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g,
];

// Math functions whose last bit differs between engines: lib/ uses lib/mat/math.ts instead,
// so a seeded run gives the same bits in Node and in every browser.
const ENGINE_MATH = 'an engine-dependent Math function (use lib/mat/math.ts: same bits in every engine)';
const PORTABLE_MATH_FILE = join('lib', 'mat', 'math.ts');

// Node-only globals and the unseeded generator, outside comments and strings
// (inString: the pattern needs the string's contents, as in Math['random']).
const FORBIDDEN: { pattern: RegExp; what: string; inString?: boolean }[] = [
  {
    pattern: /\bMath\s*\.\s*(?:exp|expm1|log|log1p|log2|log10|tanh|sinh|cosh|pow|sin|cos|tan|atan|atan2|asin|acos|cbrt|hypot)\b/g,
    what: ENGINE_MATH,
  },
  { pattern: /\bMath\s*\.\s*random\b/g, what: 'Math.random (use Rng from lib/mat/rng.ts)' },
  { pattern: /\bMath\s*\[\s*(['"`])random\1\s*\]/g, what: 'Math.random (use Rng from lib/mat/rng.ts)', inString: true },
  { pattern: /(?<![.\w$])require\s*\(/g, what: 'require() (lib/ is ESM and browser-only)' },
  { pattern: /(?<![.\w$])process\s*\./g, what: 'the Node global process' },
  { pattern: /(?<![.\w$])Buffer\s*[.(]/g, what: 'the Node global Buffer' },
  { pattern: /(?<![.\w$])__(?:dirname|filename)\b/g, what: '__dirname/__filename' },
];

/** Everything in one source file that would stop it from running in a browser. */
export function scanSource(source: string): Finding[] {
  const code = stripComments(source);
  const findings: Finding[] = [];
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const specifier = m[2];
      if (isNodeBuiltin(specifier)) findings.push({ line: lineOf(code, m.index ?? 0), what: `imports the Node built-in "${specifier}"` });
    }
  }
  const bare = stripComments(source, true);
  for (const { pattern, what, inString } of FORBIDDEN) {
    for (const m of (inString ? code : bare).matchAll(pattern)) findings.push({ line: lineOf(code, m.index ?? 0), what: `uses ${what}` });
  }
  return findings.sort((a, b) => a.line - b.line);
}

const tsFiles = (dir: string): string[] => sourceFiles(dir, /\.(?:ts|mts|cts|js|mjs)$/);
const repoRoot = (): string => sharedRepoRoot('no-node-builtins', import.meta.url);

test('the scanner flags Node built-in imports in every import form', () => {
  const cases: [string, string][] = [
    [`import { readFileSync } from 'node:fs';`, 'node:fs'],
    [`import fs from "fs";`, 'fs'],
    [`import * as path from 'path';`, 'path'],
    [`export { join } from 'node:path';`, 'node:path'],
    [`export * from "crypto";`, 'crypto'],
    [`import 'worker_threads';`, 'worker_threads'],
    [`const m = await import('fs/promises');`, 'fs/promises'],
    [`import {\n  type Stats,\n  statSync,\n} from 'fs';`, 'fs'],
    [`import type { Readable } from 'node:stream';`, 'node:stream'],
  ];
  for (const [source, specifier] of cases) {
    const found = scanSource(source);
    assert.is(found.length, 1, `expected one finding in ${JSON.stringify(source)}, got ${JSON.stringify(found)}`);
    assert.ok(found[0].what.includes(`"${specifier}"`), found[0].what);
  }
});

test('the scanner flags Math.random and Node globals, with line numbers', () => {
  const source = [
    `const a = 1;`,
    `const u = Math.random();`,
    `const v = Math['random']();`,
    `const w = require('./x.js');`,
    `const env = process.env.HOME;`,
    `const b = Buffer.from([1]);`,
    `const d = __dirname;`,
  ].join('\n');
  const found = scanSource(source);
  assert.equal(found.map((f) => f.line), [2, 3, 4, 5, 6, 7]);
  assert.ok(found[0].what.includes('Math.random'));
});

test('the scanner flags engine-dependent Math functions but not Math.sqrt', () => {
  const found = scanSource(['const a = Math.exp(1);', 'const b = Math.sqrt(2);', 'const c = Math . tanh(3);'].join('\n'));
  assert.equal(found.map((f) => f.line), [1, 3]);
  assert.ok(found.every((f) => f.what.includes('engine-dependent')));
});

test('the scanner ignores comments, relative imports and look-alike names', () => {
  const source = [
    `// never Math.random(); never import fs from 'fs'`,
    `/* require('fs') and process.exit() live only in cli/ */`,
    `import { mat } from '../mat/mat.js';`,
    `import type { Rng } from './rng.js';`,
    `export { gemm } from './gemm.js';`,
    `const text = "a // not a comment";`,
    `const s = 'Math.random is not called here';`,
    `obj.process.run(); myRequire(3); preprocess.x = 1; const fsLike = 'fs';`,
  ].join('\n');
  assert.equal(scanSource(source), []);
});

test('stripComments keeps line numbers and string contents', () => {
  const source = `a /* x\ny */ b // z\n'c // d' "e /* f */"`;
  const stripped = stripComments(source);
  assert.is(stripped.split('\n').length, source.split('\n').length);
  assert.ok(stripped.includes(`'c // d'`));
  assert.ok(stripped.includes(`"e /* f */"`));
  assert.not.ok(stripped.includes('x'));
  assert.not.ok(stripped.includes('z'));
  const bare = stripComments(source, true);
  assert.not.ok(bare.includes('c // d'));
  assert.is(bare.length, source.length);
});

test('no file under lib/ imports a Node built-in, uses a Node global, Math.random or an engine-dependent Math function', () => {
  const root = repoRoot();
  const files = tsFiles(join(root, 'lib'));
  assert.ok(files.length >= 10, `expected the sources of lib/, found only ${files.length} files under ${join(root, 'lib')}`);
  const problems: string[] = [];
  for (const file of files) {
    for (const f of scanSource(readFileSync(file, 'utf8'))) {
      if (relative(root, file) === PORTABLE_MATH_FILE && f.what.includes(ENGINE_MATH)) continue;
      problems.push(`${relative(root, file)}:${f.line}: ${f.what}`);
    }
  }
  assert.equal(problems, [], `lib/ must run in browsers:\n${problems.join('\n')}`);
});

test.run();
