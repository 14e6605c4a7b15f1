#!/usr/bin/env node
// loopgrad's command line: one subcommand per file, loaded on demand.
import { readFileSync } from 'node:fs';
import { type Command, type FlagSpec, UsageError, flagError } from './args.js';
import { ConfigError } from '../lib/errors.js';

const commands: Record<string, () => Promise<Command>> = {
  compare: async () => (await import('./compare.js')).compareCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  train: async () => (await import('./train.js')).trainCommand,
  diagnose: async () => (await import('./diagnose.js')).diagnoseCommand,
  generate: async () => (await import('./generate.js')).generateCommand,
};

/** The package's version, read from its package.json when asked (dist/cli and build/cli both sit two levels down). */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
  if (manifest.name !== 'loopgrad' || typeof manifest.version !== 'string') throw new Error('loopgrad: cannot find the package.json of loopgrad');
  return manifest.version;
}

async function topUsage(): Promise<string> {
  const lines = ['usage: loopgrad <command> [options]', '       loopgrad --version | -v', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    try { lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`); } catch { /* not built yet */ }
  }
  lines.push('', 'loopgrad <command> --help shows the options of a command.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await topUsage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    if (rest.length > 0) {
      console.error(`loopgrad: ${name} takes no arguments, got ${rest.join(' ')}`);
      return 2;
    }
    console.log(version());
    return 0;
  }
  const load = commands[name];
  if (load === undefined) {
    console.error(`loopgrad: unknown command "${name}"`);
    console.error(await topUsage());
    return 2;
  }
  const command = await load();
  // `train ctc` has options of its own.
  const usage = name === 'train' && rest[0] === 'ctc' ? (await import('./train-ctc.js')).trainCtcUsage : name === 'train' && rest[0] === 'text' ? (await import('./train-text.js')).trainTextUsage : command.usage;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    // A library ConfigError about an option this command has a flag for: the user's option, by its flag.
    const fromOption = e instanceof ConfigError ? flagError(e, flagsOf(usage)) : null;
    if (e instanceof UsageError || fromOption !== null) {
      console.error(`loopgrad ${name}: ${(fromOption ?? (e as UsageError)).message}`);
      console.error(usage);
      return 2;
    }
    if (e instanceof Error && process.env.LOOPGRAD_DEBUG !== '1') {
      // The library's limits name its options; on the command line the flags lift them.
      console.error(`loopgrad ${name}: ${e.message.replace('(raise maxBytes, or use BPTT)', '(pass --allow-large, or use BPTT)')}`);
      return 1;
    }
    throw e;
  }
}

/** The flags a usage text lists (every "--name"), for naming a library option by its flag. */
function flagsOf(usage: string): Record<string, FlagSpec> {
  const known: Record<string, FlagSpec> = {};
  for (const m of usage.matchAll(/--([a-z][a-z0-9-]*)/g)) known[m[1]] = { kind: 'string', help: '' };
  return known;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
