// A small, strict command-line parser shared by every subcommand: unknown
// flags, missing values and malformed numbers become a UsageError, which the
// CLI prints as one line plus the usage, with exit status 2 and no stack trace.

export class UsageError extends Error {}

export type FlagKind = 'boolean' | 'string' | 'int' | 'number' | 'ints' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  /** Shown in the usage text. */
  help: string;
  /** Lower bound for int/number/ints (inclusive). */
  min?: number;
  /** Allowed values for string/list. */
  choices?: readonly string[];
}

export type ParsedValue = boolean | string | number | number[] | string[];

export interface Parsed {
  flags: Map<string, ParsedValue>;
  positional: string[];
}

function parseNumber(flag: string, text: string, integer: boolean, min: number | undefined): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${flag}: "${text}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  if (min !== undefined && value < min) throw new UsageError(`--${flag}: ${value} is below the minimum ${min}`);
  return value;
}

export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): Parsed {
  const flags = new Map<string, ParsedValue>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (spec === undefined) throw new UsageError(`unknown option --${name}`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      text = argv[++i];
    }
    switch (spec.kind) {
      case 'string':
        if (spec.choices && !spec.choices.includes(text)) {
          throw new UsageError(`--${name}: "${text}" is not one of ${spec.choices.join(', ')}`);
        }
        flags.set(name, text);
        break;
      case 'int': flags.set(name, parseNumber(name, text, true, spec.min)); break;
      case 'number': flags.set(name, parseNumber(name, text, false, spec.min)); break;
      case 'ints': flags.set(name, text.split(',').map((t) => parseNumber(name, t, true, spec.min))); break;
      case 'list': {
        const items = text.split(',').map((t) => t.trim());
        for (const item of items) {
          if (spec.choices && !spec.choices.some((c) => item === c || (c.endsWith(':') && item.startsWith(c)))) {
            throw new UsageError(`--${name}: "${item}" is not one of ${spec.choices.join(', ')}`);
          }
        }
        flags.set(name, items);
        break;
      }
    }
  }
  return { flags, positional };
}

export function usageLines(specs: Readonly<Record<string, FlagSpec>>): string {
  return Object.entries(specs)
    .map(([name, s]) => `  --${(name + (s.kind === 'boolean' ? '' : ' <' + s.kind + '>')).padEnd(22)} ${s.help}`)
    .join('\n');
}

export interface Command {
  /** One line for the top-level help. */
  summary: string;
  /** The full usage text of the command. */
  usage: string;
  /** Runs the command; throws UsageError for bad input. Returns the exit status. */
  run(argv: readonly string[]): Promise<number> | number;
}
