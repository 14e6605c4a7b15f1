// The gradient methods by name: one grammar for their text forms (what `--method` takes and a
// report prints) and one factory for the method objects. A new method (SnAp, UORO ...) is one
// entry in METHODS: its forms, how its text parses and prints, and how its object is made.
//   bptt          full backpropagation through time (Bptt)
//   tbptt:K       truncated BPTT with k1 = k2 = K (Tbptt)
//   tbptt:K1:K2   truncated BPTT(k1, k2): an update every k1 steps, the gradient flowing back k2 >= k1
//   rtrl          exact real-time recurrent learning (Rtrl)
//   snapN, snap:N SnAp-N, RTRL on the sparse pattern of what a parameter reaches in N steps (Snap; snap1, snap2 ...)
//   uoro[:SEED]   unbiased online recurrent optimization, a rank-one estimate of RTRL (Uoro; seed 0 by default)
//   kf-rtrl[:SEED] Kronecker-factored RTRL, Elman cells only (KfRtrl; seed 0 by default)
import { Bptt } from './bptt.js';
import type { RecurrentModel } from './model.js';
import { Rtrl } from './rtrl.js';
import { Snap } from './snap.js';
import { Tbptt } from './tbptt.js';
import { Uoro } from './uoro.js';
import { KfRtrl } from './kf-rtrl.js';
import type { GradientMethod } from './unroll.js';
import { ConfigError } from '../mat/errors.js';
import { checkKeys } from '../mat/options.js';
import { checkThreadsOption } from './threads.js';

/** A gradient method with its settings, as parseMethod reads it from text. */
export type MethodSpec =
  | { readonly kind: 'bptt' }
  | { readonly kind: 'tbptt'; readonly k1: number; readonly k2: number }
  | { readonly kind: 'rtrl' }
  | { readonly kind: 'snap'; readonly order: number }
  | { readonly kind: 'uoro'; readonly seed?: number }
  | { readonly kind: 'kf-rtrl'; readonly seed?: number };
export type MethodKind = MethodSpec['kind'];
type SpecOf<K extends MethodKind> = Extract<MethodSpec, { kind: K }>;

/** The object each kind makes. */
export interface MethodObjects {
  bptt: Bptt;
  tbptt: Tbptt;
  rtrl: Rtrl;
  snap: Snap;
  uoro: Uoro;
  'kf-rtrl': KfRtrl;
}

/**
 * How a method hands out gradients, which is how a training loop drives it:
 *   'sequence'  one gradient per run over a whole batch (run);
 *   'windows'   a gradient at every window boundary of a run (run with onWindow);
 *   'online'    a gradient of the loss so far after every step (reset, step, grad, zeroGrad).
 */
export type MethodDrive = 'sequence' | 'windows' | 'online';

interface MethodEntry<K extends MethodKind> {
  /** The accepted text forms, for help and errors. */
  readonly forms: readonly string[];
  readonly drive: MethodDrive;
  /** The spec from the text after `kind` split at ':' (empty for the bare name); null: not this method's form. */
  parse(args: readonly string[]): SpecOf<K> | null;
  /** Checks a spec's settings (from text or built by hand); returns a message naming what is wrong, or null. */
  check(spec: SpecOf<K>): string | null;
  format(spec: SpecOf<K>): string;
  create(model: RecurrentModel, spec: SpecOf<K>, limits: MethodLimits): MethodObjects[K];
}

/** Limits a method honours where it has them (RTRL's memory limit), and its threads. */
export interface MethodLimits {
  /** Refuse to allocate more than this many bytes (Bptt's and Rtrl's maxBytes; default the method's own). */
  maxBytes?: number;
  /**
   * Threads (default 1): bptt and tbptt split the batch over them, rtrl and snapN (N >= 2) the
   * columns of S (their threads option; close() the method when done). The other online methods
   * run on one thread and refuse threads > 1.
   */
  threads?: number;
}

const isCount = (k: number) => Number.isSafeInteger(k) && k >= 1;

/** A decimal number (an integer or not: the check then says what is wrong with it), else NaN. */
const decimal = (text: string): number => (/^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN);
/** The text after a randomised method's name: nothing (seed 0) or one number (checkSeedSpec wants an integer). */
const parseSeed = (args: readonly string[]): { seed: number } | null => {
  if (args.length === 0) return { seed: 0 };
  return args.length === 1 && !Number.isNaN(decimal(args[0])) ? { seed: decimal(args[0]) } : null;
};
const checkSeedSpec = (spec: { seed?: number }) => (spec.seed === undefined || Number.isSafeInteger(spec.seed) ? null : `needs an integer seed, got ${String(spec.seed)}`);
/** The maxBytes option a method's constructor takes: present only when the limits set it. */
const maxBytesOption = (limits: MethodLimits) => (limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes });
const seedOptions = (spec: { seed?: number }, limits: MethodLimits) => ({
  ...(spec.seed === undefined ? {} : { seed: spec.seed }),
  ...maxBytesOption(limits),
});

const METHODS: { readonly [K in MethodKind]: MethodEntry<K> } = {
  bptt: {
    forms: ['bptt'],
    drive: 'sequence',
    parse: (args) => (args.length === 0 ? { kind: 'bptt' } : null),
    check: () => null,
    format: () => 'bptt',
    create: (model, _spec, limits) => new Bptt(model, { ...maxBytesOption(limits), ...(limits.threads === undefined ? {} : { threads: limits.threads }) }),
  },
  tbptt: {
    forms: ['tbptt:K', 'tbptt:K1:K2'],
    drive: 'windows',
    parse: (args) => {
      if ((args.length !== 1 && args.length !== 2) || !args.every((a) => /^[0-9]+$/.test(a))) return null;
      const k1 = Number(args[0]);
      return { kind: 'tbptt', k1, k2: args.length === 2 ? Number(args[1]) : k1 };
    },
    check: (spec) => (isCount(spec.k1) && isCount(spec.k2) && spec.k2 >= spec.k1 ? null : `needs integers 1 <= k1 <= k2, got k1 ${spec.k1}, k2 ${spec.k2}`),
    format: (spec) => (spec.k1 === spec.k2 ? `tbptt:${spec.k1}` : `tbptt:${spec.k1}:${spec.k2}`),
    create: (model, spec, limits) => new Tbptt(model, { k1: spec.k1, k2: spec.k2, ...(limits.threads === undefined ? {} : { threads: limits.threads }) }),
  },
  rtrl: {
    forms: ['rtrl'],
    drive: 'online',
    parse: (args) => (args.length === 0 ? { kind: 'rtrl' } : null),
    check: () => null,
    format: () => 'rtrl',
    create: (model, _spec, limits) => new Rtrl(model, { ...maxBytesOption(limits), ...(limits.threads === undefined ? {} : { threads: limits.threads }) }),
  },
  snap: {
    forms: ['snapN', 'snap:N'],
    drive: 'online',
    parse: (args) => (args.length === 1 && !Number.isNaN(decimal(args[0])) ? { kind: 'snap', order: decimal(args[0]) } : null),
    check: (spec) => (isCount(spec.order) ? null : `needs an integer order N >= 1, got ${spec.order}`),
    format: (spec) => `snap${spec.order}`,
    create: (model, spec, limits) => new Snap(model, { order: spec.order, ...maxBytesOption(limits), ...(limits.threads === undefined ? {} : { threads: limits.threads }) }),
  },
  uoro: {
    forms: ['uoro', 'uoro:SEED'],
    drive: 'online',
    parse: (args) => { const s = parseSeed(args); return s === null ? null : { kind: 'uoro', ...s }; },
    check: checkSeedSpec,
    format: (spec) => (spec.seed === undefined || spec.seed === 0 ? 'uoro' : `uoro:${spec.seed}`),
    create: (model, spec, limits) => new Uoro(model, seedOptions(spec, limits)),
  },
  'kf-rtrl': {
    forms: ['kf-rtrl', 'kf-rtrl:SEED'],
    drive: 'online',
    parse: (args) => { const s = parseSeed(args); return s === null ? null : { kind: 'kf-rtrl', ...s }; },
    check: checkSeedSpec,
    format: (spec) => (spec.seed === undefined || spec.seed === 0 ? 'kf-rtrl' : `kf-rtrl:${spec.seed}`),
    create: (model, spec, limits) => new KfRtrl(model, seedOptions(spec, limits)),
  },
};

/** Short forms read as their long ones before parsing: snap2 is snap:2. */
const SHORT_FORMS: readonly (readonly [RegExp, string])[] = [[/^snap([0-9]+)$/, 'snap:$1']];

/** The method kinds, in the table's order. */
export const METHOD_KINDS = Object.keys(METHODS) as readonly MethodKind[];
/** Every accepted text form: bptt, tbptt:K, tbptt:K1:K2, rtrl, snapN, snap:N, uoro, uoro:SEED, kf-rtrl, kf-rtrl:SEED. */
export const METHOD_FORMS: readonly string[] = METHOD_KINDS.flatMap((k) => METHODS[k].forms);

function entryOf<K extends MethodKind>(kind: K): MethodEntry<K> {
  return METHODS[kind] as MethodEntry<K>;
}

/** Parses a method's text form (see the file comment); the Error lists the accepted forms. */
export function parseMethod(text: string): MethodSpec {
  const long = SHORT_FORMS.reduce((s, [form, as]) => s.replace(form, as), String(text));
  const [kind, ...args] = long.split(':');
  if (Object.prototype.hasOwnProperty.call(METHODS, kind)) {
    const entry = entryOf(kind as MethodKind);
    const spec = entry.parse(args);
    if (spec !== null) {
      const problem = entry.check(spec as never);
      if (problem !== null) throw new ConfigError('method', `"${text}" ${problem} (${entry.forms.join(' or ')})`, { value: text, accepted: entry.forms });
      return spec;
    }
  }
  throw new ConfigError('method', `"${text}" is not one of ${METHOD_FORMS.join(', ')}`, { value: text, accepted: METHOD_FORMS });
}

/**
 * Checks a spec built by hand (as train receives it): a known kind with valid settings.
 * Returns it; the Error starts with `op`.
 */
export function checkMethod(op: string, spec: unknown): MethodSpec {
  if (spec === null || typeof spec !== 'object') throw new ConfigError(op, `method must be an object, got ${JSON.stringify(spec)}`, { option: 'method', value: spec });
  const kind = (spec as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(METHODS, kind)) {
    throw new ConfigError(op, `unknown method ${JSON.stringify(kind)} (${METHOD_KINDS.join(', ')})`, { option: 'method', value: kind, accepted: METHOD_KINDS });
  }
  const problem = entryOf(kind as MethodKind).check(spec as never);
  if (problem !== null) throw new ConfigError(op, `method ${kind} ${problem}`, { option: 'method', value: kind });
  return spec as MethodSpec;
}

/** The canonical text form of a spec (parseMethod's inverse). */
export function formatMethod(spec: MethodSpec): string {
  return entryOf(checkMethod('formatMethod', spec).kind).format(spec as never);
}

/** How the method of a spec hands out gradients (see MethodDrive). */
export function methodDrive(spec: MethodSpec): MethodDrive {
  return entryOf(checkMethod('methodDrive', spec).kind).drive;
}

/** The methods that take threads > 1, as errors name them. */
export const THREADED_METHODS = 'bptt, tbptt, rtrl and snapN with N >= 2';

/**
 * Whether a method splits its work over threads: bptt and tbptt the batch, rtrl and SnAp-n
 * (n >= 2) the columns of S. The others' whole step costs less than a split step's fixed cost
 * (docs/performance.md).
 */
export function takesThreads(spec: MethodSpec): boolean {
  return spec.kind === 'bptt' || spec.kind === 'tbptt' || spec.kind === 'rtrl' || (spec.kind === 'snap' && spec.order >= 2);
}

/** The gradient method object of a spec (or of its text form) for a model: Bptt, Tbptt, Rtrl, Snap, Uoro or KfRtrl. */
export function createMethod<S extends MethodSpec>(model: RecurrentModel, spec: S, limits?: MethodLimits): MethodObjects[S['kind']];
export function createMethod(model: RecurrentModel, spec: MethodSpec | string, limits?: MethodLimits): GradientMethod;
export function createMethod(model: RecurrentModel, spec: MethodSpec | string, limits: MethodLimits = {}): GradientMethod {
  const s = typeof spec === 'string' ? parseMethod(spec) : checkMethod('createMethod', spec);
  checkKeys('createMethod', limits, ['maxBytes', 'threads']);
  if (limits.threads !== undefined) {
    const threads = checkThreadsOption('createMethod', limits.threads);
    if (threads > 1 && !takesThreads(s)) {
      throw new ConfigError('createMethod', `threads: ${threads} is available for ${THREADED_METHODS} only; ${formatMethod(s)} runs on one thread (its whole step costs less than a split step's fixed cost)`, { option: 'threads', value: threads, method: s.kind });
    }
  }
  return entryOf(s.kind).create(model, s as never, limits);
}
