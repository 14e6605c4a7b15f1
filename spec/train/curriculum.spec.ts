// The copy-task curriculum: the delay grows by one each time it is solved, within a budget of
// batches or of wall time; one model and one optimiser throughout; seeded and repeatable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { trainCopyCurriculum, type CurriculumConfig } from '../../lib/train/curriculum.js';
import { copyTask } from '../../lib/tasks/copy.js';
import { ConfigError } from '../../lib/errors.js';

const easy: CurriculumConfig = { cell: 'lstm', hidden: 16, method: 'bptt', lr: 0.01, clip: 1, batch: 8, length: 2, symbols: 2, maxIterations: 200, checkEvery: 10, seed: 1 };

test('an LSTM trained by BPTT solves the first delays, and the report is consistent with itself', () => {
  const r = trainCopyCurriculum(easy);
  assert.ok(r.reached >= 2, `reached delay ${r.reached} in 200 batches`);
  assert.is(r.solved[0].delay, 1);
  // Delays are solved one after another, each at a check whose accuracy met the level.
  r.solved.forEach((s, i) => {
    assert.is(s.delay, i + 1);
    const point = r.points.find((p) => p.iteration === s.iteration)!;
    assert.is(point.delay, s.delay);
    assert.ok(point.accuracy >= 0.95, `delay ${s.delay} solved at accuracy ${point.accuracy}`);
  });
  // The data seen: every batch of 8 sequences of the copy task's length at the delay trained on then.
  let steps = 0, previous = 0;
  for (const p of r.points) {
    steps += (p.iteration - previous) * 8 * copyTask({ delay: p.delay, length: 2, symbols: 2 }).steps;
    previous = p.iteration;
    assert.is(p.steps, steps);
  }
  assert.is(r.points[r.points.length - 1].iteration, 200);
  assert.is(r.stop, 'iterations');
  assert.is(r.config.method, 'bptt');
});

test('the same seed repeats the run; the wall-time budget and maxDelay stop it', () => {
  const a = trainCopyCurriculum({ ...easy, maxIterations: 60 }), b = trainCopyCurriculum({ ...easy, maxIterations: 60 });
  assert.equal(a.points.map(({ elapsedMs: _, ...p }) => p), b.points.map(({ elapsedMs: _, ...p }) => p));
  assert.equal(Array.from(a.model.params.theta), Array.from(b.model.params.theta));
  const short = trainCopyCurriculum({ ...easy, budgetMs: 1 });
  assert.is(short.stop, 'budget');
  assert.ok(short.points.length <= 1);
  const capped = trainCopyCurriculum({ ...easy, maxDelay: 1 });
  assert.is(capped.stop, 'max-delay');
  assert.is(capped.reached, 1);
});

test('onCheck sees every held-out check as it happens, and can stop the run', () => {
  const seen: [number, boolean][] = [];
  const r = trainCopyCurriculum({ ...easy, maxIterations: 100 }, { onCheck: (p, solved) => { seen.push([p.iteration, solved]); } });
  assert.equal(seen.map(([i]) => i), r.points.map((p) => p.iteration));
  assert.equal(seen.filter(([, solved]) => solved).map(([i]) => i), r.solved.map((s) => s.iteration));
  const stopped = trainCopyCurriculum({ ...easy, maxIterations: 100 }, { onCheck: (p) => (p.iteration >= 30 ? 'stop' : undefined) });
  assert.is(stopped.stop, 'callback');
  assert.is(stopped.points[stopped.points.length - 1].iteration, 30);
});

test('an online method drives the same curriculum', () => {
  const r = trainCopyCurriculum({ ...easy, cell: 'elman', hidden: 4, method: 'rtrl', maxIterations: 4, checkEvery: 2 });
  assert.is(r.points.length, 2);
  assert.ok(r.points.every((p) => Number.isFinite(p.loss) && p.accuracy >= 0 && p.accuracy <= 1));
});

test('bad settings are ConfigErrors naming the option', () => {
  const cases: [Partial<CurriculumConfig> & Record<string, unknown>, RegExp][] = [
    [{ hidden: 0 }, /curriculum: hidden must be an integer >= 1, got 0/],
    [{ method: 'nope' }, /curriculum: method: "nope" is not one of/],
    [{ cell: 'transformer' as never }, /curriculum: cell "transformer" is not one of/],
    [{ lr: -1 }, /curriculum: lr must be a positive number, got -1/],
    [{ solved: 2 }, /curriculum: solved is an accuracy in \(0, 1\], got 2/],
    [{ startDelay: 5, maxDelay: 2 }, /curriculum: maxDelay 2 is below startDelay 5/],
    [{ delay: 3 }, /curriculum: unknown option/],
  ];
  for (const [change, message] of cases) {
    try {
      trainCopyCurriculum({ ...easy, ...change } as CurriculumConfig);
      assert.unreachable(`accepted ${JSON.stringify(change)}`);
    } catch (e) {
      assert.match((e as Error).message, message);
      if (!('delay' in change)) assert.ok(e instanceof ConfigError, `${JSON.stringify(change)} gives a ConfigError`);
    }
  }
});

test.run();
