// Initialisation schemes for the recurrent weights, the knob that decides
// whether gradients vanish or explode at the start of training. A scheme sets
// weight_hh (each H x H gate block of it for LSTM and GRU); the other
// parameters keep the cell's default, except for 'identity' (IRNN, Le et al.
// 2015), which also zeroes the cell's biases and draws small input weights.
//   default        the cell's own initialisation (PyTorch's U(±1/√H))
//   normal:G       N(0, G²/H): a random matrix whose spectral radius is about G
//   xavier:G       Glorot uniform with gain G (default 1)
//   he:G           He normal with gain G (default √2)
//   orthogonal:G   G times a random orthogonal matrix (every singular value G)
//   identity:S     S·I recurrent blocks, zero biases, N(0, 0.001²) input weights
import type { Params } from '../cells/params.js';
import { type Mat, matFrom } from '../mat/mat.js';
import type { Rng } from '../mat/rng.js';
import { heNormal, identityInit, normalInit, orthogonal, xavierUniform } from '../mat/init.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export type InitScheme =
  | { readonly kind: 'default' }
  | { readonly kind: 'normal' | 'xavier' | 'he' | 'orthogonal'; readonly gain: number }
  | { readonly kind: 'identity'; readonly scale: number; readonly inputStd: number };

export const INIT_KINDS = ['default', 'normal', 'xavier', 'he', 'orthogonal', 'identity'] as const;

/** Parses `kind` or `kind:NUMBER` (see the file comment). */
export function parseInit(text: string): InitScheme {
  const [kind, arg, extra] = text.split(':');
  if (extra !== undefined) throw new ConfigError('init', `"${text}" has more than one ":NUMBER"`, { text });
  let value: number | undefined;
  if (arg !== undefined) {
    value = Number(arg);
    if (arg.trim() === '' || !Number.isFinite(value)) throw new ConfigError('init', `"${text}": "${arg}" is not a number`, { text, number: arg });
    if (value < 0) throw new ConfigError('init', `"${text}": the gain/scale must be >= 0`, { text, value });
  }
  switch (kind) {
    case 'default':
      if (value !== undefined) throw new ConfigError('init', `"default" takes no number`, { text, value });
      return { kind: 'default' };
    case 'normal': return { kind, gain: value ?? 1 };
    case 'xavier': return { kind, gain: value ?? 1 };
    case 'he': return { kind, gain: value ?? Math.SQRT2 };
    case 'orthogonal': return { kind, gain: value ?? 1 };
    case 'identity': return { kind, scale: value ?? 1, inputStd: 0.001 };
    default: throw new ConfigError('init', `unknown scheme "${kind}" (${INIT_KINDS.join(', ')}; e.g. normal:0.5, identity)`, { text, kind });
  }
}

export function formatInit(scheme: InitScheme): string {
  switch (scheme.kind) {
    case 'default': return 'default';
    case 'identity': return `identity:${scheme.scale}`;
    default: return `${scheme.kind}:${scheme.gain}`;
  }
}

/** The H x H gate blocks of weight_hh (one for Elman, 4 for LSTM, 3 for GRU), as views. */
export function recurrentBlocks(params: Params): Mat[] {
  const i = params.specs.findIndex((s) => s.name === 'weight_hh');
  if (i < 0) {
    throw new ConfigError('recurrentBlocks', `no weight_hh among the parameters (${params.specs.map((s) => s.name).join(', ')})`, { parameters: params.specs.map((s) => s.name) });
  }
  const { rows, cols } = params.specs[i];
  if (rows % cols !== 0) throw new ShapeError('recurrentBlocks', `weight_hh is ${rows}x${cols}, not a stack of ${cols}x${cols} blocks`, { shape: [rows, cols] });
  const blocks: Mat[] = [];
  for (let b = 0; b < rows / cols; b++) blocks.push(matFrom(cols, cols, params.theta, params.offsets[i] + b * cols * cols));
  return blocks;
}

/** Re-initialises the recurrent weights of freshly created params by a scheme. */
export function applyInit(params: Params, scheme: InitScheme, rng: Rng): void {
  if (scheme.kind === 'default') return;
  const blocks = recurrentBlocks(params);
  const H = blocks[0].cols;
  for (const block of blocks) {
    switch (scheme.kind) {
      case 'normal': normalInit(block, rng, scheme.gain / Math.sqrt(H)); break;
      case 'xavier': xavierUniform(block, rng, scheme.gain); break;
      case 'he': heNormal(block, rng, scheme.gain); break;
      case 'orthogonal': orthogonal(block, rng, scheme.gain); break;
      case 'identity': identityInit(block, scheme.scale); break;
      default: throw new ConfigError('applyInit', `unknown scheme ${JSON.stringify((scheme as { kind?: unknown }).kind)}`, { kind: (scheme as { kind?: unknown }).kind });
    }
  }
  if (scheme.kind === 'identity') {
    params.specs.forEach((spec, i) => {
      const m = params.mats[i];
      if (spec.name === 'weight_ih') normalInit(m, rng, scheme.inputStd);
      else if (spec.name.startsWith('bias') && spec.name !== 'bias_out') m.data.fill(0, m.offset, m.offset + m.rows * m.cols);
    });
  }
}
