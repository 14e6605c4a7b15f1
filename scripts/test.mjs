// npm test: a clean type-check of lib/ on its own (no Node types) and a compile of
// everything into build/, then
// every uvu suite under build/spec, ending with one "N passed, M failed" line.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const pattern = process.argv[2] ?? '';

rmSync(`${root}build`, { recursive: true, force: true });
// lib/ alone, with no Node or DOM types: it must run in any JavaScript engine.
const tscLib = spawnSync(bin('tsc'), ['-p', 'tsconfig.lib.json'], { cwd: root, stdio: 'inherit' });
const tsc = spawnSync(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (tscLib.status !== 0 || tsc.status !== 0) {
  console.error('type-check failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
// A hang guard, not a speed check: the suite takes a few minutes on 2 cores; a spec that never
// ends (a quadratic reader, a deadlock) fails the run here instead of holding CI to its limit.
const SUITE_LIMIT_MS = 20 * 60_000;
const uvu = spawnSync(bin('uvu'), ['build/spec', `${pattern}.*\\.spec\\.js$`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, timeout: SUITE_LIMIT_MS, killSignal: 'SIGKILL' });
if (uvu.error?.code === 'ETIMEDOUT' || uvu.signal === 'SIGKILL') {
  process.stdout.write(uvu.stdout ?? '');
  console.error(`test: the specs did not finish within ${SUITE_LIMIT_MS / 60_000} minutes; stopped`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
process.stdout.write(uvu.stdout);
process.stderr.write(uvu.stderr);
const plain = uvu.stdout.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const failed = uvu.status === 0 ? total - passed - skipped : Math.max(1, total - passed - skipped);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
// A suite that stops early (uvu exiting 0 with fewer passed than counted) is a failure too.
process.exit(uvu.status === 0 && total > 0 && failed === 0 ? 0 : 1);
