import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Optimizer, type OptimizerConfig, type OptimizerState } from '../../lib/optim/optimizer.js';
import { HAND_COMPUTED } from '../tolerances.js';

const close = (actual: number, expected: number, tol = HAND_COMPUTED, what = ''): void => {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what} ${actual} != ${expected}`);
};

function run(config: OptimizerConfig, theta0: number[], grads: number[][]): number[][] {
  const opt = new Optimizer(config);
  const theta = Float64Array.from(theta0);
  const out: number[][] = [];
  for (const g of grads) {
    opt.step(theta, Float64Array.from(g));
    out.push(Array.from(theta));
  }
  return out;
}

test('sgd: θ -= lr g', () => {
  const [t1] = run({ kind: 'sgd', lr: 0.1 }, [1, -2], [[0.5, 1]]);
  close(t1[0], 0.95); close(t1[1], -2.1);
});

test('sgd with momentum: b = μ b + g, θ -= lr b (two steps by hand)', () => {
  // b1 = 0.5, θ1 = 1 - 0.05 = 0.95; b2 = 0.45 - 1 = -0.55, θ2 = 0.95 + 0.055 = 1.005
  const [t1, t2] = run({ kind: 'sgd', lr: 0.1, momentum: 0.9 }, [1], [[0.5], [-1]]);
  close(t1[0], 0.95); close(t2[0], 1.005);
});

test('sgd with Nesterov: θ -= lr (g + μ b) (two steps by hand)', () => {
  // b1 = 0.5, θ1 = 1 - 0.1·(0.5 + 0.45) = 0.905; b2 = -0.55, θ2 = 0.905 - 0.1·(-1 - 0.495) = 1.0545
  const [t1, t2] = run({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, [1], [[0.5], [-1]]);
  close(t1[0], 0.905); close(t2[0], 1.0545);
});

test('adam: two steps against hand-computed values', () => {
  // t=1: m̂ = 0.5, v̂ = 0.25, θ = 1 - 0.1·0.5/(0.5 + 1e-8)
  // t=2: m = -0.055, v = 0.00124975, m̂ = -0.055/0.19, v̂ = 0.00124975/0.001999
  const [t1, t2] = run({ kind: 'adam', lr: 0.1 }, [1], [[0.5], [-1]]);
  close(t1[0], 0.900000002, 1e-15);
  close(t2[0], 0.9366103542405654, 1e-14);
});

test('rmsprop and adagrad: two steps against hand-computed values', () => {
  const rms = run({ kind: 'rmsprop', lr: 0.01 }, [1], [[0.5], [0.5]]);
  close(rms[0][0], 0.900000019999996, 1e-14);
  close(rms[1][0], 0.8291119095494123, 1e-14);
  const ada = run({ kind: 'adagrad', lr: 0.1 }, [1], [[0.5], [1]]);
  close(ada[0][0], 0.90000000002, 1e-14);
  close(ada[1][0], 0.8105572809280084, 1e-14);
});

test('rmsprop with momentum: b = μ b + g/(√v + ε), θ -= lr b', () => {
  const [t1, t2] = run({ kind: 'rmsprop', lr: 0.01, momentum: 0.5, eps: 1e-8 }, [1], [[0.5], [0.5]]);
  const b1 = 0.5 / (Math.sqrt(0.0025) + 1e-8);
  const v2 = 0.99 * 0.0025 + 0.0025;
  const b2 = 0.5 * b1 + 0.5 / (Math.sqrt(v2) + 1e-8);
  close(t1[0], 1 - 0.01 * b1); close(t2[0], 1 - 0.01 * b1 - 0.01 * b2);
});

test("adamw's decay is decoupled: with a zero gradient θ shrinks by lr·λ, masked entries do not", () => {
  const opt = new Optimizer({ kind: 'adamw', lr: 0.1, weightDecay: 0.5 });
  opt.decayMask = Float64Array.from([1, 0]);
  const theta = Float64Array.from([2, 2]);
  opt.step(theta, new Float64Array(2));
  close(theta[0], 2 * (1 - 0.05)); close(theta[1], 2);
  // An L2 penalty through Adam is normalised away: the step is lr-sized whatever λ.
  const adam = new Optimizer({ kind: 'adam', lr: 0.1 });
  const t2 = Float64Array.from([2]);
  adam.step(t2, Float64Array.from([0.5 * 2]));
  close(t2[0], 2 - 0.1, 1e-7);
});

const configs: OptimizerConfig[] = [
  { kind: 'sgd', lr: 0.05 },
  { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
  { kind: 'adam', lr: 0.01, schedule: { kind: 'cosine', total: 10, warmup: 2 } },
  { kind: 'adamw', lr: 0.01, weightDecay: 0.1 },
  { kind: 'rmsprop', lr: 0.01, momentum: 0.3 },
  { kind: 'adagrad', lr: 0.1, initialAccumulator: 0.1 },
];

for (const config of configs) {
  test(`${config.kind}${config.momentum ? ' (momentum)' : ''}: saved state restores an identical continuation through JSON`, () => {
    const grads = (k: number) => Float64Array.from([Math.sin(k), Math.cos(3 * k), 0.1 * k - 0.3]);
    const a = new Optimizer(config);
    const theta = Float64Array.from([0.3, -0.7, 1.1]);
    for (let k = 0; k < 3; k++) a.step(theta, grads(k));
    const saved: OptimizerState = JSON.parse(JSON.stringify(a.saveState()));
    const thetaB = theta.slice();
    const b = Optimizer.fromState(saved);
    const c = new Optimizer(config);
    c.loadState(saved);
    const thetaC = theta.slice();
    for (let k = 3; k < 7; k++) {
      a.step(theta, grads(k)); b.step(thetaB, grads(k)); c.step(thetaC, grads(k));
    }
    assert.equal(Array.from(thetaB), Array.from(theta));
    assert.equal(Array.from(thetaC), Array.from(theta));
    assert.is(b.steps, 7);
    assert.equal(b.saveState(), a.saveState());
  });
}

test('a state saved before the first step restores too', () => {
  const a = new Optimizer({ kind: 'adam', lr: 0.1 });
  const b = Optimizer.fromState(JSON.parse(JSON.stringify(a.saveState())));
  const ta = Float64Array.from([1, 2]), tb = ta.slice();
  a.step(ta, Float64Array.from([1, -1])); b.step(tb, Float64Array.from([1, -1]));
  assert.equal(Array.from(tb), Array.from(ta));
});

test('bad hyperparameters throw Errors naming the option', () => {
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: -0.1 }), /sgd: lr must be/);
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: NaN }), /lr/);
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: 0.1, nesterov: true }), /nesterov needs momentum/);
  assert.throws(() => new Optimizer({ kind: 'sgd', lr: 0.1, momentum: 1 }), /momentum must be a number in \[0, 1\)/);
  assert.throws(() => new Optimizer({ kind: 'adam', lr: 0.1, beta2: 1.5 }), /beta2/);
  assert.throws(() => new Optimizer({ kind: 'rmsprop', lr: 0.1, eps: 0 }), /rmsprop: eps must be a number in \(0, ∞\), got 0/);
  assert.throws(() => new Optimizer({ kind: 'adam', lr: 0.1, weightDecay: 0.1 }), /use an L2 penalty/);
  assert.throws(() => new Optimizer({ kind: 'adam', lr: 0.1, momentum: 0.9 }), /adam: unknown option "momentum" \(accepted: kind, lr, beta1, beta2, eps, weightDecay, schedule\)/);
  assert.throws(() => new Optimizer({ kind: 'lbfgs' as never, lr: 0.1 }), /unknown kind "lbfgs"/);
  const opt = new Optimizer({ kind: 'adam', lr: 0.1 });
  assert.throws(() => opt.step(new Float64Array(3), new Float64Array(2)), /theta has 3 numbers but grad has 2/);
  opt.step(new Float64Array(3), new Float64Array(3));
  assert.throws(() => opt.step(new Float64Array(4), new Float64Array(4)), /state is for 3/);
});

test('loadState refuses a state from a different optimiser or with broken buffers', () => {
  const adam = new Optimizer({ kind: 'adam', lr: 0.1 });
  adam.step(new Float64Array(2), Float64Array.from([1, 1]));
  const state = adam.saveState();
  assert.throws(() => new Optimizer({ kind: 'adam', lr: 0.2 }).loadState(state), /saved state is for/);
  assert.throws(() => Optimizer.fromState({ ...state, buffers: { m: [0, 0] } }), /keeps buffers \[m, v\]/);
  assert.throws(() => Optimizer.fromState({ ...state, buffers: { m: [0, 0], v: [0] } }), /buffer v has 1 numbers/);
  assert.throws(() => Optimizer.fromState({ ...state, format: 'other' } as never), /not a loopgrad optimiser state/);
});

test('fromState refuses null, true, "1" and [] where numbers belong, naming the field', () => {
  const a = new Optimizer({ kind: 'adam', lr: 0.1 });
  a.step(Float64Array.from([1, 2]), Float64Array.from([0.5, -0.5]));
  const saved = JSON.stringify(a.saveState());
  const broken = (change: (s: Record<string, any>) => void): OptimizerState => {
    const s = JSON.parse(saved) as Record<string, any>;
    change(s);
    return s as OptimizerState;
  };
  for (const [bad, shown] of [[null, 'null'], [true, 'true'], ['1', '"1"'], [[], '[]']] as const) {
    const is = (message: string) => (e: Error) => e.message === message;
    assert.throws(() => Optimizer.fromState(broken((s) => { s.buffers.v[1] = bad; })), is(`Optimizer.fromState: buffer v[1] is ${shown}, not a finite number`), `buffer ${shown}`);
    assert.throws(() => Optimizer.fromState(broken((s) => { s.buffers.m[0] = bad; })), is(`Optimizer.fromState: buffer m[0] is ${shown}, not a finite number`), `buffer ${shown}`);
    assert.throws(() => Optimizer.fromState(broken((s) => { s.steps = bad; })), is(`Optimizer.fromState: steps must be an integer >= 0, got ${shown}`), `steps ${shown}`);
    assert.throws(() => Optimizer.fromState(broken((s) => { s.config.lr = bad; })), is(`adam: lr must be a number in [0, ∞), got ${shown}`), `lr ${shown}`);
    assert.throws(() => Optimizer.fromState(broken((s) => { s.config.beta1 = bad; })), is(`adam: beta1 must be a number in [0, 1), got ${shown}`), `beta1 ${shown}`);
    assert.throws(() => Optimizer.fromState(broken((s) => { s.buffers = bad; })), /Optimizer.fromState: buffers must be an object of number arrays by name, got /, `buffers ${shown}`);
  }
  assert.throws(() => Optimizer.fromState(broken((s) => { s.extra = 1; })), /Optimizer.fromState: unknown option "extra" \(accepted: format, version, config, steps, buffers\)/);
  // The unbroken state still loads.
  assert.is(Optimizer.fromState(JSON.parse(saved) as OptimizerState).steps, 1);
});

test('saveState writes the options of its kind; a state that lists every option at its default (as saved before) still loads', () => {
  const a = new Optimizer({ kind: 'adam', lr: 0.1 });
  assert.equal(Object.keys(a.saveState().config), ['kind', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay']);
  assert.equal(Object.keys(new Optimizer({ kind: 'sgd', lr: 0.1, schedule: { kind: 'constant' } }).saveState().config), ['kind', 'lr', 'momentum', 'nesterov', 'weightDecay', 'schedule']);
  const legacy = {
    format: 'loopgrad-optimizer', version: 1, steps: 0, buffers: {},
    config: { kind: 'adam', lr: 0.1, momentum: 0, nesterov: false, beta1: 0.9, beta2: 0.999, alpha: 0.99, eps: 1e-8, weightDecay: 0, initialAccumulator: 0 },
  } as OptimizerState;
  assert.equal(Optimizer.fromState(legacy).config, a.config);
  // An unused option away from its default is not what saveState wrote: refused, not dropped.
  assert.throws(() => Optimizer.fromState({ ...legacy, config: { ...legacy.config, alpha: 0.5 } }), /adam: unknown option "alpha"/);
});

test.run();
