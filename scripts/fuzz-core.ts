// A seeded mutation fuzzer for the safetensors reader, shared by the test suite
// (spec/io/safetensors-fuzz.spec.ts, a few thousand cases) and `npm run fuzz` (long runs).
//
// Each case takes one of a few valid files, applies one to three mutations (bit flips,
// byte inserts and deletes, truncations, length-prefix changes, and header edits aimed at
// the parser and the validator: duplicated keys, odd number literals, bad shapes and
// offsets, deep nesting, bad UTF-8 and escapes), reads the result, and classifies it:
//   refused       a FormatError (lib/mat/errors.ts) whose message starts "safetensors: " and stays short;
//   accepted      the file reads, and writing what was read and reading it back gives the
//                 same tensors and metadata (and writing again gives the same bytes);
//   crash         anything else thrown (TypeError, RangeError, a non-Error, an unclear message);
//   inconsistent  accepted, but the round trip disagrees;
//   slow          a single case took longer than slowMs (a hang would stop the run itself).
// Uses only lib/ and globals every engine has (TextEncoder/TextDecoder), no Node built-ins.

import { readSafetensors, readSafetensorsHeader, writeSafetensors, type DType, type ReadOptions, type Tensor, type TensorInput } from '../lib/io/safetensors.js';
import { Rng } from '../lib/mat/rng.js';
import { FormatError } from '../lib/mat/errors.js';

export interface FuzzFailure {
  caseIndex: number;
  kind: 'crash' | 'inconsistent' | 'slow';
  mutations: string[];
  message: string;
  /** The input that failed, to reproduce it. */
  bytes: Uint8Array;
}

export interface FuzzResult {
  cases: number;
  accepted: number;
  refused: number;
  crashes: number;
  inconsistent: number;
  slow: number;
  /** The longest single case, in milliseconds. */
  slowestMs: number;
  elapsedMs: number;
  /** How often each mutation was applied, and how many of those cases were accepted. */
  byMutation: Record<string, { applied: number; accepted: number }>;
  /** The first few failures (at most maxFailures). */
  failures: FuzzFailure[];
}

export interface FuzzOptions {
  seed?: number;
  count: number;
  /** A case slower than this counts as a failure (default 1000 ms). */
  slowMs?: number;
  /** Failures kept in the result (default 20); all are counted. */
  maxFailures?: number;
  /** Called every progressEvery cases (default 10 000) with the counts so far. */
  onProgress?: (result: FuzzResult) => void;
  progressEvery?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ALL_DTYPES: DType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'];

// ---------------------------------------------------------------------------------------
// Valid starting files

function values(rng: Rng, dtype: DType, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'BOOL': out.push(rng.int(2)); break;
      case 'U8': out.push(rng.int(256)); break;
      case 'I8': out.push(rng.int(256) - 128); break;
      case 'U16': out.push(rng.int(65536)); break;
      case 'I16': out.push(rng.int(65536) - 32768); break;
      case 'U32': out.push(rng.int(2 ** 32)); break;
      case 'I32': out.push(rng.int(2 ** 32) - 2 ** 31); break;
      case 'U64': out.push(rng.int(2 ** 53 - 1)); break;
      case 'I64': out.push(rng.int(2 ** 53 - 1) - 2 ** 52); break;
      default: out.push(rng.uniform() < 0.1 ? [0, -0, Infinity, NaN][rng.int(4)] : rng.normal(0, 100));
    }
  }
  return out;
}

function tensor(rng: Rng, dtype: DType, shape: number[]): TensorInput {
  return { dtype, shape, data: values(rng, dtype, shape.reduce((a, b) => a * b, 1)) };
}

/** The valid files mutations start from (the same for a given seed). */
export function baseFiles(seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  const mixed: Record<string, TensorInput> = {};
  const shapes = [[3], [2, 2], [], [0, 3], [2, 1, 2], [1]];
  ALL_DTYPES.forEach((dtype, i) => {
    mixed[`layer.${i}.${dtype.toLowerCase()}`] = tensor(rng, dtype, shapes[i % shapes.length]);
  });
  const names: Record<string, TensorInput> = {
    'quote"d': tensor(rng, 'F32', [2]),
    'back\\slash/tab\t': tensor(rng, 'F64', [1]),
    'ünï/çødé ✓': tensor(rng, 'I32', [2]),
    '🚀\u2028': tensor(rng, 'U8', [3]),
    '': tensor(rng, 'BF16', [2]),
    __proto__: tensor(rng, 'F16', [1]),
  };
  return [
    writeSafetensors(mixed, { kind: 'fuzz', note: 'ünïcödé 🚀', empty: '' }),
    writeSafetensors({ 'param/w': tensor(rng, 'F64', [4, 3]), 'param/b': tensor(rng, 'F64', [4]) }),
    writeSafetensors(names, { 'k"\\': 'v\n', '\u00e9': '\u0000' }),
    writeSafetensors({ e0: tensor(rng, 'F64', [0]), e1: tensor(rng, 'I64', [5, 0, 2]), s: tensor(rng, 'BOOL', []) }),
    writeSafetensors({}, { only: 'metadata' }),
    writeSafetensors({}),
  ];
}

// ---------------------------------------------------------------------------------------
// Mutations

function headerLength(bytes: Uint8Array): number {
  if (bytes.length < 8) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  return Math.min(n, bytes.length - 8);
}

/** The chunks end to end in one new array. */
export function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function setLength(bytes: Uint8Array, n: number | bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, 8).setBigUint64(0, BigInt(n), true);
}

/** Replaces the header with text (or bytes), keeping the data section; usually fixes the length. */
function withHeader(bytes: Uint8Array, header: string | Uint8Array, rng: Rng): Uint8Array {
  const n = headerLength(bytes);
  const h = typeof header === 'string' ? encoder.encode(header) : header;
  const out = concat(new Uint8Array(8), h, bytes.subarray(8 + n));
  setLength(out, rng.uniform() < 0.85 ? h.length : n);
  return out;
}

function headerText(bytes: Uint8Array): string {
  return decoder.decode(bytes.subarray(8, 8 + headerLength(bytes)));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

/** A random match of pattern in text (global regex), or undefined. */
function randomMatch(rng: Rng, text: string, pattern: RegExp): RegExpExecArray | undefined {
  const matches = [...text.matchAll(pattern)];
  return matches.length === 0 ? undefined : matches[rng.int(matches.length)] as RegExpExecArray;
}

function spliceText(text: string, at: number, remove: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at + remove);
}

const ENTRY = /"((?:[^"\\]|\\.)*)":\{"dtype":"[A-Z0-9_]+","shape":\[[0-9,]*\],"data_offsets":\[[0-9]+,[0-9]+\]\}/g;
const NUMBER = /-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;
const SHAPE = /"shape":\[[0-9,]*\]/g;
const OFFSETS = /"data_offsets":\[([0-9]+),([0-9]+)\]/g;
const DTYPE = /"dtype":"[A-Z0-9_]+"/g;
const FIELD = /"(dtype|shape|data_offsets)":("[A-Z0-9_]+"|\[[0-9,]*\])/g;
const META_PAIR = /"__metadata__":\{"((?:[^"\\]|\\.)*)":"((?:[^"\\]|\\.)*)"/g;

const NUMBER_FORMS = [
  '2.0', '8e0', '-0', '-1', '1E3', '0.5e1', '00', '01', '9007199254740991', '9007199254740992', '9007199254740993',
  '18446744073709551615', '18446744073709551616', '1e400', '-1e400', '0x10', '+1', '1.', '.5', '1e', '9'.repeat(400), '0',
];
const SHAPE_FORMS = [
  '[]', '[0]', '[1]', '[1000000000000,0]', '[0,1000000000000]', '[134217728,134217728,0]', '[4294967296,4294967296]',
  '[16777217,0]', '[16777216,0]', '[9007199254740991]', '[9007199254740991,0,2]', '[-1]', '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]',
  '[2,2,2]', '[1.5]', '["3"]', '[null]', '{}', '3', '[[1]]',
];
const DTYPE_FORMS = [...ALL_DTYPES, 'F8_E4M3', 'F128', 'f32', 'toString', '__proto__', ''];
const TOKENS = [
  '{', '}', '[', ']', ',', ':', '"', '\\', '\\u', '\\ud800', '\\udc00', '\\ud83d\\ude80', '\\u0000', ' ', '\t', '\n', 'null', 'true', '-',
  '.', 'e', '0', '\u0000', '"a":1', ',"x":{}', '[['.repeat(100), '['.repeat(140), '{"a":'.repeat(130),
];
const RAW_BYTES = [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x9a, 0x80], [0xc3, 0xa9], [0x00], [0x1f]];

type Mutation = (bytes: Uint8Array, rng: Rng) => Uint8Array;

const MUTATIONS: Record<string, Mutation> = {
  bitflip(bytes, rng) {
    const out = bytes.slice();
    for (let k = 0, n = 1 + rng.int(4); k < n && out.length > 0; k++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  headerBitflip(bytes, rng) {
    const out = bytes.slice();
    const n = headerLength(out);
    if (n > 0) for (let k = 0, m = 1 + rng.int(3); k < m; k++) out[8 + rng.int(n)] ^= 1 << rng.int(8);
    return out;
  },
  insertByte(bytes, rng) {
    const at = rng.int(bytes.length + 1);
    const out = concat(bytes.subarray(0, at), new Uint8Array([rng.int(256)]), bytes.subarray(at));
    if (out.length >= 8 && at >= 8 && at <= 8 + headerLength(bytes) && rng.uniform() < 0.7) setLength(out, headerLength(bytes) + 1);
    return out;
  },
  deleteBytes(bytes, rng) {
    const at = rng.int(bytes.length + 1);
    const len = 1 + rng.int(8);
    const out = concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + len)));
    const n = headerLength(bytes);
    if (out.length >= 8 && at >= 8 && at + len <= 8 + n && rng.uniform() < 0.7) setLength(out, n - len);
    return out;
  },
  truncate(bytes, rng) {
    return bytes.slice(0, rng.int(bytes.length + 1));
  },
  appendBytes(bytes, rng) {
    const extra = new Uint8Array(1 + rng.int(16));
    for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
    return concat(bytes, extra);
  },
  lengthField(bytes, rng) {
    const out = bytes.length >= 8 ? bytes.slice() : concat(bytes, new Uint8Array(8 - bytes.length));
    const n = headerLength(bytes);
    const choices: (number | bigint)[] = [
      0, 1, n - 1, n + 1, n + 8, n - 8, out.length - 8, out.length - 7, 100_000_000, 100_000_001,
      2 ** 32, 2 ** 53, BigInt('18446744073709551615'), rng.int(2 ** 32),
    ];
    let v = pick(rng, choices);
    if (typeof v === 'number' && v < 0) v = 0;
    setLength(out, v);
    return out;
  },
  digit(bytes, rng) {
    const n = headerLength(bytes);
    const at: number[] = [];
    for (let i = 8; i < 8 + n; i++) if (bytes[i] >= 0x30 && bytes[i] <= 0x39) at.push(i);
    const out = bytes.slice();
    if (at.length > 0) out[pick(rng, at)] = 0x30 + rng.int(10);
    return out;
  },
  numberForm(bytes, rng) {
    const text = headerText(bytes);
    const m = randomMatch(rng, text, NUMBER);
    if (!m) return bytes;
    return withHeader(bytes, spliceText(text, m.index, m[0].length, pick(rng, NUMBER_FORMS)), rng);
  },
  shapeEdit(bytes, rng) {
    const text = headerText(bytes);
    const m = randomMatch(rng, text, SHAPE);
    if (!m) return bytes;
    return withHeader(bytes, spliceText(text, m.index, m[0].length, `"shape":${pick(rng, SHAPE_FORMS)}`), rng);
  },
  offsetsEdit(bytes, rng) {
    const text = headerText(bytes);
    const m = randomMatch(rng, text, OFFSETS);
    if (!m) return bytes;
    const b = Number(m[1]);
    const e = Number(m[2]);
    const pairs = [[e, b], [b, b], [e, e], [b + 1, e + 1], [b, e + 1], [b - 1, e], [0, e - b], [b, 2 ** 53], [b, 2 ** 53 + 2], [b, e, e], [b]];
    const pair = pick(rng, pairs).map(String).join(',');
    return withHeader(bytes, spliceText(text, m.index, m[0].length, `"data_offsets":[${pair}]`), rng);
  },
  dtypeEdit(bytes, rng) {
    const text = headerText(bytes);
    const m = randomMatch(rng, text, DTYPE);
    if (!m) return bytes;
    return withHeader(bytes, spliceText(text, m.index, m[0].length, `"dtype":"${pick(rng, DTYPE_FORMS)}"`), rng);
  },
  duplicateKey(bytes, rng) {
    const text = headerText(bytes);
    const kind = rng.int(5);
    if (kind === 0) { // a whole tensor entry twice (same name, maybe other offsets)
      const m = randomMatch(rng, text, ENTRY);
      if (m) return withHeader(bytes, spliceText(text, m.index + m[0].length, 0, `,${m[0]}`), rng);
    } else if (kind === 1) { // a field twice inside an entry
      const m = randomMatch(rng, text, FIELD);
      if (m) return withHeader(bytes, spliceText(text, m.index + m[0].length, 0, `,${m[0]}`), rng);
    } else if (kind === 2) { // a metadata key twice
      const m = randomMatch(rng, text, META_PAIR);
      if (m) return withHeader(bytes, spliceText(text, m.index + m[0].length, 0, `,"${m[1]}":"${m[2]}"`), rng);
    } else if (kind === 3) { // a second __metadata__ (two, if there was none)
      const extra = text.includes('"__metadata__"') ? '"__metadata__":{}' : '"__metadata__":{},"__metadata__":{"k":"v"}';
      return withHeader(bytes, spliceText(text, 1, 0, /^\{\s*\}/.test(text) ? extra : `${extra},`), rng);
    } else { // the same name spelled with an escape
      const m = randomMatch(rng, text, ENTRY);
      if (m && m[1].length > 0 && /^[a-z]/.test(m[1])) {
        const escaped = `\\u${m[1].charCodeAt(0).toString(16).padStart(4, '0')}${m[1].slice(1)}`;
        return withHeader(bytes, spliceText(text, m.index + m[0].length, 0, `,"${escaped}"${m[0].slice(m[1].length + 2)}`), rng);
      }
    }
    return bytes;
  },
  token(bytes, rng) {
    const text = headerText(bytes);
    const at = rng.int(text.length + 1);
    return withHeader(bytes, spliceText(text, at, rng.uniform() < 0.5 ? 0 : 1, pick(rng, TOKENS)), rng);
  },
  rawBytes(bytes, rng) {
    const n = headerLength(bytes);
    const at = 8 + rng.int(n + 1);
    const header = concat(bytes.subarray(8, at), new Uint8Array(pick(rng, RAW_BYTES)), bytes.subarray(at, 8 + n));
    return withHeader(bytes, header, rng);
  },
  dataBytes(bytes, rng) {
    // Values the decoder itself must judge: BOOL bytes > 1, I64 beyond 2^53, NaN payloads.
    const out = bytes.slice();
    const start = 8 + headerLength(bytes);
    if (out.length > start) for (let k = 0, n = 1 + rng.int(8); k < n; k++) out[start + rng.int(out.length - start)] = pick(rng, [0xff, 0x7f, 0x80, 2, rng.int(256)]);
    return out;
  },
};
/** The names of the mutations, in the order the fuzzer draws from. */
export const MUTATION_NAMES: readonly string[] = Object.keys(MUTATIONS);

/** Applies the named mutation once (the fuzzer's own step, for focused tests). */
export function mutate(name: string, bytes: Uint8Array, rng: Rng): Uint8Array {
  const mutation = MUTATIONS[name];
  if (!mutation) throw new Error(`fuzz: no mutation named ${JSON.stringify(name)}`);
  return mutation(bytes, rng);
}

// ---------------------------------------------------------------------------------------
// Checks

function sameValue(x: number, y: number): boolean {
  return Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));
}

function assertSame(a: Map<string, Tensor>, b: Map<string, Tensor>, ma: Record<string, string>, mb: Record<string, string>): void {
  if (a.size !== b.size) throw new Error(`${a.size} tensors read, ${b.size} after the round trip`);
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u) throw new Error(`tensor ${JSON.stringify(name)} lost in the round trip`);
    if (u.dtype !== t.dtype) throw new Error(`tensor ${JSON.stringify(name)}: dtype ${t.dtype} became ${u.dtype}`);
    if (u.shape.join(',') !== t.shape.join(',') || u.shape.length !== t.shape.length) throw new Error(`tensor ${JSON.stringify(name)}: shape changed`);
    const count = t.shape.reduce((p, d) => p * d, 1);
    if (t.data.length !== count) throw new Error(`tensor ${JSON.stringify(name)}: ${t.data.length} values for shape [${t.shape}]`);
    for (let i = 0; i < count; i++) {
      if (!sameValue(t.data[i], u.data[i])) throw new Error(`tensor ${JSON.stringify(name)}: element ${i} ${t.data[i]} became ${u.data[i]}`);
    }
    if ((t.bigints === undefined) !== (u.bigints === undefined)) throw new Error(`tensor ${JSON.stringify(name)}: bigints appeared or vanished`);
    if (t.bigints && u.bigints) {
      for (let i = 0; i < count; i++) if (t.bigints[i] !== u.bigints[i]) throw new Error(`tensor ${JSON.stringify(name)}: bigint ${i} changed`);
    }
  }
  const ka = Object.keys(ma);
  if (ka.length !== Object.keys(mb).length) throw new Error('metadata key count changed');
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(mb, k) || ma[k] !== mb[k]) throw new Error(`metadata ${JSON.stringify(k)} changed`);
  }
}

function toInputs(tensors: Map<string, Tensor>): Map<string, TensorInput> {
  const inputs = new Map<string, TensorInput>();
  for (const [name, t] of tensors) inputs.set(name, { dtype: t.dtype, shape: t.shape, data: t.bigints ?? t.data });
  return inputs;
}

/** Throws unless bytes read back consistently; returns normally when accepted and consistent. */
function checkAccepted(bytes: Uint8Array, options: ReadOptions): void {
  const { tensors, metadata } = readSafetensors(bytes, options);
  const header = readSafetensorsHeader(bytes, options);
  if (header.tensors.length !== tensors.size) throw new Error('readSafetensorsHeader and readSafetensors disagree on the tensors');
  const again = writeSafetensors(toInputs(tensors), metadata);
  const back = readSafetensors(again, options);
  assertSame(tensors, back.tensors, metadata, back.metadata);
  const third = writeSafetensors(toInputs(back.tensors), back.metadata);
  if (third.length !== again.length || third.some((b, i) => b !== again[i])) throw new Error('writing what was read is not idempotent');
}

function isClearRefusal(err: unknown): boolean {
  return err instanceof FormatError && err.message.startsWith('safetensors: ') && err.message.length <= 1000;
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.slice(0, 300)}${err.message.length > 300 ? `...(${err.message.length} chars)` : ''}`;
  return `a thrown ${typeof err}: ${String(err).slice(0, 100)}`;
}

// ---------------------------------------------------------------------------------------
// The run

export function fuzzSafetensors(options: FuzzOptions): FuzzResult {
  const seed = options.seed ?? 1;
  const slowMs = options.slowMs ?? 1000;
  const maxFailures = options.maxFailures ?? 20;
  const progressEvery = options.progressEvery ?? 10_000;
  const bases = baseFiles(seed);
  const rng = new Rng(seed);
  const result: FuzzResult = {
    cases: 0, accepted: 0, refused: 0, crashes: 0, inconsistent: 0, slow: 0, slowestMs: 0, elapsedMs: 0, byMutation: {}, failures: [],
  };
  for (const name of MUTATION_NAMES) result.byMutation[name] = { applied: 0, accepted: 0 };
  const started = Date.now();
  const record = (failure: FuzzFailure): void => {
    if (result.failures.length < maxFailures) result.failures.push(failure);
  };
  for (let caseIndex = 0; caseIndex < options.count; caseIndex++) {
    let bytes = bases[caseIndex % bases.length];
    const applied: string[] = [];
    for (let k = 0, n = 1 + (rng.uniform() < 0.3 ? 1 + rng.int(2) : 0); k < n; k++) {
      const name = pick(rng, MUTATION_NAMES);
      applied.push(name);
      bytes = MUTATIONS[name](bytes, rng);
    }
    if (rng.uniform() < 0.5) { // read from an unaligned view
      const backing = new Uint8Array(bytes.length + 3);
      backing.set(bytes, 3);
      bytes = backing.subarray(3);
    }
    const readOptions: ReadOptions = rng.uniform() < 0.5 ? {} : { unsafeIntegers: 'round' };
    const t0 = performance.now();
    let accepted = false;
    try {
      readSafetensors(bytes, readOptions);
      accepted = true;
    } catch (err) {
      if (isClearRefusal(err)) {
        result.refused++;
      } else {
        result.crashes++;
        record({ caseIndex, kind: 'crash', mutations: applied, message: describeThrown(err), bytes: bytes.slice() });
      }
    }
    if (accepted) {
      result.accepted++;
      for (const name of new Set(applied)) result.byMutation[name].accepted++;
      try {
        checkAccepted(bytes, readOptions);
      } catch (err) {
        result.inconsistent++;
        record({ caseIndex, kind: 'inconsistent', mutations: applied, message: describeThrown(err), bytes: bytes.slice() });
      }
    }
    for (const name of new Set(applied)) result.byMutation[name].applied++;
    const ms = performance.now() - t0;
    if (ms > result.slowestMs) result.slowestMs = ms;
    if (ms > slowMs) {
      result.slow++;
      record({ caseIndex, kind: 'slow', mutations: applied, message: `took ${ms.toFixed(0)} ms`, bytes: bytes.slice() });
    }
    result.cases++;
    if (options.onProgress && result.cases % progressEvery === 0) {
      result.elapsedMs = Date.now() - started;
      options.onProgress(result);
    }
  }
  result.elapsedMs = Date.now() - started;
  return result;
}

/** One line of counts, as `npm run fuzz` prints it. */
export function fuzzSummary(r: FuzzResult): string {
  return `${r.cases} cases: ${r.accepted} accepted, ${r.refused} refused, ${r.crashes} crashes, ${r.inconsistent} inconsistent, ` +
    `${r.slow} slow (slowest case ${r.slowestMs.toFixed(1)} ms), ${(r.elapsedMs / 1000).toFixed(1)} s`;
}
