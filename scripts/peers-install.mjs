// npm run peers:install: installs the benchmark peers (bench/peers/package.json: tfjs with its
// wasm backend, brain.js, jax-js, exact versions) into bench/peers/node_modules, for
// `loopgrad bench lstm --peers`. They are never dependencies of loopgrad: the root `npm ci`
// and CI never install them, and nothing under bench/peers/node_modules is compiled, tested
// or packed. Install scripts are not run (no peer needs one: tfjs ships its .wasm files).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../bench/peers/', import.meta.url));
const locked = existsSync(`${dir}package-lock.json`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const args = [locked ? 'ci' : 'install', '--ignore-scripts', '--no-audit', '--no-fund', ...process.argv.slice(2)];
console.log(`peers-install: npm ${args.join(' ')} in ${dir}`);
const run = spawnSync(npm, args, { cwd: dir, stdio: 'inherit' });
if (run.error !== undefined) {
  console.error(`peers-install: could not run npm: ${run.error.message}`);
  process.exit(1);
}
if (run.status !== 0) {
  console.error(`peers-install: npm exited with status ${run.status}; the peers are not (all) installed`);
  process.exit(run.status ?? 1);
}
console.log('peers-install: done; run `node dist/cli/loopgrad.js bench lstm --peers` (after `npx tsc -p tsconfig.dist.json`)');
