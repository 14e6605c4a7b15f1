// The safetensors header parser is as strict as the reference (safetensors + serde_json),
// and stricter on duplicate keys: each case below is refused with a FormatError naming
// the problem, or (the "accepted" cases) read exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  MAX_HEADER_BYTES,
  MAX_HEADER_BYTES_BROWSER,
} from '../../lib/io/safetensors.js';
import { concat } from '../../scripts/fuzz-core.js';
import { FormatError } from '../../lib/mat/errors.js';

const encoder = new TextEncoder();


/** A file from header text or bytes (the length prefix is their real length) and data. */
function file(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = typeof header === 'string' ? encoder.encode(header) : header;
  const out = concat(new Uint8Array(8), h, data);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  return out;
}

const ENTRY = '{"dtype":"F64","shape":[2],"data_offsets":[0,16]}';
const DATA = new Uint8Array(16);

/** A file with one F64 [2] tensor "w" whose entry text is given. */
function withEntry(entry: string, data = DATA): Uint8Array {
  return file(`{"w":${entry}}`, data);
}

function refuses(bytes: Uint8Array, pattern: RegExp, label: string): string {
  let caught: unknown;
  try {
    readSafetensors(bytes);
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) assert.unreachable(`${label}: accepted`);
  assert.ok(caught instanceof FormatError, `${label}: threw ${String(caught)}`);
  const message = (caught as Error).message;
  assert.ok(message.startsWith('safetensors: '), `${label}: ${message}`);
  assert.ok(pattern.test(message), `${label}: message ${JSON.stringify(message)} does not match ${pattern}`);
  assert.ok(message.length < 600, `${label}: message is ${message.length} chars long`);
  return message;
}

// ---------------------------------------------------------------------------------------
// Nesting

/** A header whose entry for "w" has an extra field nested `levels` arrays deep (entry at depth 2). */
function nested(levels: number): Uint8Array {
  return withEntry(`{"dtype":"F64","shape":[2],"data_offsets":[0,16],"x":${'['.repeat(levels)}${']'.repeat(levels)}}`);
}

test('nesting: 127 levels pass, 128 are refused, as serde_json does', () => {
  // root object (1) + entry (2) + 125 arrays = 127
  assert.is(readSafetensors(nested(125)).tensors.get('w')!.data.length, 2);
  refuses(nested(126), /header nests arrays and objects more than 127 deep \(at header offset \d+, in tensor "w" field "x"\)/, '128 deep');
  refuses(file(`{"a":${'{"a":'.repeat(200)}`), /more than 127 deep .*in tensor "a" field "a"/, 'nested objects');
});

test('nesting: a 99 MB header of [[[[ or {"a":{"a": fails fast', () => {
  const size = 99_000_000;
  const prefix = encoder.encode('{"a":');
  for (const [label, unit] of [['arrays', '['], ['objects', '{"a":'], ['mixed', '[{"a":']] as const) {
    const header = new Uint8Array(size);
    header.set(prefix, 0);
    // unit repeated to the end (by doubling copies), the last partial unit blanked
    const u = encoder.encode(unit);
    header.set(u, prefix.length);
    for (let filled = u.length; prefix.length + filled < size; filled *= 2) {
      header.copyWithin(prefix.length + filled, prefix.length, prefix.length + filled);
    }
    header.fill(0x20, size - ((size - prefix.length) % u.length));
    // Fast without a clock: the refusal names the offset where it stopped, which must lie within
    // the first 128 units (at most 6 bytes each) of the 99 MB, not somewhere after a full scan.
    const message = refuses(file(header), /more than 127 deep \(at header offset (\d+)/, label);
    const offset = Number(/at header offset (\d+)/.exec(message)![1]);
    assert.ok(offset <= prefix.length + 128 * u.length, `${label}: stopped at header offset ${offset}`);
  }
});

// No timed assertion here (speed belongs in bench/): a reader quadratic in these 99 MB would not
// finish, so the suite's hang guard (scripts/test.mjs, 20 minutes) is what catches it.
test('a 99 MB header that is valid but mostly spaces or one long string reads', () => {
  const size = 99_000_000;
  const spaces = new Uint8Array(size).fill(0x20);
  spaces.set(encoder.encode('{}'), 0);
  assert.is(readSafetensors(file(spaces)).tensors.size, 0);
  const long = new Uint8Array(size).fill(0x78);
  long.set(encoder.encode('{"__metadata__":{"k":"'), 0);
  long.set(encoder.encode('"}}'), size - 3);
  assert.is(readSafetensors(file(long)).metadata.k.length, size - 25);
});

// ---------------------------------------------------------------------------------------
// Duplicate keys

test('duplicate keys are refused at every level, even when spelled with escapes', () => {
  const second = '{"dtype":"F64","shape":[2],"data_offsets":[16,32]}';
  refuses(file(`{"w":${ENTRY},"w":${second}}`, new Uint8Array(32)), /header has two entries for tensor "w" \(the second at header offset 55\)/, 'tensor twice');
  refuses(file(`{"w":${ENTRY},"\\u0077":${second}}`, new Uint8Array(32)), /two entries for tensor "w"/, 'escaped name');
  refuses(withEntry('{"dtype":"F64","shape":[2],"dtype":"F64","data_offsets":[0,16]}'), /tensor "w": entry has the field "dtype" twice/, 'dtype twice');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0,16],"data_offsets":[0,16]}'), /tensor "w": entry has the field "data_offsets" twice/, 'offsets twice');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0,16],"x":1,"x":1}'), /tensor "w": entry has the field "x" twice/, 'extra field twice');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0,16],"x":[{"k":1,"k":2}]}'), /header has the key "k" twice in one object .*in tensor "w" field "x"/, 'deep');
  refuses(file('{"__metadata__":{"k":"1","k":"2"}}'), /header __metadata__ has the key "k" twice/, 'metadata key twice');
  refuses(file('{"__metadata__":{"k":"1","\\u006b":"2"}}'), /__metadata__ has the key "k" twice/, 'escaped metadata key');
  refuses(file('{"__metadata__":{},"__metadata__":{"a":"b"}}'), /header has two __metadata__ entries/, 'two metadata');
  refuses(file('{"__metadata__":null,"__metadata__":null}'), /two __metadata__ entries/, 'two null metadata');
  // Keys that differ only in a way JSON.parse would also keep apart are fine.
  const ok = readSafetensors(file('{"__metadata__":{"k":"1","K":"2","k ":"3","__proto__":"4"}}')).metadata;
  assert.equal(Object.keys(ok).sort(), ['K', '__proto__', 'k', 'k ']);
});

// ---------------------------------------------------------------------------------------
// UTF-8 and strings

test('strings: strict UTF-8, no lone surrogate escapes, no raw control characters', () => {
  const meta = (value: Uint8Array): Uint8Array => file(concat(encoder.encode('{"__metadata__":{"k":"'), value, encoder.encode('"}}')));
  refuses(meta(new Uint8Array([0xff])), /not valid UTF-8 \(byte 0xff at header offset 22, in __metadata__ key "k"\)/, '0xff');
  refuses(meta(new Uint8Array([0x80])), /not valid UTF-8 \(byte 0x80/, 'lone continuation');
  refuses(meta(new Uint8Array([0xc0, 0xaf])), /not valid UTF-8 \(byte 0xc0/, 'overlong');
  refuses(meta(new Uint8Array([0xe0, 0x80, 0xaf])), /not valid UTF-8 \(byte 0x80/, 'overlong 3-byte');
  refuses(meta(new Uint8Array([0xed, 0xa0, 0x80])), /not valid UTF-8 \(byte 0xa0/, 'encoded surrogate');
  refuses(meta(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), /not valid UTF-8 \(byte 0x90/, 'beyond U+10FFFF');
  refuses(meta(new Uint8Array([0xe2, 0x82, 0x22])), /not valid UTF-8 \(byte 0x22/, 'cut by the quote');
  refuses(meta(encoder.encode('\\ud800')), /not valid UTF-8 \(the escape \\ud800 is a lone leading surrogate/, 'lone high');
  refuses(meta(encoder.encode('\\ud800\\u0041')), /lone leading surrogate/, 'high + not low');
  refuses(meta(encoder.encode('\\ud800\\ud800')), /lone leading surrogate/, 'high + high');
  refuses(meta(encoder.encode('x\\udfff')), /the escape \\udfff is a lone trailing surrogate/, 'lone low');
  refuses(meta(encoder.encode('\\u12')), /\\u must be followed by four hex digits/, 'short \\u');
  refuses(meta(encoder.encode('\\x41')), /expected an escape .* found 'x'/, 'bad escape');
  refuses(meta(new Uint8Array([0x0a])), /control character 0x0a inside a string/, 'raw newline');
  refuses(meta(new Uint8Array([0x00])), /control character 0x00/, 'raw NUL');
  refuses(file('{"__metadata__":{"k":"v"}}\u00a0'), /expected nothing but spaces after the top-level object, found byte 0xc2/, 'nbsp after');
  refuses(file('{"__metadata__":{"k":"v'), /the header ends inside a string/, 'unterminated');
  // Escapes and multi-byte characters decode exactly as JSON.parse would.
  const text = '{"__metadata__":{"esc":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude80\\u0000","raw":"é€🚀\u2028","":""}}';
  assert.equal(readSafetensors(file(text)).metadata, JSON.parse(text).__metadata__);
});

test('strings: names and metadata written with every kind of character read back exactly', () => {
  const pool = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '\u2028', '\ud83d\ude80', '\uffff', '\u{10ffff}'];
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const word = (): string => Array.from({ length: next(12) }, () => pool[next(pool.length)]).join('');
    const tensors: Record<string, { dtype: 'F64'; shape: number[]; data: number[] }> = {};
    const metadata: Record<string, string> = {};
    for (let i = 0; i < 4; i++) {
      const name = `${word()}#${i}`;
      tensors[name] = { dtype: 'F64', shape: [1], data: [i] };
      metadata[word()] = word();
    }
    const back = readSafetensors(writeSafetensors(tensors, metadata));
    assert.equal([...back.tensors.keys()].sort(), Object.keys(tensors).sort(), `round ${round}: names`);
    assert.equal(back.metadata, metadata, `round ${round}: metadata`);
  }
  // The writer refuses what no reader would accept back.
  assert.throws(() => writeSafetensors({ 'a\ud800': { dtype: 'F64', shape: [], data: [1] } }), /tensor "a\\ud800": the name holds a lone surrogate/);
  assert.throws(() => writeSafetensors({}, { k: '\udc00' }), /metadata key "k": the value holds a lone surrogate/);
});

// ---------------------------------------------------------------------------------------
// Numbers

test('numbers: sizes and offsets must be plain integer digits, as the reference requires', () => {
  for (const literal of ['2.0', '2e0', '0.2e1', '2E0', '-0', '-2', '2.5']) {
    refuses(withEntry(`{"dtype":"F64","shape":[${literal}],"data_offsets":[0,16]}`),
      new RegExp(`tensor "w": shape entry 0 is ${literal.replace(/[.+]/g, '\\$&')}, not a non-negative integer \\(written as plain digits`), `shape ${literal}`);
    refuses(withEntry(`{"dtype":"F64","shape":[2],"data_offsets":[0,${literal === '-2' ? '-16' : literal.replace('2', '16')}]}`),
      /tensor "w": data_offsets \[0, .*\] are not non-negative integers \(written as plain digits/, `offsets ${literal}`);
  }
  refuses(withEntry('{"dtype":"F64","shape":[-0],"data_offsets":[-0,16]}'), /shape entry 0 is -0/, '-0 shape first');
  // Beyond 2^53 - 1: said so, whatever the size of the literal.
  refuses(withEntry('{"dtype":"F64","shape":[9007199254740992],"data_offsets":[0,16]}'), /tensor "w": shape entry 0 is 9007199254740992, beyond 2\^53 - 1/, '2^53');
  refuses(withEntry('{"dtype":"F64","shape":[18446744073709551616],"data_offsets":[0,16]}'), /shape entry 0 is 18446744073709551616, beyond 2\^53 - 1/, '2^64');
  refuses(withEntry(`{"dtype":"F64","shape":[2],"data_offsets":[0,${'9'.repeat(5000)}]}`), /data_offsets \[0, 9{24}\.\.\.\(5000 characters\)\]: end is beyond 2\^53 - 1/, 'huge literal');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[9007199254740993,9007199254740993]}'), /: begin is beyond 2\^53 - 1/, 'begin');
  // 2^53 - 1 itself is an exact size: the tensor is then refused for its bytes, not its literal.
  refuses(withEntry('{"dtype":"U8","shape":[9007199254740991],"data_offsets":[0,16]}'), /hold 16 bytes but shape \[9007199254740991\] of U8 needs 9007199254740991/, 'max safe');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0,9007199254740991]}'), /data_offsets \[0, 9007199254740991\] run past the end/, 'max safe offset');
  // Not JSON at all.
  for (const bad of ['01', '+2', '.5', '2.', '1e', '0x10', 'NaN', 'Infinity', '--1', '1e+']) {
    refuses(withEntry(`{"dtype":"F64","shape":[${bad}],"data_offsets":[0,16]}`), /header is not valid JSON \(.* at header offset \d+, in tensor "w" field "shape"\)/, `literal ${bad}`);
  }
});

// ---------------------------------------------------------------------------------------
// Grammar

test('grammar: anything outside RFC 8259 is refused with its offset', () => {
  const cases: [string, RegExp][] = [
    ['{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16],}}', /expected a key \(a string\), found '\}' at header offset 54, in tensor "w"/],
    ['{"w":{"dtype":"F64","shape":[2,],"data_offsets":[0,16]}}', /expected a value, found '\]'/],
    ['{"w":{"dtype":"F64" "shape":[2],"data_offsets":[0,16]}}', /expected ',' or '\}', found '"'/],
    ['{"w":{"dtype":"F64","shape"[2],"data_offsets":[0,16]}}', /expected ':' after the key, found '\['/],
    ["{'w':1}", /expected a key \(a string\), found '''/],
    ['{"w":tru}', /expected the rest of 'true', found '\}'/],
    ['{"w":nul', /expected the rest of 'null', but the header ends/],
    ['{"w":{} /* comment */}', /expected ',' or '\}', found '\/'/],
    ['{"w":{}', /expected ',' or '\}', but the header ends/],
    ['{"w":[1 2]}', /expected ',' or '\]', found '2'/],
    ['{}}', /expected nothing but spaces after the top-level object, found '\}'/],
    ['{}\f', /expected nothing but spaces after the top-level object, found byte 0x0c/],
    ['{"w":\u00e9}', /expected a value, found byte 0xc3/],
  ];
  for (const [header, pattern] of cases) refuses(file(header), new RegExp(`header is not valid JSON \\(${pattern.source}`), header);
  // Whitespace JSON allows is fine anywhere.
  const spaced = readSafetensors(file(' \t\n\r{ "w" : { "dtype" : "F64" , "shape" : [ 2 ] , "data_offsets" : [ 0 , 16 ] } } \n'.slice(4), DATA));
  assert.is(spaced.tensors.get('w')!.data.length, 2);
});

// ---------------------------------------------------------------------------------------
// Shapes

test('shapes: products are checked for every tensor, empty ones included', () => {
  const empty = (shape: string): Uint8Array => file(`{"e":{"dtype":"F64","shape":${shape},"data_offsets":[0,0]}}`);
  refuses(empty('[1000000000000,0]'), /tensor "e": shape \[1000000000000,0\] has no elements, but its non-zero dims multiply to 1000000000000, more than 16777216/, '1e12 x 0');
  refuses(empty('[0,1000000000000]'), /multiply to 1000000000000/, '0 x 1e12');
  refuses(empty('[134217728,134217728,0]'), /tensor "e": shape \[134217728,134217728,0\] has no elements, but its non-zero dims multiply past 2\^53 - 1 \(at entry 1\)/, '2^54 x 0');
  refuses(empty('[4194304,0,4194304,4194304]'), /multiply past 2\^53 - 1 \(at entry 3\)/, 'zero in the middle');
  refuses(file('{"w":{"dtype":"F64","shape":[134217728,134217728],"data_offsets":[0,16]}}', DATA), /has more than 2\^53 elements \(the product passes 2\^53 - 1 at entry 1\)/, '2^54');
  // Small empty tensors, and ones that fit in max(file length, 2^24), are fine.
  const ok = readSafetensors(empty('[16777216,0]')).tensors.get('e')!;
  assert.equal([ok.shape, ok.data.length], [[16777216, 0], 0]);
  refuses(empty('[16777217,0]'), /more than 16777216/, 'just over');
  const big = new Uint8Array(20_000_000);
  const fits = readSafetensors(file(`{"e":{"dtype":"U8","shape":[0,17000000],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[${big.length}],"data_offsets":[0,${big.length}]}}`, big));
  assert.equal(fits.tensors.get('e')!.shape, [0, 17000000]);
  // The writer applies the 2^53 check to empty shapes too.
  assert.throws(() => writeSafetensors({ e: { dtype: 'F64', shape: [2 ** 27, 2 ** 27, 0], data: [] } }), /tensor "e": shape \[134217728,134217728,0\] has no elements, but its non-zero dims multiply past/);
});

test('entries: structure errors name the tensor; __proto__ is an ordinary name', () => {
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0]}'), /tensor "w": data_offsets is \[0\], not a pair/, 'one offset');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":"0,16"}'), /data_offsets is the string "0,16"/, 'offsets string');
  refuses(withEntry('{"dtype":"F64","shape":[2],"data_offsets":[0,null]}'), /data_offsets \[0, null\] are not non-negative integers/, 'null offset');
  refuses(withEntry('{"dtype":"F64","shape":{"0":2},"data_offsets":[0,16]}'), /tensor "w": shape is an object, not an array of sizes/, 'shape object');
  refuses(withEntry('{"dtype":["F64"],"shape":[2],"data_offsets":[0,16]}'), /tensor "w": unknown dtype an array of length 1/, 'dtype array');
  refuses(file('{"__metadata__":"x"}'), /header __metadata__ is the string "x", not an object of strings/, 'metadata string');
  refuses(file('{"__metadata__":{"k":1.5}}'), /__metadata__ key "k" is 1.5, not a string/, 'metadata number');
  const proto = readSafetensors(file(`{"__proto__":${ENTRY},"constructor":{"dtype":"F64","shape":[0],"data_offsets":[16,16]}}`, DATA));
  assert.equal([...proto.tensors.keys()].sort(), ['__proto__', 'constructor']);
  assert.is(proto.tensors.get('__proto__')!.data.length, 2);
  const header = readSafetensorsHeader(withEntry('{"__proto__":{"dtype":"F32"},"dtype":"F64","shape":[2],"data_offsets":[0,16]}'));
  assert.is(header.tensors[0].dtype, 'F64');
});

// ---------------------------------------------------------------------------------------
// Header size limit and options

test('header limit: 100 MB under Node.js, 10 MB elsewhere, maxHeaderBytes overrides', () => {
  assert.is(MAX_HEADER_BYTES, 100_000_000);
  assert.is(MAX_HEADER_BYTES_BROWSER, 10_000_000);
  const header = new Uint8Array(MAX_HEADER_BYTES_BROWSER + 8).fill(0x20);
  header.set(encoder.encode('{}'), 0);
  const bytes = file(header);
  assert.is(readSafetensors(bytes).tensors.size, 0, 'Node.js default');
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
  Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true, writable: true });
  let message = '';
  try {
    try {
      readSafetensors(bytes);
    } catch (err) {
      message = (err as Error).message;
    }
    assert.is(readSafetensors(bytes, { maxHeaderBytes: 20_000_000 }).tensors.size, 0, 'raised limit');
  } finally {
    Object.defineProperty(globalThis, 'process', saved);
  }
  assert.match(message, /header length 10000008 exceeds the limit of 10000000 bytes \(the default without Node\.js; raise it with the maxHeaderBytes option\)/);
  assert.ok(typeof process.versions.node === 'string', 'process restored');
  refuses(bytes.slice(0, 8 + 16), /runs past the end/, 'lying length');
});

test('options are checked', () => {
  const bytes = file('{}');
  assert.throws(() => readSafetensors(bytes, { maxHeaderBytes: NaN }), /option maxHeaderBytes is NaN, not a non-negative number/);
  assert.throws(() => readSafetensors(bytes, { maxHeaderBytes: '9' as unknown as number }), /option maxHeaderBytes is the string "9"/);
  assert.throws(() => readSafetensors(bytes, { unsafeIntegers: 'clamp' as 'round' }), /option unsafeIntegers is the string "clamp", not 'throw' or 'round'/);
  assert.throws(() => readSafetensors(bytes, null as unknown as {}), /options is null, not an object/);
  assert.is(readSafetensors(bytes, { maxHeaderBytes: Infinity }).tensors.size, 0);
});

test.run();
