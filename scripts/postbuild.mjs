// After tsc: make the CLI entry executable, and in a development checkout link
// it as node_modules/.bin/loopgrad so that `npx loopgrad` works right after
// `npm install` (npm links a package's bin for its dependents, not for itself).
import { chmodSync, existsSync, mkdirSync, symlinkSync, lstatSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/loopgrad.js`;
if (existsSync(cli)) chmodSync(cli, 0o755);

const isDevCheckout = existsSync(`${root}node_modules/typescript`) && !root.includes('/node_modules/');
if (existsSync(cli) && isDevCheckout) {
  const binDir = `${root}node_modules/.bin`;
  mkdirSync(binDir, { recursive: true });
  const link = `${binDir}/loopgrad`;
  try { if (lstatSync(link)) unlinkSync(link); } catch { /* absent */ }
  symlinkSync('../../dist/cli/loopgrad.js', link);
}
