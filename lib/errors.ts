// loopgrad's typed errors, as the root face exports them. The classes live in lib/mat/errors.ts,
// the bottom layer beside options.ts, so every folder of lib/ can throw them without a folder
// cycle (lib/ itself imports every folder through index.ts and browser.ts).
export { LoopgradError, ShapeError, ConfigError, FormatError, ResourceError, type ErrorDetails } from './mat/errors.js';
