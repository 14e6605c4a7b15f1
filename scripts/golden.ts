// Checks loopgrad against the golden files PyTorch wrote (spec/golden, copied unchanged
// from the workplace's shared/golden).
//   npm run golden -- [dir or files...]   (default: spec/golden)
// Prints, per file, the largest relative error of every tensor it checks, then
// "N passed, M failed, K unsupported"; exits 1 when any file fails (a file
// also fails when one of its expected/* or grad/* tensors was not compared),
// 2 when there is no golden file to check.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readSafetensors, type Tensor } from '../lib/io/safetensors.js';
import { checkRnnFile, checkRtrlFile, checkCtcFile, checkMdrnnFile, type Comparison, Unsupported } from './golden-kinds.js';

export interface FileReport {
  file: string;
  status: 'passed' | 'failed' | 'unsupported';
  comparisons: Comparison[];
  note?: string;
}

export function checkGoldenFile(path: string): FileReport {
  const file = basename(path);
  let tensors: Map<string, Tensor>, metadata: Record<string, string>;
  try {
    ({ tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(path))));
  } catch (e) {
    return { file, status: 'failed', comparisons: [], note: (e as Error).message };
  }
  const tolerance = metadata.dtype === 'float32' || [...tensors.values()].some((t) => t.dtype === 'F32') ? 1e-4 : 1e-9;
  try {
    let comparisons: Comparison[];
    switch (metadata.kind) {
      case 'rnn': comparisons = checkRnnFile(tensors, metadata); break;
      case 'rtrl': comparisons = checkRtrlFile(tensors, metadata); break;
      case 'ctc': comparisons = checkCtcFile(tensors, metadata); break;
      case 'mdrnn': comparisons = checkMdrnnFile(tensors, metadata); break;
      default: throw new Unsupported(`kind "${metadata.kind}" is not supported yet`);
    }
    const failed = comparisons.some((c) => !(c.relError <= tolerance));
    const missed = uncompared(tensors.keys(), comparisons);
    const report: FileReport = { file, status: failed || missed.length > 0 ? 'failed' : 'passed', comparisons: comparisons.map((c) => ({ ...c, tolerance })) };
    if (missed.length > 0) report.note = `not compared: ${missed.join(', ')}`;
    return report;
  } catch (e) {
    if (e instanceof Unsupported) return { file, status: 'unsupported', comparisons: [], note: e.message };
    return { file, status: 'failed', comparisons: [], note: (e as Error).message };
  }
}

/**
 * The reference tensors of a file (expected/* and grad/*) that no comparison
 * checked: a file passes only when everything PyTorch wrote down was matched.
 */
export function uncompared(names: Iterable<string>, comparisons: readonly Comparison[]): string[] {
  const compared = new Set(comparisons.map((c) => c.name));
  return [...names].filter((n) => (n.startsWith('expected/') || n.startsWith('grad/')) && !compared.has(n)).sort();
}

export function goldenFiles(targets: readonly string[]): string[] {
  const files: string[] = [];
  for (const target of targets) {
    if (statSync(target).isDirectory()) {
      for (const f of readdirSync(target).sort()) if (f.endsWith('.safetensors')) files.push(join(target, f));
    } else {
      files.push(target);
    }
  }
  return files;
}

export function formatReport(r: FileReport): string {
  const lines = [`${r.status.toUpperCase().padEnd(11)} ${r.file}${r.note ? `  (${r.note})` : ''}`];
  for (const c of r.comparisons) {
    lines.push(`    ${c.name.padEnd(28)} max rel error ${c.relError.toExponential(2)}${c.relError <= (c.tolerance ?? 0) ? '' : '  > tolerance'}`);
  }
  return lines.join('\n');
}

const USAGE = 'usage: npm run golden -- [dir or file.safetensors ...]   (default: spec/golden; -- ends the options)';

function main(argv: string[]): number {
  const end = argv.indexOf('--');
  const options = end < 0 ? argv.filter((a) => a.startsWith('-')) : argv.slice(0, end).filter((a) => a.startsWith('-'));
  if (options.includes('-h') || options.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  // golden takes no options: a word starting with - is a mistyped one, not a file named so (write ./-x or put it after --).
  if (options.length > 0) {
    console.error(`golden: unknown option ${options[0]}\n${USAGE}`);
    return 2;
  }
  const paths = end < 0 ? argv : [...argv.slice(0, end), ...argv.slice(end + 1)];
  const targets = paths.length > 0 ? paths : [fileURLToPath(new URL('../../spec/golden', import.meta.url))];
  let files: string[];
  try {
    files = goldenFiles(targets);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(`golden: ${err.code === 'ENOENT' && typeof err.path === 'string' ? `${err.path} does not exist` : err.message}\n${USAGE}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`golden: no golden files (*.safetensors) in ${targets.join(', ')}; nothing was checked`);
    return 2;
  }
  const counts = { passed: 0, failed: 0, unsupported: 0 };
  for (const f of files) {
    const report = checkGoldenFile(f);
    counts[report.status]++;
    console.log(formatReport(report));
  }
  console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.unsupported} unsupported`);
  return counts.failed > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main(process.argv.slice(2));
}
