#!/usr/bin/env node
// The CommonJS build beside the ES modules, for `require('loopgrad')` and TypeScript projects
// compiled to CommonJS. It mirrors dist/lib module for module, not one bundle per face:
//   dist/cjs/**/*.cjs     every lib/**/*.ts converted by esbuild to CommonJS; each import stays
//                         an import of the sibling module (./x.js becomes require('./x.cjs'))
//   dist/cjs/**/*.d.cts   tsc's declarations from dist/lib, with ./x.js specifiers as ./x.cjs
// One module graph for every face, so `require('loopgrad/train')` and `require('loopgrad')`
// share lib/errors.cjs and an error thrown under one face is `instanceof` the other's class.
// (A process that loads both the ESM and the CJS build has two copies of every class: the
// dual-package hazard. Pick one way of loading loopgrad per program.)
//
// Runs after tsc -p tsconfig.dist.json (it needs the .d.ts files). usage: node scripts/cjs.mjs
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const libDir = join(root, 'lib');
const declDir = join(root, 'dist/lib');
const outDir = join(root, 'dist/cjs');

function walk(dir, keep) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...walk(path, keep));
    else if (keep(name)) found.push(path);
  }
  return found;
}

/** './x.js' -> './x.cjs' for relative specifiers; anything else is left alone. */
const toCjs = (specifier) => (specifier.startsWith('.') ? specifier.replace(/\.js$/, '.cjs') : specifier);

// Every import is external and renamed: esbuild converts the syntax, the files stay one per module.
const siblings = {
  name: 'cjs-siblings',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (!args.path.startsWith('.')) throw new Error(`${relative(root, args.importer)} imports ${args.path}: lib/ has no dependencies`);
      return { path: toCjs(args.path), external: true };
    });
  },
};

async function main() {
  try {
    statSync(join(declDir, 'index.d.ts'));
  } catch {
    console.error('cjs: dist/lib/index.d.ts is missing: run tsc -p tsconfig.dist.json first');
    process.exit(1);
  }
  rmSync(outDir, { recursive: true, force: true });
  const sources = walk(libDir, (n) => n.endsWith('.ts') && !n.endsWith('.d.ts'));
  await build({
    entryPoints: sources,
    outdir: outDir,
    outbase: libDir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['es2022'],
    logLevel: 'warning',
    plugins: [siblings],
    absWorkingDir: root,
  });

  // Declarations: the same text, each relative specifier pointing at its .cjs sibling.
  const specifier = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.[^'"]*)\2/g;
  const declarations = walk(declDir, (n) => n.endsWith('.d.ts'));
  for (const path of declarations) {
    const text = readFileSync(path, 'utf8').replace(specifier, (_, lead, quote, spec) => `${lead}${quote}${toCjs(spec)}${quote}`);
    const target = join(outDir, relative(declDir, path)).replace(/\.d\.ts$/, '.d.cts');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  console.log(`cjs: ${sources.length} modules and ${declarations.length} declaration files in ${relative(root, outDir)}/`);
}

main().catch((err) => {
  console.error(`cjs: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
