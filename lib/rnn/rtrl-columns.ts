// RTRL on a block of columns. S = d state / d theta has one column per parameter; the columns
// evolve independently (S_t[:, k] = J_state · S_{t-1}[:, k] + d step / d theta_k), so a learner can
// keep columns [start, end) only: it runs the whole primal step, carries a (state x (end - start))
// block of S, and yields the gradient entries of its columns. Blocks run one after another (or on
// different threads) and laid side by side are the whole S and the whole gradient.
//
// Bit for bit: every forward-mode rule treats its K directions one column at a time (element-wise
// loops over k, and products whose K columns are the free dimension of a gemm), so a column's
// numbers do not depend on which other columns are carried. Two places need care:
//   - a parameter matrix cut by a block boundary. A seed tangent (element e moves direction
//     start + e) cannot stand for part of a matrix, so such a matrix enters the block's graph with
//     no tangent, and ColumnGraph adds its direct term d y / d W[e] for the block's elements e to
//     the output of every op that reads it. The op's own rule adds a seed's term last, after its
//     dense products (lib/ad/primitives.ts: linear adds pair i's seed after pair i's product, the
//     biases after every pair), so adding it after the op is the same sum in the same order. The
//     term itself is computed by the op's own rule on a side graph whose only tangent is that
//     matrix's seed (so nothing about any op is restated here).
//   - gemm picks its kernel by shape (lib/mat/gemm.ts), and the kernels do not all sum in the same
//     order: the plain loop (m·n·k <= 4096) and the packed kernel both form Σ_p from 0 and add
//     beta·out last (the same bits), but the one-or-two-row form (m <= 5) and the rank update
//     (k <= 5, m·n >= 64) fold out in first. A tangent product has the block's width K as its free
//     dimension n, so a narrow block could take the plain loop where the whole width took the
//     row form. With K >= MIN_BITWISE_COLUMNS neither can happen: m·k >= 6 whenever the row form
//     is possible (k <= 5 is the rank update, for any n >= 64), so m·n·k > 4096 for both widths.
//     The splitter never makes narrower blocks; a narrower explicit block is still exact whenever
//     no tangent product has m <= 5 (e.g. a readout of 6 or more outputs).
import { Graph, type LeafOptions, type Var } from '../ad/graph.js';
import type { PrimAttrs, PrimName } from '../ad/primitives.js';
import { seedTangent } from '../ad/tangent.js';
import { ConfigError } from '../mat/errors.js';
import type { RecurrentModel } from './model.js';

/** Columns [start, end) of S and of the gradient. */
export interface ColumnRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Width of a block from which every tangent product sums in the order the whole width's does
 * (see the file comment: 6·K > 4096, and K >= 64).
 */
export const MIN_BITWISE_COLUMNS = 683;

/** Checks columns against P parameters: integers 0 <= start < end <= P, or a ConfigError naming them. */
export function checkColumns(op: string, columns: unknown, P: number): ColumnRange {
  const c = columns as ColumnRange;
  if (c === null || typeof c !== 'object' || !Number.isInteger(c.start) || !Number.isInteger(c.end) || c.start < 0 || c.end > P || c.start >= c.end) {
    throw new ConfigError(op, `columns must be { start, end } with integers 0 <= start < end <= ${P} (the parameters), got ${JSON.stringify(columns)}`, { columns, params: P });
  }
  return { start: c.start, end: c.end };
}

/**
 * Splits P columns into at most `count` contiguous blocks of (nearly) equal cost. Each column costs
 * the same: every op of a step carries all K of the block's directions in a dense tangent (2·size·K
 * flops per op, 2·m·k·K per product), whatever parameter a column belongs to, and a column's own
 * seed adds O(batch) more; the primal step is paid once per block whatever its width. So equal
 * widths are equal costs (spec/rnn/rtrl-blocks.spec.ts counts the flops of both halves). Fewer
 * blocks when P / count would be narrower than minColumns.
 */
export function columnBlocks(P: number, count: number, minColumns = MIN_BITWISE_COLUMNS): ColumnRange[] {
  const n = Math.max(1, Math.min(count, Math.floor(P / minColumns)));
  const out: ColumnRange[] = [];
  for (let s = 0; s < n; s++) out.push({ start: Math.floor((s * P) / n), end: Math.floor(((s + 1) * P) / n) });
  return out;
}

/** Where a parameter matrix meets a block: its elements [first, last) are the block's columns from `column`. */
interface Cut {
  readonly param: number;
  readonly size: number;
  readonly first: number;
  readonly last: number;
  readonly column: number;
}

/**
 * The leaf options of each parameter matrix for a block: a seed at its first column for a matrix
 * inside the block, none for a matrix outside or cut (the cut ones are ColumnGraph's `cuts`).
 */
export function blockLeaves(model: RecurrentModel, range: ColumnRange): { leaves: LeafOptions[]; cuts: Cut[] } {
  const { offsets, mats } = model.params;
  const leaves: LeafOptions[] = [];
  const cuts: Cut[] = [];
  for (let i = 0; i < mats.length; i++) {
    const size = mats[i].rows * mats[i].cols, at = offsets[i];
    const first = Math.max(range.start, at) - at, last = Math.min(range.end, at + size) - at;
    if (first === 0 && last === size) leaves.push({ tangent: seedTangent(at - range.start) });
    else {
      leaves.push({});
      if (first < last) cuts.push({ param: i, size, first, last, column: at + first - range.start });
    }
  }
  return { leaves, cuts };
}

/** A cut matrix, or a view of some of its elements, as a Var of this step: element 0 of the Var is element `at` of the matrix. */
interface CutVar {
  readonly cut: Cut;
  readonly at: number;
}

/**
 * A forward-mode graph over a block's K columns that adds the direct terms of the cut parameter
 * matrices (see the file comment). markCut(v, i) after each reset names the leaves of cut matrices.
 */
export class ColumnGraph extends Graph {
  private readonly cuts: readonly Cut[];
  private readonly cutVars = new Map<Var, CutVar>();
  // Side graphs by direction count, and zero tangents for outputs that had none, reused per step.
  private readonly sides = new Map<number, Graph>();
  private readonly spare: Float64Array[] = [];
  private spareUsed = 0;
  private readonly found: CutVar[] = [];

  constructor(directions: number, cuts: readonly Cut[]) {
    super('forward', directions);
    this.cuts = cuts;
  }

  override reset(): void {
    super.reset();
    this.cutVars.clear();
    this.spareUsed = 0;
  }

  /** Names v (a leaf of this step) as the whole of cut matrix `param`. */
  markCut(v: Var, param: number): void {
    const cut = this.cuts.find((c) => c.param === param);
    if (cut === undefined) throw new ConfigError('rtrl', `parameter ${param} is not cut by this block`, { param });
    this.cutVars.set(v, { cut, at: 0 });
  }

  override apply<N extends PrimName>(op: N, inputs: readonly Var[], attrs: PrimAttrs[N]): Var {
    const y = super.apply(op, inputs, attrs);
    if (this.cutVars.size === 0) return y;
    const found = this.found;
    found.length = 0;
    for (const v of inputs) {
      const c = this.cutVars.get(v);
      if (c !== undefined) found.push(c);
    }
    if (found.length === 0) return y;
    if (op === 'linear' && this.addLinearDirect(inputs, (attrs as PrimAttrs['linear']).pairs, y)) return y;
    return this.addDirect(op, inputs, attrs, y, found);
  }

  // The direct terms of cut matrices read by a linear node (y = Σ_i x_i·W_iᵀ + Σ_j b_j), written
  // straight into y's tangent for the block's elements only: element (o, p) of W_i adds x_i[r, p]
  // to dy[r, o], element o of a bias adds 1 to dy[r, o], the values the rule's seed branches add
  // (matmulTangentB and accScaled of lib/ad/primitives.ts). False (nothing done) when y has no
  // tangent of its own or a cut Var sits where this does not apply (an x, or a view): the general
  // path takes those.
  private addLinearDirect(inputs: readonly Var[], pairs: number, y: Var): boolean {
    const t = y.tangent;
    if (t === null || t.kind !== 'dense') return false;
    for (let j = 0; j < inputs.length; j++) {
      const c = this.cutVars.get(inputs[j]);
      if (c !== undefined && (c.at !== 0 || (j < 2 * pairs && j % 2 === 0))) return false;
    }
    const K = this.directions, dy = t.data, base = t.offset, M = y.value.rows, N = y.value.cols;
    for (let j = 0; j < inputs.length; j++) {
      const c = this.cutVars.get(inputs[j]);
      if (c === undefined) continue;
      const { first, last, column } = c.cut;
      if (j < 2 * pairs) {
        const x = inputs[j - 1].value, inner = x.cols, xd = x.data;
        for (let r = 0; r < M; r++) {
          const xo = x.offset + r * inner, yo = base + r * N * K + column - first;
          for (let e = first; e < last; e++) {
            const o = (e / inner) | 0, p = e - o * inner;
            dy[yo + o * K + e] += xd[xo + p];
          }
        }
      } else {
        for (let r = 0; r < M; r++) {
          const yo = base + r * N * K + column - first;
          for (let e = first; e < last; e++) dy[yo + e * K + e] += 1;
        }
      }
    }
    return true;
  }

  // The op again on a side graph with K' = the cut matrices' sizes, each cut input seeded at its
  // matrix's place: the side output's tangent is d y / d W (every element of W). Its block's
  // elements are added into y's tangent; a view output (a seed) is itself a cut Var.
  private addDirect<N extends PrimName>(op: N, inputs: readonly Var[], attrs: PrimAttrs[N], y: Var, found: readonly CutVar[]): Var {
    const params: Cut[] = [];
    for (const f of found) if (!params.includes(f.cut)) params.push(f.cut);
    const starts: number[] = [];
    let Ks = 0;
    for (const c of params) { starts.push(Ks); Ks += c.size; }
    let side = this.sides.get(Ks);
    if (side === undefined) { side = new Graph('forward', Ks); this.sides.set(Ks, side); }
    side.reset();
    const leaves: Var[] = inputs.map((v) => {
      const c = this.cutVars.get(v);
      return c === undefined ? side!.leaf(v.value) : side!.leaf(v.value, { tangent: seedTangent(starts[params.indexOf(c.cut)] + c.at) });
    });
    const ys = side.apply(op, leaves, attrs);
    const t = ys.tangent;
    if (t === null) return y;
    if (t.kind === 'seed') {
      // A view of a cut matrix's elements (a slice): still a cut Var, at its first element.
      const i = starts.findIndex((s, j) => t.start >= s && t.start < s + params[j].size);
      if (y.tangent !== null) throw new ConfigError('rtrl', `op ${op} gave a view of a cut parameter and a tangent of its own`, { op });
      this.cutVars.set(y, { cut: params[i], at: t.start - starts[i] });
      return y;
    }
    const K = this.directions, n = y.value.rows * y.value.cols;
    let out = y, dy: Float64Array, dyOffset: number;
    if (y.tangent === null) {
      dy = this.zeroTangent(n * K);
      dyOffset = 0;
      out = this.leaf(y.value, { tangent: { kind: 'dense', data: dy, offset: 0 } });
    } else if (y.tangent.kind === 'dense') {
      dy = y.tangent.data;
      dyOffset = y.tangent.offset;
    } else {
      throw new ConfigError('rtrl', `op ${op} on a cut parameter gave a seed tangent of its own`, { op });
    }
    // dy[e, column + j] += d y_e / d W[first + j]: the block's elements of each cut matrix, the
    // same addition the op's rule makes for a seed, after everything else it adds.
    const sd = t.data, so = t.offset;
    for (let i = 0; i < params.length; i++) {
      const { first, last, column } = params[i], s0 = starts[i] + first, w = last - first;
      for (let e = 0; e < n; e++) {
        const src = so + e * Ks + s0, dst = dyOffset + e * K + column;
        for (let j = 0; j < w; j++) dy[dst + j] += sd[src + j];
      }
    }
    return out;
  }

  private zeroTangent(length: number): Float64Array {
    let buf = this.spare[this.spareUsed];
    if (buf === undefined || buf.length !== length) { buf = new Float64Array(length); this.spare[this.spareUsed] = buf; } else buf.fill(0);
    this.spareUsed++;
    return buf;
  }

  /** Bytes of the side graphs and spare tangents, besides the graph's own arena. */
  extraBytes(): number {
    let bytes = 0;
    for (const g of this.sides.values()) bytes += g.arenaBytes();
    for (const b of this.spare) bytes += 8 * b.length;
    return bytes;
  }
}
