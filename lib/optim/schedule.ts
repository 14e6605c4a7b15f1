// Learning-rate schedules. A schedule is plain data (JSON-able, so it can sit
// in a checkpoint next to the optimiser state) and one pure function turns it
// into the rate for update number `step` (0 for the first update):
//   constant:     lr
//   step:         lr · gamma^floor(step / every)
//   exponential:  lr · gamma^step
//   cosine:       minLr + (lr - minLr) · (1 + cos(π · min(step, total) / total)) / 2
// Any schedule may start with a linear warm-up over `warmup` updates: the rate
// climbs lr·1/warmup, lr·2/warmup, ..., lr, and the decay above then counts
// its steps from the end of the warm-up.

import * as pm from '../mat/math.js';
import { checkInt, checkKeys } from '../mat/options.js';
import { ConfigError } from '../mat/errors.js';

export type Schedule =
  | { readonly kind: 'constant'; readonly warmup?: number }
  | { readonly kind: 'step'; readonly every: number; readonly gamma: number; readonly warmup?: number }
  | { readonly kind: 'exponential'; readonly gamma: number; readonly warmup?: number }
  | { readonly kind: 'cosine'; readonly total: number; readonly minLr?: number; readonly warmup?: number };

/** A malformed schedule: a ConfigError on the schedule option; message is what follows "schedule: ". */
function refuse(message: string): never {
  throw new ConfigError('schedule', message, { option: 'schedule' });
}

function need(ok: boolean, message: string): void {
  if (!ok) refuse(message);
}

/** The fields each kind of schedule understands. */
const SCHEDULE_KEYS: Readonly<Record<Schedule['kind'], readonly string[]>> = {
  constant: ['kind', 'warmup'],
  step: ['kind', 'every', 'gamma', 'warmup'],
  exponential: ['kind', 'gamma', 'warmup'],
  cosine: ['kind', 'total', 'minLr', 'warmup'],
};

/** Throws an Error naming the offending field when a schedule is malformed. */
export function checkSchedule(schedule: Schedule): Schedule {
  const s = schedule as Schedule & Record<string, unknown>;
  if (s === null || typeof s !== 'object') refuse(`expected an object, got ${JSON.stringify(schedule)}`);
  const keys = Object.prototype.hasOwnProperty.call(SCHEDULE_KEYS, s.kind as string) ? SCHEDULE_KEYS[s.kind] : null;
  if (keys !== null) checkKeys(`schedule ${s.kind}`, s, keys);
  if (s.warmup !== undefined) checkInt(`schedule ${s.kind}`, 'warmup', s.warmup, 0);
  switch (s.kind) {
    case 'constant':
      break;
    case 'step':
      checkInt('schedule step', 'every', s.every);
      need(Number.isFinite(s.gamma) && s.gamma > 0, `step: gamma must be a positive number, got ${JSON.stringify(s.gamma)}`);
      break;
    case 'exponential':
      need(Number.isFinite(s.gamma) && s.gamma > 0, `exponential: gamma must be a positive number, got ${JSON.stringify(s.gamma)}`);
      break;
    case 'cosine':
      checkInt('schedule cosine', 'total', s.total);
      need(s.minLr === undefined || (Number.isFinite(s.minLr) && s.minLr >= 0), `cosine: minLr must be a number >= 0, got ${JSON.stringify(s.minLr)}`);
      break;
    default:
      refuse(`unknown kind ${JSON.stringify((s as { kind?: unknown }).kind)} (constant, step, exponential, cosine)`);
      return schedule;
  }
  return schedule;
}

/** The learning rate for update number `step` (0-based) from base rate `lr`. */
export function scheduledRate(schedule: Schedule | null, lr: number, step: number): number {
  if (schedule === null) return lr;
  const warmup = schedule.warmup ?? 0;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const t = step - warmup;
  switch (schedule.kind) {
    case 'constant': return lr;
    case 'step': return lr * pm.pow(schedule.gamma, Math.floor(t / schedule.every));
    case 'exponential': return lr * pm.pow(schedule.gamma, t);
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const progress = Math.min(t, schedule.total) / schedule.total;
      return minLr + ((lr - minLr) * (1 + pm.cos(Math.PI * progress))) / 2;
    }
  }
}

/**
 * Parses the CLI form of a schedule: `constant`, `step:EVERY:GAMMA`,
 * `exp:GAMMA`, `cosine:TOTAL[:MINLR]`, each optionally followed by `+warmup:N`.
 */
export function parseSchedule(text: string): Schedule {
  const [main, extra] = text.split('+');
  let warmup: number | undefined;
  if (extra !== undefined) {
    const m = /^warmup:(\d+)$/.exec(extra);
    if (m === null) refuse(`"${text}": expected "+warmup:N" after the schedule`);
    warmup = Number(m[1]);
  }
  const parts = main.split(':');
  const num = (i: number, name: string): number => {
    const v = Number(parts[i]);
    if (parts[i] === undefined || parts[i] === '' || !Number.isFinite(v)) refuse(`"${text}": ${name} is not a number`);
    return v;
  };
  let s: Schedule;
  switch (parts[0]) {
    case 'constant': s = { kind: 'constant', warmup }; break;
    case 'step': s = { kind: 'step', every: num(1, 'every'), gamma: num(2, 'gamma'), warmup }; break;
    case 'exp': case 'exponential': s = { kind: 'exponential', gamma: num(1, 'gamma'), warmup }; break;
    case 'cosine': s = { kind: 'cosine', total: num(1, 'total'), minLr: parts.length > 2 ? num(2, 'minLr') : undefined, warmup }; break;
    default: refuse(`"${text}" is not constant, step:EVERY:GAMMA, exp:GAMMA or cosine:TOTAL[:MINLR] (+warmup:N)`);
  }
  // Drop undefined fields so the object stays plain JSON.
  return checkSchedule(JSON.parse(JSON.stringify(s)) as Schedule);
}
