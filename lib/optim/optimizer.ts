// First-order optimisers over one flat parameter vector. Every model keeps all
// its parameters in one Float64Array theta and every gradient is laid out the
// same way, so an optimiser is a few loops over two arrays plus its own
// per-parameter buffers. Update rules (g the gradient, t = 1, 2, ... the update
// count, lr_t from the schedule), following PyTorch's conventions:
//   sgd:      b = μ b + g;  θ -= lr (g + μ b) with Nesterov, θ -= lr b without (μ = 0: θ -= lr g)
//   adam:     m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  θ -= lr (m / (1-β1^t)) / (√(v / (1-β2^t)) + ε)
//   adamw:    θ -= lr λ θ (decoupled decay, masked), then the Adam step
//   rmsprop:  v = α v + (1-α) g²;  b = μ b + g / (√v + ε);  θ -= lr b   (μ = 0: θ -= lr g / (√v + ε))
//   adagrad:  s = s + g²;  θ -= lr g / (√s + ε)
// The whole state (hyperparameters, update count, buffers) saves to a plain
// JSON-able object and loads back into an optimiser that continues exactly.
import { type Schedule, checkSchedule, scheduledRate } from './schedule.js';
import * as pm from '../mat/math.js';
import { checkInt, checkKeys } from '../mat/options.js';
import { ConfigError, FormatError, ShapeError } from '../mat/errors.js';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'];

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** Base learning rate (>= 0). */
  lr: number;
  /** sgd and rmsprop: momentum μ in [0, 1) (default 0). */
  momentum?: number;
  /** sgd: Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
  /** adam, adamw: β1 (default 0.9). */
  beta1?: number;
  /** adam, adamw: β2 (default 0.999). */
  beta2?: number;
  /** rmsprop: smoothing α of the squared gradient (default 0.99). */
  alpha?: number;
  /** adam, adamw, rmsprop (default 1e-8); adagrad (default 1e-10). */
  eps?: number;
  /** adamw: decoupled weight decay λ (default 0.01). */
  weightDecay?: number;
  /** adagrad: starting value of the accumulator (default 0). */
  initialAccumulator?: number;
  /** Learning-rate schedule (default none: constant lr). */
  schedule?: Schedule | null;
}

/**
 * The options each kind understands. weightDecay is accepted by all (only AdamW may set it
 * non-zero; the others say to use an L2 penalty instead), schedule by all.
 */
const CONFIG_KEYS: Readonly<Record<OptimizerKind, readonly (keyof OptimizerConfig)[]>> = {
  sgd: ['kind', 'lr', 'momentum', 'nesterov', 'weightDecay', 'schedule'],
  adam: ['kind', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'schedule'],
  adamw: ['kind', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'schedule'],
  rmsprop: ['kind', 'lr', 'alpha', 'eps', 'momentum', 'weightDecay', 'schedule'],
  adagrad: ['kind', 'lr', 'eps', 'initialAccumulator', 'weightDecay', 'schedule'],
};

/** Everything an optimiser needs to continue exactly where it stopped; JSON-able. */
export interface OptimizerState {
  format: 'loopgrad-optimizer';
  version: 1;
  config: OptimizerConfig;
  /** Updates made so far. */
  steps: number;
  /** Per-parameter buffers by name (m, v, momentum, square, sum), as plain number arrays. */
  buffers: Record<string, number[]>;
}

function checkNumber(kind: string, name: string, value: unknown, lo: number, hi: number, loOpen: boolean, hiOpen: boolean): number {
  const v = value as number;
  const ok = typeof value === 'number' && Number.isFinite(v)
    && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞' : hi}${hiOpen ? ')' : ']'}`;
    throw new ConfigError(kind, `${name} must be a number in ${range}, got ${JSON.stringify(value)}`, { option: name, value });
  }
  return v;
}

/** Fills in defaults and validates; throws an Error naming the bad option. */
export function normalizeOptimizerConfig(config: OptimizerConfig): Required<Omit<OptimizerConfig, 'schedule'>> & { schedule: Schedule | null } {
  if (config === null || typeof config !== 'object') throw new ConfigError('optimizer', `expected a config object, got ${JSON.stringify(config)}`, { value: config });
  const kind = config.kind;
  // Only an absent option takes its default: null is refused like any other non-number.
  const orDefault = (v: unknown, fallback: number | boolean): unknown => (v === undefined ? fallback : v);
  if (!OPTIMIZER_KINDS.includes(kind)) throw new ConfigError('optimizer', `unknown kind ${JSON.stringify(kind)} (${OPTIMIZER_KINDS.join(', ')})`, { option: 'kind', value: kind });
  // An option the kind does not use (momentum with Adam) is the caller's setting at fault: name it.
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS[kind].includes(key as keyof OptimizerConfig)) {
      const acceptedBy = OPTIMIZER_KINDS.filter((k) => CONFIG_KEYS[k].includes(key as keyof OptimizerConfig));
      throw new ConfigError(kind, `unknown option "${key}" (accepted: ${CONFIG_KEYS[kind].join(', ')})`, { option: key, kind, acceptedBy });
    }
  }
  const lr = checkNumber(kind, 'lr', config.lr, 0, Infinity, false, true);
  const momentum = checkNumber(kind, 'momentum', orDefault(config.momentum, 0), 0, 1, false, true);
  const nesterov = orDefault(config.nesterov, false);
  if (typeof nesterov !== 'boolean') throw new ConfigError(kind, `nesterov must be true or false, got ${JSON.stringify(nesterov)}`, { option: 'nesterov', value: nesterov });
  if (nesterov && momentum === 0) throw new ConfigError(kind, 'nesterov needs momentum > 0', { option: 'nesterov', needs: 'momentum' });
  const beta1 = checkNumber(kind, 'beta1', orDefault(config.beta1, 0.9), 0, 1, false, true);
  const beta2 = checkNumber(kind, 'beta2', orDefault(config.beta2, 0.999), 0, 1, false, true);
  const alpha = checkNumber(kind, 'alpha', orDefault(config.alpha, 0.99), 0, 1, false, true);
  const eps = checkNumber(kind, 'eps', orDefault(config.eps, kind === 'adagrad' ? 1e-10 : 1e-8), 0, Infinity, true, true);
  const weightDecay = checkNumber(kind, 'weightDecay', orDefault(config.weightDecay, kind === 'adamw' ? 0.01 : 0), 0, Infinity, false, true);
  if (weightDecay !== 0 && kind !== 'adamw') {
    throw new ConfigError(kind, `weightDecay is AdamW's decoupled decay; use an L2 penalty (applyPenalty) with ${kind}`, { option: 'weightDecay', value: weightDecay, kind });
  }
  const initialAccumulator = checkNumber(kind, 'initialAccumulator', orDefault(config.initialAccumulator, 0), 0, Infinity, false, true);
  const schedule = config.schedule == null ? null : checkSchedule(config.schedule);
  return { kind, lr, momentum, nesterov, beta1, beta2, alpha, eps, weightDecay, initialAccumulator, schedule };
}

/**
 * A config as an earlier saveState wrote it (every option, the unused ones at their defaults)
 * without those unused defaults. Anything else stays, for the checks to refuse.
 */
function withoutUnusedDefaults(config: OptimizerConfig): OptimizerConfig {
  if (config === null || typeof config !== 'object' || !OPTIMIZER_KINDS.includes(config.kind)) return config;
  const defaults: Record<string, unknown> = normalizeOptimizerConfig({ kind: config.kind, lr: 0 });
  const accepted: readonly string[] = CONFIG_KEYS[config.kind];
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!accepted.includes(key) && key in defaults && defaults[key] === value) continue;
    kept[key] = value;
  }
  return kept as unknown as OptimizerConfig;
}

/** Which buffers each kind keeps. */
function bufferNames(c: { kind: OptimizerKind; momentum: number }): string[] {
  switch (c.kind) {
    case 'sgd': return c.momentum > 0 ? ['momentum'] : [];
    case 'adam': case 'adamw': return ['m', 'v'];
    case 'rmsprop': return c.momentum > 0 ? ['square', 'momentum'] : ['square'];
    case 'adagrad': return ['sum'];
  }
}

export class Optimizer {
  readonly config: Readonly<ReturnType<typeof normalizeOptimizerConfig>>;
  /** Updates made so far. */
  steps = 0;
  /**
   * AdamW only: 1 where the decoupled decay applies, 0 where it does not
   * (e.g. biases); null decays everything. Not part of the saved state.
   */
  decayMask: Float64Array | null = null;
  private buffers = new Map<string, Float64Array>();
  private size = -1;

  constructor(config: OptimizerConfig) {
    this.config = normalizeOptimizerConfig(config);
  }

  get kind(): OptimizerKind { return this.config.kind; }

  /** The rate the next update will use. */
  learningRate(): number {
    return scheduledRate(this.config.schedule, this.config.lr, this.steps);
  }

  private buffer(name: string): Float64Array {
    return this.buffers.get(name)!;
  }

  private ensure(size: number): void {
    if (this.size === size) return;
    if (this.size >= 0) throw new ShapeError(this.kind, `theta has ${size} numbers but this optimiser's state is for ${this.size}`, { theta: size, state: this.size });
    this.size = size;
    for (const name of bufferNames(this.config)) {
      const b = new Float64Array(size);
      if (name === 'sum' && this.config.initialAccumulator !== 0) b.fill(this.config.initialAccumulator);
      this.buffers.set(name, b);
    }
  }

  /** One update of theta in place from grad (same length). */
  step(theta: Float64Array, grad: Float64Array): void {
    if (theta.length !== grad.length) {
      throw new ShapeError(`${this.kind}.step`, `theta has ${theta.length} numbers but grad has ${grad.length}`, { theta: theta.length, grad: grad.length });
    }
    if (this.decayMask !== null && this.decayMask.length !== theta.length) {
      throw new ShapeError(`${this.kind}.step`, `decayMask has ${this.decayMask.length} numbers but theta has ${theta.length}`, { decayMask: this.decayMask.length, theta: theta.length });
    }
    this.ensure(theta.length);
    const c = this.config;
    const lr = this.learningRate();
    const n = theta.length;
    switch (c.kind) {
      case 'sgd': {
        if (c.momentum === 0) {
          for (let i = 0; i < n; i++) theta[i] -= lr * grad[i];
          break;
        }
        const b = this.buffer('momentum'), mu = c.momentum;
        if (c.nesterov) {
          for (let i = 0; i < n; i++) { b[i] = mu * b[i] + grad[i]; theta[i] -= lr * (grad[i] + mu * b[i]); }
        } else {
          for (let i = 0; i < n; i++) { b[i] = mu * b[i] + grad[i]; theta[i] -= lr * b[i]; }
        }
        break;
      }
      case 'adam': case 'adamw': {
        if (c.kind === 'adamw' && c.weightDecay !== 0) {
          const shrink = lr * c.weightDecay, mask = this.decayMask;
          if (mask === null) for (let i = 0; i < n; i++) theta[i] -= shrink * theta[i];
          else for (let i = 0; i < n; i++) theta[i] -= shrink * mask[i] * theta[i];
        }
        const m = this.buffer('m'), v = this.buffer('v');
        const { beta1, beta2, eps } = c;
        const t = this.steps + 1;
        const c1 = 1 / (1 - pm.pow(beta1, t)), c2 = 1 / (1 - pm.pow(beta2, t));
        for (let i = 0; i < n; i++) {
          const g = grad[i];
          m[i] = beta1 * m[i] + (1 - beta1) * g;
          v[i] = beta2 * v[i] + (1 - beta2) * g * g;
          theta[i] -= (lr * m[i] * c1) / (Math.sqrt(v[i] * c2) + eps);
        }
        break;
      }
      case 'rmsprop': {
        const s = this.buffer('square'), { alpha, eps, momentum } = c;
        if (momentum === 0) {
          for (let i = 0; i < n; i++) {
            const g = grad[i];
            s[i] = alpha * s[i] + (1 - alpha) * g * g;
            theta[i] -= (lr * g) / (Math.sqrt(s[i]) + eps);
          }
        } else {
          const b = this.buffer('momentum');
          for (let i = 0; i < n; i++) {
            const g = grad[i];
            s[i] = alpha * s[i] + (1 - alpha) * g * g;
            b[i] = momentum * b[i] + g / (Math.sqrt(s[i]) + eps);
            theta[i] -= lr * b[i];
          }
        }
        break;
      }
      case 'adagrad': {
        const s = this.buffer('sum'), eps = c.eps;
        for (let i = 0; i < n; i++) {
          const g = grad[i];
          s[i] += g * g;
          theta[i] -= (lr * g) / (Math.sqrt(s[i]) + eps);
        }
        break;
      }
    }
    this.steps++;
  }

  /** A plain JSON-able snapshot of everything needed to continue (deep copy). */
  saveState(): OptimizerState {
    const buffers: Record<string, number[]> = {};
    for (const [name, b] of this.buffers) buffers[name] = Array.from(b);
    // The options of this kind only (so that the saved config passes the constructor's key check).
    const all: Record<string, unknown> = { ...this.config };
    const config: Record<string, unknown> = {};
    for (const key of CONFIG_KEYS[this.kind]) if (key !== 'schedule') config[key] = all[key];
    if (this.config.schedule !== null) config.schedule = JSON.parse(JSON.stringify(this.config.schedule)) as Schedule;
    return { format: 'loopgrad-optimizer', version: 1, config: config as unknown as OptimizerConfig, steps: this.steps, buffers };
  }

  /** Restores a snapshot taken by saveState (from this or an equal optimiser). */
  loadState(state: OptimizerState): void {
    const restored = Optimizer.fromState(state);
    if (JSON.stringify(restored.config) !== JSON.stringify(this.config)) {
      throw new ConfigError(`${this.kind}.loadState`, `the saved state is for ${JSON.stringify(restored.config)}, not ${JSON.stringify(this.config)}`, { saved: restored.config, config: this.config });
    }
    this.steps = restored.steps;
    this.buffers = restored.buffers;
    this.size = restored.size;
  }

  /** A new optimiser that continues from a snapshot. */
  static fromState(state: OptimizerState): Optimizer {
    const op = 'Optimizer.fromState';
    if (state === null || typeof state !== 'object' || state.format !== 'loopgrad-optimizer') {
      throw new FormatError(op, 'not a loopgrad optimiser state (format field missing)', { format: state === null || typeof state !== 'object' ? null : (state as { format?: unknown }).format });
    }
    if (state.version !== 1) throw new FormatError(op, `unsupported version ${JSON.stringify(state.version)}`, { version: state.version });
    checkKeys(op, state, ['format', 'version', 'config', 'steps', 'buffers']);
    const opt = new Optimizer(withoutUnusedDefaults(state.config));
    opt.steps = checkInt(op, 'steps', state.steps, 0);
    const names = bufferNames(opt.config);
    const saved: Record<string, number[]> = state.buffers === undefined ? {} : state.buffers;
    if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) {
      throw new FormatError(op, `buffers must be an object of number arrays by name, got ${JSON.stringify(saved)}`, { buffers: saved });
    }
    const savedNames = Object.keys(saved);
    if (savedNames.length === 0) return opt; // saved before the first update
    if (savedNames.length !== names.length || !names.every((n) => Array.isArray(saved[n]))) {
      throw new FormatError(op, `${opt.kind} keeps buffers [${names.join(', ')}] but the state has [${savedNames.join(', ')}]`, { kind: opt.kind, expected: names, found: savedNames });
    }
    const size = saved[names[0]].length;
    for (const name of names) {
      const arr = saved[name];
      if (arr.length !== size) throw new FormatError(op, `buffer ${name} has ${arr.length} numbers, ${names[0]} has ${size}`, { buffer: name, length: arr.length, expected: size });
      // Checked before converting: Float64Array.from would turn null, true, "1" and [] into numbers.
      const b = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        const v: unknown = arr[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new FormatError(op, `buffer ${name}[${i}] is ${typeof v === 'number' ? String(v) : JSON.stringify(v)}, not a finite number`, { buffer: name, index: i, value: v });
        }
        b[i] = v;
      }
      opt.buffers.set(name, b);
    }
    opt.size = size;
    return opt;
  }
}
