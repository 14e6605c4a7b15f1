// SnAp-1's fused update for a cell with Cell.unitInfluence (lib/cells/cell.ts): I_t is never
// materialised. Parameter p of pre-activation row r (unit u) and input z has
//   I_t[(a, u), p] = rowDerivative[r, a] · z,
// so, per sequence, in one pass over theta with no allocation (k, l the pattern's rows of p, all of
// unit u; D_u the unit block of D_t; g_{t-1} = dL_t/ds_{t-1}, g_t = dL_t/ds_t of the step's loss, each
// entry's total through the step's other new entries; a_r the state vector row r reaches first):
//   grad[p] += Σ_k g_{t-1}[k] · Ŝ[k, p] + δ_r · z,        δ_r = g_t[(a_r, u)] · rowDerivative[r, a_r]
//   Ŝ[k, p] <- Σ_l D_u[k, l] · Ŝ[l, p] + rowDerivative[r, a(k)] · z
// The first line is the step's gradient dL_t/ds_{t-1} · Ŝ_{t-1} + dL_t/dθ|_{s_{t-1} fixed}, whose
// second term is dL_t/ds_t · I_t for a parameter that reaches the output only through the state.
// Parameters are walked in runs ("segments") sharing r and a class: a matrix parameter's row (z
// running over its source) or one element of a vector parameter. Columns outside every segment
// (a learned initial state's) have I = 0 and take the D product only.
import type { Graph, Var } from '../ad/graph.js';
import type { Cell, ParamInfluence, StepMasks, StepResult } from '../cells/cell.js';
import { ShapeError } from '../mat/errors.js';
import { type Mat, sharedZeros } from '../mat/mat.js';
import { maskedStep, zeroPastEnd } from './unroll.js';
import type { RecurrentModel } from './model.js';
import type { SnapPattern } from './snap-pattern.js';

export interface FusedPlan {
  /** Pre-activation rows of the cell (UnitInfluence.rows) and state vectors (m). */
  readonly rows: number;
  readonly vectors: number;
  /** Per parameter matrix: true when the fused pass adds its direct gradient (the loss pass then skips it). */
  readonly fusedParam: readonly boolean[];
  /**
   * Segments (runs of parameters of one row and class): first parameter, length, first slot in a
   * sequence's Ŝ, where its z run starts in the step's input vector Z. Segments of one class and row
   * form a group: [groupSegStart[g], groupSegStart[g + 1]); a group holds, within a sequence's
   * rowDerivative (r·m + a), the entries for its class's rows (a0, a1) and for the state vector its
   * row reaches s_t through (UnitInfluence.rowState), whose dL/ds_t entry is at groupGradAt.
   */
  readonly segStart: Int32Array;
  readonly segLength: Int32Array;
  readonly segSlot: Int32Array;
  readonly segZ: Int32Array;
  readonly groupSegStart: Int32Array;
  readonly groupI0: Int32Array;
  readonly groupI1: Int32Array;
  readonly groupRoute: Int32Array;
  readonly groupGradAt: Int32Array;
  /** Per class: 1 for two rows; its D entries' places in a sequence's jacobian (-1: no pair, 0) and its rows. */
  readonly classTwo: Uint8Array;
  /** No class has two rows (a diagonal D, as IndRNN's): the update takes the one-row pass. */
  readonly oneRow: boolean;
  readonly classDAt: Int32Array;
  readonly classRow0: Int32Array;
  readonly classRow1: Int32Array;
  /** Columns with slots outside every segment (I = 0 there: a learned initial state's). */
  readonly plainCols: Int32Array;
  /** Groups and plain columns by class: class c's are [classGroupStart[c], classGroupStart[c + 1]), likewise. */
  readonly classGroupStart: Int32Array;
  readonly classPlainStart: Int32Array;
  /** Z = [1, x (inputSize), s_{t-1} (N), s_t (N)] per sequence. */
  readonly zSize: number;
  readonly indexBytes: number;
}

/**
 * The plan for a model whose cell has unitInfluence, given that the pattern's D pairs lie in unit
 * blocks (unitBlockPairs in snap.ts); null when the pattern does not fit it (a class of more than 2
 * rows, a described parameter without slots or with rows of another unit, or a run split over
 * classes): then the generic path runs. A description that does not match the parameters' shapes
 * is the cell's bug: a ShapeError.
 */
export function fusedPlan(model: RecurrentModel, pattern: SnapPattern, pairD: Int32Array): FusedPlan | null {
  const { cell, params } = model;
  const hook = cell.unitInfluence;
  if (hook === undefined || cell.unitJacobian === undefined || pattern.order !== 1 || pattern.maxClassRows > 2) return null;
  const m = cell.stateSizes.length, H = cell.stateSizes[0], N = pattern.stateNumbers, I = cell.inputSize;
  if (cell.stateSizes.some((n) => n !== H)) return null;
  if (hook.params.length !== model.cellParamCount) {
    throw new ShapeError('snap', `${cell.kind}.unitInfluence describes ${hook.params.length} parameters, the cell has ${model.cellParamCount}`, { described: hook.params.length, params: model.cellParamCount });
  }
  if (hook.rowUnit.length !== hook.rows) throw new ShapeError('snap', `${cell.kind}.unitInfluence has ${hook.rows} rows but ${hook.rowUnit.length} units for them`, { rows: hook.rows, units: hook.rowUnit.length });
  const { colClass, colStart, classRowStart, classRows, stateStarts } = pattern;
  const zOf = (source: ParamInfluence['source'], width: number, what: string): number => {
    if (source === 'x') {
      if (width !== I) throw new ShapeError('snap', `${what} reads x (${I} numbers) over ${width} columns`, { width, inputSize: I });
      return 1;
    }
    if (source === 'one') return 0;
    const { state, time } = source;
    if (!(state >= 0 && state < m) || width !== H) throw new ShapeError('snap', `${what} reads state vector ${state} (of ${m}, ${H} numbers) over ${width} columns`, { state, width });
    return 1 + I + (time === 'new' ? N : 0) + stateStarts[state];
  };
  const starts: number[] = [], lengths: number[] = [], classesOf: number[] = [], slots: number[] = [], zs: number[] = [], rowsOf: number[] = [];
  const i0s: number[] = [], i1s: number[] = [], routes: number[] = [], gradAts: number[] = [];
  if (hook.rowState.length !== hook.rows || hook.rowState.some((a) => !(a >= 0 && a < m))) throw new ShapeError('snap', `${cell.kind}.unitInfluence needs a state vector (of ${m}) per row for its ${hook.rows} rows`, { rows: hook.rows });
  const covered = new Uint8Array(pattern.params);
  const fusedParam: boolean[] = params.specs.map(() => false);
  for (let q = 0; q < hook.params.length; q++) {
    const d = hook.params[q];
    if (d === null) continue;
    const spec = params.specs[q], at = params.offsets[q], what = `${cell.kind}.unitInfluence of ${spec.name}`;
    const matrix = d.kind === 'matrix';
    const runs = matrix ? spec.rows : spec.cols, width = matrix ? spec.cols : 1;
    if (d.rowOf.length !== runs || (!matrix && spec.rows !== 1)) {
      throw new ShapeError('snap', `${what}: ${d.kind} with ${d.rowOf.length} rows for a ${spec.rows}x${spec.cols} parameter`, { rows: d.rowOf.length, shape: [spec.rows, spec.cols] });
    }
    if (matrix && d.source === 'one') throw new ShapeError('snap', `${what}: a matrix cannot read the constant 1`, { shape: [spec.rows, spec.cols] });
    const z0 = zOf(d.source, spec.cols, what);
    for (let run = 0; run < runs; run++) {
      const r = d.rowOf[run];
      if (!(r >= 0 && r < hook.rows)) throw new ShapeError('snap', `${what}: row ${r} is outside the ${hook.rows} rows`, { row: r });
      const p0 = at + run * width, c = colClass[p0];
      if (c < 0) return null;
      const unit = hook.rowUnit[r];
      if (!(unit >= 0 && unit < H)) throw new ShapeError('snap', `${what}: row ${r} belongs to unit ${unit}, outside the ${H} units`, { row: r, unit });
      for (let k = classRowStart[c]; k < classRowStart[c + 1]; k++) if (classRows[k] % H !== unit) return null;
      for (let p = p0; p < p0 + width; p++) { if (colClass[p] !== c) return null; covered[p] = 1; }
      const first = classRows[classRowStart[c]], last = classRows[classRowStart[c + 1] - 1], route = hook.rowState[r];
      starts.push(p0); lengths.push(width); classesOf.push(c); slots.push(colStart[p0]); rowsOf.push(r);
      i0s.push(r * m + Math.floor(first / H)); i1s.push(r * m + Math.floor(last / H));
      routes.push(r * m + route); gradAts.push(stateStarts[route] + unit);
      zs.push(d.source === 'one' ? 0 : matrix ? z0 : z0 + run);
    }
    fusedParam[q] = true;
  }
  const classTwo = new Uint8Array(pattern.classes), classDAt = new Int32Array(4 * pattern.classes).fill(-1);
  const classRow0 = new Int32Array(pattern.classes), classRow1 = new Int32Array(pattern.classes);
  for (let c = 0; c < pattern.classes; c++) {
    const r0 = classRowStart[c];
    classTwo[c] = classRowStart[c + 1] - r0 === 2 ? 1 : 0;
    classRow0[c] = classRows[r0];
    classRow1[c] = classRows[classRowStart[c + 1] - 1];
    for (let q = pattern.classPairStart[c]; q < pattern.classPairStart[c + 1]; q++) classDAt[4 * c + pattern.pairOut[q] * 2 + pattern.pairIn[q]] = pairD[q];
  }
  const plain: number[] = [];
  for (let p = 0; p < pattern.params; p++) if (covered[p] === 0 && colClass[p] >= 0 && colStart[p + 1] > colStart[p]) plain.push(p);
  // Class by class (a class's D block and dL/ds_{t-1} then stay in registers), row by row within a
  // class (a row's derivatives too), in theta's order within a row.
  const order = starts.map((_, i) => i).sort((a, b) => classesOf[a] - classesOf[b] || rowsOf[a] - rowsOf[b] || a - b);
  const [segStart, segLength, segSlot, segZ] = [starts, lengths, slots, zs].map((a) => Int32Array.from(order, (i) => a[i]));
  const groupSegStart: number[] = [], gI0: number[] = [], gI1: number[] = [], gRoute: number[] = [], gGradAt: number[] = [];
  const classGroupStart = new Int32Array(pattern.classes + 1), classPlainStart = new Int32Array(pattern.classes + 1);
  order.forEach((i, at) => {
    const prev = at === 0 ? -1 : order[at - 1];
    if (prev >= 0 && classesOf[prev] === classesOf[i] && rowsOf[prev] === rowsOf[i]) return;
    groupSegStart.push(at); gI0.push(i0s[i]); gI1.push(i1s[i]); gRoute.push(routes[i]); gGradAt.push(gradAts[i]);
    classGroupStart[classesOf[i] + 1]++;
  });
  groupSegStart.push(order.length);
  plain.sort((a, b) => colClass[a] - colClass[b] || a - b);
  for (const p of plain) classPlainStart[colClass[p] + 1]++;
  for (let c = 0; c < pattern.classes; c++) { classGroupStart[c + 1] += classGroupStart[c]; classPlainStart[c + 1] += classPlainStart[c]; }
  const groups = gI0.length;
  return {
    rows: hook.rows, vectors: m, fusedParam,
    segStart, segLength, segSlot, segZ,
    groupSegStart: Int32Array.from(groupSegStart), groupI0: Int32Array.from(gI0), groupI1: Int32Array.from(gI1), groupRoute: Int32Array.from(gRoute), groupGradAt: Int32Array.from(gGradAt),
    classTwo, oneRow: !classTwo.includes(1), classDAt, classRow0, classRow1, classGroupStart, classPlainStart, plainCols: Int32Array.from(plain),
    zSize: 1 + I + 2 * N,
    indexBytes: 4 * (4 * starts.length + 5 * groups + 1 + 9 * pattern.classes + plain.length) + pattern.classes,
  };
}

/**
 * The unroll's step (maskedStep, the same ops in the same order) and the cell's own new state
 * before the rows past their end are selected back: the loss reaches the cell's s_t through both
 * the selected state and the selected output, so dL_t/ds_t of an active row is that Var's gradient.
 */
export function stepWithInner(g: Graph, cell: Cell, params: readonly Var[], state: readonly Var[], x: Var, t: number, masks: StepMasks | null): { result: StepResult; inner: readonly Var[] } {
  if (masks !== null && t < masks.steps && !masks.full[t] && !masks.empty[t]) {
    const keep = g.constant(masks.keep[t]);
    const xActive = g.selectRows(keep, x, g.constant(sharedZeros(x.value.rows, x.value.cols)));
    const own = cell.step(g, params, state, xActive);
    return { result: { output: zeroPastEnd(g, own.output, t, masks), state: own.state.map((s, k) => g.selectRows(keep, s, state[k])) }, inner: own.state };
  }
  // Every row active (the cell's step itself), or none (nothing is read from inner).
  const result = maskedStep(g, cell, params, state, x, t, masks);
  return { result, inner: result.state };
}

/** Z for sequence b: [1, x_b, s_{t-1}[b], s_t[b]] (state vectors end to end). */
export function fillInputs(plan: FusedPlan, z: Float64Array, x: Mat, b: number, prev: readonly Mat[], next: readonly Mat[], starts: readonly number[]): void {
  z[0] = 1;
  const I = x.cols, N = (z.length - 1 - I) / 2;
  for (let j = 0; j < I; j++) z[1 + j] = x.data[x.offset + b * I + j];
  for (let a = 0; a < prev.length; a++) {
    const n = prev[a].cols, o = 1 + I + starts[a];
    for (let e = 0; e < n; e++) {
      z[o + e] = prev[a].data[prev[a].offset + b * n + e];
      z[o + N + e] = next[a].data[next[a].offset + b * n + e];
    }
  }
}

/** The per-sequence inputs of fusedUpdate (buffers owned by Snap, reused every step). */
export interface FusedStep {
  /** Ŝ for the batch (b·nnz + slot), updated in place; grad accumulated. */
  values: Float64Array;
  grad: Float64Array;
  /** D's unit blocks as unitJacobian writes them. */
  jacobian: Float64Array;
  rowDerivative: Float64Array;
  /** dL/ds_{t-1} and dL/ds_t of sequence b: N numbers each from prevAt / newAt (-1: none this step). */
  prevGrad: Float64Array;
  prevAt: number;
  newGrad: Float64Array;
  newAt: number;
  /** Z of sequence b (fillInputs). */
  z: Float64Array;
}

/** Ŝ_b <- M ⊙ (D_b Ŝ_b + I_b) and grad += (the step's gradient of sequence b), in one pass (see the file comment). */
export function fusedUpdate(plan: FusedPlan, pattern: SnapPattern, s: FusedStep, b: number): void {
  if (plan.oneRow) oneRowUpdate(plan, pattern, s, b);
  else twoRowUpdate(plan, pattern, s, b);
}

// Classes of one or two rows: D_u is 2x2 at most.
function twoRowUpdate(plan: FusedPlan, pattern: SnapPattern, s: FusedStep, b: number): void {
  const { values, grad, jacobian, rowDerivative, prevGrad, prevAt, newGrad, newAt, z } = s;
  const { colStart } = pattern;
  const { classTwo, classDAt, classRow0, classRow1, classGroupStart, classPlainStart, plainCols } = plan;
  const { segStart, segLength, segSlot, segZ, groupSegStart, groupI0, groupI1, groupRoute, groupGradAt } = plan;
  const base = b * pattern.nnz, dBase = b * pattern.stateNumbers * plan.vectors, rBase = b * plan.rows * plan.vectors;
  for (let c = 0; c < classTwo.length; c++) {
    // The class's D block (0 where the pattern has no pair) and its rows' dL/ds_{t-1}.
    const c4 = 4 * c, two = classTwo[c] === 1;
    const d00 = classDAt[c4] < 0 ? 0 : jacobian[dBase + classDAt[c4]];
    const s0 = prevAt < 0 ? 0 : prevGrad[prevAt + classRow0[c]];
    const d01 = classDAt[c4 + 1] < 0 ? 0 : jacobian[dBase + classDAt[c4 + 1]];
    const d10 = classDAt[c4 + 2] < 0 ? 0 : jacobian[dBase + classDAt[c4 + 2]];
    const d11 = classDAt[c4 + 3] < 0 ? 0 : jacobian[dBase + classDAt[c4 + 3]];
    const s1 = prevAt < 0 || !two ? 0 : prevGrad[prevAt + classRow1[c]];
    for (let gr = classGroupStart[c]; gr < classGroupStart[c + 1]; gr++) {
      // One row r: δ_r, and I's factors for the class's rows.
      const delta = newAt < 0 ? 0 : newGrad[newAt + groupGradAt[gr]] * rowDerivative[rBase + groupRoute[gr]];
      const i0 = rowDerivative[rBase + groupI0[gr]], i1 = two ? rowDerivative[rBase + groupI1[gr]] : 0;
      for (let sg = groupSegStart[gr]; sg < groupSegStart[gr + 1]; sg++) {
        const p0 = segStart[sg], len = segLength[sg], z0 = segZ[sg], at0 = base + segSlot[sg];
        if (!two) {
          for (let j = 0; j < len; j++) {
            const at = at0 + j, v0 = values[at], zj = z[z0 + j];
            grad[p0 + j] += s0 * v0 + delta * zj;
            values[at] = d00 * v0 + i0 * zj;
          }
        } else {
          for (let j = 0; j < len; j++) {
            const at = at0 + 2 * j, v0 = values[at], v1 = values[at + 1], zj = z[z0 + j];
            grad[p0 + j] += s0 * v0 + s1 * v1 + delta * zj;
            values[at] = d00 * v0 + d01 * v1 + i0 * zj;
            values[at + 1] = d10 * v0 + d11 * v1 + i1 * zj;
          }
        }
      }
    }
    // A learned initial state's columns: I = 0.
    for (let ci = classPlainStart[c]; ci < classPlainStart[c + 1]; ci++) {
      const p = plainCols[ci], at = base + colStart[p], v0 = values[at];
      if (!two) {
        grad[p] += s0 * v0;
        values[at] = d00 * v0;
      } else {
        const v1 = values[at + 1];
        grad[p] += s0 * v0 + s1 * v1;
        values[at] = d00 * v0 + d01 * v1;
        values[at + 1] = d10 * v0 + d11 * v1;
      }
    }
  }
}

// Every class one row (D diagonal): the same sums as twoRowUpdate's one-row branch, in the same order,
// without the second row's loads and tests. Vector parameters make segments of one number (IndRNN:
// u and b, two of a unit's three segments), taken without a loop. 5% of IndRNN's step at n = 64.
function oneRowUpdate(plan: FusedPlan, pattern: SnapPattern, s: FusedStep, b: number): void {
  const { values, grad, jacobian, rowDerivative, prevGrad, prevAt, newGrad, newAt, z } = s;
  const { colStart } = pattern;
  const { classDAt, classRow0, classGroupStart, classPlainStart, plainCols } = plan;
  const { segStart, segLength, segSlot, segZ, groupSegStart, groupI0, groupRoute, groupGradAt } = plan;
  const base = b * pattern.nnz, dBase = b * pattern.stateNumbers * plan.vectors, rBase = b * plan.rows * plan.vectors;
  const classes = classRow0.length;
  for (let c = 0; c < classes; c++) {
    const dAt = classDAt[4 * c];
    const d00 = dAt < 0 ? 0 : jacobian[dBase + dAt];
    const s0 = prevAt < 0 ? 0 : prevGrad[prevAt + classRow0[c]];
    const groupEnd = classGroupStart[c + 1];
    for (let gr = classGroupStart[c]; gr < groupEnd; gr++) {
      const delta = newAt < 0 ? 0 : newGrad[newAt + groupGradAt[gr]] * rowDerivative[rBase + groupRoute[gr]];
      const i0 = rowDerivative[rBase + groupI0[gr]];
      const segEnd = groupSegStart[gr + 1];
      for (let sg = groupSegStart[gr]; sg < segEnd; sg++) {
        const p0 = segStart[sg], len = segLength[sg], z0 = segZ[sg], at0 = base + segSlot[sg];
        if (len === 1) {
          const v0 = values[at0], zj = z[z0];
          grad[p0] += s0 * v0 + delta * zj;
          values[at0] = d00 * v0 + i0 * zj;
          continue;
        }
        for (let j = 0; j < len; j++) {
          const at = at0 + j, v0 = values[at], zj = z[z0 + j];
          grad[p0 + j] += s0 * v0 + delta * zj;
          values[at] = d00 * v0 + i0 * zj;
        }
      }
    }
    const plainEnd = classPlainStart[c + 1];
    for (let ci = classPlainStart[c]; ci < plainEnd; ci++) {
      const p = plainCols[ci], at = base + colStart[p], v0 = values[at];
      grad[p] += s0 * v0;
      values[at] = d00 * v0;
    }
  }
}
