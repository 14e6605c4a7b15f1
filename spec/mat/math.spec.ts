// The portable elementary functions: within a few ulp of the engine's, exact
// at the special values, and built so that every engine gives the same bits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as pm from '../../lib/mat/math.js';
import { Rng } from '../../lib/mat/rng.js';

function ulps(a: number, b: number): number {
  if (Object.is(a, b)) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(b) * 2.220446049250313e-16, 5e-324);
}

const rng = new Rng(31);
const sample = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => rng.uniform(lo, hi));

const cases: [string, (x: number) => number, (x: number) => number, number[], number][] = [
  ['exp', pm.exp, Math.exp, sample(20000, -700, 700), 1.5],
  ['log', pm.log, Math.log, [...sample(10000, 0, 10), ...sample(10000, 0, 1e300), ...sample(5000, -700, 700).map(Math.exp), 1e-310, 3e-320, 5e-324, 1.0000001, 0.9999999, Math.SQRT2, Math.SQRT1_2, Number.MAX_VALUE], 2.5],
  ['log1p', pm.log1p, Math.log1p, [...sample(20000, -0.999, 10), 1e-10, -1e-12], 3],
  ['expm1', pm.expm1, Math.expm1, [...sample(20000, -50, 50), 1e-12, -1e-9], 3],
  ['tanh', pm.tanh, Math.tanh, [...sample(20000, -25, 25), 1e-10, -3e-8], 3],
  ['cos', pm.cos, Math.cos, sample(20000, -1000, 1000), 2],
  ['pow(x, 0.37)', (x) => pm.pow(x, 0.37), (x) => Math.pow(x, 0.37), sample(5000, 1e-3, 1e3), 4],
  ['pow(x, 7)', (x) => pm.pow(x, 7), (x) => Math.pow(x, 7), sample(5000, -3, 3), 8],
];

for (const [name, mine, engine, inputs, tolerance] of cases) {
  test(`${name} is within ${tolerance} ulp of the engine's`, () => {
    let worst = 0, at = 0;
    for (const x of inputs) {
      const e = ulps(mine(x), engine(x));
      if (e > worst) { worst = e; at = x; }
    }
    assert.ok(worst <= tolerance, `${name}: ${worst.toFixed(2)} ulp at ${at}`);
  });
}

test('special values', () => {
  assert.is(pm.exp(0), 1);
  assert.is(pm.exp(1000), Infinity);
  assert.is(pm.exp(-1000), 0);
  assert.ok(Number.isNaN(pm.exp(NaN)));
  assert.is(pm.log(1), 0);
  assert.is(pm.log(0), -Infinity);
  assert.ok(Number.isNaN(pm.log(-1)));
  assert.is(pm.log(Infinity), Infinity);
  assert.ok(Object.is(pm.tanh(-0), -0));
  assert.is(pm.tanh(50), 1);
  assert.is(pm.tanh(-50), -1);
  assert.is(pm.log1p(-1), -Infinity);
  assert.is(pm.sigmoid(-800), 0);
  assert.is(pm.sigmoid(800), 1);
  assert.is(pm.softplus(800), 800);
  assert.is(pm.pow(2, 10), 1024);
  assert.is(pm.pow(0.5, -3), 8);
});

test('sigmoid and softplus agree with their definitions where those are safe', () => {
  for (const x of sample(2000, -30, 30)) {
    assert.ok(ulps(pm.sigmoid(x), 1 / (1 + Math.exp(-x))) < 8, `sigmoid(${x})`);
    assert.ok(ulps(pm.softplus(x), Math.log1p(Math.exp(x))) < 8 || Math.abs(pm.softplus(x) - Math.log1p(Math.exp(x))) < 1e-15, `softplus(${x})`);
  }
});

test.run();
