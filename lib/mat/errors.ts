// loopgrad's errors: one base class and four kinds, so a caller can tell bad shapes from bad
// settings, unreadable files and refused sizes without parsing messages. Every error carries the
// operation that refused (`op`) and the values at fault (`details`); its message starts with the
// operation, as every message here always has: "gemm: a.cols 5 != b.rows 4".

/** Values at fault, by name (shapes as [rows, cols], sizes, the offending option...). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** The base of every error loopgrad throws on purpose. */
export class LoopgradError extends Error {
  static readonly errorName: string = 'LoopgradError';
  /** The operation that refused: 'gemm', 'rtrl', 'loadNetwork', 'train --lr' ... */
  readonly op: string;
  readonly details: ErrorDetails;

  /** `message` is what follows "op: "; details are the values at fault. */
  constructor(op: string, message: string, details: ErrorDetails = {}) {
    super(`${op}: ${message}`);
    // The class's own errorName, not new.target.name: a minifier renames classes, and a bundle's
    // errors must still read "ShapeError: ..." (a caller's subclass without one keeps its own name).
    this.name = Object.prototype.hasOwnProperty.call(new.target, 'errorName') ? (new.target as unknown as { errorName: string }).errorName : new.target.name;
    this.op = op;
    this.details = details;
  }
}

/** An array, matrix or sequence of the wrong shape, length or size for the operation. */
export class ShapeError extends LoopgradError {
  static override readonly errorName = 'ShapeError';
}

/** An option, setting or argument that is unknown, of the wrong type, out of range or in conflict. */
export class ConfigError extends LoopgradError {
  static override readonly errorName = 'ConfigError';
}

/** Bytes that are not what they claim: a corrupt or hostile file, a header, a checkpoint, a saved network. */
export class FormatError extends LoopgradError {
  static override readonly errorName = 'FormatError';
}

/** A run refused or stopped for what it would cost: memory over a limit, a size past what is safe. */
export class ResourceError extends LoopgradError {
  static override readonly errorName = 'ResourceError';
}
