// The symbols of a text model and their indices: index i is symbols[i]. From a text, the symbols
// are its distinct characters (code points, so a character outside the BMP is one symbol) sorted
// by code point, so the same text always gives the same indices. Encoding a symbol the vocabulary
// does not hold is a ConfigError naming it and where it is.
import { ConfigError } from '../mat/errors.js';

export class Vocabulary {
  /** symbols[i] is the symbol of index i. */
  readonly symbols: readonly string[];
  /** Whether every symbol is one character (then encode splits a text into characters). */
  readonly characters: boolean;
  private readonly index = new Map<string, number>();

  /** From a list of distinct symbols, in index order (each a non-empty string). */
  constructor(symbols: readonly string[]) {
    if (!Array.isArray(symbols) || symbols.length === 0) {
      throw new ConfigError('Vocabulary', `symbols must be a non-empty array of strings, got ${describe(symbols)}`, { symbols });
    }
    symbols.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0) throw new ConfigError('Vocabulary', `symbol ${i} must be a non-empty string, got ${describe(s)}`, { index: i });
      if (this.index.has(s)) throw new ConfigError('Vocabulary', `symbol ${JSON.stringify(s)} appears twice (indices ${this.index.get(s)} and ${i})`, { symbol: s });
      this.index.set(s, i);
    });
    this.symbols = symbols.slice();
    this.characters = this.symbols.every((s) => Array.from(s).length === 1);
  }

  /** The distinct characters of a text, sorted by code point. */
  static fromText(text: string): Vocabulary {
    if (typeof text !== 'string' || text.length === 0) throw new ConfigError('Vocabulary.fromText', `text must be a non-empty string, got ${describe(text)}`);
    const chars = Array.from(new Set(Array.from(text)));
    chars.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new Vocabulary(chars);
  }

  get size(): number {
    return this.symbols.length;
  }

  /** The index of one symbol. */
  indexOf(symbol: string): number {
    const i = this.index.get(symbol);
    if (i === undefined) throw new ConfigError('Vocabulary.encode', `symbol ${JSON.stringify(symbol)} is not in the vocabulary of ${this.size} symbols`, { symbol });
    return i;
  }

  /** A text (split into characters) or a list of symbols as indices. */
  encode(input: string | readonly string[]): Int32Array {
    const parts = typeof input === 'string' ? Array.from(input) : input;
    if (!Array.isArray(parts)) throw new ConfigError('Vocabulary.encode', `input must be a string or an array of symbols, got ${describe(input)}`);
    if (typeof input === 'string' && !this.characters) {
      throw new ConfigError('Vocabulary.encode', 'this vocabulary has multi-character symbols; pass an array of symbols, not a string');
    }
    const out = new Int32Array(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const at = this.index.get(parts[i]);
      if (at === undefined) throw new ConfigError('Vocabulary.encode', `symbol ${JSON.stringify(parts[i])} at position ${i} is not in the vocabulary of ${this.size} symbols`, { symbol: parts[i], position: i });
      out[i] = at;
    }
    return out;
  }

  /** Indices back to text (symbols joined). */
  decode(indices: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i];
      if (!Number.isInteger(k) || k < 0 || k >= this.size) {
        throw new ConfigError('Vocabulary.decode', `index ${k} at position ${i} is not in [0, ${this.size})`, { index: k, position: i });
      }
      out += this.symbols[k];
    }
    return out;
  }

  toJSON(): string[] {
    return this.symbols.slice();
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return value === null ? 'null' : typeof value;
}
