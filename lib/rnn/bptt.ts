// Backpropagation through time: the unroll (lib/rnn/unroll.ts) recorded on a reverse-mode graph
// (the tape keeps every step's activations: O(T·n) memory), then the tape walked backwards once
// (O(T·n²) time). Any model: a cell stepped through time, or one that brings its own scan (a
// stack of bidirectional layers); variable-length batches; any initial state.
import { Graph } from '../ad/graph.js';
import { type Mat, clone, mat } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import type { SequenceLoss } from './loss-spec.js';
import { type GradientMethod, type RunOptions, type RunResult, RUN_OPTIONS, Unroll, estimateStepBytes, gatherGrads, stateValues, sumTerms } from './unroll.js';
import { checkKeys } from '../mat/options.js';
import { ConfigError, ResourceError } from '../mat/errors.js';
import { type ThreadedBpttEngine, checkThreadsOption, checkTimeoutOption, threadEngines } from './threads.js';

export interface BpttOptions extends RunOptions {
  /** Also return d loss / d xs. */
  inputGrad?: boolean;
}

export interface BpttMethodOptions {
  /**
   * Refuse a run whose tape would hold more than this many bytes (each step's values and their
   * adjoints, estimated up front from one step of the model for values). Default 2 GiB.
   */
  maxBytes?: number;
  /**
   * Threads the batch is split over (default 1): this thread runs one shard and threads - 1
   * workers the others (lib/parallel/threaded-bptt.ts); the same thread count repeats bit for
   * bit and equals one thread to rounding. Needs a model made by modelFromSpec and a registered
   * worker host (under Node, importing loopgrad registers one); refuses inputGrad. close() frees it.
   */
  threads?: number;
  /**
   * With threads > 1: a worker that has not finished a phase of the run within this many
   * milliseconds is stopped and the run fails with a WorkerError naming it (the pool starts a new
   * one for the next run). Default: wait as long as it takes (a worker that dies is noticed at once).
   */
  timeoutMs?: number;
}

export const DEFAULT_BPTT_MAX_BYTES = 2 ** 31;

export interface BpttResult extends RunResult {
  /** Outputs of every step, time-major ((T*batch) x outputSize). */
  outputs: Mat;
  /** d loss / d xs when asked for. */
  inputGrad: Mat | null;
  /** d loss / d the explicit initial state when one was given (summed over the batch for a 1 x size row). */
  initialStateGrad: Mat[] | null;
  /** Bytes of activations the tape kept for the backward pass. */
  tapeBytes: number;
}

const REQUIRES_GRAD = { requiresGrad: true };
const BPTT_RUN_OPTIONS = [...RUN_OPTIONS, 'inputGrad'];

/**
 * Reusable BPTT over whole sequences. loss.step receives the network's output at t and the state
 * at t. Repeated runs of the same shapes reuse every graph buffer; the result is fresh each run.
 */
export class Bptt implements GradientMethod {
  readonly model: RecurrentModel;
  readonly graph = new Graph('reverse');
  private readonly unroll: Unroll;
  private readonly maxBytes: number;
  private probed = { batch: 0, bytes: 0 };
  private lastFinal: Mat[] | null = null;
  /** Threads this method runs on. */
  readonly threads: number;
  private readonly engine: ThreadedBpttEngine | null;

  constructor(model: RecurrentModel, options: BpttMethodOptions = {}) {
    checkKeys('bptt', options, ['maxBytes', 'threads', 'timeoutMs']);
    const limit = options.maxBytes ?? DEFAULT_BPTT_MAX_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) throw new ConfigError('bptt', `maxBytes must be a positive number, got ${String(limit)}`, { option: 'maxBytes', value: limit });
    this.model = model;
    this.maxBytes = limit;
    this.unroll = new Unroll(model, 'bptt', () => this.lastFinal?.map(clone) ?? null);
    this.threads = checkThreadsOption('bptt', options.threads ?? 1);
    const timeoutMs = checkTimeoutOption('bptt', options.timeoutMs, this.threads);
    this.engine = this.threads === 1 ? null : threadEngines('bptt', this.threads).bptt(model, this.threads, { maxBytes: limit, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  /** Releases the workers of a threaded method (a no-op with one thread); later runs are refused. */
  close(): void {
    this.engine?.close();
  }

  /** Bytes the tape of a run over `steps` steps of `batch` sequences would hold (values and adjoints). */
  estimateBytes(steps: number, batch = 1): number {
    if (this.probed.batch !== batch) this.probed = { batch, bytes: estimateStepBytes(this.model, batch) };
    return 2 * steps * this.probed.bytes;
  }

  run(xs: Mat, loss: SequenceLoss, options: BpttOptions = {}): BpttResult {
    if (this.engine !== null) {
      const { inputGrad, ...runOptions } = options;
      if (inputGrad === true) throw new ConfigError('bptt', `inputGrad is not available with threads: ${this.threads} (use one thread)`, { option: 'inputGrad', threads: this.threads });
      return { ...this.engine.run(xs, loss, runOptions), inputGrad: null };
    }
    const { model, graph: g, unroll } = this;
    const seq = unroll.sequence(xs, options, BPTT_RUN_OPTIONS);
    const { batch, steps } = seq;
    const bytes = this.estimateBytes(steps, batch);
    if (bytes > this.maxBytes) {
      throw new ResourceError('bptt', `${steps} steps of a batch of ${batch} keep about ${(bytes / 2 ** 20).toFixed(1)} MiB on the tape, over the limit of ${(this.maxBytes / 2 ** 20).toFixed(1)} MiB (raise maxBytes, shorten the sequence, or use Tbptt or Rtrl, whose memory does not grow with it)`, { bytes, limit: this.maxBytes, steps, batch });
    }
    g.reset();
    const paramVars = unroll.leaves(g, REQUIRES_GRAD);
    const initial = unroll.initialState(g, batch, paramVars, seq.initial, seq.initial !== null);
    const inputs = unroll.inputs(g, xs, seq, options.inputGrad === true);
    const run = unroll.scan(g, unroll.cellParams(paramVars), inputs, initial, seq.masks);
    const outSize = model.cell.outputSize;
    const outputs = mat(steps * batch, outSize);
    const terms = [];
    for (let t = 0; t < steps; t++) {
      const o = run.outputs[t].value;
      outputs.data.set(o.data.subarray(o.offset, o.offset + batch * outSize), t * batch * outSize);
      const term = loss.step?.(g, t, run.outputs[t], run.states[t]) ?? null;
      if (term !== null) terms.push(term);
    }
    const finalTerm = loss.final?.(g, run.final) ?? null;
    if (finalTerm !== null) terms.push(finalTerm);
    const finalState = stateValues(run.final);
    this.lastFinal = finalState.map(clone);
    const grad = new Float64Array(model.params.theta.length);
    const total = sumTerms(g, 'bptt', terms);
    const tapeBytes = g.recordedBytes();
    if (total !== null) {
      g.backward(total);
      unroll.scatter(paramVars, grad);
    }
    let inputGrad: Mat | null = null;
    if (options.inputGrad) inputGrad = total === null ? mat(xs.rows, xs.cols) : gatherGrads(inputs, mat(xs.rows, xs.cols));
    const fixed = seq.initial;
    const initialStateGrad = fixed === null || total === null ? null : initial.map((v, i) => initialGrad(v, fixed[i], batch));
    const value = total === null ? 0 : total.value.data[total.value.offset];
    return { loss: value, grad, outputs, finalState, inputGrad, initialStateGrad, tapeBytes };
  }
}

// d loss / d an explicit initial state: the leaf's gradient (batch x size), or
// summed over the batch when a 1 x size row was broadcast through addRow.
function initialGrad(v: { grad: Mat | null }, m: Mat, batch: number): Mat {
  if (m.rows === batch) return v.grad === null ? mat(m.rows, m.cols) : clone(v.grad);
  const out = mat(m.rows, m.cols);
  if (v.grad === null) return out;
  for (let r = 0; r < v.grad.rows; r++) {
    for (let c = 0; c < m.cols; c++) out.data[c] += v.grad.data[v.grad.offset + r * m.cols + c];
  }
  return out;
}
