import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Schedule, parseSchedule, scheduledRate } from '../../lib/optim/schedule.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { allFinite, applyPenalty, clipGlobalNorm, clipValue, globalNorm, weightMask } from '../../lib/optim/clip.js';
import { createParams } from '../../lib/cells/params.js';

const rates = (s: Schedule | null, lr: number, n: number): number[] => Array.from({ length: n }, (_, t) => scheduledRate(s, lr, t));
const near = (a: number[], b: number[]): void => {
  assert.is(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-12, `rate ${i}: ${v} != ${b[i]}`));
};

test('schedules: constant, step, exponential, cosine with warm-up', () => {
  near(rates(null, 0.5, 3), [0.5, 0.5, 0.5]);
  near(rates({ kind: 'step', every: 2, gamma: 0.5 }, 1, 5), [1, 1, 0.5, 0.5, 0.25]);
  near(rates({ kind: 'exponential', gamma: 0.9 }, 2, 3), [2, 1.8, 1.62]);
  const c = Math.cos(Math.PI / 4);
  near(rates({ kind: 'cosine', total: 4, warmup: 2 }, 1, 8), [0.5, 1, 1, (1 + c) / 2, 0.5, (1 - c) / 2, 0, 0]);
  near(rates({ kind: 'cosine', total: 2, minLr: 0.1 }, 1, 4), [1, 0.55, 0.1, 0.1]);
  near(rates({ kind: 'constant', warmup: 4 }, 1, 5), [0.25, 0.5, 0.75, 1, 1]);
});

test('the optimiser follows its schedule, counting updates', () => {
  const opt = new Optimizer({ kind: 'sgd', lr: 1, schedule: { kind: 'step', every: 1, gamma: 0.5 } });
  const theta = new Float64Array(1);
  const g = Float64Array.from([1]);
  for (let k = 0; k < 3; k++) opt.step(theta, g);
  assert.is(theta[0], -(1 + 0.5 + 0.25));
  assert.is(opt.learningRate(), 0.125);
});

test('parseSchedule reads the CLI forms and names what is wrong', () => {
  assert.equal(parseSchedule('step:100:0.5'), { kind: 'step', every: 100, gamma: 0.5 });
  assert.equal(parseSchedule('exp:0.99'), { kind: 'exponential', gamma: 0.99 });
  assert.equal(parseSchedule('cosine:1000:0.0001+warmup:50'), { kind: 'cosine', total: 1000, minLr: 0.0001, warmup: 50 });
  assert.equal(parseSchedule('constant'), { kind: 'constant' });
  assert.throws(() => parseSchedule('step:0:0.5'), /every must be an integer >= 1/);
  assert.throws(() => parseSchedule('exp:-1'), /gamma must be a positive number/);
  assert.throws(() => parseSchedule('cosine:x'), /total is not a number/);
  assert.throws(() => parseSchedule('linear'), /is not constant, step/);
  assert.throws(() => parseSchedule('exp:0.9+cooldown:3'), /warmup:N/);
});

test('clipGlobalNorm rescales only when the norm is above the threshold', () => {
  const g = Float64Array.from([3, 4]);
  assert.is(clipGlobalNorm(g, 1), 5);
  assert.ok(Math.abs(g[0] - 0.6) < 1e-15 && Math.abs(g[1] - 0.8) < 1e-15);
  const h = Float64Array.from([0.3, 0.4]);
  assert.is(clipGlobalNorm(h, 1), 0.5);
  assert.equal(Array.from(h), [0.3, 0.4]);
  assert.throws(() => clipGlobalNorm(g, 0), /maxNorm must be a positive number, got 0/);
  assert.throws(() => clipGlobalNorm(g, -1), /maxNorm/);
});

test('globalNorm does not overflow and reports non-finite entries', () => {
  assert.ok(Math.abs(globalNorm(Float64Array.from([1e200, 1e200])) / (Math.SQRT2 * 1e200) - 1) < 1e-15);
  assert.is(globalNorm(Float64Array.from([1, Infinity])), Infinity);
  assert.ok(Number.isNaN(globalNorm(Float64Array.from([NaN, 1]))));
  assert.is(globalNorm(new Float64Array(3)), 0);
  assert.ok(allFinite(Float64Array.from([1, 2])));
  assert.not.ok(allFinite(Float64Array.from([1, NaN])));
});

test('clipValue clamps each entry and counts them', () => {
  const g = Float64Array.from([-3, 0.5, 2, -0.1]);
  assert.is(clipValue(g, 1), 2);
  assert.equal(Array.from(g), [-1, 0.5, 1, -0.1]);
  assert.throws(() => clipValue(g, 0), /limit must be a positive number/);
});

test('L1 and L2 penalties: value and gradient, with a mask', () => {
  const theta = Float64Array.from([2, -1, 0, 3]);
  const grad = new Float64Array(4);
  const value = applyPenalty(theta, grad, { l1: 0.1, l2: 0.5, mask: Float64Array.from([1, 1, 1, 0]) });
  // L1: 0.1·(2 + 1 + 0); L2: 0.25·(4 + 1 + 0)
  assert.ok(Math.abs(value - (0.3 + 1.25)) < 1e-15);
  assert.equal(Array.from(grad), [0.5 * 2 + 0.1, 0.5 * -1 - 0.1, 0, 0]);
  assert.throws(() => applyPenalty(theta, grad, { l2: -1 }), /l2 must be a number >= 0/);
  assert.is(applyPenalty(theta, grad, {}), 0);
});

test('weightMask spares biases and learned initial states', () => {
  const params = createParams([
    { name: 'weight_ih', rows: 2, cols: 1, role: 'weight' }, { name: 'bias_ih', rows: 1, cols: 2, role: 'bias' }, { name: 'init_h', rows: 1, cols: 2, role: 'initial' }, { name: 'weight_out', rows: 1, cols: 2, role: 'weight' },
  ]);
  assert.equal(Array.from(weightMask(params)), [1, 1, 0, 0, 0, 0, 1, 1]);
});

test.run();
