// Connectionist temporal classification (Graves et al., 2006): the loss
// -log p(target | x) summed over every alignment, by the forward-backward
// algorithm in log space, with the semantics of torch.nn.functional.ctc_loss.
//
// Layout: scores are time-major (T, N, C) row-major, i.e. element (t, n, c) is at
// offset + (t * N + n) * C + c. A Mat with rows = T * N and cols = C is the same thing.
//
// Notation, for one batch item with target l (length L) and input length Tn:
//   l' = blank, l1, blank, l2, ..., lL, blank          (extended target, S' = 2L + 1)
//   y_t(k) = log-probability of class k at frame t      (the input, log space)
//   alpha_t(s) = log sum over prefixes of paths ending in state s at t (emission at t included)
//   beta_t(s)  = log sum over suffixes of paths leaving state s at t   (emission at t excluded)
//   log p = logsumexp(alpha_{Tn-1}(S'-1), alpha_{Tn-1}(S'-2))
//   occupancy gamma_t(k) = sum_{s : l'_s = k} exp(alpha_t(s) + beta_t(s) - log p)
// and the gradients, per item weighted by w (the upstream cotangent after reduction):
//   exact   d loss / d y_t(k)  = -w gamma_t(k)                      (y a free input)
//   torch   d loss / d y_t(k)  =  w (exp(y_t(k)) - gamma_t(k))        (PyTorch's ctc_loss backward)
//   logits  d loss / d z_t(k)  =  w (softmax(z_t)(k) - gamma_t(k))    (through log_softmax, fused)
// The torch form is what PyTorch returns for log_probs; it equals the gradient through
// log_softmax whenever the input is normalised, since gamma_t sums to 1 over k.

import { type Mat, matFrom } from '../mat/mat.js';
import * as pm from '../mat/math.js';
import { logSoftmaxRows as logSoftmaxMat } from '../mat/elementwise.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export type CtcReduction = 'none' | 'sum' | 'mean';

export interface CtcOptions {
  /** Number of frames (the padded input length). */
  readonly T: number;
  /** Batch size. */
  readonly N: number;
  /** Number of classes, blank included. */
  readonly C: number;
  /**
   * Target labels, in one of three forms:
   * - padded: flat row-major (N, S) with `paddedTargetLength: S` set;
   * - concatenated: flat, item after item, length = sum of targetLengths (no `paddedTargetLength`);
   * - nested: one array per item (N of them), each at least targetLengths[n] long.
   * Entries past an item's target length are ignored (padding may hold anything).
   */
  readonly targets: ArrayLike<number> | readonly ArrayLike<number>[];
  /** S of padded (N, S) targets; leave undefined for concatenated or nested targets. */
  readonly paddedTargetLength?: number;
  /** Frames used by each item, 0 <= inputLengths[n] <= T. */
  readonly inputLengths: ArrayLike<number>;
  /** Labels in each item's target. */
  readonly targetLengths: ArrayLike<number>;
  /** Index of the blank class; default 0. */
  readonly blank?: number;
  /** 'none' | 'sum' | 'mean' (each loss over its clamped target length, then averaged); default 'mean'. */
  readonly reduction?: CtcReduction;
  /** Impossible alignments give loss 0 and zero gradient instead of +Infinity; default false. */
  readonly zeroInfinity?: boolean;
}

export interface CtcResult {
  /** Per-item losses -log p(target_n | x_n), after zeroInfinity, before reduction. */
  readonly losses: Float64Array;
  /** The reduced loss: mean or sum as asked; for reduction 'none', the sum of `losses`. */
  readonly loss: number;
}

export interface CtcGradOptions {
  /**
   * Upstream cotangent of the loss. For 'sum' and 'mean' a number (default 1); for 'none' a
   * number for every item or one value per item (length N). The default makes the gradient
   * that of `loss` in the result.
   */
  readonly gy?: number | ArrayLike<number>;
  /** Where to write the gradient, length T * N * C; allocated when absent. */
  readonly gx?: Float64Array;
  /** Add into gx instead of overwriting it (reverse rules accumulate). Default false. */
  readonly accumulate?: boolean;
}

export interface CtcLogProbsGradOptions extends CtcGradOptions {
  /**
   * 'torch' (default): w (exp(y) - gamma), PyTorch's ctc_loss backward, which is the gradient of
   * ctc(log_softmax(y)) at a normalised y. 'exact': -w gamma, the partial derivative with y free.
   */
  readonly convention?: 'torch' | 'exact';
}

export interface CtcGradResult extends CtcResult {
  /** The gradient, (T, N, C) like the input (the same array as options.gx when given). */
  readonly grad: Float64Array;
}

// ---------------------------------------------------------------------------------------------
// Validation and normalisation of the batch description.

interface Batch {
  readonly T: number;
  readonly N: number;
  readonly C: number;
  readonly blank: number;
  readonly reduction: CtcReduction;
  readonly zeroInfinity: boolean;
  readonly inputLengths: Int32Array;
  readonly targetLengths: Int32Array;
  /** All targets' labels, item after item. */
  readonly labels: Int32Array;
  /** labels[targetStarts[n] ... + targetLengths[n]) is item n's target. */
  readonly targetStarts: Int32Array;
  readonly maxTargetLength: number;
}

function isCount(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

function isNested(targets: ArrayLike<number> | readonly ArrayLike<number>[]): targets is readonly ArrayLike<number>[] {
  return Array.isArray(targets) && targets.length > 0 && typeof targets[0] !== 'number';
}

function checkBatch(op: string, options: CtcOptions): Batch {
  const { T, N, C } = options;
  if (!isCount(T) || !isCount(N) || !isCount(C) || C < 1) {
    throw new ConfigError(op, `T ${T}, N ${N}, C ${C} must be non-negative integers with C >= 1`, { T, N, C });
  }
  const blank = options.blank ?? 0;
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) {
    throw new ConfigError(op, `blank index ${blank} is not a class in [0, ${C})`, { option: 'blank', value: blank, classes: C });
  }
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') {
    throw new ConfigError(op, `reduction '${String(reduction)}' is not 'none', 'sum' or 'mean'`, { option: 'reduction', value: reduction });
  }
  if (options.inputLengths.length !== N) {
    throw new ShapeError(op, `${options.inputLengths.length} input lengths for a batch of ${N}`, { lengths: options.inputLengths.length, batch: N });
  }
  if (options.targetLengths.length !== N) {
    throw new ShapeError(op, `${options.targetLengths.length} target lengths for a batch of ${N}`, { lengths: options.targetLengths.length, batch: N });
  }
  const inputLengths = new Int32Array(N);
  const targetLengths = new Int32Array(N);
  let total = 0;
  let maxTargetLength = 0;
  for (let n = 0; n < N; n++) {
    const li = options.inputLengths[n];
    const lt = options.targetLengths[n];
    if (!isCount(li)) throw new ShapeError(op, `item ${n}: input length ${li} is not a non-negative integer`, { item: n, inputLength: li });
    if (li > T) throw new ShapeError(op, `item ${n}: input length ${li} exceeds the ${T} frames given`, { item: n, inputLength: li, frames: T });
    if (!isCount(lt)) throw new ShapeError(op, `item ${n}: target length ${lt} is not a non-negative integer`, { item: n, targetLength: lt });
    inputLengths[n] = li;
    targetLengths[n] = lt;
    total += lt;
    if (lt > maxTargetLength) maxTargetLength = lt;
  }

  const labels = new Int32Array(total);
  const targetStarts = new Int32Array(N);
  const targets = options.targets;
  const padded = options.paddedTargetLength;
  let at = 0;
  if (isNested(targets)) {
    if (padded !== undefined) throw new ConfigError(op, 'paddedTargetLength is for flat targets, got one array per item', { option: 'paddedTargetLength', value: padded });
    if (targets.length !== N) throw new ShapeError(op, `${targets.length} target arrays for a batch of ${N}`, { targets: targets.length, batch: N });
    for (let n = 0; n < N; n++) {
      const row = targets[n];
      if (targetLengths[n] > row.length) {
        throw new ShapeError(op, `item ${n}: target length ${targetLengths[n]} exceeds its ${row.length} targets`, { item: n, targetLength: targetLengths[n], targets: row.length });
      }
      targetStarts[n] = at;
      for (let i = 0; i < targetLengths[n]; i++) labels[at++] = checkLabel(op, n, row[i], C, blank);
    }
  } else if (padded !== undefined) {
    if (!isCount(padded)) throw new ConfigError(op, `paddedTargetLength ${padded} is not a non-negative integer`, { option: 'paddedTargetLength', value: padded });
    if (targets.length !== N * padded) {
      throw new ShapeError(op, `padded targets (${N}, ${padded}) need ${N * padded} values, got ${targets.length}`, { batch: N, paddedTargetLength: padded, length: targets.length });
    }
    for (let n = 0; n < N; n++) {
      if (targetLengths[n] > padded) {
        throw new ShapeError(op, `item ${n}: target length ${targetLengths[n]} exceeds the padded target length ${padded}`, { item: n, targetLength: targetLengths[n], paddedTargetLength: padded });
      }
      targetStarts[n] = at;
      for (let i = 0; i < targetLengths[n]; i++) labels[at++] = checkLabel(op, n, targets[n * padded + i], C, blank);
    }
  } else {
    if (targets.length !== total) {
      throw new ShapeError(op, `concatenated targets hold ${targets.length} labels but the target lengths sum to ${total}`, { labels: targets.length, total });
    }
    for (let n = 0; n < N; n++) {
      targetStarts[n] = at;
      for (let i = 0; i < targetLengths[n]; i++, at++) labels[at] = checkLabel(op, n, targets[at], C, blank);
    }
  }
  return {
    T, N, C, blank, reduction, zeroInfinity: options.zeroInfinity ?? false,
    inputLengths, targetLengths, labels, targetStarts, maxTargetLength,
  };
}

function checkLabel(op: string, n: number, label: number, C: number, blank: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= C) {
    throw new ConfigError(op, `item ${n}: target label ${label} is not a class in [0, ${C})`, { item: n, label, classes: C });
  }
  if (label === blank) throw new ConfigError(op, `item ${n}: target label ${label} equals the blank index`, { item: n, label, blank });
  return label;
}

function storage(op: string, x: Float64Array | Mat, b: Batch): { data: Float64Array; offset: number } {
  const size = b.T * b.N * b.C;
  if (x instanceof Float64Array) {
    if (x.length !== size) {
      throw new ShapeError(op, `input of ${x.length} values, expected T*N*C = ${b.T}*${b.N}*${b.C} = ${size}`, { length: x.length, expected: size });
    }
    return { data: x, offset: 0 };
  }
  if (x.rows !== b.T * b.N || x.cols !== b.C) {
    throw new ShapeError(op, `input ${x.rows}x${x.cols}, expected (T*N)x C = ${b.T * b.N}x${b.C}`, { input: [x.rows, x.cols], expected: [b.T * b.N, b.C] });
  }
  return { data: x.data, offset: x.offset };
}

/** Per-item weights w_n = d reduced / d loss_n times the upstream cotangent. */
function itemWeights(op: string, b: Batch, gy: number | ArrayLike<number> | undefined): Float64Array {
  const w = new Float64Array(b.N);
  if (gy !== undefined && typeof gy !== 'number') {
    if (b.reduction !== 'none') {
      throw new ConfigError(op, `reduction '${b.reduction}' gives a scalar loss, so its upstream gy must be a number`, { reduction: b.reduction });
    }
    if (gy.length !== b.N) throw new ShapeError(op, `${gy.length} upstream values for a batch of ${b.N}`, { found: gy.length, expected: b.N });
    for (let n = 0; n < b.N; n++) w[n] = gy[n];
    return w;
  }
  const g = gy ?? 1;
  for (let n = 0; n < b.N; n++) {
    w[n] = b.reduction === 'mean' ? g / (Math.max(1, b.targetLengths[n]) * b.N) : g;
  }
  return w;
}

function reduce(b: Batch, losses: Float64Array): number {
  let sum = 0;
  if (b.reduction === 'mean') {
    for (let n = 0; n < b.N; n++) sum += losses[n] / Math.max(1, b.targetLengths[n]);
    return sum / b.N;
  }
  for (let n = 0; n < b.N; n++) sum += losses[n];
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Log-space kernels.

/** log(exp(a) + exp(b)) without overflow. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + pm.log1p(pm.exp(b - a)) : b + pm.log1p(pm.exp(a - b));
}

/** log(exp(a) + exp(b) + exp(c)) without overflow. */
function logAdd3(a: number, b: number, c: number): number {
  // the largest term contributes exp(0) = 1, so only the other two need an exp
  if (a >= b && a >= c) return a === -Infinity ? a : a + pm.log1p(pm.exp(b - a) + pm.exp(c - a));
  if (b >= c) return b + pm.log1p(pm.exp(a - b) + pm.exp(c - b));
  return c + pm.log1p(pm.exp(a - c) + pm.exp(b - c));
}

/**
 * Forward recursion for one item. Writes alpha rows of width 2L+1 into `alpha` (row t at
 * t * width when keepAll, else alternating between two rows) and returns log p(target | x).
 *   alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l_1)
 *   alpha_t(s) = y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2)])
 * with the s-2 term only when l'_s is a label different from l'_{s-2}. States that cannot be
 * reached by t, or cannot reach the end from t, are skipped (they stay -Infinity).
 */
function forwardItem(
  y: Float64Array, base: number, stride: number, blank: number,
  labels: Int32Array, start: number, L: number, Tn: number,
  alpha: Float64Array, keepAll: boolean,
): number {
  const width = 2 * L + 1;
  if (Tn === 0) return L === 0 ? 0 : -Infinity;
  if (L > Tn) return -Infinity; // more labels than frames: no alignment at all
  alpha.fill(-Infinity, 0, width);
  alpha[0] = y[base + blank];
  if (L > 0) alpha[1] = y[base + labels[start]];
  let prev = 0;
  for (let t = 1; t < Tn; t++) {
    const row = keepAll ? t * width : (t & 1) * width;
    alpha.fill(-Infinity, row, row + width);
    const frame = base + t * stride;
    const lo = Math.max(0, width - 2 * (Tn - t));
    const hi = Math.min(width - 1, 2 * t + 1);
    for (let s = lo; s <= hi; s++) {
      const a0 = alpha[prev + s];
      const a1 = s > 0 ? alpha[prev + s - 1] : -Infinity;
      let sum: number;
      let emit: number;
      if ((s & 1) === 0) {
        emit = y[frame + blank];
        sum = logAdd(a0, a1);
      } else {
        const k = labels[start + (s >> 1)];
        emit = y[frame + k];
        if (s >= 3 && labels[start + (s >> 1) - 1] !== k) sum = logAdd3(a0, a1, alpha[prev + s - 2]);
        else sum = logAdd(a0, a1);
      }
      alpha[row + s] = sum === -Infinity ? -Infinity : sum + emit;
    }
    prev = row;
  }
  const last = keepAll ? (Tn - 1) * width : ((Tn - 1) & 1) * width;
  return L > 0 ? logAdd(alpha[last + width - 1], alpha[last + width - 2]) : alpha[last];
}

/**
 * Backward recursion for one item, fused with the gradient. Needs every alpha row. beta is kept
 * in two rows of `beta` (width each) and `emitBeta` holds y_{t+1}(l'_s) + beta_{t+1}(s):
 *   beta_{Tn-1}(S'-1) = beta_{Tn-1}(S'-2) = 0
 *   beta_t(s) = logsumexp(eb_{t+1}(s), eb_{t+1}(s+1), [eb_{t+1}(s+2)])
 * with the s+2 term only when l'_{s+2} is a label different from l'_s. At each frame it forms
 * gamma_t(k) in `gamma` (length C) and writes out[t, k] = w (softmaxScale * exp(y_t(k)) - gamma_t(k)).
 */
function backwardItem(
  y: Float64Array, base: number, stride: number, C: number, blank: number,
  labels: Int32Array, start: number, L: number, Tn: number, logP: number,
  alpha: Float64Array, beta: Float64Array, emitBeta: Float64Array, gamma: Float64Array,
  w: number, softmaxScale: number, out: Float64Array, outBase: number, accumulate: boolean,
): void {
  const width = 2 * L + 1;
  let cur = 0;
  beta.fill(-Infinity, 0, width);
  beta[width - 1] = 0;
  if (L > 0) beta[width - 2] = 0;
  for (let t = Tn - 1; t >= 0; t--) {
    const frame = base + t * stride;
    const lo = Math.max(0, width - 2 * (Tn - t));
    const hi = Math.min(width - 1, 2 * t + 1);
    if (t < Tn - 1) {
      // beta_t from emitBeta (frame t + 1), into the other row
      cur = width - cur;
      beta.fill(-Infinity, cur, cur + width);
      for (let s = lo; s <= hi; s++) {
        const b0 = emitBeta[s];
        const b1 = s + 1 < width ? emitBeta[s + 1] : -Infinity;
        if ((s & 1) === 1 && s + 2 < width && labels[start + (s >> 1) + 1] !== labels[start + (s >> 1)]) {
          beta[cur + s] = logAdd3(b0, b1, emitBeta[s + 2]);
        } else {
          beta[cur + s] = logAdd(b0, b1);
        }
      }
    }
    // occupancy and gradient at frame t; emitBeta for frame t (used by t - 1)
    gamma.fill(0);
    emitBeta.fill(-Infinity, 0, width);
    const arow = t * width;
    for (let s = lo; s <= hi; s++) {
      const k = (s & 1) === 0 ? blank : labels[start + (s >> 1)];
      const bt = beta[cur + s];
      const v = alpha[arow + s] + bt - logP;
      if (v > -Infinity) gamma[k] += pm.exp(v);
      if (bt > -Infinity) emitBeta[s] = y[frame + k] + bt;
    }
    const o = outBase + t * stride;
    if (accumulate) {
      for (let k = 0; k < C; k++) out[o + k] += w * (softmaxScale * pm.exp(y[frame + k]) - gamma[k]);
    } else {
      for (let k = 0; k < C; k++) out[o + k] = w * (softmaxScale * pm.exp(y[frame + k]) - gamma[k]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Public entry points.

/** CTC loss, forward only (no gradient): per-item losses and their reduction. */
export function ctcLoss(logProbs: Float64Array | Mat, options: CtcOptions): CtcResult {
  const b = checkBatch('ctcLoss', options);
  const { data, offset } = storage('ctcLoss', logProbs, b);
  const alpha = new Float64Array(2 * (2 * b.maxTargetLength + 1));
  const losses = new Float64Array(b.N);
  const stride = b.N * b.C;
  for (let n = 0; n < b.N; n++) {
    const logP = forwardItem(
      data, offset + n * b.C, stride, b.blank, b.labels, b.targetStarts[n], b.targetLengths[n],
      b.inputLengths[n], alpha, false,
    );
    losses[n] = logP === -Infinity && b.zeroInfinity ? 0 : -logP;
  }
  return { losses, loss: reduce(b, losses) };
}

/**
 * The shared driver: loss of scores y (already log-probabilities) and the gradient
 * w (softmaxScale * exp(y) - gamma) into gx for frames t < inputLength, zero after.
 */
function lossAndGrad(
  op: string, b: Batch, y: Float64Array, yOffset: number,
  grad: CtcGradOptions, softmaxScale: number,
): CtcGradResult {
  const size = b.T * b.N * b.C;
  const gx = grad.gx ?? new Float64Array(size);
  if (gx.length !== size) throw new ShapeError(op, `gx has ${gx.length} values, expected T*N*C = ${size}`, { found: gx.length, expected: size });
  const accumulate = grad.accumulate ?? false;
  const w = itemWeights(op, b, grad.gy);
  const width = 2 * b.maxTargetLength + 1;
  const alpha = new Float64Array(Math.max(1, b.T) * width);
  const beta = new Float64Array(2 * width);
  const emitBeta = new Float64Array(width);
  const gamma = new Float64Array(b.C);
  const losses = new Float64Array(b.N);
  const stride = b.N * b.C;
  for (let n = 0; n < b.N; n++) {
    const Tn = b.inputLengths[n];
    const L = b.targetLengths[n];
    const base = yOffset + n * b.C;
    const logP = forwardItem(y, base, stride, b.blank, b.labels, b.targetStarts[n], L, Tn, alpha, true);
    let fillFrom = Tn;
    if (logP === -Infinity) {
      losses[n] = b.zeroInfinity ? 0 : Infinity;
      // PyTorch: NaN gradient on the used frames of an impossible item, zero under zeroInfinity
      const value = b.zeroInfinity ? 0 : NaN;
      for (let t = 0; t < Tn; t++) {
        const o = t * stride + n * b.C;
        for (let k = 0; k < b.C; k++) gx[o + k] = accumulate ? gx[o + k] + value : value;
      }
    } else {
      losses[n] = -logP;
      if (w[n] === 0) {
        fillFrom = 0;
      } else {
        backwardItem(
          y, base, stride, b.C, b.blank, b.labels, b.targetStarts[n], L, Tn, logP,
          alpha, beta, emitBeta, gamma, w[n], softmaxScale, gx, n * b.C, accumulate,
        );
      }
    }
    if (!accumulate) {
      for (let t = fillFrom; t < b.T; t++) gx.fill(0, t * stride + n * b.C, t * stride + (n + 1) * b.C);
    }
  }
  return { losses, loss: reduce(b, losses), grad: gx };
}

/**
 * CTC loss and its gradient with respect to the log-probabilities (T, N, C).
 * Default convention 'torch' reproduces torch.nn.functional.ctc_loss's backward:
 * w (exp(y) - gamma); 'exact' gives -w gamma, the derivative with y a free input.
 * Frames at or past an item's input length get zero gradient; an impossible item gets
 * NaN on its frames (as in PyTorch) unless zeroInfinity, which gives loss 0 and gradient 0.
 */
export function ctcLossGradLogProbs(
  logProbs: Float64Array | Mat, options: CtcOptions, grad: CtcLogProbsGradOptions = {},
): CtcGradResult {
  const op = 'ctcLossGradLogProbs';
  const b = checkBatch(op, options);
  const { data, offset } = storage(op, logProbs, b);
  const convention = grad.convention ?? 'torch';
  if (convention !== 'torch' && convention !== 'exact') {
    throw new ConfigError(op, `convention '${String(convention)}' is not 'torch' or 'exact'`, { option: 'convention', value: convention });
  }
  return lossAndGrad(op, b, data, offset, grad, convention === 'torch' ? 1 : 0);
}

/**
 * Writes log_softmax over the class axis of (rows, C) scores into out (offset 0): the
 * shared stable kernel of lib/mat/elementwise.ts, on views of the two arrays.
 */
export function logSoftmaxRows(z: Float64Array, zOffset: number, rows: number, C: number, out: Float64Array): void {
  logSoftmaxMat(matFrom(rows, C, out), matFrom(rows, C, z, zOffset));
}

/**
 * CTC loss of log_softmax(logits) and its gradient with respect to the unnormalised logits
 * (T, N, C), fused and stable: w (softmax(z) - gamma). This is the standalone vjp for the
 * autodiff: pass the upstream cotangent as `gy` (one per item for reduction 'none') and a
 * caller-owned `gx` (with `accumulate: true` to add into it).
 */
export function ctcLossGradLogits(
  logits: Float64Array | Mat, options: CtcOptions, grad: CtcGradOptions = {},
): CtcGradResult {
  const op = 'ctcLossGradLogits';
  const b = checkBatch(op, options);
  const { data, offset } = storage(op, logits, b);
  const y = new Float64Array(b.T * b.N * b.C);
  logSoftmaxRows(data, offset, b.T * b.N, b.C, y);
  return lossAndGrad(op, b, y, 0, grad, 1);
}

/** CTC loss of log_softmax(logits), forward only. */
export function ctcLossFromLogits(logits: Float64Array | Mat, options: CtcOptions): CtcResult {
  const b = checkBatch('ctcLossFromLogits', options);
  const { data, offset } = storage('ctcLossFromLogits', logits, b);
  const y = new Float64Array(b.T * b.N * b.C);
  logSoftmaxRows(data, offset, b.T * b.N, b.C, y);
  return ctcLoss(y, options);
}
