// safetensors read/write, browser-safe (Uint8Array + DataView, no Node built-ins).
//
// File layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (the header,
// padded with spaces), then the data section. The header maps each tensor name to
// {dtype, shape, data_offsets: [begin, end]} (byte offsets into the data section) and
// may hold "__metadata__", a string -> string map. Data is little-endian, row-major.
//
// Reading validates like the reference library does (tensors tile the data section
// exactly: no overlap, no gap, nothing trailing) and treats the file as hostile: every
// length is checked against the bytes actually present before anything is decoded or
// allocated, so a bad file gives an Error that names the tensor or the header problem.
// The header is parsed by a strict JSON parser of its own (below), as strict as the
// reference's serde_json and stricter on duplicates: invalid UTF-8, lone surrogate
// escapes, nesting 128 deep, duplicate keys at any level (tensor names, entry fields,
// metadata keys, two __metadata__) and sizes/offsets not written as plain integer digits
// (2.0, 8e0, -0) are refused; integers beyond 2^53 - 1 are refused as such. Shape
// products are checked for every tensor, empty ones included. The header may be at most
// 100 000 000 bytes under Node.js and 10 000 000 elsewhere (browsers), unless
// options.maxHeaderBytes says otherwise.

import type { Mat } from '../mat/mat.js';
import { ConfigError, FormatError, ResourceError, ShapeError, type ErrorDetails } from '../mat/errors.js';

/** Element types this module reads and writes. Values are always exposed as float64. */
export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
};

// The reference writer orders tensors by this dtype rank (descending), then by name.
// It is the order of the reference library's dtype enum; reproducing it makes our output
// byte-identical to files that library writes from the same tensors and metadata.
const DTYPE_RANK: Readonly<Record<DType, number>> = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, U16: 6, F16: 7, BF16: 8,
  I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

// Dtypes of the format that we recognise but do not decode (so the error says so).
const KNOWN_UNSUPPORTED = new Set(['F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

/** A decoded tensor: row-major values as float64, whatever the stored dtype. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: Float64Array;
  /** For I64 / U64 only: the exact stored integers (data holds them as float64). */
  bigints?: BigInt64Array | BigUint64Array;
}

/** A tensor to write: data has product(shape) elements, converted to dtype on write. */
export interface TensorInput {
  dtype: DType;
  shape: readonly number[];
  /** Numbers for every dtype; bigints are accepted for I64 / U64. */
  data: ArrayLike<number> | ArrayLike<bigint>;
}

/** Where one tensor lives, as read from the header. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** [begin, end) byte offsets relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Tensors in data order (by offset). */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file: 8 + header length. */
  dataStart: number;
}

export interface ReadOptions {
  /**
   * I64 / U64 values beyond +-(2^53 - 1) have no exact float64: 'throw' (default) fails
   * naming the tensor; 'round' keeps the nearest float64 (exact values stay in `bigints`).
   */
  unsafeIntegers?: 'throw' | 'round';
  /**
   * Largest header accepted, in bytes. Default MAX_HEADER_BYTES (100 000 000, as the
   * reference library) under Node.js, MAX_HEADER_BYTES_BROWSER (10 000 000) anywhere else
   * (browsers, workers), where a tab's memory is tighter.
   */
  maxHeaderBytes?: number;
}

/** The reference library's limit on the header size: the default under Node.js. */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * The default header limit where there is no Node.js (no globalThis.process.versions.node):
 * browsers and web workers. Real headers are far smaller (a few hundred KB for thousands
 * of tensors); pass maxHeaderBytes to raise it.
 */
export const MAX_HEADER_BYTES_BROWSER = 10_000_000;

/**
 * An empty tensor's non-zero dims multiply to at most max(file length, this): its other
 * dims cannot claim 10^12 rows that a loop over them would visit (a non-empty tensor is
 * bounded by its bytes anyway).
 */
const EMPTY_EXTENT_FLOOR = 2 ** 24;

function runsOnNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc === 'object' && proc !== null && typeof proc.versions === 'object' && proc.versions !== null &&
    typeof proc.versions.node === 'string';
}

const METADATA_KEY = '__metadata__';
const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'] as const;
const TWO_POW_32 = 4294967296;

// ---------------------------------------------------------------------------------------
// Messages

/** The kind of a refusal: FormatError for bytes read, ShapeError / ConfigError for arguments. */
type ErrorKind = typeof FormatError | typeof ShapeError | typeof ConfigError | typeof ResourceError;

function fail(message: string, details: ErrorDetails = {}, Kind: ErrorKind = FormatError): never {
  throw new Kind('safetensors', message, details);
}

function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}...(${text.length} chars)`;
}

/** A tensor name quoted for a message, shortened if huge. */
function quote(name: string): string {
  return JSON.stringify(clip(name));
}

function tensorFail(name: string, message: string, Kind: ErrorKind = FormatError, details: ErrorDetails = {}): never {
  fail(`tensor ${quote(name)}: ${message}`, { tensor: name, ...details }, Kind);
}

/** A short description of an untrusted JSON value (never recursive, never huge). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) {
    if (value.length <= 8 && value.every((v) => typeof v === 'number' || v instanceof JsonNumber)) {
      return `[${value.map(describe).join(', ')}]`;
    }
    return `an array of length ${value.length}`;
  }
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function shapeText(shape: readonly number[]): string {
  return shape.length <= 16 ? `[${shape.join(',')}]` : `[${shape.slice(0, 16).join(',')},...] (${shape.length} dims)`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** Defines key on a plain object even when key is "__proto__". */
function putOwn(object: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && hasOwn(DTYPE_SIZE, value);
}

// ---------------------------------------------------------------------------------------
// The header's JSON, parsed strictly from its UTF-8 bytes
//
// JSON.parse is too lenient for a hostile header: it keeps the last of duplicate keys,
// reads 2.0, 8e0 and -0 as integers, accepts lone surrogate escapes, and nests as deep as
// the input does, all after the whole header has been decoded into one string. This parser
// makes one left-to-right pass over the bytes and refuses what serde_json (the parser of the
// reference library) refuses: invalid UTF-8 and lone surrogate escapes, 128 or more nested
// arrays/objects, anything outside RFC 8259 (trailing commas, leading zeros, control
// characters in strings, non-whitespace after the top-level object). It refuses duplicate
// keys at every level as well. Objects become Maps (so "__proto__" is an ordinary key);
// integer literals written as plain digits up to 2^53 - 1 become numbers, and every other
// number literal a JsonNumber that keeps its text (for the message). The work is linear in
// the header length and stops at the first fault.

/** Most arrays/objects nested in one another: serde_json's default limit refuses 128. */
const MAX_NESTING = 127;

/** A number literal that is not a plain non-negative integer <= 2^53 - 1. */
class JsonNumber {
  constructor(
    /** The literal as written (shortened when huge). */
    readonly text: string,
    /** Written as plain digits (no sign, fraction or exponent), only too large. */
    readonly integer: boolean,
  ) {}
}

type JsonValue = null | boolean | string | number | JsonNumber | JsonValue[] | JsonObject;
type JsonObject = Map<string, JsonValue>;

// Scratch UTF-16 units for decoding strings with escapes or non-ASCII characters.
const stringUnits = new Uint16Array(4096);

function fromUnits(units: Uint16Array | Uint8Array, from: number, to: number): string {
  let text = '';
  for (let at = from; at < to; at += 4096) {
    text += String.fromCharCode.apply(null, units.subarray(at, Math.min(to, at + 4096)) as unknown as number[]);
  }
  return text;
}

/**
 * A long ASCII run as a string: the platform's TextDecoder where there is one (some 20 times
 * faster on a 100 MB string), else by hand. The bytes are known to be ASCII, so both agree.
 */
function longAscii(bytes: Uint8Array, from: number, to: number): string {
  const Decoder = (globalThis as { TextDecoder?: new () => { decode(input: Uint8Array): string } }).TextDecoder;
  return typeof Decoder === 'function' ? new Decoder().decode(bytes.subarray(from, to)) : fromUnits(bytes, from, to);
}

function hexByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

class HeaderParser {
  private pos: number;
  /** keys[d]: while the value of a key in an object at depth d is parsed, that key. */
  private readonly keys: (string | undefined)[] = [];
  /** UTF-16 units written by the last utf8Char call. */
  private charUnits = 0;

  constructor(private readonly bytes: Uint8Array, private readonly start: number, private readonly end: number) {
    this.pos = start;
  }

  /** The header's top-level object (the caller has checked that the first byte is '{'). */
  parse(): JsonObject {
    const root = this.parseObject(1);
    this.skipSpace();
    if (this.pos < this.end) this.unexpected(this.pos, 'nothing but spaces after the top-level object');
    return root;
  }

  // --- errors -------------------------------------------------------------------------

  /** ", in tensor "x" field "shape"": where in the header the parser is, if anywhere known. */
  private where(): string {
    const top = this.keys[1];
    if (top === undefined) return '';
    const field = this.keys[2];
    if (top === METADATA_KEY) return `, in ${METADATA_KEY}${field === undefined ? '' : ` key ${quote(field)}`}`;
    return `, in tensor ${quote(top)}${field === undefined ? '' : ` field ${quote(field)}`}`;
  }

  private at(offset: number): string {
    return `at header offset ${offset - this.start}${this.where()}`;
  }

  private syntax(message: string, offset: number): never {
    fail(`header is not valid JSON (${message} ${this.at(offset)})`, { headerOffset: offset - this.start });
  }

  private badUtf8(message: string, offset: number): never {
    fail(`header is not valid UTF-8 (${message} ${this.at(offset)})`, { headerOffset: offset - this.start });
  }

  private unexpected(offset: number, expected: string): never {
    if (offset >= this.end) this.syntax(`expected ${expected}, but the header ends`, offset);
    const b = this.bytes[offset];
    const shown = b >= 0x21 && b <= 0x7e ? `'${String.fromCharCode(b)}'` : `byte ${hexByte(b)}`;
    this.syntax(`expected ${expected}, found ${shown}`, offset);
  }

  private duplicate(depth: number, key: string, offset: number): never {
    const where = `at header offset ${offset - this.start}`;
    if (depth === 1) {
      if (key === METADATA_KEY) fail(`header has two ${METADATA_KEY} entries (the second ${where})`, { key, headerOffset: offset - this.start });
      fail(`header has two entries for tensor ${quote(key)} (the second ${where})`, { tensor: key, headerOffset: offset - this.start });
    }
    const top = this.keys[1] as string;
    if (depth === 2 && top === METADATA_KEY) fail(`header ${METADATA_KEY} has the key ${quote(key)} twice (the second ${where})`, { key, headerOffset: offset - this.start });
    if (depth === 2) tensorFail(top, `entry has the field ${quote(key)} twice (the second ${where})`, FormatError, { field: key, headerOffset: offset - this.start });
    fail(`header has the key ${quote(key)} twice in one object (the second ${this.at(offset)})`, { key, headerOffset: offset - this.start });
  }

  // --- grammar ------------------------------------------------------------------------

  private peek(): number {
    return this.pos < this.end ? this.bytes[this.pos] : -1;
  }

  private skipSpace(): void {
    const bytes = this.bytes;
    let i = this.pos;
    while (i < this.end) {
      const b = bytes[i];
      if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break;
      i++;
    }
    this.pos = i;
  }

  /** A value inside a container at the given depth. */
  private parseValue(depth: number): JsonValue {
    this.skipSpace();
    const b = this.peek();
    switch (b) {
      case 0x7b: return this.parseObject(depth + 1);
      case 0x5b: return this.parseArray(depth + 1);
      case 0x22: return this.parseString();
      case 0x74: return this.parseWord('true', true);
      case 0x66: return this.parseWord('false', false);
      case 0x6e: return this.parseWord('null', null);
      default:
        if (b === 0x2d || isDigit(b)) return this.parseNumber();
        this.unexpected(this.pos, 'a value');
    }
  }

  private tooDeep(): never {
    fail(`header nests arrays and objects more than ${MAX_NESTING} deep (${this.at(this.pos)}), the limit of the reference parser`, { headerOffset: this.pos - this.start, limit: MAX_NESTING });
  }

  private parseObject(depth: number): JsonObject {
    if (depth > MAX_NESTING) this.tooDeep();
    const object: JsonObject = new Map();
    this.pos++; // '{'
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return object;
    }
    for (;;) {
      if (this.peek() !== 0x22) this.unexpected(this.pos, 'a key (a string)');
      const keyAt = this.pos;
      const key = this.parseString();
      if (object.has(key)) this.duplicate(depth, key, keyAt);
      this.skipSpace();
      if (this.peek() !== 0x3a) this.unexpected(this.pos, "':' after the key");
      this.pos++;
      this.keys[depth] = key;
      object.set(key, this.parseValue(depth));
      this.keys[depth] = undefined;
      this.skipSpace();
      const next = this.peek();
      if (next === 0x7d) {
        this.pos++;
        return object;
      }
      if (next !== 0x2c) this.unexpected(this.pos, "',' or '}'");
      this.pos++;
      this.skipSpace();
    }
  }

  private parseArray(depth: number): JsonValue[] {
    if (depth > MAX_NESTING) this.tooDeep();
    const array: JsonValue[] = [];
    this.pos++; // '['
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return array;
    }
    for (;;) {
      array.push(this.parseValue(depth));
      this.skipSpace();
      const next = this.peek();
      if (next === 0x5d) {
        this.pos++;
        return array;
      }
      if (next !== 0x2c) this.unexpected(this.pos, "',' or ']'");
      this.pos++;
    }
  }

  private parseWord(word: string, value: JsonValue): JsonValue {
    for (let i = 0; i < word.length; i++) {
      if (this.pos + i >= this.end || this.bytes[this.pos + i] !== word.charCodeAt(i)) this.unexpected(this.pos + i, `the rest of '${word}'`);
    }
    this.pos += word.length;
    return value;
  }

  private parseNumber(): number | JsonNumber {
    const bytes = this.bytes;
    const end = this.end;
    const first = this.pos;
    let i = first;
    let integer = true;
    if (bytes[i] === 0x2d) {
      integer = false;
      i++;
    }
    const digits = i;
    if (i < end && bytes[i] === 0x30) {
      i++;
    } else if (i < end && bytes[i] >= 0x31 && bytes[i] <= 0x39) {
      while (i < end && isDigit(bytes[i])) i++;
    } else {
      this.unexpected(i, "a digit after '-'");
    }
    const digitsEnd = i;
    if (i < end && bytes[i] === 0x2e) {
      integer = false;
      i++;
      if (!(i < end && isDigit(bytes[i]))) this.unexpected(i, 'a digit after the decimal point');
      while (i < end && isDigit(bytes[i])) i++;
    }
    if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
      integer = false;
      i++;
      if (i < end && (bytes[i] === 0x2b || bytes[i] === 0x2d)) i++;
      if (!(i < end && isDigit(bytes[i]))) this.unexpected(i, 'a digit in the exponent');
      while (i < end && isDigit(bytes[i])) i++;
    }
    this.pos = i;
    if (integer && digitsEnd - digits <= 16) {
      // Exact while the value stays below 2^53; a larger one rounds to >= 2^53 and is refused.
      let v = 0;
      for (let j = digits; j < digitsEnd; j++) v = v * 10 + (bytes[j] - 0x30);
      if (v <= Number.MAX_SAFE_INTEGER) return v;
    }
    const length = i - first;
    const text = length <= 40 ? fromUnits(bytes, first, i) : `${fromUnits(bytes, first, first + 24)}...(${length} characters)`;
    return new JsonNumber(text, integer);
  }

  /** The string whose opening quote is at pos. */
  private parseString(): string {
    const bytes = this.bytes;
    const open = this.pos;
    let i = open + 1;
    // Plain ASCII without escapes (almost every key and value): one scan, one slice.
    while (i < this.end) {
      const b = bytes[i];
      if (b === 0x22) {
        this.pos = i + 1;
        return i - open > 65536 ? longAscii(bytes, open + 1, i) : fromUnits(bytes, open + 1, i);
      }
      if (b === 0x5c || b < 0x20 || b >= 0x80) break;
      i++;
    }
    return this.parseStringSlow(open);
  }

  private parseStringSlow(open: number): string {
    const bytes = this.bytes;
    const end = this.end;
    const units = stringUnits;
    let text = '';
    let n = 0;
    let i = open + 1;
    for (;;) {
      if (n > units.length - 2) {
        text += fromUnits(units, 0, n);
        n = 0;
      }
      if (i >= end) this.syntax('the header ends inside a string', open);
      const b = bytes[i];
      if (b === 0x22) break;
      if (b < 0x20) this.syntax(`control character ${hexByte(b)} inside a string (it must be escaped)`, i);
      if (b < 0x80 && b !== 0x5c) {
        units[n++] = b;
        i++;
      } else if (b === 0x5c) {
        const e = i + 1 < end ? bytes[i + 1] : -1;
        let unit = -1;
        switch (e) {
          case 0x22: unit = 0x22; break;
          case 0x5c: unit = 0x5c; break;
          case 0x2f: unit = 0x2f; break;
          case 0x62: unit = 0x08; break;
          case 0x66: unit = 0x0c; break;
          case 0x6e: unit = 0x0a; break;
          case 0x72: unit = 0x0d; break;
          case 0x74: unit = 0x09; break;
          case 0x75: break;
          default: this.unexpected(i + 1, "an escape (one of \" \\ / b f n r t u) after '\\'");
        }
        if (unit >= 0) {
          units[n++] = unit;
          i += 2;
          continue;
        }
        const cu = this.hex4(i + 2);
        if (cu < 0) this.syntax('\\u must be followed by four hex digits', i);
        if (cu >= 0xdc00 && cu <= 0xdfff) this.badUtf8(`the escape \\u${cu.toString(16)} is a lone trailing surrogate`, i);
        if (cu >= 0xd800 && cu <= 0xdbff) {
          const low = i + 7 < end && bytes[i + 6] === 0x5c && bytes[i + 7] === 0x75 ? this.hex4(i + 8) : -1;
          if (low < 0xdc00 || low > 0xdfff) this.badUtf8(`the escape \\u${cu.toString(16)} is a lone leading surrogate`, i);
          units[n++] = cu;
          units[n++] = low;
          i += 12;
        } else {
          units[n++] = cu;
          i += 6;
        }
      } else {
        i = this.utf8Char(i, units, n);
        n += this.charUnits;
      }
    }
    this.pos = i + 1;
    return text + fromUnits(units, 0, n);
  }

  /** Value of the four hex digits at offset, or -1. */
  private hex4(offset: number): number {
    if (offset + 4 > this.end) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.bytes[offset + k];
      const d = isDigit(c) ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }

  /** Low six bits of the continuation byte at offset, which must lie in [lo, hi]. */
  private cont(offset: number, lo: number, hi: number): number {
    if (offset >= this.end) this.badUtf8('sequence cut off', offset);
    const b = this.bytes[offset];
    if (b < lo || b > hi) this.badUtf8(`byte ${hexByte(b)}`, offset);
    return b & 0x3f;
  }

  /**
   * Decodes the multi-byte UTF-8 character at i (RFC 3629: no overlongs, no surrogates,
   * at most U+10FFFF) into units[n], units[n + 1]; sets charUnits to how many it wrote and
   * returns the offset after the character.
   */
  private utf8Char(i: number, units: Uint16Array, n: number): number {
    const b0 = this.bytes[i];
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      units[n] = ((b0 & 0x1f) << 6) | this.cont(i + 1, 0x80, 0xbf);
      this.charUnits = 1;
      return i + 2;
    }
    if (b0 >= 0xe0 && b0 <= 0xef) {
      const lo = b0 === 0xe0 ? 0xa0 : 0x80;
      const hi = b0 === 0xed ? 0x9f : 0xbf;
      units[n] = ((b0 & 0x0f) << 12) | (this.cont(i + 1, lo, hi) << 6) | this.cont(i + 2, 0x80, 0xbf);
      this.charUnits = 1;
      return i + 3;
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
      const lo = b0 === 0xf0 ? 0x90 : 0x80;
      const hi = b0 === 0xf4 ? 0x8f : 0xbf;
      const v = (((b0 & 0x07) << 18) | (this.cont(i + 1, lo, hi) << 12) | (this.cont(i + 2, 0x80, 0xbf) << 6) | this.cont(i + 3, 0x80, 0xbf)) - 0x10000;
      units[n] = 0xd800 + (v >> 10);
      units[n + 1] = 0xdc00 + (v & 0x3ff);
      this.charUnits = 2;
      return i + 4;
    }
    this.badUtf8(`byte ${hexByte(b0)}`, i);
  }
}

// ---------------------------------------------------------------------------------------
// UTF-8 encoding and ordering (by hand, so lib/ needs no TextEncoder)

/** UTF-8 encode; a lone surrogate becomes U+FFFD. */
function encodeUtf8(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        cp = 0xfffd;
      }
    }
    if (cp < 0x80) {
      out[n++] = cp;
    } else if (cp < 0x800) {
      out[n++] = 0xc0 | (cp >> 6);
      out[n++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/** Orders strings by their UTF-8 bytes, as the reference (Rust) writer does. */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const x = encodeUtf8(a);
  const y = encodeUtf8(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// ---------------------------------------------------------------------------------------
// Small floats (F16, BF16): exact decode, round-to-nearest-even encode from float64

const scratch = new DataView(new ArrayBuffer(8));

/** 2^k exactly, for integer k in [-1022, 1023]. */
function pow2(k: number): number {
  scratch.setUint32(0, (k + 1023) << 20, false);
  scratch.setUint32(4, 0, false);
  return scratch.getFloat64(0, false);
}

/** floor(log2(a)) for a normal, positive, finite float64 a (read from its exponent bits). */
function exponentOf(a: number): number {
  scratch.setFloat64(0, a, false);
  return ((scratch.getUint32(0, false) >>> 20) & 0x7ff) - 1023;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Bits of the IEEE-style binary float with expBits/mantBits nearest to x (ties to even). */
function encodeSmallFloat(x: number, expBits: number, mantBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const expMask = (1 << expBits) - 1;
  const signBit = 1 << (expBits + mantBits);
  if (Number.isNaN(x)) return (expMask << mantBits) | (1 << (mantBits - 1));
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const inf = sign | (expMask << mantBits);
  if (a === Infinity) return inf;
  const minExp = 1 - bias;
  if (a < pow2(minExp)) {
    // Subnormal (or zero): a multiple of 2^(minExp - mantBits); 2^mantBits rounds up to the
    // smallest normal, whose bits are exactly that integer.
    return sign | roundHalfEven(a * pow2(mantBits - minExp));
  }
  let e = exponentOf(a);
  let m = roundHalfEven((a * pow2(-e) - 1) * (1 << mantBits));
  if (m === 1 << mantBits) {
    m = 0;
    e += 1;
  }
  if (e > bias) return inf;
  return sign | ((e + bias) << mantBits) | m;
}

function decodeSmallFloat(bits: number, expBits: number, mantBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const expMask = (1 << expBits) - 1;
  const sign = bits & (1 << (expBits + mantBits)) ? -1 : 1;
  const e = (bits >> mantBits) & expMask;
  const m = bits & ((1 << mantBits) - 1);
  if (e === expMask) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * pow2(1 - bias - mantBits);
  return sign * (1 + m * pow2(-mantBits)) * pow2(e - bias);
}

// ---------------------------------------------------------------------------------------
// Reading

function readU64Length(view: DataView): number {
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  // Exact as long as hi < 2^21; anything bigger is far beyond any limit anyway.
  return hi >= 0x200000 ? Infinity : hi * TWO_POW_32 + lo;
}

/** The dims of a shape given to the writer, or a clear error if it is not a list of sizes. */
function checkInputShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) tensorFail(name, `shape is ${describe(shape)}, not an array of sizes`, ShapeError, { shape });
  const dims: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      tensorFail(name, `shape entry ${i} is ${describe(d)}, not a non-negative integer`, ShapeError, { shape });
    }
    dims.push(d + 0); // + 0 turns -0 into 0
  }
  return dims;
}

const LITERAL_RULE = 'written as plain digits: the reference reader refuses signs, fractions and exponents such as -0, 2.0, 8e0';

/** The dims of a shape read from the header: integer literals up to 2^53 - 1 only. */
function readShape(name: string, shape: JsonValue | undefined): number[] {
  if (!Array.isArray(shape)) tensorFail(name, `shape is ${describe(shape)}, not an array of sizes`);
  const dims = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d === 'number') {
      dims[i] = d;
    } else if (d instanceof JsonNumber) {
      if (d.integer) tensorFail(name, `shape entry ${i} is ${d.text}, beyond 2^53 - 1 (no exact float64)`);
      tensorFail(name, `shape entry ${i} is ${d.text}, not a non-negative integer (${LITERAL_RULE})`);
    } else {
      tensorFail(name, `shape entry ${i} is ${describe(d)}, not a non-negative integer`);
    }
  }
  return dims;
}

/**
 * product(shape), checking as it goes that the product of the non-zero dims stays within
 * 2^53 - 1 (for empty tensors too) and, for an empty tensor, within emptyLimit.
 */
function shapeCount(name: string, shape: readonly number[], emptyLimit = Infinity, Kind: ErrorKind = FormatError): number {
  const empty = shape.includes(0);
  let extent = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === 0) continue;
    extent *= d;
    if (extent > Number.MAX_SAFE_INTEGER) {
      if (!empty) tensorFail(name, `shape ${shapeText(shape)} has more than 2^53 elements (the product passes 2^53 - 1 at entry ${i})`, Kind, { shape });
      tensorFail(name, `shape ${shapeText(shape)} has no elements, but its non-zero dims multiply past 2^53 - 1 (at entry ${i})`, Kind, { shape });
    }
  }
  if (!empty) return extent;
  if (extent > emptyLimit) {
    tensorFail(name, `shape ${shapeText(shape)} has no elements, but its non-zero dims multiply to ${extent}, more than ${emptyLimit}` +
      ' (an empty tensor may span at most max(file length, 2^24) positions, so that loops over its rows stay bounded)', Kind, { shape, limit: emptyLimit });
  }
  return 0;
}

function readOffsets(name: string, offsets: JsonValue | undefined, dataLength: number): [number, number] {
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    tensorFail(name, `data_offsets is ${describe(offsets)}, not a pair [begin, end]`);
  }
  const begin = offsets[0];
  const end = offsets[1];
  const pair = `data_offsets [${describe(begin)}, ${describe(end)}]`;
  for (const v of offsets) {
    if (typeof v === 'number') continue;
    if (v instanceof JsonNumber && v.integer) tensorFail(name, `${pair}: ${v === begin ? 'begin' : 'end'} is beyond 2^53 - 1 (no exact float64)`);
    tensorFail(name, `${pair} are not non-negative integers${v instanceof JsonNumber ? ` (${LITERAL_RULE})` : ''}`);
  }
  const b = begin as number;
  const e = end as number;
  if (b > e) tensorFail(name, `data_offsets [${b}, ${e}] are reversed (begin > end)`);
  if (e > dataLength) {
    tensorFail(name, `data_offsets [${b}, ${e}] run past the end of the data section (${dataLength} bytes)`);
  }
  return [b, e];
}

function readMetadata(value: JsonValue | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined || value === null) return metadata;
  if (!(value instanceof Map)) fail(`header ${METADATA_KEY} is ${describe(value)}, not an object of strings`, { field: METADATA_KEY });
  for (const [key, v] of value) {
    if (typeof v !== 'string') fail(`header ${METADATA_KEY} key ${quote(key)} is ${describe(v)}, not a string`, { key });
    putOwn(metadata, key, v);
  }
  return metadata;
}

function checkOptions(options: ReadOptions): void {
  if (options === null || typeof options !== 'object') fail(`options is ${describe(options)}, not an object`, { value: options }, ConfigError);
  const { maxHeaderBytes, unsafeIntegers } = options;
  if (maxHeaderBytes !== undefined && (typeof maxHeaderBytes !== 'number' || !(maxHeaderBytes >= 0))) {
    fail(`option maxHeaderBytes is ${describe(maxHeaderBytes)}, not a non-negative number`, { option: 'maxHeaderBytes', value: maxHeaderBytes }, ConfigError);
  }
  if (unsafeIntegers !== undefined && unsafeIntegers !== 'throw' && unsafeIntegers !== 'round') {
    fail(`option unsafeIntegers is ${describe(unsafeIntegers)}, not 'throw' or 'round'`, { option: 'unsafeIntegers', value: unsafeIntegers }, ConfigError);
  }
}

/**
 * Parses and validates the header without decoding any tensor data.
 * Throws an Error naming the tensor or the header problem on any malformed input.
 */
export function readSafetensorsHeader(bytes: Uint8Array, options: ReadOptions = {}): SafetensorsHeader {
  checkOptions(options);
  const onNode = runsOnNode();
  const maxHeader = options.maxHeaderBytes ?? (onNode ? MAX_HEADER_BYTES : MAX_HEADER_BYTES_BROWSER);
  if (!(bytes instanceof Uint8Array)) fail('input is not a Uint8Array', { value: bytes }, ConfigError);
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`, { bytes: bytes.length });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = readU64Length(view);
  if (headerLength > maxHeader) {
    const hint = options.maxHeaderBytes === undefined && !onNode ? ' (the default without Node.js; raise it with the maxHeaderBytes option)' : '';
    fail(`header length ${headerLength === Infinity ? '>= 2^53' : headerLength} exceeds the limit of ${maxHeader} bytes${hint}`, { headerLength, limit: maxHeader });
  }
  if (headerLength > bytes.length - 8) {
    fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes, at most ${bytes.length - 8} for the header)`, { headerLength, bytes: bytes.length });
  }
  if (headerLength === 0) fail('header is empty (length 0)', { headerLength });
  const dataStart = 8 + headerLength;
  if (bytes[8] !== 0x7b) fail(`header does not start with '{' (first byte 0x${bytes[8].toString(16).padStart(2, '0')})`, { headerLength, firstByte: bytes[8] });
  const json = new HeaderParser(bytes, 8, dataStart).parse();

  const dataLength = bytes.length - dataStart;
  const emptyLimit = Math.max(bytes.length, EMPTY_EXTENT_FLOOR);
  const metadata = readMetadata(json.get(METADATA_KEY));
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of json) {
    if (name === METADATA_KEY) continue;
    if (!(entry instanceof Map)) tensorFail(name, `entry is ${describe(entry)}, not an object`);
    for (const field of ENTRY_FIELDS) {
      if (!entry.has(field)) tensorFail(name, `entry has no ${field}`);
    }
    const dtype = entry.get('dtype');
    if (!isDType(dtype)) {
      if (typeof dtype === 'string' && KNOWN_UNSUPPORTED.has(dtype)) tensorFail(name, `dtype ${dtype} is not supported`);
      tensorFail(name, `unknown dtype ${describe(dtype)}`);
    }
    const shape = readShape(name, entry.get('shape'));
    const dataOffsets = readOffsets(name, entry.get('data_offsets'), dataLength);
    const count = shapeCount(name, shape, emptyLimit);
    const held = dataOffsets[1] - dataOffsets[0];
    const needed = count * DTYPE_SIZE[dtype];
    if (held !== needed) {
      tensorFail(name, `data_offsets [${dataOffsets[0]}, ${dataOffsets[1]}] hold ${held} bytes but shape ${shapeText(shape)} of ${dtype} needs ${needed}`);
    }
    tensors.push({ name, dtype, shape, dataOffsets });
  }

  // The tensors must tile the data section: sorted by offsets, each begins where the
  // previous one ends, and the last one ends at the end of the file.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let covered = 0;
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin < covered && previous) {
      tensorFail(t.name, `data_offsets [${begin}, ${end}] overlap tensor ${quote(previous.name)} at [${previous.dataOffsets[0]}, ${previous.dataOffsets[1]}]`);
    }
    if (begin > covered) {
      tensorFail(t.name, `data_offsets [${begin}, ${end}] leave bytes [${covered}, ${begin}) of the data section unused (tensors must be contiguous)`);
    }
    covered = end;
    previous = t;
  }
  if (covered !== dataLength) {
    fail(`data section has ${dataLength} bytes but the tensors cover only ${covered} (trailing bytes)`, { dataLength, covered });
  }
  return { tensors, metadata, dataStart };
}

/** Decodes one tensor of a validated header into float64 values. */
export function decodeTensor(bytes: Uint8Array, header: SafetensorsHeader, info: TensorInfo, options: ReadOptions = {}): Tensor {
  const { name, dtype, shape } = info;
  const begin = header.dataStart + info.dataOffsets[0];
  const end = header.dataStart + info.dataOffsets[1];
  if (begin < header.dataStart || end > bytes.length || begin > end) {
    tensorFail(name, `data_offsets [${info.dataOffsets[0]}, ${info.dataOffsets[1]}] are outside the file`);
  }
  const size = DTYPE_SIZE[dtype];
  const count = (end - begin) / size;
  if (count !== shapeCount(name, shape)) tensorFail(name, `byte count ${end - begin} does not match shape ${shapeText(shape)} of ${dtype}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  const data = new Float64Array(count);
  const tensor: Tensor = { dtype, shape: shape.slice(), data };
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(i * 8, true);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) data[i] = decodeSmallFloat(view.getUint16(i * 2, true), 5, 10);
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) data[i] = decodeSmallFloat(view.getUint16(i * 2, true), 8, 7);
      break;
    case 'I32':
      for (let i = 0; i < count; i++) data[i] = view.getInt32(i * 4, true);
      break;
    case 'U32':
      for (let i = 0; i < count; i++) data[i] = view.getUint32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) data[i] = view.getInt16(i * 2, true);
      break;
    case 'U16':
      for (let i = 0; i < count; i++) data[i] = view.getUint16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) data[i] = view.getInt8(i);
      break;
    case 'U8':
      for (let i = 0; i < count; i++) data[i] = view.getUint8(i);
      break;
    case 'BOOL':
      for (let i = 0; i < count; i++) {
        const b = view.getUint8(i);
        if (b > 1) tensorFail(name, `BOOL element ${i} is the byte ${b}, not 0 or 1`);
        data[i] = b;
      }
      break;
    case 'I64':
    case 'U64': {
      const signed = dtype === 'I64';
      const exact = signed ? new BigInt64Array(count) : new BigUint64Array(count);
      const strict = (options.unsafeIntegers ?? 'throw') === 'throw';
      for (let i = 0; i < count; i++) {
        const v = signed ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true);
        exact[i] = v;
        const x = Number(v);
        if (strict && !Number.isSafeInteger(x)) {
          tensorFail(name, `${dtype} element ${i} is ${v}, beyond +-(2^53-1) where float64 is exact (read with unsafeIntegers: 'round' to accept rounding)`);
        }
        data[i] = x;
      }
      tensor.bigints = exact;
      break;
    }
  }
  return tensor;
}

/**
 * Reads a whole safetensors file. Values are decoded to float64 (I64/U64 also kept exact
 * in `bigints`). Throws an Error naming the tensor or header problem on malformed input.
 */
export function readSafetensors(bytes: Uint8Array, options: ReadOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(bytes, options);
  const tensors = new Map<string, Tensor>();
  for (const info of header.tensors) tensors.set(info.name, decodeTensor(bytes, header, info, options));
  return { tensors, metadata: header.metadata };
}

// ---------------------------------------------------------------------------------------
// Writing

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  I32: [-2147483648, 2147483647], U32: [0, 4294967295],
  I16: [-32768, 32767], U16: [0, 65535],
  I8: [-128, 127], U8: [0, 255], BOOL: [0, 1],
};
// With the u flag a surrogate class matches only unpaired surrogates. Readers (this one and
// the reference) refuse them, so the writer does not write them.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

const I64_MIN = -(BigInt(1) << BigInt(63));
const I64_MAX = (BigInt(1) << BigInt(63)) - BigInt(1);
const U64_MAX = (BigInt(1) << BigInt(64)) - BigInt(1);

function bigFromValue(name: string, dtype: 'I64' | 'U64', v: unknown, i: number): bigint {
  let big: bigint;
  if (typeof v === 'bigint') {
    big = v;
  } else if (typeof v === 'number' && Number.isInteger(v)) {
    big = BigInt(v);
  } else {
    tensorFail(name, `element ${i} is ${typeof v === 'number' ? v : typeof v}, not an integer for ${dtype}`, ConfigError, { index: i, dtype });
  }
  const [lo, hi] = dtype === 'I64' ? [I64_MIN, I64_MAX] : [BigInt(0), U64_MAX];
  if (big < lo || big > hi) tensorFail(name, `element ${i} is ${big}, out of range for ${dtype}`, ConfigError, { index: i, dtype });
  return big;
}

function writeTensorData(view: DataView, at: number, name: string, t: TensorInput, count: number): void {
  const { dtype } = t;
  const data = t.data as ArrayLike<unknown>;
  if (dtype === 'I64' || dtype === 'U64') {
    for (let i = 0; i < count; i++) {
      const big = bigFromValue(name, dtype, data[i], i);
      if (dtype === 'I64') view.setBigInt64(at + i * 8, big, true);
      else view.setBigUint64(at + i * 8, big, true);
    }
    return;
  }
  const range = INT_RANGE[dtype];
  for (let i = 0; i < count; i++) {
    const v = data[i];
    if (typeof v !== 'number') tensorFail(name, `element ${i} is a ${typeof v}, not a number (bigints only for I64/U64)`, ConfigError, { index: i });
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
      tensorFail(name, `element ${i} is ${v}, not an integer in [${range[0]}, ${range[1]}] for ${dtype}`, ConfigError, { index: i, dtype });
    }
    switch (dtype) {
      case 'F64': view.setFloat64(at + i * 8, v, true); break;
      case 'F32': view.setFloat32(at + i * 4, v, true); break;
      case 'F16': view.setUint16(at + i * 2, encodeSmallFloat(v, 5, 10), true); break;
      case 'BF16': view.setUint16(at + i * 2, encodeSmallFloat(v, 8, 7), true); break;
      case 'I32': view.setInt32(at + i * 4, v, true); break;
      case 'U32': view.setUint32(at + i * 4, v, true); break;
      case 'I16': view.setInt16(at + i * 2, v, true); break;
      case 'U16': view.setUint16(at + i * 2, v, true); break;
      case 'I8': view.setInt8(at + i, v); break;
      case 'U8': case 'BOOL': view.setUint8(at + i, v); break;
    }
  }
}

/**
 * Serialises tensors (and optional string metadata) to safetensors bytes, laid out as the
 * reference writer does: by dtype (widest alignment first), then by name; header padded
 * with spaces so the data section starts 8-byte aligned; little-endian.
 */
export function writeSafetensors(
  tensors: Record<string, TensorInput> | Map<string, TensorInput>,
  metadata?: Record<string, string> | Map<string, string>,
): Uint8Array {
  const entries: [string, TensorInput][] = tensors instanceof Map
    ? [...tensors.entries()]
    : Object.keys(tensors).map((k) => [k, tensors[k]] as [string, TensorInput]);

  const planned: { name: string; input: TensorInput; shape: number[]; count: number; bytes: number }[] = [];
  for (const [name, input] of entries) {
    if (typeof name !== 'string') fail(`tensor name ${describe(name)} is not a string`, { value: name }, ConfigError);
    if (LONE_SURROGATE.test(name)) tensorFail(name, 'the name holds a lone surrogate, which has no UTF-8 form', ConfigError);
    if (name === METADATA_KEY) tensorFail(name, 'this name is reserved for the metadata', ConfigError);
    if (!isPlainObject(input)) tensorFail(name, `is ${describe(input)}, not {dtype, shape, data}`, ConfigError);
    if (!isDType(input.dtype)) tensorFail(name, `unknown dtype ${describe(input.dtype)}`, ConfigError, { option: 'dtype', value: input.dtype });
    const shape = checkInputShape(name, input.shape);
    const count = shapeCount(name, shape, Infinity, ShapeError);    const data = input.data as ArrayLike<unknown> | undefined;
    if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
      tensorFail(name, 'data is not an array-like of numbers', ConfigError);
    }
    if (data.length !== count) {
      tensorFail(name, `data has ${data.length} elements but shape ${shapeText(shape)} needs ${count}`, ShapeError, { shape, length: data.length, expected: count });
    }
    planned.push({ name, input, shape, count, bytes: count * DTYPE_SIZE[input.dtype] });
  }
  planned.sort((a, b) => DTYPE_RANK[b.input.dtype] - DTYPE_RANK[a.input.dtype] || compareUtf8(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const pairs: [string, unknown][] = metadata instanceof Map
      ? [...metadata.entries()]
      : Object.keys(metadata).map((k) => [k, (metadata as Record<string, unknown>)[k]] as [string, unknown]);
    const fields: string[] = [];
    for (const [key, value] of pairs) {
      if (typeof key !== 'string') fail(`metadata key ${describe(key)} is not a string`, { value: key }, ConfigError);
      if (typeof value !== 'string') fail(`metadata key ${quote(key)} is ${describe(value)}, not a string`, { key, value }, ConfigError);
      if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
        fail(`metadata key ${quote(key)}: the ${LONE_SURROGATE.test(key) ? 'key' : 'value'} holds a lone surrogate, which has no UTF-8 form`, { key }, ConfigError);
      }
      fields.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    parts.push(`"${METADATA_KEY}":{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const p of planned) {
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${p.input.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${offset},${offset + p.bytes}]}`);
    offset += p.bytes;
  }
  const json = encodeUtf8(`{${parts.join(',')}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  if (headerLength > MAX_HEADER_BYTES) fail(`header would be ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit of readers`, { headerLength, limit: MAX_HEADER_BYTES }, ResourceError);

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % TWO_POW_32, true);
  view.setUint32(4, Math.floor(headerLength / TWO_POW_32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const p of planned) {
    writeTensorData(view, at, p.name, p.input, p.count);
    at += p.bytes;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Mat conversion

/**
 * The tensor as a Mat sharing its storage: 0-D -> 1x1, 1-D [n] -> 1 x n, and N-D
 * [a, b, ..., c] -> (a*b*...) x c (leading dims collapsed into rows).
 */
export function tensorToMat(t: Tensor): Mat {
  const shape = t.shape;
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
  if (rows * cols !== t.data.length) {
    fail(`tensorToMat: shape ${shapeText(shape)} needs ${rows * cols} values but data has ${t.data.length}`, { shape: t.shape, length: t.data.length }, ShapeError);
  }
  return { rows, cols, data: t.data, offset: 0 };
}

/**
 * A tensor holding a copy of m's values; shape defaults to [rows, cols] and may be any
 * shape with rows*cols elements. dtype is the type it will be written as (values stay float64).
 */
export function matToTensor(m: Mat, shape?: readonly number[], dtype: DType = 'F64'): Tensor {
  const size = m.rows * m.cols;
  if (shape !== undefined && !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`matToTensor: shape ${describe(shape)} is not a list of non-negative integers`, { shape }, ShapeError);
  }
  const dims = shape === undefined ? [m.rows, m.cols] : shape.map((d) => d + 0);
  let count = 1;
  for (const d of dims) count *= d;
  if (count !== size) fail(`matToTensor: shape ${shapeText(dims)} has ${count} elements but the matrix is ${m.rows}x${m.cols}`, { shape: dims, mat: [m.rows, m.cols] }, ShapeError);
  if (!isDType(dtype)) fail(`matToTensor: unknown dtype ${describe(dtype)}`, { option: 'dtype', value: dtype }, ConfigError);
  return { dtype, shape: dims, data: m.data.slice(m.offset, m.offset + size) };
}
