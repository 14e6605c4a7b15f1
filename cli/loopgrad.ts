#!/usr/bin/env node
// loopgrad's command line: one subcommand per file, loaded on demand.
import { UsageError, type Command } from './args.js';

const commands: Record<string, () => Promise<Command>> = {
  compare: async () => (await import('./compare.js')).compareCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  train: async () => (await import('./train.js')).trainCommand,
  diagnose: async () => (await import('./diagnose.js')).diagnoseCommand,
  generate: async () => (await import('./generate.js')).generateCommand,
};

async function topUsage(): Promise<string> {
  const lines = ['usage: loopgrad <command> [options]', '', 'commands:'];
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
    if (e instanceof UsageError) {
      console.error(`loopgrad ${name}: ${e.message}`);
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

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
