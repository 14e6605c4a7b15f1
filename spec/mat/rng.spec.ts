import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mat, matFrom } from '../../lib/mat/mat.js';
import { Rng, rng } from '../../lib/mat/rng.js';

const SAMPLES = 200_000;
// Sampling tolerances: about 5 standard errors for SAMPLES draws.
const MEAN_TOL = 5 / Math.sqrt(SAMPLES);
const VAR_TOL = 5 * Math.sqrt(2 / SAMPLES);

function draws(r: Rng, count: number, f: (r: Rng) => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(f(r));
  return out;
}

function moments(xs: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, variance: v / xs.length };
}

test('the same seed gives the same stream, for every kind of draw', () => {
  const mix = (r: Rng) => [r.uniform(), r.normal(), r.int(1000), r.uniform(-3, 7), r.normal(2, 5), r.nextUint32()];
  const a = rng(7), b = new Rng(7);
  for (let i = 0; i < 100; i++) assert.equal(mix(a), mix(b));
});

test('the stream is pinned: these numbers must never change (cross-engine determinism)', () => {
  const r = new Rng(1);
  const got = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
  const r2 = new Rng(1);
  assert.equal([r2.nextUint32(), r2.nextUint32(), r2.nextUint32()], got);
  // xoshiro128** from the state (1, 2, 3, 4) — reference values of the published algorithm
  const ref = new Rng(0) as unknown as { s0: number; s1: number; s2: number; s3: number; nextUint32(): number };
  ref.s0 = 1; ref.s1 = 2; ref.s2 = 3; ref.s3 = 4;
  assert.equal([ref.nextUint32(), ref.nextUint32(), ref.nextUint32(), ref.nextUint32()], [11520, 0, 5927040, 70819200]);
});

test('different seeds differ, including negative and large seeds', () => {
  const seeds = [0, 1, 2, -1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  const firsts = seeds.map((s) => {
    const r = new Rng(s);
    return [r.nextUint32(), r.nextUint32()].join(',');
  });
  assert.is(new Set(firsts).size, seeds.length);
});

test('bad seeds throw', () => {
  assert.throws(() => new Rng(1.5), /Rng: seed 1.5 is not a safe integer/);
  assert.throws(() => new Rng(NaN), /Rng: seed NaN/);
  assert.throws(() => new Rng(2 ** 60), /Rng: seed/);
});

test('uniform: in range, mean 1/2 and variance 1/12', () => {
  const xs = draws(new Rng(3), SAMPLES, (r) => r.uniform());
  for (const x of xs) if (!(x >= 0 && x < 1)) assert.unreachable(`uniform() gave ${x}`);
  const { mean, variance } = moments(xs);
  assert.ok(Math.abs(mean - 0.5) < MEAN_TOL * Math.sqrt(1 / 12), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < VAR_TOL * (1 / 12), `variance ${variance}`);
  const ys = draws(new Rng(4), 1000, (r) => r.uniform(-2, 3));
  for (const y of ys) if (!(y >= -2 && y < 3)) assert.unreachable(`uniform(-2, 3) gave ${y}`);
  assert.throws(() => new Rng(1).uniform(2, 1), /uniform: range \[2, 1\)/);
});

test('normal: mean, variance, and fourth moment of a standard normal', () => {
  const xs = draws(new Rng(5), SAMPLES, (r) => r.normal());
  const { mean, variance } = moments(xs);
  assert.ok(Math.abs(mean) < MEAN_TOL, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < VAR_TOL, `variance ${variance}`);
  let m4 = 0;
  for (const x of xs) m4 += x ** 4;
  assert.ok(Math.abs(m4 / SAMPLES - 3) < 0.15, `fourth moment ${m4 / SAMPLES}`);
  const ys = draws(new Rng(6), SAMPLES, (r) => r.normal(3, 0.5));
  const shifted = moments(ys);
  assert.ok(Math.abs(shifted.mean - 3) < MEAN_TOL * 0.5, `mean ${shifted.mean}`);
  assert.ok(Math.abs(shifted.variance - 0.25) < VAR_TOL * 0.25, `variance ${shifted.variance}`);
  assert.throws(() => new Rng(1).normal(0, -1), /normal: mean 0 and std -1/);
});

test('int: unbiased over small n, in range for large n, rejects bad n', () => {
  const r = new Rng(9);
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const big = r.int(2 ** 40 + 3);
    assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 40 + 3);
  }
  assert.is(r.int(1), 0);
  assert.throws(() => r.int(0), /int: n 0 is not a positive safe integer/);
  assert.throws(() => r.int(2.5), /int: n 2.5/);
});

test('fillUniform and fillNormal fill views only, deterministically', () => {
  const data = new Float64Array(20);
  const view = matFrom(3, 4, data, 5);
  new Rng(10).fillUniform(view, -1, 1);
  for (let i = 0; i < 20; i++) {
    if (i < 5 || i >= 17) assert.is(data[i], 0);
    else assert.ok(data[i] >= -1 && data[i] < 1 && data[i] !== 0);
  }
  const a = mat(50, 40), b = mat(50, 40);
  new Rng(11).fillNormal(a, 1, 2);
  new Rng(11).fillNormal(b, 1, 2);
  assert.equal(Array.from(a.data), Array.from(b.data));
  const { mean, variance } = moments(a.data);
  assert.ok(Math.abs(mean - 1) < 0.15 && Math.abs(variance - 4) < 0.5, `mean ${mean} variance ${variance}`);
  assert.throws(() => new Rng(1).fillUniform(a, 1, 0), /fillUniform: range/);
  assert.throws(() => new Rng(1).fillNormal(a, 0, NaN), /fillNormal: mean 0 and std NaN/);
});

test('shuffle permutes in place, deterministically, and reaches every permutation', () => {
  const r = new Rng(12);
  const xs = Array.from({ length: 50 }, (_, i) => i);
  const same = r.shuffle(xs);
  assert.is(same, xs);
  assert.equal([...xs].sort((p, q) => p - q), Array.from({ length: 50 }, (_, i) => i));
  assert.equal(new Rng(12).shuffle(Array.from({ length: 50 }, (_, i) => i)), xs);
  const seen = new Set<string>();
  for (let i = 0; i < 600; i++) seen.add(r.shuffle([1, 2, 3]).join(''));
  assert.is(seen.size, 6);
  const typed = r.shuffle(new Float64Array([1, 2, 3, 4]));
  assert.equal(Array.from(typed).sort(), [1, 2, 3, 4]);
});

test('fork gives an independent, reproducible stream; clone copies the state', () => {
  const parent = new Rng(13);
  const child = parent.fork();
  const c = draws(child, 1000, (r) => r.uniform());
  const p = draws(parent, 1000, (r) => r.uniform());
  let matches = 0;
  for (let i = 0; i < 1000; i++) if (c[i] === p[i]) matches++;
  assert.is(matches, 0);
  // correlation near zero
  const mc = moments(c).mean, mp = moments(p).mean;
  let cov = 0;
  for (let i = 0; i < 1000; i++) cov += (c[i] - mc) * (p[i] - mp);
  assert.ok(Math.abs(cov / 1000 / (1 / 12)) < 0.15);
  const again = new Rng(13).split();
  assert.equal(draws(again, 1000, (r) => r.uniform()), c);
  const orig = new Rng(14);
  orig.normal(); // leaves a cached spare
  const copy = orig.clone();
  assert.equal(draws(copy, 10, (r) => r.normal()), draws(orig, 10, (r) => r.normal()));
});

test.run();
