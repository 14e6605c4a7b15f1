// Per-step losses written as Graph compositions, so that BPTT (reverse mode)
// and RTRL (forward mode) differentiate them like any other part of the step.
// Each takes a batch of outputs (batch x cols), a constant target of the same
// shape and an optional per-row weight column w (batch x 1; a 0/1 mask says
// which sequences have a target at this step), and returns a 1x1 Var:
//   mse:         s · Σ_b w_b Σ_j (y_bj - t_bj)²
//   softmax-ce:  s · Σ_b w_b Σ_j -t_bj log softmax(z_b)_j     (t one-hot or a distribution)
//   bce:         s · Σ_b w_b Σ_j softplus(z_bj) - t_bj z_bj   (= -t log σ(z) - (1-t) log(1-σ(z)))
// The default scale s is 1 / (Σ_b w_b · cols) for mse and bce and 1 / Σ_b w_b
// for cross-entropy: the mean over the targets present at this step.
// sequenceLoss() turns time-major targets and masks into a SequenceLoss whose
// scale makes the whole sequence's loss the mean over every target present.
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, rowsView, shapeOf } from '../mat/mat.js';
import type { SequenceLoss } from '../rnn/loss-spec.js';
import * as pm from '../mat/math.js';
import { checkInt } from '../mat/options.js';
import { ConfigError, ShapeError } from '../mat/errors.js';

export type LossKind = 'mse' | 'softmax-ce' | 'bce';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'softmax-ce', 'bce'];

export interface StepLossOptions {
  /** batch x 1 weights (0/1 mask); null or absent: every row counts with weight 1. */
  mask?: Mat | null;
  /** Multiplier of the summed loss; default: the mean over the targets present. */
  scale?: number;
}

function checkShapes(op: string, output: Var, target: Mat, mask: Mat | null): void {
  const y = output.value;
  if (y.rows !== target.rows || y.cols !== target.cols) {
    throw new ShapeError(op, `output is ${shapeOf(y)} but target is ${shapeOf(target)}`, { output: [y.rows, y.cols], target: [target.rows, target.cols] });
  }
  if (mask !== null && (mask.rows !== y.rows || mask.cols !== 1)) {
    throw new ShapeError(op, `mask is ${shapeOf(mask)}, needs ${y.rows}x1 (one weight per row of the ${shapeOf(y)} output)`, { mask: [mask.rows, mask.cols], output: [y.rows, y.cols] });
  }
}

function weightSum(mask: Mat | null, rows: number): number {
  if (mask === null) return rows;
  let s = 0;
  for (let r = 0; r < rows; r++) s += mask.data[mask.offset + r];
  return s;
}

function defaultScale(op: string, options: StepLossOptions, mask: Mat | null, rows: number, perRow: number): number {
  if (options.scale !== undefined) {
    if (!Number.isFinite(options.scale)) throw new ConfigError(op, `scale must be finite, got ${options.scale}`, { option: 'scale', value: options.scale });
    return options.scale;
  }
  const w = weightSum(mask, rows);
  return w === 0 ? 0 : 1 / (w * perRow);
}

/** Weighted squared error; see the file comment. */
export function mseLoss(g: Graph, output: Var, target: Mat, options: StepLossOptions = {}): Var {
  const mask = options.mask ?? null;
  checkShapes('mseLoss', output, target, mask);
  const scale = defaultScale('mseLoss', options, mask, target.rows, target.cols);
  const diff = g.sub(output, g.constant(target));
  const weighted = mask === null ? diff : g.mulColumn(diff, g.constant(mask));
  return g.scale(g.dot(weighted, diff), scale);
}

/** Weighted softmax cross-entropy on logits; see the file comment. */
export function softmaxCrossEntropy(g: Graph, logits: Var, target: Mat, options: StepLossOptions = {}): Var {
  const mask = options.mask ?? null;
  checkShapes('softmaxCrossEntropy', logits, target, mask);
  const scale = defaultScale('softmaxCrossEntropy', options, mask, target.rows, 1);
  const logp = g.logSoftmax(logits);
  const weighted = mask === null ? logp : g.mulColumn(logp, g.constant(mask));
  return g.scale(g.dot(weighted, g.constant(target)), -scale);
}

/** Weighted binary cross-entropy on logits (numerically safe via softplus); see the file comment. */
export function binaryCrossEntropy(g: Graph, logits: Var, target: Mat, options: StepLossOptions = {}): Var {
  const mask = options.mask ?? null;
  checkShapes('binaryCrossEntropy', logits, target, mask);
  const scale = defaultScale('binaryCrossEntropy', options, mask, target.rows, target.cols);
  const maskVar = mask === null ? null : g.constant(mask);
  const sp = g.softplus(logits);
  const spSum = g.sum(maskVar === null ? sp : g.mulColumn(sp, maskVar));
  const z = maskVar === null ? logits : g.mulColumn(logits, maskVar);
  return g.scale(g.sub(spSum, g.dot(z, g.constant(target))), scale);
}

/** The step loss of a kind. */
export function stepLoss(kind: LossKind, g: Graph, output: Var, target: Mat, options: StepLossOptions = {}): Var {
  switch (kind) {
    case 'mse': return mseLoss(g, output, target, options);
    case 'softmax-ce': return softmaxCrossEntropy(g, output, target, options);
    case 'bce': return binaryCrossEntropy(g, output, target, options);
    default: throw new ConfigError('stepLoss', `unknown loss kind ${JSON.stringify(kind)} (${LOSS_KINDS.join(', ')})`, { value: kind, accepted: LOSS_KINDS });
  }
}

/** Targets of a batch of sequences, time-major like the inputs. */
export interface SequenceTargets {
  kind: LossKind;
  /** (steps·batch) x cols: rows [t·batch, (t+1)·batch) are step t. */
  targets: Mat;
  /** (steps·batch) x 1 weights (0/1: which sequences have a target at which step); null: all. */
  mask: Mat | null;
  batch: number;
}

function checkTargets(op: string, spec: SequenceTargets): number {
  const { targets, mask, batch } = spec;
  if (!LOSS_KINDS.includes(spec.kind)) throw new ConfigError(op, `unknown loss kind ${JSON.stringify(spec.kind)} (${LOSS_KINDS.join(', ')})`, { option: 'kind', value: spec.kind, accepted: LOSS_KINDS });
  checkInt(op, 'batch', batch);
  if (targets.rows % batch !== 0) throw new ShapeError(op, `targets have ${targets.rows} rows, not a multiple of batch ${batch}`, { targets: [targets.rows, targets.cols], batch });
  if (mask !== null && (mask.rows !== targets.rows || mask.cols !== 1)) {
    throw new ShapeError(op, `mask is ${shapeOf(mask)}, needs ${targets.rows}x1 like the ${shapeOf(targets)} targets`, { mask: [mask.rows, mask.cols], targets: [targets.rows, targets.cols] });
  }
  return targets.rows / batch;
}

/** Number of target entries the mean runs over: Σ w (times cols for mse and bce). */
export function targetCount(spec: SequenceTargets): number {
  const w = weightSum(spec.mask, spec.targets.rows);
  return spec.kind === 'softmax-ce' ? w : w * spec.targets.cols;
}

/**
 * A SequenceLoss for BPTT, TBPTT and RTRL: at step t, the step loss of the
 * output against the targets of step t, weighted by its mask; steps whose
 * mask is all zero add nothing. The scale (default 1 / targetCount) makes
 * the sequence loss the mean over every target present.
 */
export function sequenceLoss(spec: SequenceTargets, options: { scale?: number } = {}): SequenceLoss {
  const steps = checkTargets('sequenceLoss', spec);
  const { kind, targets, mask, batch } = spec;
  const count = targetCount(spec);
  const scale = options.scale ?? (count === 0 ? 0 : 1 / count);
  if (!Number.isFinite(scale)) throw new ConfigError('sequenceLoss', `scale must be finite, got ${scale}`, { option: 'scale', value: scale });
  // Per step: skip (no weight), plain (all weights 1), or weighted.
  const plan = new Int8Array(steps);
  for (let t = 0; t < steps; t++) {
    if (mask === null) { plan[t] = 1; continue; }
    let any = false, allOne = true;
    for (let b = 0; b < batch; b++) {
      const w = mask.data[mask.offset + t * batch + b];
      if (w !== 0) any = true;
      if (w !== 1) allOne = false;
    }
    plan[t] = !any ? 0 : allOne ? 1 : 2;
  }
  return {
    step(g: Graph, t: number, output: Var): Var | null {
      if (t < 0 || t >= steps) throw new ShapeError('sequenceLoss', `step ${t} is outside the ${steps} steps of the targets`, { step: t, steps });
      if (plan[t] === 0) return null;
      const target = rowsView(targets, t * batch, batch);
      const stepMask = plan[t] === 2 ? rowsView(mask!, t * batch, batch) : null;
      return stepLoss(kind, g, output, target, { mask: stepMask, scale });
    },
  };
}

/**
 * The same loss computed on plain matrices (no graph): outputs and targets
 * time-major (rows x cols), mask rows x 1 or null. Returns the mean over the
 * targets present, as sequenceLoss with its default scale.
 */
export function lossValue(kind: LossKind, outputs: Mat, targets: Mat, mask: Mat | null): number {
  if (outputs.rows !== targets.rows || outputs.cols !== targets.cols) {
    throw new ShapeError('lossValue', `outputs are ${shapeOf(outputs)} but targets are ${shapeOf(targets)}`, { outputs: [outputs.rows, outputs.cols], targets: [targets.rows, targets.cols] });
  }
  if (mask !== null && (mask.rows !== targets.rows || mask.cols !== 1)) throw new ShapeError('lossValue', `mask is ${shapeOf(mask)}, needs ${targets.rows}x1`, { mask: [mask.rows, mask.cols], targets: [targets.rows, targets.cols] });
  const { rows, cols } = targets;
  const y = outputs.data, t = targets.data;
  let total = 0, count = 0;
  for (let r = 0; r < rows; r++) {
    const w = mask === null ? 1 : mask.data[mask.offset + r];
    if (w === 0) continue;
    const yo = outputs.offset + r * cols, to = targets.offset + r * cols;
    let rowLoss = 0;
    if (kind === 'mse') {
      for (let j = 0; j < cols; j++) { const d = y[yo + j] - t[to + j]; rowLoss += d * d; }
      count += w * cols;
    } else if (kind === 'bce') {
      for (let j = 0; j < cols; j++) {
        const z = y[yo + j];
        rowLoss += (z > 0 ? z + pm.log1p(pm.exp(-z)) : pm.log1p(pm.exp(z))) - t[to + j] * z;
      }
      count += w * cols;
    } else if (kind === 'softmax-ce') {
      let max = -Infinity;
      for (let j = 0; j < cols; j++) max = Math.max(max, y[yo + j]);
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += pm.exp(y[yo + j] - max);
      const logZ = max + pm.log(sum);
      for (let j = 0; j < cols; j++) rowLoss -= t[to + j] * (y[yo + j] - logZ);
      count += w;
    } else {
      throw new ConfigError('lossValue', `unknown loss kind ${JSON.stringify(kind)} (${LOSS_KINDS.join(', ')})`, { value: kind, accepted: LOSS_KINDS });
    }
    total += w * rowLoss;
  }
  return count === 0 ? 0 : total / count;
}
