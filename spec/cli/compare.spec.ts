// `loopgrad compare`: the measuring engine (fits, gradient cross-check, memory
// plan), the SVG writer and progress bar it uses, and the command's handling of
// good and bad input (spawned as a real process, tiny sizes only).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CompareConfig, type CompareRow, compareSvg, defaultCompareConfig, fitPowerLaw, fitScaling, formatReport,
  cosineSimilarity, leastSquares, overLimit, planCompare, relativeDifference, runCompare,
} from '../../bench/compare.js';
import { escapeXml, renderSvg, ticks } from '../../bench/svg.js';
import { createProgress } from '../../bench/progress.js';
import '../../node/register.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));

function compare(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'compare', ...args], { encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tiny(overrides: Partial<CompareConfig> = {}): CompareConfig {
  return { ...defaultCompareConfig, methods: ['bptt', 'rtrl'], hidden: [2, 3], steps: [3, 5], input: 2, repeats: 1, ...overrides };
}

// ---------------------------------------------------------------- fitting

test('fitPowerLaw recovers a known power law exactly', () => {
  const xs = [2, 4, 8, 16, 32];
  const fit = fitPowerLaw(xs, xs.map((x) => 3 * x ** 2.5));
  assert.ok(Math.abs(fit.exponent - 2.5) < 1e-12, `exponent ${fit.exponent}`);
  assert.ok(Math.abs(fit.coefficient - 3) < 1e-10, `coefficient ${fit.coefficient}`);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
  // Noise moves the slope only a little and lowers R².
  const noisy = fitPowerLaw(xs, xs.map((x, i) => x ** 2 * (i % 2 === 0 ? 1.1 : 0.9)));
  assert.ok(Math.abs(noisy.exponent - 2) < 0.1 && noisy.r2 < 1);
  assert.throws(() => fitPowerLaw([1, 1], [2, 3]), /two distinct/);
  assert.throws(() => fitPowerLaw([1, 2], [0, 3]), /not positive/);
});

test('fitScaling separates the hidden and steps exponents of a joint grid', () => {
  const rows: { hidden: number; steps: number; y: number }[] = [];
  for (const hidden of [4, 8, 16]) for (const steps of [10, 20, 40]) rows.push({ hidden, steps, y: 7 * hidden ** 4 * steps });
  const fit = fitScaling(rows, (r) => r.y);
  assert.ok(Math.abs(fit.hidden! - 4) < 1e-10 && Math.abs(fit.steps! - 1) < 1e-10, JSON.stringify(fit));
  const flat = fitScaling(rows, (r) => r.hidden ** 3);
  assert.ok(Math.abs(flat.steps!) < 1e-10 && Math.abs(flat.hidden! - 3) < 1e-10);
  // One hidden size: that exponent is unknown (null), the other still fitted.
  const one = fitScaling(rows.filter((r) => r.hidden === 8), (r) => r.y);
  assert.is(one.hidden, null);
  assert.ok(Math.abs(one.steps! - 1) < 1e-10);
});

test('leastSquares solves a small system and refuses dependent columns', () => {
  const c = leastSquares([[1, 0], [0, 1], [1, 1]], [1, 2, 3]);
  assert.ok(Math.abs(c[0] - 1) < 1e-12 && Math.abs(c[1] - 2) < 1e-12);
  assert.throws(() => leastSquares([[1, 2], [2, 4], [3, 6]], [1, 2, 3]), /linearly dependent/);
  assert.throws(() => leastSquares([[1, 2]], [1]), /cannot determine/);
});

test('cosineSimilarity: the cosine of the angle between two gradients', () => {
  assert.ok(Math.abs(cosineSimilarity([1, 0], [1, 1]) - Math.SQRT1_2) < 1e-15); // 45 degrees
  assert.is(cosineSimilarity([2, 0, 0], [0, 3, 0]), 0);
  assert.ok(Math.abs(cosineSimilarity([1, -2, 3], [-2, 4, -6]) + 1) < 1e-15); // opposite, whatever the scale
  assert.ok(Number.isNaN(cosineSimilarity([0, 0], [1, 2])), 'a zero gradient has no direction');
  assert.throws(() => cosineSimilarity([1], [1, 2]), /cosineSimilarity: lengths 1 and 2 differ/);
});

test('relativeDifference is relative to the largest entry', () => {
  assert.is(relativeDifference([1, 2], [1, 2]), 0);
  assert.is(relativeDifference([0, 0], [0, 0]), 0);
  assert.ok(Math.abs(relativeDifference([4, 1], [4, 1.4]) - 0.1) < 1e-15);
  assert.ok(Number.isNaN(relativeDifference([1, NaN], [1, 2])));
  assert.throws(() => relativeDifference([1], [1, 2]), /lengths 1 and 2/);
});

test('compare takes the methods in the grammar of lib/rnn/methods.ts, written canonically', () => {
  assert.throws(() => runCompare(tiny({ methods: ['tbptt:0'] })), /compare: method: "tbptt:0" needs integers 1 <= k1 <= k2/);
  assert.throws(() => runCompare(tiny({ methods: ['adjoint'] })), /compare: method: "adjoint" is not one of bptt, tbptt:K, tbptt:K1:K2, rtrl/);
  assert.throws(() => runCompare(tiny({ methods: ['tbptt:3:3'] })), /method "tbptt:3:3" is written tbptt:3/);
  const plan = planCompare(tiny({ methods: ['tbptt:2', 'tbptt:2:4'], hidden: [2], steps: [5] }));
  assert.ok(plan[1].stateBytes === 2 * plan[0].stateBytes, 'tbptt:K1:K2 keeps a tape of k2 steps');
});

// ---------------------------------------------------------------- the engine

test('runCompare: rows for every method and size, equal gradients, exact memory laws', () => {
  const result = runCompare(tiny({ cell: 'gru' }));
  assert.is(result.rows.length, 8);
  for (const r of result.rows) {
    assert.ok(r.msPerSequence > 0 && r.flops > 0 && r.stateBytes > 0 && r.heapBytes > 0, JSON.stringify(r));
    assert.ok(r.gradRelDiff !== null && r.gradRelDiff < 1e-12, `${r.method} n=${r.hidden} T=${r.steps}: ${r.gradRelDiff}`);
    assert.ok(r.gradCosine !== null && Math.abs(r.gradCosine - 1) < 1e-12, `${r.method} n=${r.hidden} T=${r.steps}: cos ${r.gradCosine}`);
    assert.ok(Math.abs(r.msPerStep * r.steps - r.msPerSequence) < 1e-9 * r.msPerSequence);
  }
  const rtrl = result.rows.filter((r) => r.method === 'rtrl');
  for (const r of rtrl) {
    // S: batch · Σ state sizes · P numbers of 8 bytes, whatever T is.
    assert.is(r.stateBytes, 8 * r.hidden * r.params, `S bytes at n=${r.hidden}`);
  }
  // RTRL costs more flops than BPTT on the same sequence.
  const b = result.rows.find((r) => r.method === 'bptt' && r.hidden === 3 && r.steps === 5)!;
  const f = rtrl.find((r) => r.hidden === 3 && r.steps === 5)!;
  assert.ok(f.flops > b.flops);
  assert.ok(Math.abs(result.fits.rtrl!.memoryVsSteps.measured!) < 1e-12);
  assert.is(result.fits.rtrl!.timeVsHidden.theory, 4);
  assert.is(result.fits.bptt!.memoryVsSteps.theory, 1);
  // BPTT's tape grows with T: from 3 to 5 steps the bytes grow by more than a third.
  const b3 = result.rows.find((r) => r.method === 'bptt' && r.hidden === 3 && r.steps === 3)!;
  assert.ok(b.stateBytes > b3.stateBytes * 1.4);
  const report = formatReport(result);
  assert.match(report, /scaling exponents/);
  assert.match(report, /rtrl\s+\S+ \(4\)/);
});

test('runCompare: the plan predicts RTRL\'s sensitivity bytes exactly, and refuses what is too large', () => {
  const config = tiny({ cell: 'lstm', methods: ['rtrl'], hidden: [3], steps: [2] });
  const plan = planCompare(config);
  const result = runCompare(config);
  assert.is(plan[0].stateBytes, result.rows[0].stateBytes);
  assert.ok(result.rows[0].gradRelDiff! < 1e-12, 'RTRL alone is checked against an untimed BPTT run');
  const huge = tiny({ cell: 'lstm', methods: ['rtrl'], hidden: [300], steps: [5] });
  const over = overLimit(huge);
  assert.is(over.length, 1);
  assert.match(over[0], /rtrl at hidden 300 would need about [0-9.]+ GiB/);
  assert.throws(() => runCompare(huge), /over the 2\.00 GiB limit/);
  assert.throws(() => runCompare(tiny({ hidden: [0] })), /hidden size must be a positive integer, got 0/);
});

test('compareSvg: log-log panels with reference lines, and the crossover panels', () => {
  const result = runCompare(tiny({ hidden: [2, 4], steps: [3, 6] }));
  const svg = compareSvg(result);
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  assert.is(svg.match(/<rect x=/g)!.length >= 4, true);
  assert.match(svg, /rtrl theory: n⁴/);
  assert.match(svg, /bptt theory: T/);
  assert.match(svg, /rtrl theory: flat/);
  assert.match(svg, /RTRL keeps less than BPTT beyond T\* steps/);
  assert.match(svg, /gradient quality vs cost/);
  // Four panels of two series of two points (plus a legend marker each), two panels of one series,
  // and the quality panel: two methods at two hidden sizes.
  assert.is((svg.match(/<circle/g) ?? []).length, 4 * (2 * 2 + 2) + 2 * (2 + 1) + (2 * 2 + 2));
  const oneMethod = compareSvg(runCompare(tiny({ methods: ['bptt'], hidden: [2, 4], steps: [3] })));
  assert.not.match(oneMethod, /T\* steps/, 'no crossover without RTRL');
});

// ---------------------------------------------------------------- svg and progress

test('renderSvg: generic panels, linear axes, escaping, errors', () => {
  const svg = renderSvg({
    title: 'loss <curve> & "more"',
    panels: [{
      title: 'training', xLabel: 'step', yLabel: 'loss', xScale: 'linear', yScale: 'log',
      series: [{ label: 'adam', points: [{ x: 0, y: 1 }, { x: 10, y: 0.1 }, { x: 20, y: -1 }] }],
      references: [{ kind: 'horizontal', y: 0.5, label: 'baseline' }],
    }],
  });
  assert.match(svg, /loss &lt;curve&gt; &amp; &quot;more&quot;/);
  assert.is((svg.match(/<circle/g) ?? []).length, 2 + 1, 'the non-positive point is dropped on a log axis; one legend marker');
  assert.match(svg, /baseline/);
  assert.throws(() => renderSvg({ panels: [] }), /at least one panel/);
  assert.is(escapeXml(`a<'b'>`), 'a&lt;&#39;b&#39;&gt;');
  assert.equal(ticks('log', 1, 1000), [1, 10, 100, 1000]);
  assert.equal(ticks('linear', 0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('progress bar: silent unless stderr is a terminal and not quiet', () => {
  const written: string[] = [];
  const fake = (isTTY: boolean) => ({ isTTY, columns: 80, write: (s: string) => { written.push(s); return true; } }) as unknown as NodeJS.WriteStream;
  const off = createProgress({ total: 10, stream: fake(false) });
  off.advance(5, 'x');
  off.done();
  const quiet = createProgress({ total: 10, stream: fake(true), quiet: true });
  quiet.advance(5);
  quiet.done();
  assert.is(written.length, 0);
  assert.is(off.active, false);
  const on = createProgress({ total: 10, stream: fake(true), label: 'compare', intervalMs: 0 });
  on.advance(5, 'half');
  assert.ok(on.active);
  assert.match(written.join(''), /compare \[#+\.+\]  50%.*half/);
  on.done();
  assert.is(written[written.length - 1], '\r\x1b[K');
});

// ---------------------------------------------------------------- the command

test('loopgrad compare --json prints one object of the documented shape', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-compare-'));
  try {
    const svgPath = join(dir, 'plot.svg');
    const r = compare('--cell', 'lstm', '--hidden', '3,2', '--steps', '4,3', '--input', '2', '--repeats', '1', '--json', '--quiet', '--svg', svgPath);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stderr, '');
    const out = JSON.parse(r.stdout) as { config: CompareConfig; rows: CompareRow[]; fits: Record<string, Record<string, { measured: number | null; theory: number }>> };
    assert.equal(Object.keys(out).sort(), ['config', 'fits', 'rows']);
    assert.equal(out.config.hidden, [2, 3], 'sizes are sorted');
    assert.is(out.config.cell, 'lstm');
    assert.is(out.rows.length, 8);
    for (const row of out.rows) {
      assert.equal(Object.keys(row).sort(), ['cell', 'flops', 'gradCosine', 'gradRelDiff', 'heapBytes', 'hidden', 'method', 'msPerSequence', 'msPerStep', 'params', 'stateBytes', 'steps', 'threads']);
      assert.ok(row.gradRelDiff! < 1e-12);
      assert.is(row.threads, 1);
    }
    assert.equal(Object.keys(out.fits).sort(), ['bptt', 'rtrl']);
    assert.equal(Object.keys(out.fits.rtrl).sort(), ['memoryVsHidden', 'memoryVsSteps', 'timeVsHidden', 'timeVsSteps']);
    assert.is(out.fits.rtrl.memoryVsHidden.theory, 3);
    assert.ok(existsSync(svgPath) && readFileSync(svgPath, 'utf8').includes('</svg>'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loopgrad compare prints a readable table', () => {
  const r = compare('--hidden', '2', '--steps', '3,6', '--input', '2', '--repeats', '1', '--method', 'rtrl');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /method\s+hidden\s+steps\s+params\s+ms\/seq/);
  assert.match(r.stdout, /^rtrl\s+2\s+3\s+/m);
  assert.match(r.stdout, /memory~steps/);
});

const badInputs: [string[], RegExp][] = [
  [['--cell', 'hopfield'], /--cell: "hopfield" is not one of elman, jordan, lstm, gru/],
  [['--method', 'bptt,adjoint'], /--method: "adjoint" is not one of bptt, tbptt:K, tbptt:K1:K2, rtrl, snapN, snap:N, uoro, uoro:SEED, kf-rtrl, kf-rtrl:SEED$/],
  [['--hidden', '8,0'], /--hidden: 0 is below the minimum 1/],
  [['--hidden', 'eight'], /--hidden: "eight" is not an integer/],
  [['--steps', '-5'], /--steps: -5 is below the minimum 1/],
  [['--steps', '2.5'], /--steps: "2.5" is not an integer/],
  [['--repeats', '0'], /--repeats: 0 is below the minimum 1/],
  [['--batch'], /--batch needs a value/],
  [['--fast'], /unknown option --fast/],
  [['extra'], /unexpected argument "extra"/],
  [['--method', 'tbptt:0'], /--method: "tbptt:0" needs integers 1 <= k1 <= k2, got k1 0, k2 0 \(tbptt:K or tbptt:K1:K2\)$/],
  [['--method', 'tbptt:8:4'], /--method: "tbptt:8:4" needs integers 1 <= k1 <= k2/],
  [['--method', 'tbptt'], /--method: "tbptt" is not one of bptt, tbptt:K, tbptt:K1:K2, rtrl, snapN, snap:N, uoro, uoro:SEED, kf-rtrl, kf-rtrl:SEED$/],
  [['--hidden', '0x10'], /--hidden: "0x10" is not an integer$/],
  [['--steps', '4,1e1'], /--steps: "1e1" is not an integer$/],
  [['--svg', '--json'], /^loopgrad compare: --svg needs a value$/],
  [['--svg', join(tmpdir(), `loopgrad-no-such-dir-${process.pid}`, 'plot.svg')], /--svg: directory .*loopgrad-no-such-dir-\d+ does not exist$/],
  [['--svg', tmpdir()], /--svg: .* is a directory$/],
  [['--cell', 'lstm', '--hidden', '300', '--method', 'rtrl'], /rtrl at hidden 300 would need about .* GiB.*--allow-large/],
];

for (const [args, message] of badInputs) {
  test(`loopgrad compare ${args.join(' ')}: one line, the usage, exit 2`, () => {
    const r = compare(...args);
    assert.is(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n');
    assert.match(lines[0], /^loopgrad compare: /);
    assert.match(lines[0], message);
    assert.match(lines[1], /^usage: loopgrad compare/);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.is(r.stdout, '');
  });
}

test('runCompare with threads: 2 splits bptt, tbptt, rtrl and snap2 (no more threads than sequences for the batch split), counts the flops and bytes one thread counts, the same gradients', () => {
  // Elman at hidden 40: P = 1960, enough columns for two RTRL shards; hidden 2: RTRL stays on one.
  const config = tiny({ methods: ['bptt', 'tbptt:2', 'rtrl', 'snap1', 'snap2'], hidden: [2, 40], steps: [3], input: 8, batch: 3 });
  const one = runCompare(config), two = runCompare({ ...config, threads: 2 });
  const key = (r: CompareRow) => `${r.method}/${r.hidden}`;
  const single = new Map(one.rows.map((r) => [key(r), r]));
  const threadsOf = Object.fromEntries(two.rows.map((r) => [key(r), r.threads]));
  assert.equal(threadsOf, { 'bptt/2': 2, 'bptt/40': 2, 'tbptt:2/2': 2, 'tbptt:2/40': 2, 'rtrl/2': 1, 'rtrl/40': 2, 'snap1/2': 1, 'snap1/40': 1, 'snap2/2': 2, 'snap2/40': 2 });
  for (const r of two.rows) {
    const s = single.get(key(r))!;
    assert.is(s.threads, 1);
    assert.is(r.flops, s.flops, `${key(r)}: flops as one thread counts them`);
    assert.ok(Math.abs(r.gradRelDiff! - s.gradRelDiff!) < 1e-12 && Math.abs(r.gradCosine! - s.gradCosine!) < 1e-12, `${key(r)}: ${r.gradRelDiff} vs ${s.gradRelDiff}`);
  }
  assert.ok(two.rows.find((r) => key(r) === 'rtrl/40')!.gradRelDiff! < 1e-12);
  const report = formatReport(two);
  assert.match(report, /2 threads for bptt, tbptt, rtrl and snapN with N >= 2/);
  assert.match(report, /threads\s+ms\/seq/);
  assert.match(two.config.heapMeasure, /this thread only/);
  assert.not.match(formatReport(one), /threads/);
  assert.throws(() => runCompare({ ...config, threads: 0 }), /threads must be a positive integer, got 0/);
});

test('loopgrad compare --threads: 2 in the JSON rows; 0, a fraction or more than the cores refused naming the flag', () => {
  const r = compare('--hidden', '2', '--steps', '3', '--input', '2', '--batch', '2', '--repeats', '1', '--method', 'bptt,uoro', '--threads', '2', '--json');
  if (availableParallelism() >= 2) {
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: CompareConfig; rows: CompareRow[] };
    assert.is(out.config.threads, 2);
    assert.equal(out.rows.map((x) => [x.method, x.threads]), [['bptt', 2], ['uoro', 1]]);
  }
  const cores = availableParallelism();
  for (const [value, message] of [['0', /--threads: 0 is below the minimum 1/], ['1.5', /--threads: "1.5" is not an integer/], [String(cores + 1), new RegExp(`--threads: ${cores + 1} is more than the ${cores} cores`)]] as const) {
    const bad = compare('--threads', value);
    assert.is(bad.status, 2, `--threads ${value}`);
    assert.match(bad.stderr, message);
  }
});

test('loopgrad compare --method tbptt:K and tbptt:K1:K2 run truncated BPTT', () => {
  const r = compare('--hidden', '2', '--steps', '6', '--input', '2', '--repeats', '1', '--method', 'bptt,tbptt:3,tbptt:2:4,tbptt:3:3', '--json');
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rows: CompareRow[] };
  assert.equal(out.rows.map((x) => x.method), ['bptt', 'tbptt:3', 'tbptt:2:4']);
  const t = out.rows.find((x) => x.method === 'tbptt:3')!;
  const b = out.rows.find((x) => x.method === 'bptt')!;
  assert.ok(t.stateBytes > 0 && t.stateBytes < b.stateBytes, 'a 3-step tape is smaller than a 6-step one');
  assert.ok(t.gradRelDiff! > 1e-8, 'truncation changes the gradient');
  assert.ok(t.gradCosine! < 1 - 1e-12 && t.gradCosine! > -1, `truncation turns the gradient: cos ${t.gradCosine}`);
});

test.run();
