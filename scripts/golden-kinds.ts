// How each kind of golden file is reproduced with loopgrad.
import type { Tensor } from '../lib/io/safetensors.js';
import { PYTORCH_MODULES, type PytorchModule, fromPytorchStates, loadPytorchParams, pytorchNames, pytorchRnn, pytorchStates } from '../lib/io/pytorch.js';
import { type Mat, matFrom, rowsView } from '../lib/mat/mat.js';
import { createCell } from '../lib/cells/registry.js';
import { createModel } from '../lib/rnn/model.js';
import { Rtrl } from '../lib/rnn/rtrl.js';
import { Bptt } from '../lib/rnn/bptt.js';
import { createLayerParams, gridBptt, mdScan, mdTanh } from '../lib/arch/mdrnn.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { ctcLoss, ctcLossGradLogProbs, ctcLossGradLogits } from '../lib/loss/ctc.js';

export interface Comparison {
  name: string;
  /** max |actual - expected| / max |expected| (NaN/Infinity must match exactly). */
  relError: number;
  tolerance?: number;
}

export class Unsupported extends Error {}

export function compare(name: string, actual: ArrayLike<number>, expected: Tensor): Comparison {
  const e = expected.data;
  if (actual.length !== e.length) throw new Error(`${name}: ${actual.length} values computed, ${e.length} expected`);
  let scale = 0, diff = 0;
  for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i])) scale = Math.max(scale, Math.abs(e[i]));
  for (let i = 0; i < e.length; i++) {
    const a = actual[i], x = e[i];
    if (!Number.isFinite(x) || !Number.isFinite(a)) {
      if (!(Object.is(a, x) || (Number.isNaN(a) && Number.isNaN(x)))) diff = Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(a - x));
  }
  return { name, relError: scale === 0 ? diff : diff / scale };
}

function isPytorchModule(name: string | undefined): name is PytorchModule {
  return name !== undefined && Object.prototype.hasOwnProperty.call(PYTORCH_MODULES, name);
}

function need(tensors: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const t = tensors.get(name);
  if (t === undefined) throw new Error(`tensor "${name}" is missing`);
  return t;
}

/** A (d0, d1, ..., dn) tensor as a (d0·...·d(n-1)) x dn matrix. */
function asMat(t: Tensor): Mat {
  const cols = t.shape[t.shape.length - 1];
  return matFrom(t.data.length / cols, cols, t.data);
}

/** Upstream G as a loss: Σ_t dot(output_t, G_t) + Σ_i dot(final state_i, G_i). */
function upstreamLoss(output: Mat | null, finals: (Mat | null)[], batch: number): SequenceLoss {
  return {
    step: output === null ? undefined : (g, t, out) => g.dot(out, g.constant(rowsView(output, t * batch, batch))),
    final: (g, state) => {
      let total = null;
      for (let i = 0; i < finals.length; i++) {
        const G = finals[i];
        if (G === null) continue;
        const term = g.dot(state[i], g.constant(G));
        total = total === null ? term : g.add(total, term);
      }
      return total;
    },
  };
}

export function checkRnnFile(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): Comparison[] {
  if (metadata.batch_first === 'true') throw new Unsupported('batch_first');
  if (!isPytorchModule(metadata.module)) throw new Unsupported(`module "${metadata.module}"`);
  const numLayers = Number(metadata.num_layers ?? '1');
  const bidirectional = metadata.bidirectional === 'true';
  const cell = pytorchRnn({
    module: metadata.module,
    inputSize: Number(metadata.input_size),
    hiddenSize: Number(metadata.hidden_size),
    numLayers,
    bidirectional,
    bias: metadata.bias !== 'false',
    nonlinearity: (metadata.nonlinearity ?? 'tanh') as 'tanh' | 'relu',
  });
  const batch = Number(metadata.batch);
  const isLstm = metadata.module === 'LSTM';
  const model = createModel(cell);
  loadPytorchParams(model.params, tensors, { prefix: 'param/', cell });
  const xs = asMat(need(tensors, 'input/x'));
  const initial = fromPytorchStates(cell, batch, asMat(need(tensors, 'input/h0')), isLstm ? asMat(need(tensors, 'input/c0')) : null);
  const finals = fromPytorchStates(cell, batch, asMat(need(tensors, 'upstream/h_n')), isLstm ? asMat(need(tensors, 'upstream/c_n')) : null);
  const lengths = metadata.packed === 'true' ? need(tensors, 'input/lengths').data : null;
  if (metadata.packed === 'true' && lengths === null) throw new Error('packed file without input/lengths');
  const loss = upstreamLoss(asMat(need(tensors, 'upstream/output')), finals, batch);
  const result = new Bptt(model).run(xs, loss, { batch, initialState: initial, inputGrad: true, lengths });
  const finalStates = pytorchStates(cell, result.finalState);
  const initialGrads = pytorchStates(cell, result.initialStateGrad!);
  const out: Comparison[] = [
    compare('expected/output', result.outputs.data, need(tensors, 'expected/output')),
    compare('expected/h_n', finalStates.h.data, need(tensors, 'expected/h_n')),
  ];
  if (isLstm) out.push(compare('expected/c_n', finalStates.c!.data, need(tensors, 'expected/c_n')));
  pytorchNames(cell.paramSpecs).forEach((name, i) => {
    const n = model.params.specs[i].rows * model.params.specs[i].cols;
    out.push(compare(`grad/${name}`, result.grad.subarray(model.params.offsets[i], model.params.offsets[i] + n), need(tensors, `grad/${name}`)));
  });
  out.push(compare('grad/x', result.inputGrad!.data, need(tensors, 'grad/x')));
  out.push(compare('grad/h0', initialGrads.h.data, need(tensors, 'grad/h0')));
  if (isLstm) out.push(compare('grad/c0', initialGrads.c!.data, need(tensors, 'grad/c0')));
  return out;
}

export function checkRtrlFile(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): Comparison[] {
  const inputSize = Number(metadata.input_size), hiddenSize = Number(metadata.hidden_size);
  if (!isPytorchModule(metadata.module)) throw new Unsupported(`module "${metadata.module}"`);
  const cell = createCell(PYTORCH_MODULES[metadata.module], { inputSize, hiddenSize });
  const order = cell.paramSpecs.map((s) => `${s.name}_l0`).join(',');
  if (metadata.theta_order !== order) throw new Unsupported(`theta order ${metadata.theta_order} (loopgrad's is ${order})`);
  const model = createModel(cell);
  loadPytorchParams(model.params, tensors, { prefix: 'param/' });
  const xs = asMat(need(tensors, 'input/x'));
  const initial = [asMat(need(tensors, 'input/h0'))];
  if (metadata.module === 'LSTM') initial.push(asMat(need(tensors, 'input/c0')));
  const upstream = asMat(need(tensors, 'upstream/states'));
  const H = hiddenSize;
  const loss: SequenceLoss = {
    step: (g, t, _out, state) => {
      let total = null;
      for (let i = 0; i < state.length; i++) {
        const term = g.dot(state[i], g.constant(matFrom(1, H, upstream.data, t * upstream.cols + i * H)));
        total = total === null ? term : g.add(total, term);
      }
      return total;
    },
  };
  const steps = xs.rows;
  const P = model.params.theta.length;
  const stateSize = H * cell.stateSizes.length;
  const sensitivity = new Float64Array(steps * stateSize * P);
  const rtrl = new Rtrl(model);
  rtrl.reset({ initialState: initial });
  for (let t = 0; t < steps; t++) {
    rtrl.step(rowsView(xs, t, 1), loss, t === steps - 1);
    rtrl.sensitivity.forEach((S, i) => sensitivity.set(S.data, (t * stateSize + i * H) * P));
  }
  return [
    compare('expected/sensitivity', sensitivity, need(tensors, 'expected/sensitivity')),
    compare('grad/theta', rtrl.grad, need(tensors, 'grad/theta')),
  ];
}

export function checkCtcFile(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): Comparison[] {
  const logProbs = need(tensors, 'input/log_probs'), logits = need(tensors, 'input/logits');
  const [T, N, C] = logProbs.shape;
  const targets = need(tensors, 'input/targets');
  const options = {
    T, N, C,
    targets: targets.data,
    paddedTargetLength: targets.shape.length === 2 ? targets.shape[1] : undefined,
    inputLengths: need(tensors, 'input/input_lengths').data,
    targetLengths: need(tensors, 'input/target_lengths').data,
    blank: Number(metadata.blank ?? 0),
    reduction: 'none' as const,
    zeroInfinity: metadata.zero_infinity === 'true',
  };
  const { losses } = ctcLoss(logProbs.data, options);
  const gLogProbs = ctcLossGradLogProbs(logProbs.data, options, { gy: 1 });
  const gLogits = ctcLossGradLogits(logits.data, options, { gy: 1 });
  return [
    compare('expected/loss', losses, need(tensors, 'expected/loss')),
    compare('grad/log_probs', gLogProbs.grad, need(tensors, 'grad/log_probs')),
    compare('grad/logits', gLogits.grad, need(tensors, 'grad/logits')),
  ];
}

/** kind "mdrnn": a 2-D tanh MDRNN scanned from the top-left corner, loss sum(output * upstream). */
export function checkMdrnnFile(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): Comparison[] {
  if ((metadata.dims ?? '2') !== '2') throw new Unsupported(`${metadata.dims} dimensions`);
  const x = need(tensors, 'input/x');
  if (x.shape.length !== 3) throw new Error(`input/x has shape [${x.shape.join(', ')}], expected (rows, cols, input)`);
  const [height, width, inputSize] = x.shape;
  const W = need(tensors, 'param/W');
  const hiddenSize = W.shape[0];
  const cell = mdTanh({ inputSize, hiddenSize, bias: tensors.has('param/b') });
  const layer = mdScan(cell, 'top-left');
  const params = createLayerParams(layer);
  cell.paramSpecs.forEach((spec, i) => {
    const t = need(tensors, `param/${spec.name}`);
    if (t.data.length !== spec.rows * spec.cols) throw new Error(`param/${spec.name} has shape [${t.shape.join(', ')}], expected ${spec.rows}x${spec.cols}`);
    params.theta.set(t.data, params.offsets[i]);
  });
  const upstream = asMat(need(tensors, 'upstream/output'));
  const result = gridBptt(layer, params, asMat(x), { height, width }, (g, out) => {
    let total = null;
    for (let p = 0; p < out.cells.length; p++) {
      const term = g.dot(out.cells[p], g.constant(rowsView(upstream, p, 1)));
      total = total === null ? term : g.add(total, term);
    }
    return total!;
  }, { inputGrad: true });
  const out: Comparison[] = [compare('expected/output', result.outputs.data, need(tensors, 'expected/output'))];
  cell.paramSpecs.forEach((spec, i) => {
    out.push(compare(`grad/${spec.name}`, result.grad.subarray(params.offsets[i], params.offsets[i] + spec.rows * spec.cols), need(tensors, `grad/${spec.name}`)));
  });
  out.push(compare('grad/x', result.inputGrad!.data, need(tensors, 'grad/x')));
  return out;
}
