import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Rng } from '../../lib/mat/rng.js';
import { type TaskRunConfig, trainTask } from '../../lib/train/run-task.js';

// Stops at `stopAt`, then a second run resumes from the first's weights, optimiser and data generator.
function splitRun(config: TaskRunConfig, stopAt: number, more: Partial<TaskRunConfig>) {
  let rng: Rng | null = null;
  const first = trainTask(config, { onDataRng: (r) => { rng = r; }, onProgress: (p) => (p.iteration === stopAt ? 'stop' : undefined) });
  assert.is(first.result.iterations, stopAt);
  const theta = first.model.params.theta.slice();
  const optimizer = first.optimizer.saveState();
  const dataRng = JSON.parse(JSON.stringify((rng as unknown as Rng).state()));
  return trainTask({ ...config, ...more }, {
    resume: { iteration: stopAt, dataRng },
    prepare: (model, opt) => { model.params.theta.set(theta); opt.loadState(optimizer); },
  });
}

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

test('trainTask resume: fresh batches, 7 then 5 more equal 12 bit for bit', () => {
  const config: TaskRunConfig = { task: 'adding', steps: 5, cell: 'gru', hidden: 3, lr: 0.01, batch: 4, iterations: 12, heldOut: 8, schedule: 'cosine:12' };
  const whole = trainTask(config);
  const resumed = splitRun(config, 7, { iterations: 5 });
  assert.equal(resumed.curve, whole.curve.slice(7));
  assert.ok(same(resumed.model.params.theta, whole.model.params.theta));
  assert.is(resumed.optimizer.saveState().steps, 12);
});

test('trainTask resume: a fixed training set mid-epoch replays its shuffles', () => {
  const config: TaskRunConfig = { task: 'adding', steps: 5, cell: 'elman', hidden: 3, lr: 0.01, batch: 3, trainSize: 9, epochs: 4, heldOut: 8 };
  const whole = trainTask(config);
  assert.is(whole.result.iterations, 12);
  const resumed = splitRun(config, 7, {});
  assert.is(resumed.result.iterations, 5); // the epochs asked for, not as many again
  assert.equal(resumed.curve, whole.curve.slice(7));
  assert.ok(same(resumed.model.params.theta, whole.model.params.theta));
});

test('trainTask resume: fresh batches need the generator state', () => {
  const config: TaskRunConfig = { task: 'adding', steps: 5, cell: 'elman', hidden: 3, lr: 0.01, batch: 4, iterations: 2, heldOut: 8 };
  assert.throws(() => trainTask(config, { resume: { iteration: 3 } }), /resume.dataRng is needed/);
});

test('trainTask: maxBytes reaches RTRL (the CLI passes its --max-bytes / --allow-large limit down)', () => {
  const config: TaskRunConfig = { task: 'adding', steps: 3, cell: 'elman', hidden: 3, lr: 0.01, batch: 2, iterations: 1, heldOut: 4, method: 'rtrl' };
  assert.throws(() => trainTask(config, { maxBytes: 1000 }), /rtrl: .* over the limit of 0\.0 MiB/);
  assert.is(trainTask(config, { maxBytes: Number.MAX_SAFE_INTEGER }).result.iterations, 1);
});

test.run();
