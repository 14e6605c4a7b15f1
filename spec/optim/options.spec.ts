// Options that are not understood are refused, naming the key and the accepted
// ones, instead of being silently ignored ({ kind: 'adam', amsgrad: true } used to
// run plain Adam); and lib/'s integer checks are one function with one message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dense } from '../../lib/cells/dense.js';
import { elman } from '../../lib/cells/elman.js';
import { gru } from '../../lib/cells/gru.js';
import { jordan } from '../../lib/cells/jordan.js';
import { lstm } from '../../lib/cells/lstm.js';
import { narx } from '../../lib/cells/narx.js';
import { tdnn } from '../../lib/cells/tdnn.js';
import { checkInt, checkKeys } from '../../lib/mat/options.js';
import { mat } from '../../lib/mat/mat.js';
import { Optimizer, type OptimizerConfig } from '../../lib/optim/optimizer.js';
import { type Schedule, checkSchedule } from '../../lib/optim/schedule.js';
import { applyPenalty, checkPenalty } from '../../lib/optim/clip.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { gradientFlow } from '../../lib/rnn/diagnose.js';
import { stacked } from '../../lib/arch/stacked.js';
import { copyTask } from '../../lib/tasks/copy.js';
import { speechTask } from '../../lib/tasks/speech.js';
import { Rng } from '../../lib/mat/rng.js';
import { trainCtc } from '../../lib/train/ctc.js';
import { pytorchRnn } from '../../lib/io/pytorch.js';
import { mdLstm, mdTanh } from '../../lib/arch/mdrnn.js';
import { gridSubsample, subsample } from '../../lib/arch/subsampling.js';
import { addingTask } from '../../lib/tasks/adding.js';
import { parityTask } from '../../lib/tasks/parity.js';
import { reberTask } from '../../lib/tasks/reber.js';
import { temporalOrderTask } from '../../lib/tasks/temporal-order.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { trainTask } from '../../lib/train/run-task.js';
import { train } from '../../lib/train/trainer.js';

test('checkKeys names the unknown key and the accepted ones, and refuses a non-object', () => {
  checkKeys('op', { a: 1, b: undefined }, ['a', 'b', 'c']);
  assert.throws(() => checkKeys('op', { a: 1, d: 2 }, ['a', 'b']), /^op: unknown option "d" \(accepted: a, b\)$/);
  assert.throws(() => checkKeys('op', { d: undefined }, ['a']), /unknown option "d"/);
  for (const bad of [null, undefined, 3, 'a', [1]]) assert.throws(() => checkKeys('op', bad, ['a']), /op: options must be an object, got/);
});

test('optimiser configs: an option the kind does not use is refused', () => {
  assert.throws(() => new Optimizer({ kind: 'adam', lr: 0.1, amsgrad: true } as OptimizerConfig),
    (e: Error) => e.message === 'adam: unknown option "amsgrad" (accepted: kind, lr, beta1, beta2, eps, weightDecay, schedule)');
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: 0.1, beta1: 0.5 }), /sgd: unknown option "beta1" \(accepted: kind, lr, momentum, nesterov, weightDecay, schedule\)/);
  assert.throws(() => new Optimizer({ kind: 'rmsprop', lr: 0.1, momentum: 0.5, nesterov: true }), /rmsprop: unknown option "nesterov"/);
  assert.throws(() => new Optimizer({ kind: 'adagrad', lr: 0.1, alpha: 0.9 }), /adagrad: unknown option "alpha" \(accepted: kind, lr, eps, initialAccumulator, weightDecay, schedule\)/);
  assert.throws(() => new Optimizer({ kind: 'adamw', lr: 0.1, weight_decay: 0.1 } as OptimizerConfig), /adamw: unknown option "weight_decay"/);
  // What each kind does use still works, the schedule included.
  new Optimizer({ kind: 'rmsprop', lr: 0.1, alpha: 0.9, eps: 1e-6, momentum: 0.5, schedule: { kind: 'constant', warmup: 2 } });
});

test('schedules, penalties: unknown fields are refused per kind', () => {
  assert.throws(() => checkSchedule({ kind: 'step', every: 2, gamma: 0.5, minLr: 0 } as Schedule), /schedule step: unknown option "minLr" \(accepted: kind, every, gamma, warmup\)/);
  assert.throws(() => checkSchedule({ kind: 'cosine', total: 5, warmUp: 2 } as Schedule), /schedule cosine: unknown option "warmUp" \(accepted: kind, total, minLr, warmup\)/);
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: 1, schedule: { kind: 'constant', gamma: 0.5 } as Schedule }), /schedule constant: unknown option "gamma"/);
  assert.throws(() => checkPenalty({ l2: 0.1, l3: 1 } as never), /penalty: unknown option "l3" \(accepted: l1, l2, mask\)/);
  assert.throws(() => applyPenalty(new Float64Array(1), new Float64Array(1), { lambda: 1 } as never), /penalty: unknown option "lambda"/);
});

test('every cell refuses an option it does not have', () => {
  const cases: [string, () => unknown][] = [
    ['dense', () => dense({ inputSize: 2, outputSize: 2, bias: false } as never)],
    ['elman', () => elman({ inputSize: 2, hiddenSize: 2, nonlinearity: 'relu' } as never)],
    ['gru', () => gru({ inputSize: 2, hiddenSize: 2, peephole: true } as never)],
    ['jordan', () => jordan({ inputSize: 2, hiddenSize: 2, outputSize: 1, bias: true } as never)],
    ['lstm', () => lstm({ inputSize: 2, hiddenSize: 2, forget_bias: 1 } as never)],
    ['narx', () => narx({ inputSize: 1, outputSize: 1, hiddenSize: 2, outputDelays: 1, delays: 2 } as never)],
    ['tdnn', () => tdnn({ inputSize: 1, outputSize: 1, taps: 2, stride: 2 } as never)],
  ];
  for (const [op, make] of cases) assert.throws(make, new RegExp(`^${op}: unknown option "\\w+" \\(accepted: inputSize, `), op);
  assert.throws(() => lstm({ inputSize: 2, hiddenSize: 2, forget_bias: 1 } as never),
    (e: Error) => e.message === 'lstm: unknown option "forget_bias" (accepted: inputSize, hiddenSize, bias, peephole, forgetBias)');
  assert.throws(() => gru(undefined as never), /gru: options must be an object, got undefined/);
});

test('stacked, createModel, train and trainTask refuse unknown options', () => {
  const cell = elman({ inputSize: 1, hiddenSize: 2 });
  assert.throws(() => stacked([cell], { dropOut: 0.5 } as never), /stacked: unknown option "dropOut" \(accepted: dropout, seed\)/);
  assert.throws(() => createModel(cell, { initial_state: 'learned' } as never), /createModel: unknown option "initial_state" \(accepted: initialState, seed, theta\)/);
  const model = createModel(cell);
  const optimizer = new Optimizer({ kind: 'sgd', lr: 0.1 });
  const next = () => ({ xs: mat(2, 1), batch: 1, loss: {} });
  assert.throws(() => train(model, { method: { kind: 'bptt' }, optimizer, iterations: 1, next, clipnorm: 1 } as never), /train: unknown option "clipnorm" \(accepted: method, optimizer, iterations, next, clipNorm, /);
  assert.is(train(model, { method: { kind: 'bptt' }, optimizer, iterations: 1, next }).iterations, 1);
  assert.throws(() => trainTask({ task: 'adding', cell: 'elman', hidden: 4, batch: 4, iterations: 1, lr: 0.1, learningRate: 0.1 } as never), /trainTask: unknown option "learningRate" \(accepted: task, steps, cell, hidden, /);
});

test('one integer check: the same message from cells, tasks, schedules, trainCtc, diagnostics and optimiser states', () => {
  assert.is(checkInt('op', 'n', 3), 3);
  assert.is(checkInt('op', 'n', 0, 0), 0);
  for (const [bad, shown] of [[0, '0'], [2.5, '2.5'], [NaN, 'NaN'], ['3', '"3"'], [null, 'null'], [true, 'true'], [undefined, 'undefined']] as const) {
    assert.throws(() => checkInt('op', 'n', bad), (e: Error) => e.message === `op: n must be an integer >= 1, got ${shown}`);
  }
  assert.throws(() => lstm({ inputSize: 2, hiddenSize: '3' as never }), /lstm: hiddenSize must be an integer >= 1, got "3"/);
  assert.throws(() => copyTask({ delay: 2, symbols: 1 }), /copy: symbols must be an integer >= 2, got 1/);
  assert.throws(() => copyTask({ delay: 2 }).batch(new Rng(1), 1.5), /batch size must be an integer >= 1, got 1.5/);
  assert.throws(() => speechTask({ features: 0 }), /speechTask: features must be an integer >= 1, got 0/);
  assert.throws(() => trainCtc({ layers: 0 }), /trainCtc: layers must be an integer >= 1, got 0/);
  assert.throws(() => checkSchedule({ kind: 'constant', warmup: -1 }), /schedule constant: warmup must be an integer >= 0, got -1/);
  assert.throws(() => checkSchedule({ kind: 'cosine', total: 0 }), /schedule cosine: total must be an integer >= 1, got 0/);
  assert.throws(() => pytorchRnn({ module: 'GRU', inputSize: 2, hiddenSize: 2, numLayers: 1.5 }), /pytorchRnn: numLayers must be an integer >= 1, got 1.5/);
  assert.throws(() => pytorchRnn({ module: 'GRU', inputSize: 2, hiddenSize: 2, num_layers: 2 } as never), /pytorchRnn: unknown option "num_layers" \(accepted: module, inputSize, /);
  assert.throws(() => new Bptt(createModel(lstm({ inputSize: 2, hiddenSize: 2 }))).run(mat(4, 2), {}, { batch: 0 }), /bptt: batch must be an integer >= 1, got 0/);
  assert.throws(() => sequenceLoss({ kind: 'mse', targets: mat(4, 1), mask: null, batch: 2.5 }), /sequenceLoss: batch must be an integer >= 1, got 2.5/);
  assert.throws(() => gradientFlow(createModel(elman({ inputSize: 1, hiddenSize: 2 })), { steps: 1.5 }), /gradientFlow: steps must be an integer >= 1, got 1.5/);
});

test('grid cells, subsampling layers, tasks, trainCtc and gradientFlow refuse unknown options too', () => {
  const cases: [string, () => unknown][] = [
    ['mdTanh', () => mdTanh({ inputSize: 2, hiddenSize: 2, peephole: true } as never)],
    ['mdLstm', () => mdLstm({ inputSize: 2, hiddenSize: 2, bias: false } as never)],
    ['subsample', () => subsample({ inputSize: 2, outputSize: 2, window: 2, stride: 2 } as never)],
    ['gridSubsample', () => gridSubsample({ inputSize: 2, outputSize: 2, window: [2, 2], stride: 1 } as never)],
    ['addingTask', () => addingTask({ steps: 10, length: 10 } as never)],
    ['copyTask', () => copyTask({ delay: 5, steps: 5 } as never)],
    ['parityTask', () => parityTask({ steps: 4, bits: 4 } as never)],
    ['reberTask', () => reberTask({ embeded: true } as never)],
    ['temporalOrderTask', () => temporalOrderTask({ steps: 20, classes: 4 } as never)],
    ['speechTask', () => speechTask({ label: 8 } as never)],
    ['trainCtc', () => trainCtc({ hiden: 8 } as never)],
    ['gradientFlow', () => gradientFlow(createModel(elman({ inputSize: 1, hiddenSize: 2 })), { steps: 3, step: 3 } as never)],
  ];
  for (const [op, make] of cases) assert.throws(make, new RegExp(`^${op}: unknown option "\\w+" \\(accepted: `), op);
});

test.run();
