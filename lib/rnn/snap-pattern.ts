// The fixed sparsity pattern of SnAp-n (Menick et al. 2021) and the colourings that recover the
// pieces on it, computed once per model.
//
// N state numbers per sequence (every state vector laid end to end), P parameters (theta).
//   D = d s_t / d s_{t-1} (N x N),   I = d s_t / d theta with s_{t-1} fixed (N x P).
//   M_1 = supp(I) ∪ supp(d s_0 / d theta)   (a learned initial state reaches its own entry at once)
//   M_n = M_{n-1} ∪ supp(D · M_{n-1})       (boolean product: one more step of reach)
// The supports are structural. They are found by a numeric probe: one reverse pass per state
// entry k over a step at random normal parameters, states and inputs, PROBE_ROWS rows and
// PROBE_DRAWS parameter draws, gives row k of I (summed over the rows) and row k of D (per row);
// an entry is in the support when it is nonzero anywhere. A ReLU that happens to be off hides its
// unit's entries only if it is off in all PROBE_ROWS·PROBE_DRAWS = 32 samples (about 2^-32), and a
// sum over rows cancels to exactly 0 with probability 0 for continuous random values.
//
// Storage: columns (parameters) whose row sets are equal share one class, so the pattern is
// CSR-like with shared index lists: column p holds slots [colStart[p], colStart[p+1]) and the
// state entries of its class, classRows[classRowStart[c] ...], in ascending order. A class also
// lists the pairs (a, b) of its rows with D[rows[a], rows[b]] structurally nonzero: the only
// products the update D·Ŝ needs.
import { Graph, type Var } from '../ad/graph.js';
import { type Mat, mat } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import type { RecurrentModel } from './model.js';
import { ShapeError } from '../mat/errors.js';

const PROBE_ROWS = 16;
const PROBE_DRAWS = 2;
const PROBE_SEED = 0x5a9;
/** Rows from which a class with a half-full D block is updated by gemm. */
export const DENSE_ROWS = 8;

/** Structural supports of one step: for each state entry k, the parameters and the state entries it depends on. */
interface StepSupport {
  /** iRows[k]: ascending cell-parameter indices p (into theta) with I[k, p] != 0. */
  readonly iRows: Int32Array[];
  /** dRows[k]: ascending state indices j with D[k, j] != 0. */
  readonly dRows: Int32Array[];
}

export interface SnapPattern {
  readonly order: number;
  /** State numbers per sequence (N) and where each state vector starts in them. */
  readonly stateNumbers: number;
  readonly stateStarts: readonly number[];
  readonly params: number;
  /** Pattern entries per sequence: the length of one sequence's Ŝ. */
  readonly nnz: number;
  /** Column p's slots are [colStart[p], colStart[p + 1]); its class is colClass[p] (-1: empty column). */
  readonly colStart: Int32Array;
  readonly colClass: Int32Array;
  readonly classes: number;
  readonly classRowStart: Int32Array;
  readonly classRows: Int32Array;
  /** The columns of each class (classColStart / classCols), for loops class by class. */
  readonly classColStart: Int32Array;
  readonly classCols: Int32Array;
  /** Pairs of class c: [classPairStart[c], classPairStart[c + 1]); pairOut/pairIn are positions in its rows, pairD = k·dColours + dColour[j]. */
  readonly classPairStart: Int32Array;
  readonly pairOut: Int32Array;
  readonly pairIn: Int32Array;
  readonly pairD: Int32Array;
  /** Largest class (rows). */
  readonly maxClassRows: number;
  /**
   * 1 for a class whose D block is dense enough (at least DENSE_ROWS rows, at least half its
   * pairs present) that Ŝ's update is a gemm over blocks of its columns rather than a loop over pairs.
   */
  readonly classDense: Uint8Array;
  /** Flops of one sequence's update outside gemm (2 per pair and column of the classes not dense), for flopCounter. */
  readonly loopFlops: number;
  /** Column colouring of D for forward mode: no two entries of one colour share a row of supp(D). */
  readonly dColours: number;
  readonly dColour: Int32Array;
  /** True when supp(D) is diagonal (then dColours is 1). */
  readonly diagonal: boolean;
  /** Row colouring of I for reverse mode: no two entries of one colour share a parameter of M_1. */
  readonly iColours: number;
  readonly iColour: Int32Array;
  /** I's entries by colour: [iEntryStart[c], iEntryStart[c + 1]) hold the slot, the parameter leaf and the element in it. */
  readonly iEntryStart: Int32Array;
  readonly iSlot: Int32Array;
  readonly iLeaf: Int32Array;
  readonly iElement: Int32Array;
  /** Slots set to 1 in Ŝ_0 by a learned initial state (entry k of init_*, parameter of that element). */
  readonly initialSlots: Int32Array;
  /** Bytes of the index arrays above. */
  readonly indexBytes: number;
}

/** Probes a step of the model's cell for the supports of I and D (see the file comment). */
function probeSupport(model: RecurrentModel): StepSupport {
  const { cell } = model;
  const N = cell.stateSizes.reduce((a, b) => a + b, 0);
  const starts = stateStarts(cell.stateSizes);
  const rng = new Rng(PROBE_SEED);
  // Symbol inputs (an embedding): every symbol once per draw at least, so every row of the table
  // shows what it reaches; real inputs: PROBE_ROWS random rows.
  const symbols = cell.inputSymbols;
  const rows = symbols === undefined ? PROBE_ROWS : Math.max(PROBE_ROWS, symbols);
  const offsets = model.params.offsets;
  const P = model.params.theta.length;
  // One recorded step per draw; each is walked back once per state entry.
  const draws: { g: Graph; params: Var[]; state: Var[]; out: Var[] }[] = [];
  const switchable = cell as { training?: boolean };
  const training = switchable.training;
  if (training !== undefined) switchable.training = false;
  try {
    for (let d = 0; d < PROBE_DRAWS; d++) {
      const g = new Graph('reverse');
      const params = cell.paramSpecs.map((s) => g.leaf(random(rng, s.rows, s.cols), { requiresGrad: true }));
      const state = cell.stateSizes.map((n) => g.leaf(random(rng, rows, n), { requiresGrad: true }));
      const x = g.leaf(symbols === undefined ? random(rng, rows, cell.inputSize) : symbolColumn(rows, symbols));
      const out = cell.step(g, params, state, x).state;
      if (out.length !== cell.stateSizes.length) throw new ShapeError('snap', `${cell.kind} returned ${out.length} state vectors, its stateSizes has ${cell.stateSizes.length}`, { found: out.length, expected: cell.stateSizes.length });
      draws.push({ g, params, state, out });
    }
  } finally {
    if (training !== undefined) switchable.training = training;
  }
  const iRows: Int32Array[] = [], dRows: Int32Array[] = [];
  const pStamp = new Int32Array(P), jStamp = new Int32Array(N);
  const ps: number[] = [], js: number[] = [];
  const cotangents = cell.stateSizes.map((n) => mat(rows, n));
  cell.stateSizes.forEach((n, i) => {
    const cot = cotangents[i];
    for (let e = 0; e < n; e++) {
      const k = starts[i] + e, stamp = k + 1;
      ps.length = 0; js.length = 0;
      for (let b = 0; b < rows; b++) cot.data[b * n + e] = 1;
      for (const { g, params, state, out } of draws) {
        g.backward([out[i]], [cot]);
        params.forEach((v, q) => {
          const gr = v.grad;
          if (gr === null) return;
          const size = gr.rows * gr.cols;
          for (let a = 0; a < size; a++) {
            const p = offsets[q] + a;
            if (gr.data[gr.offset + a] !== 0 && pStamp[p] !== stamp) { pStamp[p] = stamp; ps.push(p); }
          }
        });
        state.forEach((v, i2) => {
          const gr = v.grad, n2 = cell.stateSizes[i2];
          if (gr === null) return;
          for (let b = 0; b < rows; b++) {
            for (let e2 = 0; e2 < n2; e2++) {
              const j = starts[i2] + e2;
              if (gr.data[gr.offset + b * n2 + e2] !== 0 && jStamp[j] !== stamp) { jStamp[j] = stamp; js.push(j); }
            }
          }
        });
      }
      for (let b = 0; b < rows; b++) cot.data[b * n + e] = 0;
      iRows.push(Int32Array.from(ps).sort());
      dRows.push(Int32Array.from(js).sort());
    }
  });
  return { iRows, dRows };
}

/** A column of symbol indices 0, 1, ..., symbols - 1, 0, 1, ... (rows x 1). */
function symbolColumn(rows: number, symbols: number): Mat {
  const m = mat(rows, 1);
  for (let r = 0; r < rows; r++) m.data[r] = r % symbols;
  return m;
}

function random(rng: Rng, rows: number, cols: number): Mat {
  const m = mat(rows, cols);
  rng.fillNormal(m, 0, 1);
  return m;
}

export function stateStarts(sizes: readonly number[]): number[] {
  const starts = [0];
  for (const n of sizes) starts.push(starts[starts.length - 1] + n);
  return starts;
}

/**
 * Greedy colouring of `items` so that the members of every group get distinct colours
 * (groups given as lists; memberOf[item] lists the groups holding it). Returns the colours and their count.
 */
function greedyColour(items: number, groups: readonly Int32Array[], memberOf: readonly number[][]): { colour: Int32Array; count: number } {
  const colour = new Int32Array(items).fill(-1);
  // A group holding every item needs every item its own colour: skip the search.
  if (groups.some((gr) => gr.length === items)) {
    for (let i = 0; i < items; i++) colour[i] = i;
    return { colour, count: items };
  }
  const forbidden = new Int32Array(items + 1);
  let count = 0;
  for (let item = 0; item < items; item++) {
    const stamp = item + 1;
    for (const gi of memberOf[item]) for (const other of groups[gi]) if (colour[other] >= 0) forbidden[colour[other]] = stamp;
    let c = 0;
    while (forbidden[c] === stamp) c++;
    colour[item] = c;
    if (c + 1 > count) count = c + 1;
  }
  return { colour, count: Math.max(count, items === 0 ? 0 : 1) };
}

/** Group id of each distinct list (by content) and the distinct lists. */
function dedupe(lists: readonly Int32Array[]): { id: Int32Array; distinct: Int32Array[] } {
  const ids = new Map<string, number>();
  const id = new Int32Array(lists.length);
  const distinct: Int32Array[] = [];
  lists.forEach((list, i) => {
    const key = list.join(',');
    let c = ids.get(key);
    if (c === undefined) { c = distinct.length; ids.set(key, c); distinct.push(list); }
    id[i] = c;
  });
  return { id, distinct };
}

/** The SnAp-n pattern of a model (see the file comment). */
export function snapPattern(model: RecurrentModel, order: number): SnapPattern {
  const { cell, params } = model;
  const N = cell.stateSizes.reduce((a, b) => a + b, 0);
  const starts = stateStarts(cell.stateSizes);
  const P = params.theta.length;
  const { iRows, dRows } = probeSupport(model);

  // D's transpose (j -> the k it reaches) and whether D is diagonal.
  const dCols: number[][] = Array.from({ length: N }, () => []);
  let diagonal = true;
  dRows.forEach((row, k) => { for (const j of row) { dCols[j].push(k); if (j !== k) diagonal = false; } });

  // M_1 by column: the state entries each parameter reaches in one step (or at s_0).
  const m1: number[][] = Array.from({ length: P }, () => []);
  iRows.forEach((row, k) => { for (const p of row) m1[p].push(k); });
  const learned = model.initialState === 'learned';
  const initialPairs: [number, number][] = []; // (k, p)
  if (learned) {
    cell.stateSizes.forEach((n, i) => {
      const at = params.offsets[model.cellParamCount + i];
      for (let e = 0; e < n; e++) { m1[at + e].push(starts[i] + e); initialPairs.push([starts[i] + e, at + e]); }
    });
  }
  const m1Lists = m1.map((l) => Int32Array.from(l).sort());
  const first = dedupe(m1Lists);

  // M_n per M_1 class: n - 1 more steps of reach through supp(D).
  const stamp = new Int32Array(N);
  let round = 0;
  const grown = first.distinct.map((rows) => {
    round++;
    const set: number[] = Array.from(rows);
    for (const k of set) stamp[k] = round;
    let frontierStart = 0;
    for (let level = 1; level < order && frontierStart < set.length; level++) {
      const end = set.length;
      for (let a = frontierStart; a < end; a++) for (const k of dCols[set[a]]) if (stamp[k] !== round) { stamp[k] = round; set.push(k); }
      frontierStart = end;
    }
    return Int32Array.from(set).sort();
  });
  const final = dedupe(grown);
  const classes = final.distinct.filter((rows) => rows.length > 0);
  const classIndex = new Int32Array(final.distinct.length);
  let kept = 0;
  final.distinct.forEach((rows, c) => { classIndex[c] = rows.length === 0 ? -1 : kept++; });
  const classOfGrown = final.id.map((c) => classIndex[c]);
  const colClass = new Int32Array(P);
  const colStart = new Int32Array(P + 1);
  for (let p = 0; p < P; p++) {
    const c = classOfGrown[first.id[p]];
    colClass[p] = c;
    colStart[p + 1] = colStart[p] + (c < 0 ? 0 : classes[c].length);
  }
  const nnz = colStart[P];

  // D's column colouring (forward mode recovers D[k, j] from direction dColour[j] for (k, j) in supp(D)).
  const dGroups = dRows;
  const { colour: dColour, count: dColoursRaw } = greedyColour(N, dGroups, dCols);
  const dColours = Math.max(1, dColoursRaw);

  // Class layout and its D pairs.
  const classRowStart = new Int32Array(classes.length + 1);
  classes.forEach((rows, c) => { classRowStart[c + 1] = classRowStart[c] + rows.length; });
  const classRows = new Int32Array(classRowStart[classes.length]);
  classes.forEach((rows, c) => classRows.set(rows, classRowStart[c]));
  const position = new Int32Array(N).fill(-1);
  const outs: number[] = [], ins: number[] = [], ds: number[] = [];
  const classPairStart = new Int32Array(classes.length + 1);
  let maxClassRows = 0;
  classes.forEach((rows, c) => {
    maxClassRows = Math.max(maxClassRows, rows.length);
    rows.forEach((k, a) => { position[k] = a; });
    rows.forEach((k, a) => {
      for (const j of dRows[k]) {
        const b = position[j];
        if (b >= 0) { outs.push(a); ins.push(b); ds.push(k * dColours + dColour[j]); }
      }
    });
    rows.forEach((k) => { position[k] = -1; });
    classPairStart[c + 1] = outs.length;
  });
  const classDense = new Uint8Array(classes.length);
  classes.forEach((rows, c) => {
    const pairs = classPairStart[c + 1] - classPairStart[c];
    classDense[c] = rows.length >= DENSE_ROWS && 2 * pairs >= rows.length * rows.length ? 1 : 0;
  });
  let loopFlops = 0;
  const classColCount = new Int32Array(classes.length);
  for (let p = 0; p < P; p++) if (colClass[p] >= 0) classColCount[colClass[p]]++;
  classes.forEach((_, c) => { if (classDense[c] === 0) loopFlops += 2 * classColCount[c] * (classPairStart[c + 1] - classPairStart[c]); });
  const classColStart = new Int32Array(classes.length + 1);
  for (let p = 0; p < P; p++) if (colClass[p] >= 0) classColStart[colClass[p] + 1]++;
  for (let c = 0; c < classes.length; c++) classColStart[c + 1] += classColStart[c];
  const classCols = new Int32Array(classColStart[classes.length]);
  const fillAt = classColStart.slice(0, classes.length);
  for (let p = 0; p < P; p++) if (colClass[p] >= 0) classCols[fillAt[colClass[p]]++] = p;

  // I's row colouring: entries sharing a parameter of M_1 get distinct colours. An entry of M_n
  // outside M_1 has I = 0 structurally and is never read from a reverse pass.
  const iGroups = dedupe(iRows.length === 0 ? [] : m1Lists.filter((_, p) => p < (learned ? params.offsets[model.cellParamCount] : P))).distinct;
  const iMemberOf: number[][] = Array.from({ length: N }, () => []);
  iGroups.forEach((gr, gi) => { for (const k of gr) iMemberOf[k].push(gi); });
  const { colour: iColour, count: iColours } = greedyColour(N, iGroups, iMemberOf);
  // Leaf and element of each parameter.
  const leafOf = new Int32Array(P), elementOf = new Int32Array(P);
  params.offsets.forEach((at, q) => {
    const size = params.specs[q].rows * params.specs[q].cols;
    for (let a = 0; a < size; a++) { leafOf[at + a] = q; elementOf[at + a] = a; }
  });
  const slotOf = (k: number, p: number): number => {
    const c = colClass[p], rows = classRows.subarray(classRowStart[c], classRowStart[c + 1]);
    let lo = 0, hi = rows.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (rows[mid] < k) lo = mid + 1; else hi = mid; }
    if (rows[lo] !== k) throw new Error(`snap: internal: entry ${k} of parameter ${p} is not in its pattern`);
    return colStart[p] + lo;
  };
  const iEntryStart = new Int32Array(iColours + 1);
  iRows.forEach((row, k) => { iEntryStart[iColour[k] + 1] += row.length; });
  for (let c = 0; c < iColours; c++) iEntryStart[c + 1] += iEntryStart[c];
  const iTotal = iEntryStart[iColours];
  const iSlot = new Int32Array(iTotal), iLeaf = new Int32Array(iTotal), iElement = new Int32Array(iTotal);
  const iFill = iEntryStart.slice(0, iColours);
  iRows.forEach((row, k) => {
    for (const p of row) {
      const at = iFill[iColour[k]]++;
      iSlot[at] = slotOf(k, p); iLeaf[at] = leafOf[p]; iElement[at] = elementOf[p];
    }
  });
  const initialSlots = Int32Array.from(initialPairs.map(([k, p]) => slotOf(k, p)));
  const arrays = [classDense, colStart, colClass, classRowStart, classRows, classColStart, classCols, classPairStart, dColour, iColour, iEntryStart, iSlot, iLeaf, iElement, initialSlots];
  const indexBytes = arrays.reduce((bytes, a) => bytes + a.byteLength, 0) + 12 * outs.length;
  return {
    order, stateNumbers: N, stateStarts: starts, params: P, nnz, colStart, colClass,
    classes: classes.length, classRowStart, classRows, classColStart, classCols,
    classPairStart, pairOut: Int32Array.from(outs), pairIn: Int32Array.from(ins), pairD: Int32Array.from(ds), maxClassRows, classDense, loopFlops,
    dColours, dColour, diagonal, iColours, iColour, iEntryStart, iSlot, iLeaf, iElement, initialSlots, indexBytes,
  };
}

/**
 * The pattern without I's reverse-pass index (iEntryStart, iSlot, iLeaf, iElement), for a Snap that
 * never reads I from reverse passes (the fused path of lib/rnn/snap-fused.ts): its bytes are not kept.
 */
export function withoutReverseIndex(p: SnapPattern): SnapPattern {
  const dropped = p.iSlot.byteLength + p.iLeaf.byteLength + p.iElement.byteLength;
  const none = new Int32Array(0);
  return { ...p, iEntryStart: new Int32Array(p.iColours + 1), iSlot: none, iLeaf: none, iElement: none, indexBytes: p.indexBytes - dropped };
}

/**
 * The pattern over columns [start, end) only (a shard of threaded SnAp): their slots are one run,
 * [colStart[start], colStart[end]), which becomes the whole Ŝ of a sequence, rebased to 0; every
 * other column is empty (class -1), and the class column lists, I's entries and the initial
 * state's slots keep only the range's. Classes, rows, pairs and colourings are unchanged, so each
 * kept column is updated by the same arithmetic as in the whole pattern.
 */
export function restrictColumns(p: SnapPattern, start: number, end: number): SnapPattern {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= p.params)) {
    throw new ShapeError('snap', `columns ${start}..${end - 1} are not a range of the ${p.params} parameters`, { start, end, params: p.params });
  }
  const s0 = p.colStart[start], s1 = p.colStart[end];
  const colStart = new Int32Array(p.params + 1), colClass = new Int32Array(p.params).fill(-1);
  for (let q = 0; q <= p.params; q++) colStart[q] = Math.min(Math.max(p.colStart[q], s0), s1) - s0;
  for (let q = start; q < end; q++) colClass[q] = p.colClass[q];
  const classColStart = new Int32Array(p.classes + 1), cols: number[] = [];
  let loopFlops = 0;
  for (let c = 0; c < p.classes; c++) {
    for (let ci = p.classColStart[c]; ci < p.classColStart[c + 1]; ci++) {
      const q = p.classCols[ci];
      if (q >= start && q < end) cols.push(q);
    }
    classColStart[c + 1] = cols.length;
    if (p.classDense[c] === 0) loopFlops += 2 * (classColStart[c + 1] - classColStart[c]) * (p.classPairStart[c + 1] - p.classPairStart[c]);
  }
  const iEntryStart = new Int32Array(p.iColours + 1), slots: number[] = [], leaves: number[] = [], elements: number[] = [];
  for (let c = 0; c < p.iColours; c++) {
    for (let a = p.iEntryStart[c]; a < p.iEntryStart[c + 1]; a++) {
      if (p.iSlot[a] < s0 || p.iSlot[a] >= s1) continue;
      slots.push(p.iSlot[a] - s0); leaves.push(p.iLeaf[a]); elements.push(p.iElement[a]);
    }
    iEntryStart[c + 1] = slots.length;
  }
  const initialSlots = Int32Array.from(Array.from(p.initialSlots).filter((s) => s >= s0 && s < s1), (s) => s - s0);
  const restricted = {
    ...p, nnz: s1 - s0, colStart, colClass, classColStart, classCols: Int32Array.from(cols), loopFlops,
    iEntryStart, iSlot: Int32Array.from(slots), iLeaf: Int32Array.from(leaves), iElement: Int32Array.from(elements), initialSlots,
  };
  const arrays = [colStart, colClass, classColStart, restricted.classCols, iEntryStart, restricted.iSlot, restricted.iLeaf, restricted.iElement, initialSlots];
  const before = [p.colStart, p.colClass, p.classColStart, p.classCols, p.iEntryStart, p.iSlot, p.iLeaf, p.iElement, p.initialSlots];
  return { ...restricted, indexBytes: p.indexBytes + arrays.reduce((b, a) => b + a.byteLength, 0) - before.reduce((b, a) => b + a.byteLength, 0) };
}
