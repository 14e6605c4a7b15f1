import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../lib/mat/rng.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { addingTask } from '../../lib/tasks/adding.js';
import { copyTask } from '../../lib/tasks/copy.js';
import { REBER_SYMBOLS, reberString, reberTask, reberText } from '../../lib/tasks/reber.js';
import { TEMPORAL_ORDER_SYMBOLS, temporalOrderTask, temporalOrderWindows } from '../../lib/tasks/temporal-order.js';
import { parityTask } from '../../lib/tasks/parity.js';
import { TASK_NAMES, createTask } from '../../lib/tasks/registry.js';
import type { Task, TaskBatch } from '../../lib/tasks/task.js';

const at = (m: Mat, r: number, c: number): number => m.data[m.offset + r * m.cols + c];

/** The row of the one-hot entry of row r (throws unless exactly one 1). */
function oneHot(m: Mat, r: number): number {
  let found = -1;
  for (let c = 0; c < m.cols; c++) {
    const v = at(m, r, c);
    if (v === 1) { assert.is(found, -1, `row ${r} has two ones`); found = c; } else assert.is(v, 0);
  }
  assert.ok(found >= 0, `row ${r} has no one`);
  return found;
}

/** Outputs that put a large logit on the target (a perfect model). */
function perfect(b: TaskBatch): Mat {
  const out = mat(b.targets.rows, b.targets.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = b.kind === 'mse' ? b.targets.data[i] : b.kind === 'bce' ? (b.targets.data[i] > 0.5 ? 10 : -10) : 10 * b.targets.data[i];
  return out;
}

for (const name of TASK_NAMES) {
  test(`${name}: deterministic per seed, different across seeds, a perfect model scores the solved level`, () => {
    const task: Task = createTask(name, name === 'copy' ? 5 : 12);
    const a = task.batch(new Rng(11), 6), b = task.batch(new Rng(11), 6), c = task.batch(new Rng(12), 6);
    assert.equal(Array.from(a.xs.data), Array.from(b.xs.data));
    assert.equal(Array.from(a.targets.data), Array.from(b.targets.data));
    assert.not.equal(Array.from(a.xs.data), Array.from(c.xs.data));
    assert.is(a.xs.rows, a.steps * 6);
    assert.is(a.xs.cols, task.inputSize);
    assert.is(a.targets.cols, task.outputSize);
    const score = task.score(a, perfect(a));
    assert.ok(task.metric.higherIsBetter ? score >= task.metric.solved : score <= task.metric.solved, `${name} perfect score ${score}`);
    assert.throws(() => task.batch(new Rng(1), 0), /batch size must be an integer >= 1, got 0/);
    assert.throws(() => task.score(a, mat(1, task.outputSize)), /outputs are 1x/);
  });
}

test('adding: two markers, one per half; the target is the sum of the marked values, at the last step only', () => {
  const T = 20, B = 50;
  const b = addingTask({ steps: T }).batch(new Rng(3), B);
  for (let s = 0; s < B; s++) {
    const marked: number[] = [];
    let sum = 0;
    for (let t = 0; t < T; t++) {
      const value = at(b.xs, t * B + s, 0), marker = at(b.xs, t * B + s, 1);
      assert.ok(value >= 0 && value < 1);
      assert.ok(marker === 0 || marker === 1);
      if (marker === 1) { marked.push(t); sum += value; }
      assert.is(at(b.mask!, t * B + s, 0), t === T - 1 ? 1 : 0);
    }
    assert.is(marked.length, 2);
    assert.ok(marked[0] < T / 2 && marked[1] >= T / 2);
    assert.is(at(b.targets, (T - 1) * B + s, 0), sum);
  }
  // Always answering 1 scores about 1/6.
  const wide = addingTask({ steps: T }).batch(new Rng(4), 4000);
  const ones = mat(wide.targets.rows, 1);
  ones.data.fill(1);
  assert.ok(Math.abs(addingTask({ steps: T }).score(wide, ones) - 1 / 6) < 0.01);
});

test('copy: the recall steps ask for the symbols of the first steps, after a delimiter', () => {
  const delay = 7, length = 4, symbols = 5, B = 3;
  const task = copyTask({ delay, length, symbols });
  const b = task.batch(new Rng(1), B);
  assert.is(b.steps, delay + 2 * length);
  for (let s = 0; s < B; s++) {
    for (let t = 0; t < b.steps; t++) {
      const input = oneHot(b.xs, t * B + s);
      if (t < length) {
        assert.ok(input >= 1 && input <= symbols);
        assert.is(oneHot(b.targets, (delay + length + t) * B + s), input);
      } else assert.is(input, t === delay + length - 1 ? symbols + 1 : 0);
      assert.is(at(b.mask!, t * B + s, 0), t >= delay + length ? 1 : 0);
    }
  }
  assert.throws(() => copyTask({ delay: 0 }), /delay must be an integer >= 1/);
});

// The embedded Reber language, written independently of the generator's automaton:
// Reber = B (T S* X A | P C) E with A = (X T* V P)* (S | X T* V V) and C = T* V (V | P A).
const A = '(?:XT*VP)*(?:S|XT*VV)';
const REBER = `B(?:TS*X${A}|PT*V(?:V|P${A}))E`;
const EMBEDDED = new RegExp(`^B(?:T${REBER}T|P${REBER}P)E$`);

test('Reber: generated strings belong to the embedded Reber language, and the legal sets contain the next symbol', () => {
  const rng = new Rng(2);
  for (let i = 0; i < 500; i++) {
    const s = reberString(rng);
    const text = reberText(s.symbols);
    assert.ok(EMBEDDED.test(text), text);
    for (let t = 0; t + 1 < s.symbols.length; t++) assert.ok((s.legal[t] >> s.symbols[t + 1]) & 1, `${text} at ${t}`);
    assert.is(s.legal[s.symbols.length - 1], 0);
    // The penultimate symbol repeats the second, and is the only legal one there.
    assert.is(s.legal[s.symbols.length - 3], 1 << s.symbols[1]);
  }
  assert.not.ok(EMBEDDED.test('BTBTXSETE'.replace('ETE', 'EPE')), 'the regex rejects a wrong repeat');
  const plain = reberString(new Rng(3), false);
  assert.ok(new RegExp(`^${REBER}$`).test(reberText(plain.symbols)));
});

test('Reber task: one-hot inputs and next-symbol targets, padding masked; the metric checks determined positions only', () => {
  const task = reberTask();
  const B = 20;
  const b = task.batch(new Rng(4), B);
  let determined = 0;
  for (let s = 0; s < B; s++) {
    const symbols: number[] = [];
    for (let t = 0; t < b.steps && at(b.mask!, t * B + s, 0) === 1; t++) {
      symbols.push(oneHot(b.xs, t * B + s));
      if (t > 0) assert.is(oneHot(b.targets, (t - 1) * B + s), symbols[t]);
    }
    assert.ok(EMBEDDED.test(reberText(symbols) + 'E'), reberText(symbols));
    determined++;
  }
  assert.is(determined, B);
  // Right at the determined positions but wrong elsewhere still counts as correct...
  const out = perfect(b);
  const info = b.info as { legal: Int32Array };
  for (let r = 0; r < b.targets.rows; r++) {
    const legal = info.legal[r];
    if (legal !== 0 && (legal & (legal - 1)) !== 0) { out.data.fill(0, r * 7, r * 7 + 7); out.data[r * 7 + 6] = 10; } // predict E: illegal here
  }
  assert.is(task.score(b, out), 1);
  assert.is(task.extraScores!(b, out)['strings-correct-all-steps'], 0);
  // ... and a wrong penultimate symbol does not.
  const wrong = perfect(b);
  for (let s = 0; s < B; s++) {
    let len = 0;
    while (len < b.steps && at(b.mask!, len * B + s, 0) === 1) len++;
    const row = (len - 2) * B + s;
    const want = oneHot(b.targets, row);
    wrong.data.fill(0, row * 7, row * 7 + 7);
    wrong.data[row * 7 + (want === 1 ? 2 : 1)] = 10; // T <-> P
  }
  assert.is(task.score(b, wrong), 0);
  assert.is(task.extraScores!(b, wrong)['penultimate-correct'], 0);
  assert.is(REBER_SYMBOLS.join(''), 'BTPSXVE');
});

test('temporal order: B ... E with X/Y at two positions in their windows; the class names their order', () => {
  const T = 100, B = 40;
  const [w1, w2] = temporalOrderWindows(T);
  assert.equal([w1, w2], [[10, 20], [50, 60]]);
  const b = temporalOrderTask({ steps: T }).batch(new Rng(6), B);
  const seen = new Set<number>();
  for (let s = 0; s < B; s++) {
    const relevant: [number, string][] = [];
    for (let t = 0; t < T; t++) {
      const sym = TEMPORAL_ORDER_SYMBOLS[oneHot(b.xs, t * B + s)];
      if (t === 0) assert.is(sym, 'B'); else if (t === T - 1) assert.is(sym, 'E');
      else if (sym === 'X' || sym === 'Y') relevant.push([t, sym]);
      else assert.ok('abcd'.includes(sym));
    }
    assert.is(relevant.length, 2);
    assert.ok(relevant[0][0] >= w1[0] && relevant[0][0] < w1[1] && relevant[1][0] >= w2[0] && relevant[1][0] < w2[1]);
    const cls = oneHot(b.targets, (T - 1) * B + s);
    assert.is(['XX', 'XY', 'YX', 'YY'][cls], relevant[0][1] + relevant[1][1]);
    seen.add(cls);
  }
  assert.is(seen.size, 4);
});

test('parity: the target is the XOR of the bits (at the end, or at every step)', () => {
  const T = 9, B = 30;
  for (const every of [false, true]) {
    const b = parityTask({ steps: T, every }).batch(new Rng(8), B);
    for (let s = 0; s < B; s++) {
      let p = 0;
      for (let t = 0; t < T; t++) {
        p ^= at(b.xs, t * B + s, 0);
        if (every || t === T - 1) assert.is(at(b.targets, t * B + s, 0), p);
        if (!every) assert.is(at(b.mask!, t * B + s, 0), t === T - 1 ? 1 : 0);
      }
    }
    assert.is(b.mask === null, every);
  }
});

test('createTask names what is wrong', () => {
  assert.throws(() => createTask('adding-problem'), /unknown task "adding-problem"/);
  assert.throws(() => createTask('adding', 1), /steps must be an integer >= 2/);
  assert.throws(() => createTask('temporal-order', 5), /steps must be an integer >= 10/);
});

test.run();
