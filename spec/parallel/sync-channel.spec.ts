// The sync channel: a coordinator blocked in wait() sees each worker's phase settle as done,
// failed (with the worker's error text, written into shared memory) or dead (marked by a
// watcher), ignores answers to old phases, and gives up at a timeout instead of hanging.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { SyncChannel, canBlock } from '../../lib/parallel/sync-channel.js';

const channelUrl = new URL('../../lib/parallel/sync-channel.js', import.meta.url).href;
// A worker that runs phase `seq` as told: finishes, throws, or spins for `ms` first.
const workerCode = `
const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(channelUrl)}).then(({ SyncChannel }) => {
  parentPort.on('message', ({ buffer, index, seq, mode, ms }) => {
    const channel = SyncChannel.over(buffer);
    channel.run(index, seq, () => {
      const until = Date.now() + (ms ?? 0);
      while (Date.now() < until);
      if (mode === 'throw') throw new RangeError('shard ' + index + ' could not');
    });
  });
  parentPort.postMessage('ready');
});`;

const workers: Worker[] = [];
async function start(n: number): Promise<Worker[]> {
  while (workers.length < n) {
    const w = new Worker(workerCode, { eval: true });
    w.unref();
    await new Promise((resolve) => w.once('message', resolve));
    workers.push(w);
  }
  return workers.slice(0, n);
}

test('the main thread of Node may block', () => {
  assert.ok(canBlock());
});

test('a phase settles per worker: done, or failed with the error text; the blocked coordinator wakes', async () => {
  const [a, b] = await start(2);
  const channel = SyncChannel.create(2);
  const seq = channel.begin();
  a.postMessage({ buffer: channel.buffer, index: 0, seq, mode: 'ok', ms: 30 });
  b.postMessage({ buffer: channel.buffer, index: 1, seq, mode: 'throw' });
  const out = channel.wait(seq, { timeoutMs: 10_000 });
  assert.equal(out[0], { status: 'done' });
  assert.equal(out[1], { status: 'failed', message: 'RangeError: shard 1 could not' });
  // The next phase starts clean.
  const next = channel.begin();
  a.postMessage({ buffer: channel.buffer, index: 0, seq: next, mode: 'ok' });
  b.postMessage({ buffer: channel.buffer, index: 1, seq: next, mode: 'ok' });
  assert.equal(channel.wait(next, { timeoutMs: 10_000 }), [{ status: 'done' }, { status: 'done' }]);
});

test('a worker marked dead settles its phase at once, counts a death, and its late answer is ignored', async () => {
  const [a] = await start(1);
  const channel = SyncChannel.create(2);
  const seq = channel.begin([0, 1]);
  channel.markDead(1, 'it exited with code 7');
  a.postMessage({ buffer: channel.buffer, index: 0, seq, mode: 'ok' });
  const out = channel.wait(seq, { timeoutMs: 10_000 });
  assert.equal(out, [{ status: 'done' }, { status: 'dead', message: 'it exited with code 7' }]);
  assert.equal([channel.deaths(0), channel.deaths(1)], [0, 1]);
  channel.run(1, seq, () => undefined); // too late: already settled
  assert.equal(channel.wait(seq, { timeoutMs: 0 })[1].status, 'dead');
  // A phase for some workers only: the others are idle in it.
  const only = channel.begin([0]);
  a.postMessage({ buffer: channel.buffer, index: 0, seq: only, mode: 'ok' });
  assert.equal(channel.wait(only, { timeoutMs: 10_000 }), [{ status: 'done' }, { status: 'idle' }]);
  // An answer to the old phase is ignored in the new one.
  const fresh = channel.begin([1]);
  channel.run(1, seq, () => { throw new Error('stale'); });
  channel.run(1, fresh, () => undefined);
  assert.equal(channel.wait(fresh, { timeoutMs: 1000 }), [{ status: 'idle' }, { status: 'done' }]);
});

test('a worker that never answers is reported at the timeout, not waited for forever', () => {
  const channel = SyncChannel.create(1);
  const seq = channel.begin();
  const t0 = Date.now();
  const out = channel.wait(seq, { timeoutMs: 60, sliceMs: 10 });
  assert.is(out[0].status, 'timeout');
  assert.ok(Date.now() - t0 >= 55);
});

test('once the watcher has beaten, a stalled heartbeat gives up on the running workers as lost', () => {
  const channel = SyncChannel.create(2);
  let seq = channel.begin();
  // No beat yet: staleMs does not apply (a host without a watcher), the timeout does.
  assert.is(channel.wait(seq, { timeoutMs: 40, sliceMs: 5, staleMs: 10 })[0].status, 'timeout');
  channel.beat();
  seq = channel.begin();
  channel.run(0, seq, () => undefined);
  const out = channel.wait(seq, { staleMs: 40, sliceMs: 5 });
  assert.equal(out[0], { status: 'done' });
  assert.equal(out[1], { status: 'lost', message: 'the thread watching the workers gave no sign of life for 40 ms' });
});

test('bad sizes are refused, naming the channel', () => {
  assert.throws(() => SyncChannel.create(0), /syncChannel: workers must be an integer >= 1/);
  assert.throws(() => SyncChannel.create(2).begin([2]), /syncChannel: worker 2 is not one of 0..1/);
});

test.after(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});

test.run();
