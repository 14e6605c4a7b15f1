// loopgrad's typed errors live in lib/mat/errors.ts, a file that imports nothing, so every layer
// (lib/rnn, lib/cells ...) can throw them without a folder cycle through lib/index.ts; this path
// keeps them where the root face and callers already import them from.
export { LoopgradError, ShapeError, ConfigError, FormatError, ResourceError, type ErrorDetails } from './mat/errors.js';
