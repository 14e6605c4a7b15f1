// A small, strict command-line parser shared by every subcommand: unknown
// flags, missing values and malformed numbers become a UsageError, which the
// CLI prints as one line plus the usage, with exit status 2 and no stack trace.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../lib/errors.js';

export class UsageError extends Error {}

export type FlagKind = 'boolean' | 'string' | 'int' | 'number' | 'ints' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  /** Shown in the usage text. */
  help: string;
  /** Lower bound for int/number/ints (inclusive). */
  min?: number;
  /** Allowed values for string/list; a choice ending in ':' admits any value with that prefix. */
  choices?: readonly string[];
  /** How the choices read in an error message (default: the choices joined by ', '). */
  choicesText?: string;
}

export type ParsedValue = boolean | string | number | number[] | string[];

export interface Parsed {
  flags: Map<string, ParsedValue>;
  positional: string[];
}

// Plain decimals only: no hex, octal, binary, Infinity or blanks that Number() would take.
const INTEGER = /^[+-]?[0-9]+$/;
// A number may have a fraction and an exponent (1e-3 is a common way to write a learning rate).
const DECIMAL = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function parseNumber(flag: string, text: string, integer: boolean, min: number | undefined): number {
  if (!(integer ? INTEGER : DECIMAL).test(text)) {
    throw new UsageError(`--${flag}: "${text}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  const value = Number(text);
  if (integer ? !Number.isSafeInteger(value) : !Number.isFinite(value)) {
    throw new UsageError(`--${flag}: "${text}" is out of range`);
  }
  if (min !== undefined && value < min) throw new UsageError(`--${flag}: ${value} is below the minimum ${min}`);
  return value;
}

function choicesText(spec: FlagSpec): string {
  return spec.choicesText ?? spec.choices!.join(', ');
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
      // `--svg --json` must not write a file named "--json": a value given as the
      // next word may not look like an option (write --svg=--json to mean it).
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      text = argv[++i];
    }
    switch (spec.kind) {
      case 'string':
        if (spec.choices && !spec.choices.includes(text)) {
          throw new UsageError(`--${name}: "${text}" is not one of ${choicesText(spec)}`);
        }
        flags.set(name, text);
        break;
      case 'int': flags.set(name, parseNumber(name, text, true, spec.min)); break;
      case 'number': flags.set(name, parseNumber(name, text, false, spec.min)); break;
      case 'ints': flags.set(name, text.split(',').map((t) => parseNumber(name, t.trim(), true, spec.min))); break;
      case 'list': {
        const items = text.split(',').map((t) => t.trim());
        for (const item of items) {
          if (spec.choices && !spec.choices.some((c) => item === c || (c.endsWith(':') && item.startsWith(c)))) {
            throw new UsageError(`--${name}: "${item}" is not one of ${choicesText(spec)}`);
          }
        }
        flags.set(name, items);
        break;
      }
    }
  }
  return { flags, positional };
}

function writableDirectory(flag: string, dir: string): void {
  if (!statSync(dir).isDirectory()) throw new UsageError(`--${flag}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`--${flag}: cannot write in directory ${dir}`);
  }
}

/**
 * Checks, before any work is done, that the file named by --flag can be
 * written: its directory exists and is writable, and the path is not a
 * directory or a read-only file. Throws a UsageError naming the flag.
 */
export function checkWritableFile(flag: string, path: string): void {
  if (path.trim() === '') throw new UsageError(`--${flag} needs a file name`);
  const full = resolve(path);
  const dir = dirname(full);
  if (!existsSync(dir)) throw new UsageError(`--${flag}: directory ${dirname(path)} does not exist`);
  writableDirectory(flag, dir);
  if (existsSync(full)) {
    if (statSync(full).isDirectory()) throw new UsageError(`--${flag}: ${path} is a directory`);
    try {
      accessSync(full, constants.W_OK);
    } catch {
      throw new UsageError(`--${flag}: ${path} is not writable`);
    }
  }
}

/**
 * Checks that --flag names a directory files can be written into: an existing
 * writable directory, or one that can be created (its nearest existing
 * ancestor is a writable directory). Throws a UsageError naming the flag.
 */
export function checkWritableDirectory(flag: string, path: string): void {
  if (path.trim() === '') throw new UsageError(`--${flag} needs a directory name`);
  let dir = resolve(path);
  while (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  writableDirectory(flag, dir === resolve(path) ? path : dir);
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

/** A library option's name as the command line spells it: weightDecay -> weight-decay. */
export function kebab(option: string): string {
  return option.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * A library ConfigError about an option the command line set, as a UsageError naming the flag
 * the user typed (exit status 2); null for anything else. `flags` maps a library option to its
 * flag where the two are not the same name in kebab case (clipNorm -> clip); an option that
 * maps to no flag of the command is not the user's doing, and gives null.
 */
export function flagError(e: unknown, known: Readonly<Record<string, FlagSpec>>, flags: Readonly<Record<string, string>> = {}): UsageError | null {
  if (!(e instanceof ConfigError) || typeof e.details.option !== 'string') return null;
  const option = e.details.option;
  const flag = flags[option] ?? kebab(option);
  if (known[flag] === undefined) return null;
  const kind = typeof e.details.kind === 'string' ? e.details.kind : undefined;
  const acceptedBy = Array.isArray(e.details.acceptedBy) ? (e.details.acceptedBy as string[]) : undefined;
  // The optimiser's conflicts, said in flags.
  if (kind !== undefined && acceptedBy !== undefined && known.optimizer !== undefined) {
    const others = acceptedBy.length === 0 ? 'no optimiser' : `--optimizer ${acceptedBy.join(' | ')}`;
    return new UsageError(`--${flag} does not apply to --optimizer ${kind}${kind === 'adam' ? ' (the default)' : ''}; it applies to ${others}`);
  }
  if (option === 'weightDecay' && kind !== undefined && known.l2 !== undefined) {
    return new UsageError(`--weight-decay is AdamW's decoupled decay (--optimizer adamw); with --optimizer ${kind} use an L2 penalty, --l2`);
  }
  // Otherwise the library's sentence, its operation dropped and the option's name replaced by the flag.
  const sentence = e.message.slice(e.op.length + 2).replace(new RegExp(`\\b${option}\\b`, 'g'), `--${flag}`);
  let named = sentence.includes(`--${flag}`) ? sentence : `--${flag}: ${sentence}`;
  // The other option a conflict needs (nesterov needs momentum), by its flag too.
  const needs = e.details.needs;
  if (typeof needs === 'string' && known[flags[needs] ?? kebab(needs)] !== undefined) {
    named = named.replace(new RegExp(`\\b${needs}\\b`, 'g'), `--${flags[needs] ?? kebab(needs)}`);
  }
  return new UsageError(named);
}
