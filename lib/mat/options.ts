import { ConfigError } from './errors.js';
// Checks shared by every options object and size argument in lib/. This file imports only the
// error classes, so any layer (cells, optimisers, runners, trainers) can use it.

/** A value for an error message: strings quoted, everything else as JSON where it can be. */
function show(value: unknown): string {
  if (typeof value === 'number' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Throws unless options is an object whose own keys are all in accepted:
 * `adam: unknown option "amsgrad" (accepted: kind, lr, beta1, beta2, eps, weightDecay)`.
 * A key whose value is undefined counts too: a misspelt option is refused even when unset.
 */
export function checkKeys(op: string, options: unknown, accepted: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(op, `options must be an object, got ${show(options)}`, { value: options });
  }
  for (const key of Object.keys(options)) {
    if (!accepted.includes(key)) throw new ConfigError(op, `unknown option "${key}" (accepted: ${accepted.join(', ')})`, { option: key, accepted });
  }
}

/**
 * Every key of an options interface, as a list for checkKeys; the compiler checks that the
 * record names each key of T exactly once and nothing else: keysOf<LstmOptions>({ inputSize: true, ... }).
 */
export function keysOf<T>(all: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(all);
}

/**
 * An integer >= min (default 1), or an Error naming it:
 * `lstm: hiddenSize must be an integer >= 1, got 2.5`. The one size / count check of lib/.
 */
export function checkInt(op: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(op, `${name} must be an integer >= ${min}, got ${show(value)}`, { option: name, value, min });
  }
  return value;
}
