#!/usr/bin/env node
// Browser bundles of loopgrad, built with esbuild straight from the TypeScript
// sources (so the source maps point at lib/*.ts):
//   dist/browser/loopgrad.min.mjs   minified ES module (import * as loopgrad from ...)
//   dist/browser/loopgrad.min.js    minified IIFE that defines the global `loopgrad`
//   dist/browser/loopgrad-worker.js minified ES module a Web Worker runs: serveWebWorker(globalThis)
//                                   of lib/parallel/web-worker.ts, the worker side of
//                                   loopgrad.parallel.createWebPool (lib/parallel/web-host.ts)
// each with an external .map. The page bundles find the worker bundle beside themselves: each
// defines LOOPGRAD_BUNDLE_URL (web-host.ts) as its own URL, import.meta.url for the ES module,
// document.currentScript.src (read while the script runs) for the IIFE. It prints raw and gzipped sizes, and also the
// size of every module under lib/ bundled together (the whole library, whether
// or not the public entry exports it). It exits 1 when either gzipped size is
// over the budget (120 KB = 120 000 bytes unless --limit-kb says otherwise). The budget was 60 KB
// until the network object (fit/predict/generate/save, its data forms, seq2seq and beam search,
// the bigram baseline) and the online approximations of RTRL (SnAp, UORO, KF-RTRL) joined the
// bundle: 90.4 KB with them. It was 100 KB until the Web Worker pool (the `parallel` namespace),
// RTRL's column blocks (its threaded split, lib/rnn/rtrl-columns.ts), UORO's one-pass step and
// SnAp-1's fused pass joined: 103.9 KB with them. It was 110 KB until `threads` came to browsers
// (enableWebThreads: the threaded BPTT, TBPTT and RTRL engines and their watcher, 7 KB).
//
// usage: node scripts/bundle.mjs [--entry lib/browser.ts] [--outdir dist/browser]
//                                [--limit-kb 120] [--top N] [--quiet]
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/bundle.mjs [--entry lib/browser.ts] [--outdir dist/browser] [--limit-kb 120] [--top N] [--quiet]';

function parseOptions(argv) {
  const options = { entry: 'lib/browser.ts', outdir: 'dist/browser', limitKb: 120, top: 0, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usageError(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--entry': options.entry = value(); break;
      case '--outdir': options.outdir = value(); break;
      case '--limit-kb': {
        const v = value();
        options.limitKb = Number(v);
        if (!(options.limitKb > 0)) usageError(`--limit-kb must be a positive number, got ${JSON.stringify(v)}`);
        break;
      }
      case '--top': {
        const v = value();
        options.top = Number(v);
        if (!Number.isInteger(options.top) || options.top < 0) usageError(`--top must be a non-negative integer, got ${JSON.stringify(v)}`);
        break;
      }
      case '--quiet': options.quiet = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: usageError(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  return options;
}

function usageError(message) {
  console.error(`bundle: ${message}\n${USAGE}`);
  process.exit(2);
}

/** Every .ts module under dir (declarations excluded), sorted. */
function libModules(dir) {
  const found = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) found.push(path);
    }
  };
  walk(dir);
  return found;
}

const formatKb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const entry = resolve(root, options.entry);
  const outdir = resolve(root, options.outdir);
  try {
    statSync(entry);
  } catch {
    console.error(`bundle: entry ${relative(root, entry)} does not exist`);
    process.exit(1);
  }
  mkdirSync(outdir, { recursive: true });
  const limitBytes = Math.round(options.limitKb * 1000);
  const common = {
    bundle: true,
    minify: true,
    sourcemap: 'external',
    sourcesContent: true,
    target: ['es2022'],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: root,
  };
  const outputs = [
    { label: 'ESM', file: join(outdir, 'loopgrad.min.mjs'), format: 'esm', platform: 'neutral', define: { LOOPGRAD_BUNDLE_URL: 'import.meta.url' } },
    { label: 'IIFE (global loopgrad)', file: join(outdir, 'loopgrad.min.js'), format: 'iife', platform: 'browser', globalName: 'loopgrad', define: { LOOPGRAD_BUNDLE_URL: 'document.currentScript.src' } },
    {
      label: 'worker (ESM, Web Worker)', file: join(outdir, 'loopgrad-worker.js'), format: 'esm', platform: 'browser',
      stdin: { contents: "import { serveWebWorker } from './parallel/web-worker.js';\nserveWebWorker(globalThis);\n", resolveDir: join(root, 'lib'), sourcefile: 'loopgrad-worker.ts', loader: 'ts' },
    },
  ];
  const rows = [];
  let esmMeta = null;
  for (const out of outputs) {
    const result = await build({
      ...common,
      ...(out.stdin ? { stdin: out.stdin } : { entryPoints: [entry] }),
      outfile: out.file,
      format: out.format,
      platform: out.platform,
      ...(out.define ? { define: out.define } : {}),
      ...(out.globalName ? { globalName: out.globalName } : {}),
    });
    if (out.format === 'esm' && !out.stdin) esmMeta = result.metafile;
    const code = readFileSync(out.file);
    rows.push({ label: out.label, file: relative(root, out.file), raw: code.length, gzip: gzipSync(code, { level: 9 }).length });
  }

  // The whole of lib/: every module re-exported under its own namespace, so
  // nothing is tree-shaken away and no two exports collide.
  const libDir = join(root, 'lib');
  const modules = libModules(libDir);
  const contents = modules
    .map((path, i) => `export * as m${i} from ${JSON.stringify('./' + relative(libDir, path).split('\\').join('/'))};`)
    .join('\n');
  const all = await build({
    ...common,
    metafile: false,
    sourcemap: false,
    write: false,
    stdin: { contents, resolveDir: libDir, sourcefile: 'all-of-lib.ts', loader: 'ts' },
    format: 'esm',
    platform: 'neutral',
  });
  const allCode = all.outputFiles[0].contents;
  rows.push({ label: `all of lib/ (${modules.length} modules, not written)`, file: '-', raw: allCode.length, gzip: gzipSync(allCode, { level: 9 }).length });

  if (!options.quiet) {
    const width = Math.max(...rows.map((r) => r.label.length));
    console.log(`bundle: esbuild, minified, target es2022, entry ${relative(root, entry)}; gzip level 9; budget ${formatKb(limitBytes)} gzipped`);
    for (const r of rows) {
      console.log(`  ${r.label.padEnd(width)}  ${String(r.raw).padStart(8)} B raw  ${String(r.gzip).padStart(7)} B gzip (${formatKb(r.gzip)})  ${r.file}`);
    }
    if (options.top > 0 && esmMeta !== null) {
      const output = Object.values(esmMeta.outputs).find((o) => o.entryPoint !== undefined);
      const inputs = Object.entries(output.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, options.top);
      console.log(`  largest modules in the ESM bundle (minified bytes before gzip):`);
      for (const [name, info] of inputs) console.log(`    ${String(info.bytesInOutput).padStart(8)}  ${name}`);
    }
  }
  // The budget is on the bundles a page loads (and the worker's); the whole-library row is for scale only.
  const over = rows.filter((r) => r.file !== '-' && r.gzip > limitBytes);
  if (over.length > 0) {
    for (const r of over) console.error(`bundle: ${r.label} is ${r.gzip} bytes gzipped, over the ${limitBytes}-byte budget`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
