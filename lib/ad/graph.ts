// The Graph is the one set of ops a cell is written against. The same calls
// run in one of three modes:
//   'eval'    — values only;
//   'reverse' — values plus a tape, walked backwards by backward() (BPTT);
//   'forward' — values plus a bundle of K tangent directions per value (RTRL).
// A 'reverse' graph may carry K tangent directions too (new Graph('reverse', K)): one run then
// gives the values, their tangents and a tape (UORO's step: D·s̃ forward, vjps backward).
//
// Nodes live in an arena: reset() rewinds it, and the next run of the same
// computation reuses every node, value, tangent and gradient buffer in order,
// so a steady-state step allocates no Float64Array.
import { type Mat, grown, mat, matFrom, shapeOf } from '../mat/mat.js';
import { flopCounter, gemm } from '../mat/gemm.js';
import { ConfigError, ShapeError } from '../mat/errors.js';
import { checkKeys } from '../mat/options.js';
import { type DenseTangent, type FusedRule, type PrimAttrs, type PrimName, type Rules, primitives } from './primitives.js';
import type { Tangent } from './tangent.js';

export type Mode = 'eval' | 'reverse' | 'forward';

export interface Var {
  /** The primal value. For a leaf, the caller's matrix (not copied). */
  readonly value: Mat;
  /** Forward mode: this value's tangent bundle (null: zero). */
  readonly tangent: Tangent | null;
  /** Reverse mode, after backward(): d output / d this value (null: not needed). */
  readonly grad: Mat | null;
  /** Reverse mode: whether a cotangent flows back into this value. */
  readonly requiresGrad: boolean;
}

interface Node extends Var {
  value: Mat;
  tangent: Tangent | null;
  grad: Mat | null;
  requiresGrad: boolean;
  op: string | null; // the primitive's or fused rule's name; null for a leaf
  rules: Rules<unknown> | null;
  inputs: Node[];
  attrs: unknown;
  owned: boolean; // value buffer belongs to the arena
  epoch: number; // the graph's reset count when this node was last written
  deferredGy: Mat[]; // backward: the gy and x of every step whose weight gradient waits (leaves only)
  deferredX: Mat[];
  needsGrad: boolean; // backward: a cotangent flows into this value in the current walk (requiresGrad less skipped leaves)
  denseGradWalk: number; // the walk in which something last added into this leaf's .grad directly (not deferred)
  factors: { gy: Mat[]; x: Mat[]; dense: boolean } | null; // weightFactors()'s answer, one object reused
  tangentData: Float64Array | null;
  denseTangent: Tangent | null;
  gradBuffer: Mat | null;
  graph: Graph;
}

export interface LeafOptions {
  /** Reverse mode: compute the gradient with respect to this leaf. */
  requiresGrad?: boolean;
  /** Forward mode (or a reverse graph with directions): the leaf's tangent bundle (null or absent: zero). */
  tangent?: Tangent | null;
}

export interface BackwardOptions {
  /** Leaves whose gradient this walk does not need: treated as not requiring one (.grad null after it). */
  skip?: readonly Var[];
  /**
   * Leave every weight gradient Σ_t gy_tᵀ·x_t (the deferred products of linear) as its factors,
   * read with weightFactors(), instead of adding it into the weight's .grad; .grad then holds only
   * what other ops added, and is null for a weight that nothing else reached (its buffer is then
   * neither zeroed nor written: a step with large weights walked twice saves two passes over them).
   */
  factorWeights?: boolean;
}

/** A leaf's gradient after backward(..., { factorWeights: true }): .grad plus the factors of its weight part. */
export interface WeightFactors {
  /** gW = .grad (null: zero) + Σ_t gy[t]ᵀ · x[t] (gy[t]: rows x out, x[t]: rows x in, W: out x in); empty: all of it is in .grad. */
  readonly gy: readonly Mat[];
  readonly x: readonly Mat[];
  /** Whether some op added into .grad directly in the walk (else .grad is null, or zero when there are no factors). */
  readonly dense: boolean;
}

const BACKWARD_OPTIONS = ['skip', 'factorWeights'];

/** checkKeys for backward's options without allocating (a step may walk its tape twice). */
function checkBackwardOptions(options: BackwardOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) checkKeys('backward', options, BACKWARD_OPTIONS);
  for (const key in options) if (key !== 'skip' && key !== 'factorWeights') checkKeys('backward', options, BACKWARD_OPTIONS);
}

export class Graph {
  readonly mode: Mode;
  /** Number of tangent directions carried (forward mode, or a reverse graph made with some; 0 otherwise). */
  readonly directions: number;
  private readonly nodes: Node[] = [];
  private cursor = 0;
  /** Counts resets: a Var from an earlier epoch no longer holds what it held. */
  private epoch = 0;
  // Scratch arrays of the inputs' values, tangents and gradients, one per input count, so that
  // recording a node or walking back over it never resizes an array (setting an array's length
  // is a runtime call in V8, and small graphs make millions of them).
  private readonly inputScratch: Mat[][] = [];
  private readonly gradScratch: (Mat | null)[][] = [];
  private deferredLeaves: Node[] = [];
  private stackedGy: Float64Array = new Float64Array(0);
  private stackedX: Float64Array = new Float64Array(0);
  private readonly tangentScratch: (Tangent | null)[][] = [];
  /** Counts backward() calls (marks which walk a node's per-walk flags belong to). */
  private walks = 0;
  /** Whether the current walk zeroes leaf gradients lazily (factorWeights). */
  private lazyLeaves = false;
  /** Weight leaves whose factors the last backward() kept (factorWeights). */
  private keptFactors: Node[] = [];

  constructor(mode: Mode, directions = 0) {
    if (mode !== 'eval' && mode !== 'reverse' && mode !== 'forward') {
      throw new ConfigError('Graph', `mode must be 'eval', 'reverse' or 'forward', got ${String(mode)}`, { mode });
    }
    if (mode === 'forward' && (!Number.isInteger(directions) || directions < 1)) {
      throw new ConfigError('Graph', `forward mode needs a positive integer number of directions, got ${directions}`, { directions });
    }
    if (mode === 'reverse' && (!Number.isInteger(directions) || directions < 0)) {
      throw new ConfigError('Graph', `reverse mode takes a non-negative integer number of tangent directions, got ${directions}`, { directions });
    }
    this.mode = mode;
    this.directions = mode === 'eval' ? 0 : directions;
  }

  /** Rewinds the arena: the next computation reuses this one's buffers. Old Vars become invalid. */
  reset(): void {
    this.clearKeptFactors();
    this.cursor = 0;
    this.epoch++;
  }

  private clearKeptFactors(): void {
    for (const w of this.keptFactors) { w.deferredGy.length = 0; w.deferredX.length = 0; }
    this.keptFactors.length = 0;
  }

  /** Number of nodes recorded since the last reset. */
  get size(): number {
    return this.cursor;
  }

  /** Bytes held by values recorded since the last reset (the tape's activations in reverse mode). */
  recordedBytes(): number {
    let bytes = 0;
    for (let i = 0; i < this.cursor; i++) {
      const n = this.nodes[i];
      if (n.owned) bytes += 8 * n.value.rows * n.value.cols;
    }
    return bytes;
  }

  /** Bytes of every buffer the arena holds (values, tangents, gradients). */
  arenaBytes(): number {
    let bytes = 0;
    for (const n of this.nodes) {
      if (n.owned) bytes += 8 * n.value.rows * n.value.cols;
      if (n.tangentData) bytes += 8 * n.tangentData.length;
      if (n.gradBuffer) bytes += 8 * n.gradBuffer.rows * n.gradBuffer.cols;
    }
    return bytes;
  }

  private nextNode(): Node {
    let node = this.nodes[this.cursor];
    if (node === undefined) {
      node = {
        value: EMPTY, tangent: null, grad: null, requiresGrad: false, op: null, rules: null, inputs: [], attrs: null,
        owned: false, epoch: 0, deferredGy: [], deferredX: [], needsGrad: false, denseGradWalk: 0, factors: null, tangentData: null, denseTangent: null, gradBuffer: null, graph: this,
      };
      this.nodes.push(node);
    }
    this.cursor++;
    node.grad = null;
    node.needsGrad = false;
    node.epoch = this.epoch;
    return node;
  }

  /** A leaf: an input, a parameter or a state carried in from outside. */
  leaf(value: Mat, options: LeafOptions = {}): Var {
    const node = this.nextNode();
    node.value = value;
    node.owned = false;
    node.op = null;
    node.rules = null;
    if (node.inputs.length !== 0) node.inputs.length = 0;
    node.attrs = null;
    node.requiresGrad = this.mode === 'reverse' && options.requiresGrad === true;
    const tangent = this.directions > 0 ? (options.tangent ?? null) : null;
    if (tangent !== null) this.checkLeafTangent(value, tangent);
    node.tangent = tangent;
    return node;
  }

  private checkLeafTangent(value: Mat, t: Tangent): void {
    const n = value.rows * value.cols, K = this.directions;
    if (t.kind === 'seed') {
      if (!Number.isInteger(t.start) || t.start < 0 || t.start + n > K) {
        throw new ShapeError('leaf', `a seed tangent at direction ${t.start} for ${shapeOf(value)} (${n} elements) does not fit in ${K} directions`, { start: t.start, shape: [value.rows, value.cols], directions: K });
      }
    } else if (!Number.isInteger(t.offset) || t.offset < 0 || t.offset + n * K > t.data.length) {
      throw new ShapeError('leaf', `a dense tangent for ${shapeOf(value)} needs ${n} x ${K} numbers from offset ${t.offset}, but holds ${t.data.length}`, { shape: [value.rows, value.cols], directions: K, offset: t.offset, length: t.data.length });
    }
  }

  /** A constant: a leaf that is never differentiated. */
  constant(value: Mat): Var {
    return this.leaf(value);
  }

  /** Applies a primitive, recording it in reverse mode and pushing tangents in forward mode. */
  apply<N extends PrimName>(op: N, inputs: readonly Var[], attrs: PrimAttrs[N]): Var {
    return this.record(op, primitives[op] as Rules<unknown>, inputs, attrs);
  }

  /**
   * Applies a fused rule handed over by the file that owns it (e.g. a loss), exactly as a
   * primitive: recorded in reverse mode, its jvp pushing tangents in forward mode.
   */
  fused<A>(rule: FusedRule<A>, inputs: readonly Var[], attrs: A): Var {
    return this.record(rule.name, rule as unknown as Rules<unknown>, inputs, attrs);
  }

  private record(op: string, rules: Rules<unknown>, inputs: readonly Var[], attrs: unknown): Var {
    if (rules.arity !== 'variadic' && inputs.length !== rules.arity) {
      throw new ConfigError(op, `takes ${rules.arity} inputs, got ${inputs.length}`, { arity: rules.arity, inputs: inputs.length });
    }
    const xs = scratchOf(this.inputScratch, inputs.length) as Mat[];
    for (let i = 0; i < inputs.length; i++) {
      const v = inputs[i] as Node;
      if (v.graph !== this) throw new ConfigError(op, `input ${i} belongs to another graph`, { input: i });
      if (v.epoch !== this.epoch) throw new ConfigError(op, `input ${i} was made before the graph's last reset(), and its buffer has been reused`, { input: i, epoch: v.epoch, graphEpoch: this.epoch });
      xs[i] = v.value;
    }
    const [rows, cols] = rules.shape(xs, attrs);
    const node = this.nextNode();
    if (!node.owned || node.value.rows !== rows || node.value.cols !== cols) {
      node.value = mat(rows, cols);
      node.owned = true;
      node.tangentData = null;
      node.gradBuffer = null;
    }
    node.op = op;
    node.rules = rules;
    node.attrs = attrs;
    if (node.inputs.length !== inputs.length) node.inputs.length = inputs.length;
    let requiresGrad = false;
    for (let i = 0; i < inputs.length; i++) {
      const v = inputs[i] as Node;
      node.inputs[i] = v;
      if (v.requiresGrad) requiresGrad = true;
    }
    node.requiresGrad = requiresGrad;
    rules.eval(xs, node.value, attrs);
    const outSize = rows * cols;
    flopCounter.count += outSize;
    node.tangent = null;
    if (this.directions > 0) {
      const dxs = scratchOf(this.tangentScratch, inputs.length);
      let any = false;
      for (let i = 0; i < inputs.length; i++) {
        dxs[i] = (inputs[i] as Node).tangent;
        if (dxs[i] !== null) any = true;
      }
      const view = any && rules.jvpView !== undefined ? rules.jvpView(xs, dxs, this.directions, attrs) : null;
      if (view !== null) {
        node.tangent = view;
      } else if (any) {
        const K = this.directions;
        let fresh = false;
        if (node.tangentData === null || node.tangentData.length !== outSize * K) {
          node.tangentData = new Float64Array(outSize * K);
          node.denseTangent = { kind: 'dense', data: node.tangentData, offset: 0 };
          fresh = true;
        }
        let allDense = rules.jvpAssign !== undefined;
        for (let i = 0; allDense && i < dxs.length; i++) if (dxs[i]?.kind !== 'dense') allDense = false;
        if (allDense) {
          rules.jvpAssign!(xs, node.value, dxs as DenseTangent[], node.tangentData, K, attrs);
        } else {
          if (!fresh) node.tangentData.fill(0);
          rules.jvp(xs, node.value, dxs, node.tangentData, K, attrs);
        }
        flopCounter.count += 2 * outSize * K;
        node.tangent = node.denseTangent;
      }
    }
    return node;
  }

  /**
   * Reverse mode: seeds d output / d output with each cotangent (a 1x1 output
   * needs none: 1 is implied) and walks the tape backwards. Gradients then sit
   * in .grad of every Var that requires one.
   */
  backward(outputs: Var | readonly Var[], cotangents?: Mat | readonly (Mat | null)[], options?: BackwardOptions): void {
    if (this.mode !== 'reverse') throw new ConfigError('backward', `the graph is in '${this.mode}' mode, not 'reverse'`, { mode: this.mode });
    const outs = (Array.isArray(outputs) ? outputs : [outputs]) as Node[];
    const cots = cotangents === undefined ? null : (Array.isArray(cotangents) ? cotangents : [cotangents]) as (Mat | null)[];
    if (cots !== null && cots.length !== outs.length) {
      throw new ShapeError('backward', `${outs.length} outputs but ${cots.length} cotangents`, { outputs: outs.length, cotangents: cots.length });
    }
    let skip: readonly Node[] | null = null, factorWeights = false;
    if (options !== undefined) {
      checkBackwardOptions(options);
      skip = (options.skip ?? null) as readonly Node[] | null;
      factorWeights = options.factorWeights === true;
      if (skip !== null) {
        for (let i = 0; i < skip.length; i++) {
          const v = skip[i];
          if (v.graph !== this || v.epoch !== this.epoch || v.op !== null) {
            throw new ConfigError('backward', `skip[${i}] is not a leaf of this graph recorded since its last reset()`, { skip: i });
          }
        }
      }
    }
    this.clearKeptFactors();
    this.walks++;
    // needsGrad: requiresGrad with the skipped leaves cut off (without skip, the same flags).
    for (let i = 0; i < this.cursor; i++) this.nodes[i].needsGrad = this.nodes[i].requiresGrad;
    if (skip !== null && skip.length > 0) {
      for (const v of skip) v.needsGrad = false;
      for (let i = 0; i < this.cursor; i++) {
        const n = this.nodes[i];
        if (n.op === null || !n.requiresGrad) continue;
        let any = false;
        for (let j = 0; j < n.inputs.length; j++) if (n.inputs[j].needsGrad) { any = true; break; }
        n.needsGrad = any;
      }
    }
    // With factorWeights a leaf's buffer is zeroed when something first adds into it (touchLeaf).
    this.lazyLeaves = factorWeights;
    for (let i = 0; i < this.cursor; i++) {
      const n = this.nodes[i];
      if (!n.needsGrad) { n.grad = null; continue; }
      const { rows, cols } = n.value;
      if (n.gradBuffer === null || n.gradBuffer.rows !== rows || n.gradBuffer.cols !== cols) n.gradBuffer = mat(rows, cols);
      else if (!factorWeights || n.op !== null) n.gradBuffer.data.fill(0);
      n.grad = n.gradBuffer;
    }
    for (let i = 0; i < outs.length; i++) {
      const out = outs[i];
      if (out.graph !== this) throw new ConfigError('backward', `output ${i} belongs to another graph`, { output: i });
      if (out.epoch !== this.epoch) throw new ConfigError('backward', `output ${i} was made before the graph's last reset()`, { output: i, epoch: out.epoch, graphEpoch: this.epoch });
      if (!out.needsGrad) continue;
      if (out.op === null) this.touchLeaf(out);
      const g = out.grad!;
      const cot = cots === null ? null : cots[i];
      if (cot === null) {
        if (out.value.rows !== 1 || out.value.cols !== 1) {
          throw new ShapeError('backward', `output ${i} is ${shapeOf(out.value)}; a cotangent is needed unless it is 1x1`, { output: i, shape: [out.value.rows, out.value.cols] });
        }
        g.data[0] += 1;
      } else {
        if (cot.rows !== g.rows || cot.cols !== g.cols) {
          throw new ShapeError('backward', `cotangent ${i} is ${shapeOf(cot)} but output ${i} is ${shapeOf(g)}`, { output: i, cotangent: [cot.rows, cot.cols], shape: [g.rows, g.cols] });
        }
        const n = g.rows * g.cols;
        for (let j = 0; j < n; j++) g.data[j] += cot.data[cot.offset + j];
      }
    }
    const deferred = this.deferredLeaves;
    deferred.length = 0;
    let kept = false;
    try {
      this.walkBackwards(deferred);
      if (factorWeights) {
        for (const w of deferred) this.keptFactors.push(w);
        kept = true;
        // Leaves nothing added into: no gradient past the factors (null), or a zero one.
        for (let i = 0; i < this.cursor; i++) {
          const n = this.nodes[i];
          if (n.op !== null || !n.needsGrad || n.denseGradWalk === this.walks) continue;
          if (n.deferredGy.length > 0) n.grad = null;
          else this.touchLeaf(n);
        }
      } else {
        for (const w of deferred) this.flushWeightGradient(w);
      }
    } finally {
      // Even after an error, no leaf keeps a half-filled list into the next backward().
      if (!kept) for (const w of deferred) { w.deferredGy.length = 0; w.deferredX.length = 0; }
      deferred.length = 0;
    }
  }

  /**
   * After backward(..., { factorWeights: true }): leaf w's gradient as .grad (null: zero) plus the
   * factors of its weight part (see WeightFactors), valid until the next backward() or reset()
   * (the object is reused); null when w needed no gradient in that walk. After a walk without
   * factorWeights the factors are empty (everything is in .grad).
   */
  weightFactors(w: Var): WeightFactors | null {
    const n = w as Node;
    if (n.graph !== this || n.epoch !== this.epoch || n.op !== null) {
      throw new ConfigError('weightFactors', 'takes a leaf of this graph recorded since its last reset()', {});
    }
    if (!n.needsGrad) return null;
    if (n.factors === null) n.factors = { gy: n.deferredGy, x: n.deferredX, dense: false };
    n.factors.dense = n.denseGradWalk === this.walks;
    return n.factors;
  }

  private walkBackwards(deferred: Node[]): void {
    for (let i = this.cursor - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (n.op === null || !n.needsGrad) continue;
      const xs = scratchOf(this.inputScratch, n.inputs.length) as Mat[];
      const gxs = scratchOf(this.gradScratch, n.inputs.length);
      for (let j = 0; j < n.inputs.length; j++) {
        xs[j] = n.inputs[j].value;
        gxs[j] = n.inputs[j].needsGrad ? n.inputs[j].grad : null;
      }
      const rules = n.rules!;
      const pairs = rules.weightPairs?.(n.attrs);
      if (pairs !== undefined) {
        // A weight leaf's gradient Σ_t gy_tᵀ·x_t waits for the end of the walk: one product
        // at full speed instead of one small rank update per step.
        for (const [xi, wi] of pairs) {
          const w = n.inputs[wi];
          if (w.op !== null || !w.needsGrad) continue;
          if (w.deferredGy.length === 0) deferred.push(w);
          w.deferredGy.push(n.grad!);
          w.deferredX.push(xs[xi]);
          gxs[wi] = null;
        }
      }
      for (let j = 0; j < n.inputs.length; j++) if (gxs[j] !== null && n.inputs[j].op === null) this.touchLeaf(n.inputs[j]);
      rules.vjp(xs, n.value, n.grad!, gxs, n.attrs);
      flopCounter.count += 2 * n.value.rows * n.value.cols;
    }
  }

  /** Marks leaf n's .grad as written in this walk, zeroing it first when the walk zeroes leaves lazily. */
  private touchLeaf(n: Node): void {
    if (n.denseGradWalk === this.walks) return;
    n.denseGradWalk = this.walks;
    if (this.lazyLeaves) n.gradBuffer!.data.fill(0);
  }

  /** gW += GYᵀ·X with the deferred steps' gy and x stacked as rows. */
  private flushWeightGradient(w: Node): void {
    const gys = w.deferredGy, inputs = w.deferredX, gw = w.grad!;
    let rows = 0;
    for (const gy of gys) rows += gy.rows;
    const outCols = gw.rows, inCols = gw.cols;
    this.stackedGy = grown(this.stackedGy, rows * outCols);
    this.stackedX = grown(this.stackedX, rows * inCols);
    let at = 0;
    for (let i = 0; i < gys.length; i++) {
      const gy = gys[i], x = inputs[i], n = gy.rows;
      this.stackedGy.set(gy.data.subarray(gy.offset, gy.offset + n * outCols), at * outCols);
      this.stackedX.set(x.data.subarray(x.offset, x.offset + n * inCols), at * inCols);
      at += n;
    }
    gemm(gw, matFrom(rows, outCols, this.stackedGy), matFrom(rows, inCols, this.stackedX), true, false, 1, 1);
  }

  // ---- the ops, as methods (thin names over apply) ----
  add(a: Var, b: Var): Var { return this.apply('add', [a, b], null); }
  sub(a: Var, b: Var): Var { return this.apply('sub', [a, b], null); }
  mul(a: Var, b: Var): Var { return this.apply('mul', [a, b], null); }
  /** scale · a + shift */
  affine(a: Var, scale: number, shift = 0): Var { return this.apply('affine', [a], { scale, shift }); }
  scale(a: Var, s: number): Var { return this.apply('affine', [a], { scale: s, shift: 0 }); }
  /** a + t ⊙ (b − a): from a (t = 0) to b (t = 1). */
  lerp(a: Var, b: Var, t: Var): Var { return this.apply('lerp', [a, b, t], null); }
  /** 1 - a */
  oneMinus(a: Var): Var { return this.apply('affine', [a], { scale: -1, shift: 1 }); }
  /** a + row broadcast over the rows of a (a bias). */
  addRow(a: Var, row: Var): Var { return this.apply('addRow', [a, row], null); }
  mulRow(a: Var, row: Var): Var { return this.apply('mulRow', [a, row], null); }
  mulColumn(a: Var, column: Var): Var { return this.apply('mulColumn', [a, column], null); }
  /** Row r of a where mask[r] ≠ 0, else row r of b (mask: rows x 1, not differentiated). */
  selectRows(mask: Var, a: Var, b: Var): Var { return this.apply('selectRows', [a, b, mask], null); }
  /** Row index[r] of table for every row r (index: rows x 1 of row numbers, not differentiated): an embedding lookup. */
  gatherRows(table: Var, index: Var): Var { return this.apply('gatherRows', [table, index], null); }
  matmul(a: Var, b: Var, transA = false, transB = false): Var {
    return this.apply('matmul', [a, b], { transA, transB });
  }
  /** x·Wᵀ (+ bias): PyTorch's Linear with W stored out x in. */
  linear(x: Var, weight: Var, bias: Var | null = null): Var {
    return this.apply('linear', bias === null ? [x, weight] : [x, weight, bias], { pairs: 1 });
  }
  /** Σ_i x_i·W_iᵀ + Σ_j b_j in one node: e.g. x·W_ihᵀ + h·W_hhᵀ + b_ih + b_hh. */
  linearSum(pairs: readonly (readonly [Var, Var])[], biases: readonly (Var | null)[] = []): Var {
    const inputs: Var[] = [];
    for (const [x, w] of pairs) inputs.push(x, w);
    for (const b of biases) if (b !== null) inputs.push(b);
    return this.apply('linear', inputs, { pairs: pairs.length });
  }
  tanh(a: Var): Var { return this.apply('tanh', [a], null); }
  sigmoid(a: Var): Var { return this.apply('sigmoid', [a], null); }
  relu(a: Var): Var { return this.apply('relu', [a], null); }
  exp(a: Var): Var { return this.apply('exp', [a], null); }
  log(a: Var): Var { return this.apply('log', [a], null); }
  softplus(a: Var): Var { return this.apply('softplus', [a], null); }
  sliceCols(a: Var, start: number, count: number): Var { return this.apply('sliceCols', [a], { start, count }); }
  concatCols(parts: readonly Var[]): Var { return this.apply('concatCols', parts, null); }
  sliceRows(a: Var, start: number, count: number): Var { return this.apply('sliceRows', [a], { start, count }); }
  concatRows(parts: readonly Var[]): Var { return this.apply('concatRows', parts, null); }
  sum(a: Var): Var { return this.apply('sum', [a], null); }
  dot(a: Var, b: Var): Var { return this.apply('dot', [a, b], null); }
  logSoftmax(a: Var): Var { return this.apply('logSoftmax', [a], null); }
  softmax(a: Var): Var { return this.apply('softmax', [a], null); }
}

const EMPTY: Mat = { rows: 0, cols: 0, data: new Float64Array(0), offset: 0 };

/** The scratch array of exactly `length` entries (made once per length, then reused). */
function scratchOf<T>(byLength: (T | null)[][], length: number): (T | null)[] {
  let a = byLength[length];
  if (a === undefined) {
    a = new Array<T | null>(length).fill(null);
    byLength[length] = a;
  }
  return a;
}
