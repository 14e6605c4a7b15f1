#!/usr/bin/env node
// npm run docs:check: the published figures of README.md and docs/ that cheap commands can
// reproduce, measured again. Each figure is found in its file by the sentence that states it
// (a sentence no longer found is a failure too, so a rewritten page cannot skip its check),
// measured by the command behind it, and compared within the tolerance stated beside it.
// It exits 1 naming the file, the figure, the published and the measured value of every figure
// that no longer holds. What it runs (about 10 s; needs `npm run build` for dist/):
//   node scripts/bundle.mjs into a temporary directory     the bundle table of docs/browser.md (ESM, IIFE, worker)
//   npm pack --dry-run --json --ignore-scripts             the package size in docs/browser.md
//   spec/golden/*.safetensors counted                      README.md's "(21 of 21 files"
//   loopgrad train / diagnose / compare refusals           the memory estimates in docs/training.md, docs/compare.md
//   loopgrad train adding --lr 1e6 ... (0.3 s, seeded)     the divergence message in docs/training.md
// Slow measurements (training runs, benchmarks) are not rerun here: their pages say the command
// and the commit they were measured at.
//
// usage: node scripts/docs-check.mjs [--verbose]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/docs-check.mjs [--verbose]';
const args = process.argv.slice(2);
for (const a of args) {
  if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
  if (a !== '--verbose') { console.error(`docs-check: unknown argument ${JSON.stringify(a)}\n${USAGE}`); process.exit(2); }
}
const verbose = args.includes('--verbose');
const cliPath = join(root, 'dist/cli/loopgrad.js');
if (!existsSync(cliPath)) {
  console.error('docs-check: dist/cli/loopgrad.js is missing: run npm run build first');
  process.exit(1);
}

/** The text a command prints (stdout and stderr), whatever its exit status. */
function output(command, commandArgs) {
  const r = spawnSync(command, commandArgs, { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', LOOPGRAD_DEBUG: '' }, timeout: 120000 });
  if (r.error) throw new Error(`${command} ${commandArgs.join(' ')}: ${r.error.message}`);
  return `${r.stdout}${r.stderr}`;
}
const loopgrad = (...a) => output(process.execPath, [cliPath, ...a]);

/** A number with a unit (B, KB, kB, MB, KiB, MiB, GiB, TiB) in bytes. */
function bytes(value, unit) {
  const scale = { B: 1, KB: 1e3, kB: 1e3, MB: 1e6, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }[unit];
  if (scale === undefined) throw new Error(`unknown unit ${unit}`);
  return Number(value) * scale;
}

/** "about 44.1 GiB" in a refusal: the estimate in bytes. */
function estimate(text, label) {
  const m = /would need about ([0-9.]+) (B|KiB|MiB|GiB|TiB)/.exec(text);
  if (m === null) throw new Error(`${label} printed no estimate: ${text.split('\n')[0]}`);
  return bytes(m[1], m[2]);
}

// Measurements, each run once however many figures read it.
const cache = new Map();
const measured = (name, measure) => () => {
  if (!cache.has(name)) cache.set(name, measure());
  return cache.get(name);
};

const bundleSizes = measured('bundle', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'loopgrad-docs-check-'));
  try {
    const text = output(process.execPath, [join(root, 'scripts/bundle.mjs'), '--outdir', outdir, '--limit-kb', '100000']);
    const row = (label) => {
      const m = new RegExp(`${label}.*?(\\d+) B raw\\s+(\\d+) B gzip`).exec(text);
      if (m === null) throw new Error(`bundle.mjs printed no "${label}" row:\n${text}`);
      return { raw: Number(m[1]), gzip: Number(m[2]) };
    };
    const modules = Number(/all of lib\/ \((\d+) modules/.exec(text)?.[1]);
    return { esm: row('ESM'), iife: row('IIFE'), worker: row('worker \\(ESM'), all: row('all of lib/'), modules };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

const packed = measured('pack', () => {
  const text = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  const info = JSON.parse(text)[0];
  return { files: info.entryCount, size: info.size, unpacked: info.unpackedSize };
});

const goldenFiles = measured('golden', () => readdirSync(join(root, 'spec/golden')).filter((f) => f.endsWith('.safetensors')).length);

const within = (relative) => (published, actual) => Math.abs(actual - published) <= relative * Math.abs(published);
const exactly = (published, actual) => published === actual;
const plusMinus = (n) => (published, actual) => Math.abs(actual - published) <= n;

// A figure: where it is published, the sentence that states it (capture groups are the
// published values), what each value is measured as, and the tolerance.
const FIGURES = [
  ...[['ESM bundle', 'esm'], ['IIFE bundle', 'iife'], ['worker bundle', 'worker']].flatMap(([row, key]) => [
    { file: 'docs/browser.md', figure: `${row}, raw`, pattern: new RegExp(`\\| ${row} \\| ([0-9.]+) KB \\|`), read: (m) => bytes(m[1], 'KB'), measure: () => bundleSizes()[key].raw, tolerance: '2 %', holds: within(0.02), show: (b) => `${(b / 1000).toFixed(1)} KB` },
    { file: 'docs/browser.md', figure: `${row}, gzipped`, pattern: new RegExp(`\\| ${row} \\| [0-9.]+ KB \\| ([0-9.]+) KB \\|`), read: (m) => bytes(m[1], 'KB'), measure: () => bundleSizes()[key].gzip, tolerance: '2 %', holds: within(0.02), show: (b) => `${(b / 1000).toFixed(1)} KB` },
  ]),
  { file: 'docs/browser.md', figure: 'modules of lib/ bundled together', pattern: /\| all (\d+) modules of `lib\/` \|/, read: (m) => Number(m[1]), measure: () => bundleSizes().modules, tolerance: '± 3 modules', holds: plusMinus(3), show: String },
  { file: 'docs/browser.md', figure: 'all of lib/, gzipped', pattern: /\| all \d+ modules of `lib\/` \| [0-9.]+ KB \| ([0-9.]+) KB \|/, read: (m) => bytes(m[1], 'KB'), measure: () => bundleSizes().all.gzip, tolerance: '3 %', holds: within(0.03), show: (b) => `${(b / 1000).toFixed(1)} KB` },
  { file: 'docs/browser.md', figure: 'files in the package', pattern: /Measured: (\d+) files,/, read: (m) => Number(m[1]), measure: () => packed().files, tolerance: '10 %', holds: within(0.1), show: String },
  { file: 'docs/browser.md', figure: 'package size, packed', pattern: /Measured: \d+ files,\s+([0-9.]+) (kB|MB) packed/, read: (m) => bytes(m[1], m[2]), measure: () => packed().size, tolerance: '10 %', holds: within(0.1), show: (b) => `${(b / 1e6).toFixed(2)} MB` },
  { file: 'docs/browser.md', figure: 'package size, unpacked', pattern: /packed,\s+([0-9.]+) (kB|MB) unpacked/, read: (m) => bytes(m[1], m[2]), measure: () => packed().unpacked, tolerance: '10 %', holds: within(0.1), show: (b) => `${(b / 1e6).toFixed(2)} MB` },
  { file: 'README.md', figure: 'golden files in spec/golden', pattern: /\((\d+) of (\d+) files:/, read: (m) => Number(m[2]), measure: goldenFiles, tolerance: 'exact', holds: exactly, show: String },
  { file: 'README.md', figure: 'golden files passing', pattern: /\((\d+) of (\d+) files:/, read: (m) => Number(m[1]), measure: measured('golden-run', () => Number(/(\d+) passed, 0 failed/.exec(output(process.execPath, [join(root, 'dist/scripts/golden.js')]))?.[1] ?? -1)), tolerance: 'exact', holds: exactly, show: String },
  // The memory estimates are deterministic: 1 % covers the published rounding ("about 44 GiB" for 44.1), no more.
  { file: 'docs/training.md', figure: 'estimate of train adding --steps 1000000 --hidden 8 --batch 1', pattern: /`train adding --steps 1000000 --hidden 8 --batch 1` needs about ([0-9.]+) (GiB|TiB)/, read: (m) => bytes(m[1], m[2]), measure: () => estimate(loopgrad('train', 'adding', '--steps', '1000000', '--hidden', '8', '--batch', '1'), 'train'), tolerance: '1 %', holds: within(0.01), show: (b) => `${(b / 2 ** 30).toFixed(1)} GiB` },
  { file: 'docs/training.md', figure: 'estimate of train adding --batch 100000', pattern: /`--batch 100000` ([0-9.]+) (GiB|TiB)/, read: (m) => bytes(m[1], m[2]), measure: () => estimate(loopgrad('train', 'adding', '--batch', '100000'), 'train'), tolerance: '1 %', holds: within(0.01), show: (b) => `${(b / 2 ** 30).toFixed(1)} GiB` },
  { file: 'docs/training.md', figure: 'estimate of diagnose --steps 1000000000', pattern: /`diagnose --steps 1000000000` ([0-9.]+) (GiB|TiB)/, read: (m) => bytes(m[1], m[2]), measure: () => estimate(loopgrad('diagnose', '--steps', '1000000000'), 'diagnose'), tolerance: '1 %', holds: within(0.01), show: (b) => `${(b / 2 ** 40).toFixed(1)} TiB` },
  { file: 'docs/compare.md', figure: 'estimate of compare --cell lstm --hidden 300 --method rtrl', pattern: /rtrl at hidden 300 would need about ([0-9.]+) (GiB)/, read: (m) => bytes(m[1], m[2]), measure: () => estimate(loopgrad('compare', '--cell', 'lstm', '--hidden', '300', '--method', 'rtrl'), 'compare'), tolerance: '1 %', holds: within(0.01), show: (b) => `${(b / 2 ** 30).toFixed(1)} GiB` },
  // Seeded and bit-reproducible (portable math): the message itself, to the printed digits.
  { file: 'docs/training.md', figure: 'the divergence stop of train adding --lr 1e6', pattern: /stops in batch (\d+) with "(the loss [0-9.e+]+\s+is over 1e\+4 times the first batch's [0-9.]+)/, read: (m) => `batch ${m[1]}: ${m[2].replace(/\s+/g, ' ')}`, measure: measured('diverge', () => {
    const text = loopgrad('train', 'adding', '--optimizer', 'adam', '--lr', '1e6', '--iterations', '50', '--steps', '10', '--hidden', '8', '--quiet');
    const m = /stopped in batch (\d+) \(after \d+ updates\): (the loss \S+ is over 1e\+4 times the first batch's [0-9.]+)/.exec(text);
    return m === null ? `no divergence stop: ${text.trim().split('\n').pop()}` : `batch ${m[1]}: ${m[2]}`;
  }), tolerance: 'exact text', holds: exactly, show: String },
];

let failed = 0;
const started = Date.now();
const texts = new Map();
for (const f of FIGURES) {
  if (!texts.has(f.file)) texts.set(f.file, readFileSync(join(root, f.file), 'utf8'));
  const m = f.pattern.exec(texts.get(f.file));
  if (m === null) {
    console.error(`docs-check: ${f.file}: ${f.figure}: not found (the sentence that states it changed: update the pattern in scripts/docs-check.mjs with it)`);
    failed++;
    continue;
  }
  const published = f.read(m);
  let actual;
  try {
    actual = f.measure();
  } catch (e) {
    console.error(`docs-check: ${f.file}: ${f.figure}: cannot measure: ${e instanceof Error ? e.message : String(e)}`);
    failed++;
    continue;
  }
  const ok = f.holds(published, actual);
  if (!ok) {
    console.error(`docs-check: ${f.file}: ${f.figure}: published ${f.show(published)}, measured ${f.show(actual)} (tolerance ${f.tolerance})`);
    failed++;
  } else if (verbose) {
    console.log(`docs-check: ok ${f.file}: ${f.figure}: published ${f.show(published)}, measured ${f.show(actual)} (tolerance ${f.tolerance})`);
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failed > 0) {
  console.error(`docs-check: ${failed} of ${FIGURES.length} published figures do not hold (${seconds} s)`);
  process.exit(1);
}
console.log(`docs-check: ${FIGURES.length} published figures hold (${seconds} s)`);
