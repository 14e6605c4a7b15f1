// After tsc: make the CLI entry executable (npm links it as the `loopgrad` bin;
// in a checkout of loopgrad itself, `npx loopgrad` runs the package's own bin).
import { chmodSync, existsSync } from 'node:fs';

const cli = new URL('../dist/cli/loopgrad.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
