// Deep (stacked) recurrent networks. Layer l reads the outputs of layer l-1
// (optionally through dropout); the network's output is the top layer's.
//
// A stack is itself a Cell: its state is every layer's state vectors in
// order (h_l0, c_l0, h_l1, c_l1, ...), its parameters every layer's in one
// theta, named as PyTorch names them (weight_ih_l0, ..., weight_hh_l1_reverse).
// So a causal stack runs unchanged under Bptt and Rtrl. Layers may be
// bidirectional (lib/rnn/bidirectional.ts); such a stack cannot be stepped
// (step() throws, and with it RTRL) and is run over whole sequences by its
// scan(), layer by layer, which the unroll calls in place of stepping.
import { Graph, type Var } from '../ad/graph.js';
import type { Cell, MaskRows, MaskState, ScanResult, StepMasks, StepResult } from '../cells/cell.js';
import { checkChain, initParts, joinParamSpecs } from '../cells/params.js';
import { type Mat, matFrom } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { checkKeys } from '../mat/options.js';
import { bidirectionalStepError, isBidirectional } from './bidirectional.js';
import { scanCell } from '../rnn/unroll.js';
import { ConfigError } from '../mat/errors.js';

export interface StackedOptions {
  /** Dropout probability on the outputs of every layer but the last (default 0). */
  dropout?: number;
  /** Seed of the dropout masks (default 0). */
  seed?: number;
}

export interface StackedCell extends Cell {
  readonly kind: 'stacked';
  readonly layers: readonly Cell[];
  /** Index in paramSpecs where layer l's parameters start (length layers + 1). */
  readonly paramStarts: readonly number[];
  /** Index in stateSizes where layer l's state vectors start (length layers + 1). */
  readonly stateStarts: readonly number[];
  readonly dropout: number;
  /** Dropout is applied only while training is true (default true). */
  training: boolean;
  /** Rewinds every layer's mask counter to 0, optionally with a new seed: the next run sees the same masks again. */
  resetDropout(seed?: number): void;
  /**
   * x (the input of layer `layer` >= 1) times layer `layer`'s next dropout
   * mask; x itself when not training or dropout is 0.
   */
  applyDropout(g: Graph, x: Var, layer: number): Var;
  /** Whether some layer is bidirectional (then step() throws). */
  readonly bidirectional: boolean;
}

export function isStacked(cell: Cell): cell is StackedCell {
  return cell.kind === 'stacked' && 'layers' in cell;
}

/** PyTorch's name of a layer's parameter: weight_ih -> weight_ih_l1, weight_ih_reverse -> weight_ih_l1_reverse. */
export function layerParamName(name: string, layer: number): string {
  const suffix = '_reverse';
  return name.endsWith(suffix) ? `${name.slice(0, -suffix.length)}_l${layer}${suffix}` : `${name}_l${layer}`;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_21 = 2097152;

// The murmur3 / splitmix32 finaliser: a bijective avalanche of one 32-bit word.
function avalanche(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 53-bit Rng seed that depends on every bit of (seed, layer, index). */
function maskSeed(seed: number, layer: number, index: number): number {
  let a = avalanche((seed >>> 0) ^ 0x243f6a88);
  let b = avalanche((Math.floor(seed / TWO_POW_32) >>> 0) ^ a ^ 0x85a308d3);
  a = avalanche(a ^ Math.imul(layer + 1, 0x9e3779b9) ^ b);
  b = avalanche(b ^ (index >>> 0) ^ a);
  a = avalanche(a ^ (Math.floor(index / TWO_POW_32) >>> 0) ^ 0x13198a2e ^ b);
  return (b % TWO_POW_21) * TWO_POW_32 + a;
}

function checkDropoutSeed(op: string, seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new ConfigError(op, `seed must be a safe integer, got ${String(seed)}`, { option: 'seed', value: seed });
  return seed;
}

/**
 * Inverted dropout with seeded masks: the mask on the input of layer l is 0,
 * or 1/(1-p) with probability 1-p, per element, drawn from an Rng seeded by
 * (seed, l, k), where k counts the masks drawn for layer l since the last
 * reset. Every runner draws layer l's masks in the order of the steps (step
 * by step or layer by layer alike), so k is the step index (continued across
 * runs until a reset) and all runners see the same masks. The mask enters the
 * graph as a constant, so both differentiation modes see the same function.
 */
class DropoutMasks {
  readonly p: number;
  private seed: number;
  /** Masks drawn so far per layer (index 0 unused: the network's input is not dropped). */
  private readonly drawn: number[];
  private buffer = new Float64Array(0);

  constructor(p: number, seed: number, layers: number) {
    this.p = p;
    this.seed = seed;
    this.drawn = new Array<number>(layers).fill(0);
  }

  /** A shard's rows of the batch (MaskRows), or null: x's rows are the whole batch. */
  private rows: MaskRows | null = null;

  reset(seed?: number): void {
    if (seed !== undefined) this.seed = checkDropoutSeed('resetDropout', seed);
    this.drawn.fill(0);
  }

  state(): { p: number; seed: number; drawn: number[] } {
    return { p: this.p, seed: this.seed, drawn: this.drawn.slice() };
  }

  set(p: number, seed: number, drawn: readonly number[], rows: MaskRows | null): void {
    if (p !== this.p) throw new ConfigError('dropout masks', `the streams are of dropout ${p}, this cell's is ${this.p}: a model and its copy on a worker must be alike`, { p, expected: this.p });
    if (drawn.length !== this.drawn.length || !drawn.every((k) => Number.isSafeInteger(k) && k >= 0)) {
      throw new ConfigError('dropout masks', `drawn must hold ${this.drawn.length} counts (one per layer), got ${JSON.stringify(drawn)}`, { layers: this.drawn.length });
    }
    this.seed = checkDropoutSeed('dropout masks', seed);
    for (let l = 0; l < drawn.length; l++) this.drawn[l] = drawn[l];
    this.rows = rows === null ? null : { start: rows.start, total: rows.total };
  }

  apply(g: Graph, x: Var, layer: number): Var {
    const { rows, cols } = x.value;
    const n = rows * cols;
    // A shard's rows: the whole batch's mask is drawn row by row, and rows [start, start + rows) kept.
    const skip = this.rows === null ? 0 : this.rows.start * cols;
    if (this.rows !== null && this.rows.start + rows > this.rows.total) {
      throw new ConfigError('dropout masks', `rows ${this.rows.start}..${this.rows.start + rows - 1} are not in a batch of ${this.rows.total}`, { start: this.rows.start, rows, total: this.rows.total });
    }
    if (this.buffer.length < n) this.buffer = new Float64Array(Math.max(n, 2 * this.buffer.length));
    const buf = this.buffer, p = this.p, scale = 1 / (1 - p);
    const rng = new Rng(maskSeed(this.seed, layer, this.drawn[layer]++));
    for (let i = 0; i < skip; i++) rng.uniform();
    for (let i = 0; i < n; i++) buf[i] = rng.uniform() < p ? 0 : scale;
    // The scale op copies the mask into the graph's arena, so this buffer can be reused at once.
    const mask = g.scale(g.constant(matFrom(rows, cols, buf)), 1);
    return g.mul(x, mask);
  }
}

/** A deep network of layers (plain cells or bidirectional layers), bottom first. */
export function stacked(layers: readonly Cell[], options: StackedOptions = {}): StackedCell {
  if (layers === undefined || layers === null) throw new ConfigError('stacked', 'needs at least one layer');
  checkChain('stacked', layers, 'layer', 'inputs');
  checkKeys('stacked', options, ['dropout', 'seed']);
  const p = options.dropout ?? 0;
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ConfigError('stacked', `dropout must be in [0, 1), got ${String(p)}`, { option: 'dropout', value: p });
  const seed = checkDropoutSeed('stacked', options.seed ?? 0);
  layers.forEach((layer, l) => {
    if (isStacked(layer)) throw new ConfigError('stacked', `layer ${l} is itself a stack; pass its layers instead`, { layer: l });
  });
  const { specs: paramSpecs, starts: paramStarts } = joinParamSpecs(layers, layerParamName);
  const stateSizes: number[] = [], stateNames: string[] = [], stateStarts: number[] = [0];
  layers.forEach((layer, l) => {
    layer.stateSizes.forEach((size, i) => { stateSizes.push(size); stateNames.push(layerParamName(layer.stateNames[i], l)); });
    stateStarts.push(stateSizes.length);
  });
  const dropout = p > 0 ? new DropoutMasks(p, seed, layers.length) : null;
  const anyBidirectional = layers.some(isBidirectional);
  const cell: StackedCell = {
    kind: 'stacked',
    layers: layers.slice(),
    paramStarts,
    stateStarts,
    dropout: p,
    training: true,
    bidirectional: anyBidirectional,
    causal: !anyBidirectional,
    inputSize: layers[0].inputSize,
    stateSizes,
    stateNames,
    outputSize: layers[layers.length - 1].outputSize,
    paramSpecs,
    resetDropout(newSeed?: number) {
      if (newSeed !== undefined) checkDropoutSeed('resetDropout', newSeed);
      dropout?.reset(newSeed);
    },
    ...(dropout === null ? {} : {
      masks: {
        state: (): MaskState => ({ ...dropout.state(), training: cell.training }),
        set: (state: MaskState, rows: MaskRows | null) => {
          dropout.set(state.p, state.seed, state.drawn, rows);
          cell.training = state.training === true;
        },
        // Every layer above the first draws one mask per step that runs the cell, while training.
        after: (state: MaskState, steps: number): MaskState => ({
          ...state, drawn: state.drawn.map((k, l) => (l > 0 && state.training ? k + steps : k)),
        }),
      },
    }),
    applyDropout(g: Graph, x: Var, layer: number): Var {
      if (!Number.isInteger(layer) || layer < 1 || layer >= layers.length) {
        throw new ConfigError('applyDropout', `layer must be an integer in [1, ${layers.length - 1}] (dropout acts on the inputs of the layers above the first), got ${layer}`, { layer, layers: layers.length });
      }
      return dropout !== null && cell.training ? dropout.apply(g, x, layer) : x;
    },
    step(g: Graph, params: readonly Var[], state: readonly Var[], x: Var): StepResult {
      const next: Var[] = [];
      let input = x;
      for (let l = 0; l < layers.length; l++) {
        const layer = layers[l];
        if (isBidirectional(layer)) throw bidirectionalStepError(`stacked (layer ${l})`);
        if (l > 0) input = cell.applyDropout(g, input, l);
        const r = layer.step(g, params.slice(paramStarts[l], paramStarts[l + 1]), state.slice(stateStarts[l], stateStarts[l + 1]), input);
        for (const s of r.state) next.push(s);
        input = r.output;
      }
      return { state: next, output: input };
    },
    // Layer by layer, each over all steps before the next; layer l's k-th dropout mask is drawn
    // at step k, as step() would draw it (and none at a step where no row is active, as stepping). states[t] holds every layer's state at position t.
    scan(g: Graph, params: readonly Var[], xs: readonly Var[], initial: readonly Var[], masks: StepMasks | null): ScanResult {
      const steps = xs.length;
      const states: Var[][] = Array.from({ length: steps }, () => []);
      const final: Var[] = [];
      let inputs: readonly Var[] = xs;
      let outputs: Var[] = [];
      for (let l = 0; l < layers.length; l++) {
        // A step where no row is active does not run the cell (maskedStep), so it draws no mask either.
        if (l > 0) inputs = inputs.map((v, t) => (masks !== null && (t >= masks.steps || masks.empty[t]) ? v : cell.applyDropout(g, v, l)));
        const r = scanCell(g, layers[l], params.slice(paramStarts[l], paramStarts[l + 1]), inputs, initial.slice(stateStarts[l], stateStarts[l + 1]), masks);
        for (let t = 0; t < steps; t++) for (const s of r.states[t]) states[t].push(s);
        for (const s of r.final) final.push(s);
        outputs = r.outputs;
        inputs = outputs;
      }
      return { outputs, states, final };
    },
    init(mats: readonly Mat[], rng: Rng) {
      initParts(layers, paramStarts, mats, rng);
    },
  };
  return cell;
}
