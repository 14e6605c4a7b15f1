// The repository's lib/ sources, read as text by the spec/build suites that scan them
// (no-node-builtins, typed-errors): one place to find the root and walk the tree.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The source files under dir (recursively, sorted), whose names match `names`; never .d.ts. */
export function sourceFiles(dir: string, names: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path, names));
    else if (names.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The repository root (the first ancestor holding lib/ and package.json): from build/spec/build or spec/build. */
export function repoRoot(suite: string, from: string): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 5; i++) {
    try {
      if (statSync(join(dir, 'lib')).isDirectory() && statSync(join(dir, 'package.json')).isFile()) return dir;
    } catch { /* keep climbing */ }
    dir = resolve(dir, '..');
  }
  throw new Error(`${suite}: cannot find the repository root above ${fileURLToPath(from)}`);
}
