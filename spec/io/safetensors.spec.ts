import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  tensorToMat,
  matToTensor,
  DTYPE_SIZE,
  type DType,
  type Tensor,
  type TensorInput,
} from '../../lib/io/safetensors.js';
import { matOf, rowsView } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { FormatError, LoopgradError } from '../../lib/mat/errors.js';
import { concat } from '../../scripts/fuzz-core.js';
import { GOLDEN_DIR } from '../helpers.js';


// ---------------------------------------------------------------------------------------
// Helpers: build files by hand (header text + raw data) so hostile cases are exact.

const encoder = new TextEncoder();


function u64le(n: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** A file from header bytes and a data section; the length prefix is the real header length. */
function rawFile(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = typeof header === 'string' ? encoder.encode(header) : header;
  return concat(u64le(h.length), h, data);
}

function f64Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return out;
}

/** Header text with the given entries (objects) and optional metadata. */
function headerOf(entries: Record<string, unknown>): string {
  return JSON.stringify(entries);
}

function throwsWith(fn: () => unknown, pattern: RegExp, label?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) assert.unreachable(`${label ?? pattern} did not throw`);
  assert.ok(caught instanceof Error, `${label}: threw a non-Error`);
  assert.ok(caught instanceof LoopgradError, `${label}: threw ${(caught as Error).constructor.name}: ${(caught as Error).message}`);
  const message = (caught as Error).message;
  assert.ok(pattern.test(message), `${label ?? ''}: message ${JSON.stringify(message)} does not match ${pattern}`);
  assert.ok(message.startsWith('safetensors: '), `message does not name the module: ${message}`);
}

function sameFloats(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.is(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(expected[i])) assert.ok(Number.isNaN(actual[i]), `${label}[${i}] should be NaN`);
    else assert.ok(Object.is(actual[i], expected[i]), `${label}[${i}]: ${actual[i]} != ${expected[i]}`);
  }
}

// Seeded PRNG (mulberry32) so fuzz cases are the same on every run.
function rng(seed: number): () => number {
  const generator = new Rng(seed);
  return () => generator.uniform();
}

// ---------------------------------------------------------------------------------------
// Round trips

const F16_MAX = 65504;
const SAMPLES: Record<DType, number[]> = {
  F64: [0, -0, 1, -2.5, Math.PI, 1e-310, -Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN],
  F32: [0, -0, 1, -2.5, Math.fround(Math.PI), 3.4028234663852886e38, 1.401298464324817e-45, Infinity, NaN],
  F16: [0, -0, 1, -2, 0.5, F16_MAX, -F16_MAX, 2 ** -24, 2 ** -14, 1 + 2 ** -10, Infinity, -Infinity, NaN],
  BF16: [0, -0, 1, -2, 3.3895313892515355e38, 2 ** -133, 2 ** -126, 1 + 2 ** -7, Infinity, NaN],
  I64: [0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 123456789012],
  U64: [0, 1, Number.MAX_SAFE_INTEGER, 4294967296],
  I32: [0, -1, 2147483647, -2147483648, 7],
  U32: [0, 1, 4294967295],
  I16: [0, -32768, 32767, -5],
  U16: [0, 65535, 300],
  I8: [0, -128, 127, -1],
  U8: [0, 255, 17],
  BOOL: [0, 1, 1, 0],
};

test('round trip: every dtype, 1-D and reshaped', () => {
  for (const dtype of Object.keys(SAMPLES) as DType[]) {
    const values = SAMPLES[dtype];
    const bytes = writeSafetensors({ a: { dtype, shape: [values.length], data: values } });
    const back = readSafetensors(bytes).tensors.get('a') as Tensor;
    assert.is(back.dtype, dtype);
    assert.equal(back.shape, [values.length]);
    sameFloats(back.data, values, dtype);
  }
  // All dtypes in one file, with 0-D, empty and multi-dimensional shapes.
  const inputs: Record<string, TensorInput> = {};
  for (const dtype of Object.keys(SAMPLES) as DType[]) {
    const v = [0, 1, 2, 3].map((i) => SAMPLES[dtype][i % SAMPLES[dtype].length]);
    inputs[`m/${dtype}`] = { dtype, shape: [2, 1, 2], data: v };
    inputs[`s/${dtype}`] = { dtype, shape: [], data: [v[1]] };
    inputs[`e/${dtype}`] = { dtype, shape: [3, 0], data: [] };
  }
  const bytes = writeSafetensors(inputs, { kind: 'test', note: 'ünïcödé ✓ 🚀' });
  const { tensors, metadata } = readSafetensors(bytes);
  assert.equal(metadata, { kind: 'test', note: 'ünïcödé ✓ 🚀' });
  assert.is(tensors.size, Object.keys(inputs).length);
  for (const [name, input] of Object.entries(inputs)) {
    const t = tensors.get(name) as Tensor;
    assert.is(t.dtype, input.dtype, name);
    assert.equal(t.shape, [...input.shape], name);
    sameFloats(t.data, input.data as number[], name);
  }
});

test('round trip: a Map input and typed-array data', () => {
  const data = new Float64Array([1, 2, 3, 4, 5, 6]);
  const bytes = writeSafetensors(new Map([['w', { dtype: 'F64' as DType, shape: [2, 3], data }]]));
  sameFloats(readSafetensors(bytes).tensors.get('w')!.data, data, 'w');
  const bytes32 = writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) } });
  sameFloats(readSafetensors(bytes32).tensors.get('x')!.data, Array.from(new Float32Array([0.1, 0.2, 0.3])), 'x');
});

test('I64 / U64: exact bigints, unsafe values throw unless rounding is allowed', () => {
  const big = [BigInt('9223372036854775807'), BigInt('-9223372036854775808'), BigInt(2) ** BigInt(53) + BigInt(1), BigInt(-3)];
  const bytes = writeSafetensors({ big: { dtype: 'I64', shape: [4], data: big } });
  throwsWith(() => readSafetensors(bytes), /tensor "big": I64 element 0 is 9223372036854775807, beyond/);
  const t = readSafetensors(bytes, { unsafeIntegers: 'round' }).tensors.get('big')!;
  assert.equal(Array.from(t.bigints!), big);
  assert.equal(Array.from(t.data), big.map(Number));
  const ubig = [BigInt('18446744073709551615'), BigInt(5)];
  const ub = writeSafetensors({ u: { dtype: 'U64', shape: [2], data: ubig } });
  const u = readSafetensors(ub, { unsafeIntegers: 'round' }).tensors.get('u')!;
  assert.ok(u.bigints instanceof BigUint64Array);
  assert.equal(Array.from(u.bigints!), ubig);
  // Integers beyond 2^53 given as exact float64 numbers are written exactly.
  const n = writeSafetensors({ n: { dtype: 'I64', shape: [1], data: [2 ** 62] } });
  assert.is(readSafetensors(n, { unsafeIntegers: 'round' }).tensors.get('n')!.bigints![0], BigInt(2) ** BigInt(62));
});

test('F16 and BF16: every bit pattern survives decode + encode; rounding is to nearest even', () => {
  for (const [dtype, mantBits] of [['F16', 10], ['BF16', 7]] as const) {
    const raw = new Uint8Array(65536 * 2);
    const view = new DataView(raw.buffer);
    for (let b = 0; b < 65536; b++) view.setUint16(b * 2, b, true);
    const file = rawFile(headerOf({ all: { dtype, shape: [65536], data_offsets: [0, raw.length] } }), raw);
    const values = readSafetensors(file).tensors.get('all')!.data;
    // Independent checks of the decoder.
    if (dtype === 'BF16') {
      const f = new DataView(new ArrayBuffer(4));
      for (let b = 0; b < 65536; b++) {
        f.setUint32(0, b << 16);
        const expect = f.getFloat32(0);
        if (Number.isNaN(expect)) assert.ok(Number.isNaN(values[b]));
        else assert.ok(Object.is(values[b], expect), `BF16 0x${b.toString(16)}`);
      }
    } else {
      assert.is(values[0x3c00], 1);
      assert.is(values[0xc000], -2);
      assert.is(values[0x7bff], 65504);
      assert.is(values[0x0001], 2 ** -24);
      assert.is(values[0x03ff], 1023 * 2 ** -24);
      assert.is(values[0x0400], 2 ** -14);
      assert.is(values[0x7c00], Infinity);
      assert.ok(Object.is(values[0x8000], -0));
      assert.ok(Number.isNaN(values[0x7e00]));
    }
    const again = writeSafetensors({ all: { dtype, shape: [65536], data: values } });
    const againView = new DataView(again.buffer, again.length - raw.length);
    const expMask = dtype === 'F16' ? 0x7c00 : 0x7f80;
    for (let b = 0; b < 65536; b++) {
      const isNaN = (b & expMask) === expMask && (b & ((1 << mantBits) - 1)) !== 0;
      if (!isNaN) assert.is(againView.getUint16(b * 2, true), b, `${dtype} bits 0x${b.toString(16)}`);
    }
    // Midpoints between neighbours round to the even one; a hair above rounds up.
    const probes: number[] = [];
    const expected: number[] = [];
    for (let b = 0; b < expMask - 1; b += 7) {
      const lo = values[b];
      const hi = values[b + 1];
      const mid = (lo + hi) / 2;
      probes.push(mid, mid + (hi - lo) / 1024, -mid);
      expected.push(b % 2 === 0 ? b : b + 1, b + 1, (b % 2 === 0 ? b : b + 1) | 0x8000);
    }
    const rounded = writeSafetensors({ p: { dtype, shape: [probes.length], data: probes } });
    const rv = new DataView(rounded.buffer, rounded.length - probes.length * 2);
    for (let i = 0; i < probes.length; i++) {
      assert.is(rv.getUint16(i * 2, true), expected[i], `${dtype} probe ${probes[i]}`);
    }
  }
  // Overflow: above the largest finite half rounds to infinity only past the midpoint.
  const o = writeSafetensors({ o: { dtype: 'F16', shape: [3], data: [65519.99, 65520, 1e6] } });
  sameFloats(readSafetensors(o).tensors.get('o')!.data, [65504, Infinity, Infinity], 'F16 overflow');
});

test('layout: reference byte format, 8-byte aligned header, dtype-then-name order', () => {
  // Empty file: "{}" padded with spaces to 8 bytes.
  assert.equal(Array.from(writeSafetensors({})), [8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
  // One F32 tensor: compact JSON, then raw little-endian floats.
  const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const values = [0, 1, 2, 3, 4, 5];
  const data = new Uint8Array(24);
  values.forEach((v, i) => new DataView(data.buffer).setFloat32(i * 4, v, true));
  const expected = rawFile(padded, data);
  assert.equal(Array.from(writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: values } })), Array.from(expected));
  // Order: widest dtypes first (I64 before F64, as the reference enum orders them), then by name.
  const bytes = writeSafetensors({
    b: { dtype: 'U8', shape: [3], data: [1, 2, 3] },
    z: { dtype: 'F64', shape: [1], data: [1] },
    a: { dtype: 'F64', shape: [1], data: [1] },
    len: { dtype: 'I64', shape: [1], data: [4] },
    h: { dtype: 'F16', shape: [1], data: [1] },
    f: { dtype: 'F32', shape: [1], data: [1] },
  });
  const header = readSafetensorsHeader(bytes);
  assert.equal(header.tensors.map((t) => t.name), ['len', 'a', 'z', 'f', 'h', 'b']);
  assert.is(header.dataStart % 8, 0);
  for (const t of header.tensors) assert.is(t.dataOffsets[0] % DTYPE_SIZE[t.dtype], 0, `${t.name} aligned`);
  const headerText = new TextDecoder().decode(bytes.subarray(8, header.dataStart));
  assert.ok(headerText.startsWith('{"len":'));
  assert.ok(/\}\s*$/.test(headerText));
  // Metadata first.
  const withMeta = writeSafetensors({ a: { dtype: 'F64', shape: [], data: [1] } }, { x: '1' });
  assert.ok(new TextDecoder().decode(withMeta.subarray(8, readSafetensorsHeader(withMeta).dataStart)).startsWith('{"__metadata__":{"x":"1"},"a":'));
});

test('reads correctly from an unaligned view (byteOffset not a multiple of 8)', () => {
  const file = writeSafetensors({
    d: { dtype: 'F64', shape: [3], data: [1.5, -2.25, 1e300] },
    f: { dtype: 'F32', shape: [3], data: [0.5, 2, -8] },
    i: { dtype: 'I32', shape: [2], data: [-7, 9] },
  });
  for (let shift = 1; shift < 8; shift++) {
    const backing = new Uint8Array(file.length + 16).fill(0xee);
    backing.set(file, shift);
    const view = backing.subarray(shift, shift + file.length);
    const { tensors } = readSafetensors(view);
    sameFloats(tensors.get('d')!.data, [1.5, -2.25, 1e300], `d@${shift}`);
    sameFloats(tensors.get('f')!.data, [0.5, 2, -8], `f@${shift}`);
    sameFloats(tensors.get('i')!.data, [-7, 9], `i@${shift}`);
  }
});

// ---------------------------------------------------------------------------------------
// Golden files

const PARAM_GATES: Record<string, number> = { RNN: 1, LSTM: 4, GRU: 3 };

function goldenFiles(): string[] {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.safetensors')).sort();
}

test('golden: every file reads, rewrites byte-for-byte, and its shapes agree with its metadata', () => {
  const files = goldenFiles();
  assert.ok(files.length >= 20, `expected the golden files in ${GOLDEN_DIR}`);
  for (const file of files) {
    const bytes = new Uint8Array(readFileSync(join(GOLDEN_DIR, file)));
    const { tensors, metadata } = readSafetensors(bytes);
    const md = metadata;
    const label = file;
    assert.ok(['rnn', 'ctc', 'rtrl', 'mdrnn'].includes(md.kind), `${label}: kind ${md.kind}`);
    assert.is(md.made_with_writer, 'safetensors', label);
    const shape = (name: string): number[] => {
      const t = tensors.get(name);
      if (!t) assert.unreachable(`${label}: missing ${name}`);
      return t!.shape;
    };
    for (const [name, t] of tensors) {
      assert.ok(/^(param|input|upstream|expected|grad)\//.test(name), `${label}: name ${name}`);
      assert.is(t.data.length, t.shape.reduce((a, b) => a * b, 1), `${label}: ${name} size`);
      if (name.startsWith('grad/')) {
        const primal = tensors.get(`param/${name.slice(5)}`) ?? tensors.get(`input/${name.slice(5)}`);
        if (primal) assert.equal(t.shape, primal.shape, `${label}: ${name} shape = primal shape`);
      }
    }
    const num = (key: string): number => Number(md[key]);
    if (md.kind === 'rnn') {
      const dirs = md.bidirectional === 'true' ? 2 : 1;
      const hidden = num('hidden_size');
      const gates = PARAM_GATES[md.module];
      assert.ok(gates !== undefined, `${label}: module ${md.module}`);
      assert.equal(shape('input/x'), [num('seq_len'), num('batch'), num('input_size')], `${label}: input/x`);
      assert.equal(shape('input/h0'), [num('num_layers') * dirs, num('batch'), hidden], `${label}: h0`);
      assert.equal(shape('expected/output'), [num('seq_len'), num('batch'), hidden * dirs], `${label}: output`);
      assert.equal(shape('param/weight_ih_l0'), [gates * hidden, num('input_size')], `${label}: weight_ih_l0`);
      assert.equal(shape('param/weight_hh_l0'), [gates * hidden, hidden], `${label}: weight_hh_l0`);
      assert.is(tensors.has('param/bias_ih_l0'), md.bias !== 'false', `${label}: bias presence`);
      if (md.packed === 'true') {
        const lengths = tensors.get('input/lengths')!;
        assert.is(lengths.dtype, 'I64');
        for (const len of lengths.data) assert.ok(len >= 1 && len <= num('seq_len'), `${label}: length ${len}`);
      }
      const wantDtype = md.dtype === 'float32' ? 'F32' : 'F64';
      assert.is(tensors.get('param/weight_ih_l0')!.dtype, wantDtype, `${label}: dtype`);
    } else if (md.kind === 'ctc') {
      const dims = [num('max_time'), num('batch'), num('classes')];
      assert.equal(shape('input/logits'), dims, `${label}: logits`);
      assert.equal(shape('input/log_probs'), dims, `${label}: log_probs`);
      assert.equal(shape('expected/loss'), [num('batch')], `${label}: loss`);
      const inputLengths = tensors.get('input/input_lengths')!;
      assert.is(inputLengths.dtype, 'I64');
      for (const len of inputLengths.data) assert.ok(len <= num('max_time'), `${label}: input length`);
      // Each row of log_probs is a log-softmax: its exponentials sum to 1.
      const lp = tensorToMat(tensors.get('input/log_probs')!);
      for (let r = 0; r < lp.rows; r++) {
        let sum = 0;
        for (let c = 0; c < lp.cols; c++) sum += Math.exp(lp.data[r * lp.cols + c]);
        assert.ok(Math.abs(sum - 1) < 1e-12, `${label}: log_softmax row ${r} sums to ${sum}`);
      }
    } else if (md.kind === 'rtrl') {
      const order = md.theta_order.split(',');
      const paramCount = order.reduce((n, p) => n + tensors.get(`param/${p}`)!.data.length, 0);
      const states = md.module === 'LSTM' ? 2 * num('hidden_size') : num('hidden_size');
      assert.equal(shape('expected/sensitivity'), [num('seq_len'), states, paramCount], `${label}: sensitivity`);
      assert.equal(shape('grad/theta'), [paramCount], `${label}: grad/theta`);
      assert.equal(shape('upstream/states'), [num('seq_len'), states], `${label}: upstream/states`);
    } else {
      const [rows, cols, inputSize] = shape('input/x');
      const hidden = shape('param/b')[0];
      assert.equal(shape('param/W'), [hidden, inputSize], `${label}: W`);
      assert.equal(shape('expected/output'), [rows, cols, hidden], `${label}: output`);
    }
    // Writing what we read reproduces the reference writer's bytes exactly.
    const again = writeSafetensors(tensors, metadata);
    assert.is(again.length, bytes.length, `${label}: rewritten length`);
    let firstDiff = -1;
    for (let i = 0; i < bytes.length && firstDiff < 0; i++) if (again[i] !== bytes[i]) firstDiff = i;
    assert.is(firstDiff, -1, `${label}: rewritten bytes differ at ${firstDiff}`);
  }
});

test('golden: the float32 file reads as float32 values; +Infinity survives', () => {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(GOLDEN_DIR, 'lstm_1l_f32.safetensors'))));
  const w = tensors.get('param/weight_ih_l0')!;
  assert.is(w.dtype, 'F32');
  for (const v of w.data) assert.is(Math.fround(v), v);
  const wide = readSafetensors(new Uint8Array(readFileSync(join(GOLDEN_DIR, 'lstm_1l.safetensors')))).tensors;
  const w64 = wide.get('param/weight_ih_l0')!;
  assert.equal(w64.shape, w.shape);
  const impossible = readSafetensors(new Uint8Array(readFileSync(join(GOLDEN_DIR, 'ctc_impossible.safetensors')))).tensors;
  assert.is(impossible.get('expected/loss')!.data[0], Infinity);
});

// ---------------------------------------------------------------------------------------
// Hostile input: every case throws a LoopgradError (a FormatError for bytes read) whose message names the problem.

const W_ENTRY = { dtype: 'F64', shape: [4, 3], data_offsets: [0, 96] };
const W_DATA = f64Bytes(Array.from({ length: 12 }, (_, i) => i));

function withEntry(entry: unknown, data: Uint8Array = W_DATA, name = 'param/weight_ih_l0'): Uint8Array {
  return rawFile(headerOf({ [name]: entry }), data);
}

const HOSTILE: [string, () => Uint8Array, RegExp][] = [
  ['empty file', () => new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header length/],
  ['7 bytes', () => new Uint8Array(7), /file is 7 bytes, shorter than the 8-byte/],
  ['header length past end', () => concat(u64le(100), encoder.encode('{}')), /header length 100 runs past the end of the file \(10 bytes/],
  ['header length 1 past end', () => { const f = rawFile('{}  '); f[0] = 5; return f; }, /header length 5 runs past the end/],
  ['header length absurd', () => concat(u64le(BigInt(2) ** BigInt(40)), encoder.encode('{}')), /header length 1099511627776 exceeds the limit of 100000000 bytes/],
  ['header length u64 max', () => concat(u64le(BigInt('18446744073709551615')), encoder.encode('{}')), /header length >= 2\^53 exceeds the limit/],
  ['header length just over the cap', () => concat(u64le(100_000_001), encoder.encode('{}')), /exceeds the limit of 100000000/],
  ['header length zero', () => concat(u64le(0)), /header is empty/],
  ['header not starting with {', () => rawFile(' {}'), /does not start with '\{'/],
  ['header is an array', () => rawFile('[]'), /does not start with '\{'/],
  ['invalid UTF-8 byte', () => rawFile(concat(encoder.encode('{"a'), new Uint8Array([0xff]), encoder.encode('":1}'))), /header is not valid UTF-8 \(byte 0xff at header offset 3\)/],
  ['overlong UTF-8', () => rawFile(concat(encoder.encode('{"'), new Uint8Array([0xc0, 0xaf]), encoder.encode('":1}'))), /not valid UTF-8/],
  ['UTF-8 surrogate', () => rawFile(concat(encoder.encode('{"'), new Uint8Array([0xed, 0xa0, 0x80]), encoder.encode('":1}'))), /not valid UTF-8/],
  ['UTF-8 cut off', () => rawFile(concat(encoder.encode('{"'), new Uint8Array([0xe2, 0x82]))), /not valid UTF-8 \(sequence cut off/],
  ['invalid JSON', () => rawFile('{"a": }'), /header is not valid JSON/],
  ['JSON with trailing garbage', () => rawFile('{} x'), /header is not valid JSON/],
  ['JSON padded with NULs', () => rawFile('{}\0\0'), /header is not valid JSON/],
  ['entry not an object', () => rawFile('{"param/x": 5}'), /tensor "param\/x": entry is 5, not an object/],
  ['entry is an array', () => rawFile('{"param/x": [1]}'), /tensor "param\/x": entry is \[1\], not an object/],
  ['missing dtype', () => withEntry({ shape: [4, 3], data_offsets: [0, 96] }), /tensor "param\/weight_ih_l0": entry has no dtype/],
  ['missing shape', () => withEntry({ dtype: 'F64', data_offsets: [0, 96] }), /tensor "param\/weight_ih_l0": entry has no shape/],
  ['missing data_offsets', () => withEntry({ dtype: 'F64', shape: [4, 3] }), /tensor "param\/weight_ih_l0": entry has no data_offsets/],
  ['unknown dtype', () => withEntry({ ...W_ENTRY, dtype: 'F128' }), /tensor "param\/weight_ih_l0": unknown dtype the string "F128"/],
  ['lowercase dtype', () => withEntry({ ...W_ENTRY, dtype: 'f64' }), /unknown dtype the string "f64"/],
  ['dtype not a string', () => withEntry({ ...W_ENTRY, dtype: 8 }), /unknown dtype 8/],
  ['dtype named like an Object method', () => withEntry({ ...W_ENTRY, dtype: 'toString' }), /unknown dtype the string "toString"/],
  ['unsupported fp8 dtype', () => withEntry({ ...W_ENTRY, dtype: 'F8_E4M3' }), /dtype F8_E4M3 is not supported/],
  ['shape not an array', () => withEntry({ ...W_ENTRY, shape: 12 }), /tensor "param\/weight_ih_l0": shape is 12, not an array/],
  ['negative shape', () => withEntry({ ...W_ENTRY, shape: [-4, -3] }), /shape entry 0 is -4, not a non-negative integer/],
  ['fractional shape', () => withEntry({ ...W_ENTRY, shape: [4, 3.5] }), /shape entry 1 is 3.5, not a non-negative integer/],
  ['huge shape entry', () => withEntry({ ...W_ENTRY, shape: [1e300] }), /shape entry 0 is 1e\+300/],
  ['string shape entry', () => withEntry({ ...W_ENTRY, shape: ['4', 3] }), /shape entry 0 is the string "4"/],
  ['shape overflowing 2^53', () => withEntry({ ...W_ENTRY, shape: [2 ** 30, 2 ** 30, 2 ** 30] }), /has more than 2\^53 elements/],
  ['data_offsets not a pair', () => withEntry({ ...W_ENTRY, data_offsets: [0, 48, 96] }), /data_offsets is \[0, 48, 96\], not a pair/],
  ['data_offsets an object', () => withEntry({ ...W_ENTRY, data_offsets: { begin: 0 } }), /data_offsets is an object, not a pair/],
  ['negative data_offsets', () => withEntry({ ...W_ENTRY, data_offsets: [-8, 88] }), /data_offsets \[-8, 88\] are not non-negative integers/],
  ['fractional data_offsets', () => withEntry({ ...W_ENTRY, data_offsets: [0, 95.5] }), /are not non-negative integers/],
  ['reversed data_offsets', () => withEntry({ ...W_ENTRY, data_offsets: [96, 0] }), /tensor "param\/weight_ih_l0": data_offsets \[96, 0\] are reversed/],
  ['data_offsets past the end', () => withEntry({ ...W_ENTRY, data_offsets: [8, 104] }), /data_offsets \[8, 104\] run past the end of the data section \(96 bytes\)/],
  ['data_offsets far past the end', () => withEntry({ ...W_ENTRY, data_offsets: [0, 2 ** 52] }), /run past the end of the data section/],
  ['truncated data', () => withEntry(W_ENTRY, W_DATA.subarray(0, 90)), /data_offsets \[0, 96\] run past the end of the data section \(90 bytes\)/],
  ['byte count != shape', () => withEntry({ ...W_ENTRY, data_offsets: [0, 88] }, W_DATA.subarray(0, 88)),
    /tensor "param\/weight_ih_l0": data_offsets \[0, 88\] hold 88 bytes but shape \[4,3\] of F64 needs 96/],
  ['shape too small for bytes', () => withEntry({ ...W_ENTRY, shape: [4, 2] }), /hold 96 bytes but shape \[4,2\] of F64 needs 64/],
  ['dtype disagrees with bytes', () => withEntry({ ...W_ENTRY, dtype: 'F32' }), /hold 96 bytes but shape \[4,3\] of F32 needs 48/],
  ['overlapping tensors', () => rawFile(headerOf({
    a: { dtype: 'F64', shape: [8], data_offsets: [0, 64] },
    b: { dtype: 'F64', shape: [8], data_offsets: [32, 96] },
  }), W_DATA), /tensor "b": data_offsets \[32, 96\] overlap tensor "a" at \[0, 64\]/],
  ['identical offsets', () => rawFile(headerOf({
    a: { dtype: 'F64', shape: [12], data_offsets: [0, 96] },
    b: { dtype: 'F64', shape: [12], data_offsets: [0, 96] },
  }), W_DATA), /tensor "b": data_offsets \[0, 96\] overlap tensor "a"/],
  ['empty tensor inside another', () => rawFile(headerOf({
    a: { dtype: 'F64', shape: [12], data_offsets: [0, 96] },
    e: { dtype: 'F64', shape: [0], data_offsets: [8, 8] },
  }), W_DATA), /tensor "e": data_offsets \[8, 8\] overlap tensor "a"/],
  ['gap between tensors', () => rawFile(headerOf({
    a: { dtype: 'F64', shape: [4], data_offsets: [0, 32] },
    b: { dtype: 'F64', shape: [4], data_offsets: [64, 96] },
  }), W_DATA), /tensor "b": data_offsets \[64, 96\] leave bytes \[32, 64\) of the data section unused/],
  ['trailing bytes', () => withEntry({ ...W_ENTRY, shape: [4, 2], data_offsets: [0, 64] }), /data section has 96 bytes but the tensors cover only 64/],
  ['data but no tensors', () => rawFile('{}', W_DATA), /data section has 96 bytes but the tensors cover only 0/],
  ['metadata not an object', () => rawFile('{"__metadata__": [1, 2]}'), /header __metadata__ is \[1, 2\], not an object of strings/],
  ['metadata value not a string', () => rawFile('{"__metadata__": {"kind": "rnn", "hidden_size": 4}}'), /header __metadata__ key "hidden_size" is 4, not a string/],
  ['metadata value an object', () => rawFile('{"__metadata__": {"kind": {"x": "y"}}}'), /key "kind" is an object, not a string/],
  ['BOOL byte not 0/1', () => rawFile(headerOf({ flags: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }), new Uint8Array([0, 1, 2])),
    /tensor "flags": BOOL element 2 is the byte 2, not 0 or 1/],
  ['I64 beyond 2^53', () => rawFile(headerOf({ 'input/lengths': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }), u64le(BigInt(2) ** BigInt(60))),
    /tensor "input\/lengths": I64 element 0 is 1152921504606846976, beyond/],
  ['huge tensor name is shortened', () => withEntry({ ...W_ENTRY, dtype: 'X' }, W_DATA, 'n'.repeat(100_000)), /tensor "n{120}\.\.\.\(100000 chars\)": unknown dtype/],
];

test('hostile input: each case throws a clear Error naming the problem', () => {
  for (const [label, make, pattern] of HOSTILE) throwsWith(() => readSafetensors(make()), pattern, label);
});

test('hostile input: header-only reader applies the same checks', () => {
  throwsWith(() => readSafetensorsHeader(HOSTILE[2][1]()), /runs past the end/);
  throwsWith(() => readSafetensorsHeader(withEntry({ ...W_ENTRY, data_offsets: [0, 88] }, W_DATA.subarray(0, 88))), /needs 96/);
  throwsWith(() => readSafetensors(rawFile('{}', new Uint8Array(0)), { maxHeaderBytes: 1 }), /exceeds the limit of 1 bytes/);
  throwsWith(() => readSafetensors('not bytes' as unknown as Uint8Array), /not a Uint8Array/);
});

test('odd but valid input: metadata keys like __proto__, empty tensors, null metadata, extra fields', () => {
  const { metadata } = readSafetensors(rawFile('{"__metadata__":{"__proto__":"x","constructor":"y"}}'));
  assert.equal(Object.keys(metadata), ['__proto__', 'constructor']);
  assert.is(metadata['__proto__'], 'x');
  assert.is(Object.getPrototypeOf(metadata), Object.prototype);
  assert.equal(readSafetensors(rawFile('{"__metadata__":null}')).metadata, {});
  const empties = readSafetensors(rawFile(headerOf({
    a: { dtype: 'F64', shape: [0, 5], data_offsets: [0, 0] },
    b: { dtype: 'I64', shape: [0], data_offsets: [0, 0] },
    c: { dtype: 'F64', shape: [], data_offsets: [0, 8], extra: 'ignored' },
  }), f64Bytes([7]))).tensors;
  assert.equal(empties.get('a')!.shape, [0, 5]);
  assert.is(empties.get('a')!.data.length, 0);
  assert.equal(Array.from(empties.get('c')!.data), [7]);
  // Header padded with spaces, tabs and newlines after the JSON.
  assert.is(readSafetensors(rawFile('{} \t\r\n  ')).tensors.size, 0);
});

test('writer: rejects bad tensors and metadata with clear errors', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['length mismatch', () => writeSafetensors({ w: { dtype: 'F64', shape: [2, 3], data: [1, 2, 3] } }), /tensor "w": data has 3 elements but shape \[2,3\] needs 6/],
    ['unknown dtype', () => writeSafetensors({ w: { dtype: 'F8' as DType, shape: [1], data: [1] } }), /tensor "w": unknown dtype the string "F8"/],
    ['negative shape', () => writeSafetensors({ w: { dtype: 'F64', shape: [-1], data: [] } }), /shape entry 0 is -1/],
    ['reserved name', () => writeSafetensors({ __metadata__: { dtype: 'F64', shape: [], data: [1] } }), /reserved for the metadata/],
    ['I32 out of range', () => writeSafetensors({ i: { dtype: 'I32', shape: [1], data: [2 ** 31] } }), /tensor "i": element 0 is 2147483648, not an integer in \[-2147483648, 2147483647\] for I32/],
    ['U8 fractional', () => writeSafetensors({ i: { dtype: 'U8', shape: [2], data: [1, 2.5] } }), /element 1 is 2.5, not an integer/],
    ['BOOL not 0/1', () => writeSafetensors({ i: { dtype: 'BOOL', shape: [1], data: [2] } }), /for BOOL/],
    ['I64 not integer', () => writeSafetensors({ i: { dtype: 'I64', shape: [1], data: [0.5] } }), /element 0 is 0.5, not an integer for I64/],
    ['I64 out of range', () => writeSafetensors({ i: { dtype: 'I64', shape: [1], data: [2 ** 63] } }), /out of range for I64/],
    ['U64 negative', () => writeSafetensors({ i: { dtype: 'U64', shape: [1], data: [BigInt(-1)] } }), /element 0 is -1, out of range for U64/],
    ['bigint for F64', () => writeSafetensors({ i: { dtype: 'F64', shape: [1], data: [BigInt(1)] } }), /element 0 is a bigint, not a number/],
    ['string element', () => writeSafetensors({ i: { dtype: 'F64', shape: [1], data: ['1'] as unknown as number[] } }), /element 0 is a string/],
    ['data missing', () => writeSafetensors({ i: { dtype: 'F64', shape: [1] } as unknown as TensorInput }), /data is not an array-like/],
    ['metadata not string', () => writeSafetensors({}, { n: 4 } as unknown as Record<string, string>), /metadata key "n" is 4, not a string/],
  ];
  for (const [label, fn, pattern] of cases) throwsWith(fn, pattern, label);
});

// ---------------------------------------------------------------------------------------
// Mat conversion

test('tensorToMat / matToTensor', () => {
  const t3: Tensor = { dtype: 'F64', shape: [2, 3, 4], data: Float64Array.from({ length: 24 }, (_, i) => i) };
  const m3 = tensorToMat(t3);
  assert.is(m3.rows, 6);
  assert.is(m3.cols, 4);
  assert.is(m3.data, t3.data, 'shares storage');
  const m1 = tensorToMat({ dtype: 'F64', shape: [5], data: new Float64Array(5) });
  assert.equal([m1.rows, m1.cols], [1, 5]);
  const m0 = tensorToMat({ dtype: 'F64', shape: [], data: new Float64Array([3]) });
  assert.equal([m0.rows, m0.cols], [1, 1]);
  const mEmpty = tensorToMat({ dtype: 'F64', shape: [0, 3], data: new Float64Array(0) });
  assert.equal([mEmpty.rows, mEmpty.cols], [0, 3]);
  throwsWith(() => tensorToMat({ dtype: 'F64', shape: [2, 2], data: new Float64Array(3) }), /tensorToMat: shape \[2,2\] needs 4 values but data has 3/);

  const m = matOf([[1, 2], [3, 4], [5, 6]]);
  const view = rowsView(m, 1, 2);
  const t = matToTensor(view);
  assert.equal(t.shape, [2, 2]);
  assert.equal(Array.from(t.data), [3, 4, 5, 6]);
  assert.is.not(t.data.buffer, m.data.buffer, 'copies');
  const tr = matToTensor(m, [1, 3, 2], 'F32');
  assert.equal(tr.shape, [1, 3, 2]);
  assert.is(tr.dtype, 'F32');
  throwsWith(() => matToTensor(m, [4, 2]), /matToTensor: shape \[4,2\] has 8 elements but the matrix is 3x2/);
  throwsWith(() => matToTensor(m, [-6, -1]), /not a list of non-negative integers/);
  // Through a file and back.
  const bytes = writeSafetensors({ m: matToTensor(m) });
  const back = tensorToMat(readSafetensors(bytes).tensors.get('m')!);
  assert.equal([back.rows, back.cols], [3, 2]);
  assert.equal(Array.from(back.data), [1, 2, 3, 4, 5, 6]);
});

// ---------------------------------------------------------------------------------------
// Fuzz: mutations of valid files either parse consistently or throw a FormatError.

function mixedFile(): Uint8Array {
  return writeSafetensors({
    'param/w': { dtype: 'F64', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
    'param/h': { dtype: 'F16', shape: [3], data: [1, -2, 0.5] },
    'param/b': { dtype: 'BF16', shape: [2], data: [1, 2] },
    'input/lengths': { dtype: 'I64', shape: [2], data: [3, 1] },
    'input/u': { dtype: 'U32', shape: [2], data: [7, 8] },
    'input/f': { dtype: 'F32', shape: [2, 1], data: [0.25, -1] },
    flags: { dtype: 'BOOL', shape: [2], data: [0, 1] },
    bytes: { dtype: 'U8', shape: [3], data: [1, 2, 3] },
  }, { kind: 'fuzz', note: 'x' });
}

function mutate(base: Uint8Array, random: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(random() * n);
  if (base.length < 16) return base.slice(0, Math.floor(random() * (base.length + 1)));
  const headerEnd = Math.max(9, Math.min(base.length, 8 + new DataView(base.buffer, base.byteOffset).getUint32(0, true)));
  const bytes = base.slice();
  const kind = pick(8);
  switch (kind) {
    case 0: { // flip a bit anywhere
      const at = pick(bytes.length);
      bytes[at] ^= 1 << pick(8);
      return bytes;
    }
    case 1: { // flip a few bits in the header
      for (let k = 0, n = 1 + pick(4); k < n; k++) bytes[8 + pick(headerEnd - 8)] ^= 1 << pick(8);
      return bytes;
    }
    case 2: { // change a digit in the header (offsets, shapes, lengths)
      const digits: number[] = [];
      for (let i = 8; i < headerEnd; i++) if (bytes[i] >= 0x30 && bytes[i] <= 0x39) digits.push(i);
      if (digits.length > 0) bytes[digits[pick(digits.length)]] = 0x30 + pick(10);
      return bytes;
    }
    case 3: // truncate
      return bytes.slice(0, pick(bytes.length));
    case 4: { // random byte in the length prefix
      bytes[pick(8)] = pick(256);
      return bytes;
    }
    case 5: { // append garbage
      const extra = new Uint8Array(1 + pick(16)).map(() => pick(256));
      return concat(bytes, extra);
    }
    case 6: { // replace a header byte with a JSON-significant character
      const chars = '{}[]":,-.e0 \\\u0000';
      bytes[8 + pick(headerEnd - 8)] = chars.charCodeAt(pick(chars.length));
      return bytes;
    }
    default: { // delete a run of bytes from the header, fixing up nothing
      const at = 8 + pick(headerEnd - 8);
      const len = 1 + pick(8);
      return concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + len)));
    }
  }
}

test('fuzz: 1500 seeded mutations parse or throw a FormatError, never RangeError', () => {
  const bases = [
    mixedFile(),
    new Uint8Array(readFileSync(join(GOLDEN_DIR, 'rnn_tanh_nobias.safetensors'))),
    new Uint8Array(readFileSync(join(GOLDEN_DIR, 'ctc_impossible.safetensors'))),
  ];
  const random = rng(20240531);
  let parsed = 0;
  let rejected = 0;
  const started = Date.now();
  for (let caseIndex = 0; caseIndex < 1500; caseIndex++) {
    const base = bases[caseIndex % bases.length];
    let bytes = mutate(base, random);
    if (random() < 0.3) bytes = mutate(bytes, random); // sometimes two mutations
    // Read from an unaligned offset half the time.
    if (caseIndex % 2 === 1) {
      const backing = new Uint8Array(bytes.length + 3);
      backing.set(bytes, 3);
      bytes = backing.subarray(3);
    }
    try {
      const { tensors, metadata } = readSafetensors(bytes);
      parsed++;
      for (const [name, t] of tensors) {
        assert.is(t.data.length, t.shape.reduce((a, b) => a * b, 1), `case ${caseIndex}: ${name}`);
      }
      for (const v of Object.values(metadata)) assert.type(v, 'string');
    } catch (err) {
      if (!(err instanceof FormatError) || !err.message.startsWith('safetensors: ')) {
        throw new Error(`case ${caseIndex}: unexpected ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
      }
      rejected++;
    }
  }
  assert.ok(parsed > 50, `some mutations should still parse (data-section flips): ${parsed}`);
  assert.ok(rejected > 500, `most header mutations should be rejected: ${rejected}`);
  assert.ok(Date.now() - started < 5000, 'fuzz cases are fast');
});

test.run();
