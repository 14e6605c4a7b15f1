// The browser's thread watcher (lib/parallel/web-watcher.ts) against a stand-in scope whose Worker
// records what it is sent: it answers hello, starts each group's workers under their role's name,
// forwards posts, and on a worker's error or a kill terminates it, marks it dead in the group's
// channel (once), tells the coordinator, and starts the replacement only on its next message;
// it beats every open group's channel and ends a closed group's workers. Chromium runs it for
// real in scripts/browser-test.mjs (check 6). Also: enableWebThreads refuses a platform without
// Web Workers or shared memory, naming what is missing; it registers the host until the watcher
// dies or is closed, after which it starts a new one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FromWatcher, type ToWatcher, WATCHER_NAME, serveWatcher } from '../../lib/parallel/web-watcher.js';
import { SyncChannel } from '../../lib/parallel/sync-channel.js';
import { enableWebThreads } from '../../lib/parallel/web-threads.js';
import { ConfigError } from '../../lib/errors.js';
import { setWorkerHost, workerHost } from '../../lib/parallel/host.js';
import { provideRtrlTeams, rtrlTeamFactory } from '../../lib/rnn/rtrl-threads.js';

type Listener = (event: Record<string, unknown>) => void;

class RecordingWorker {
  static made: RecordingWorker[] = [];
  readonly received: unknown[] = [];
  readonly listeners = new Map<string, Listener>();
  terminated = false;

  constructor(readonly url: string, readonly options: { type: string; name: string }) {
    RecordingWorker.made.push(this);
  }

  postMessage(message: unknown): void {
    this.received.push(message);
  }

  addEventListener(type: string, l: Listener): void {
    this.listeners.set(type, l);
  }

  terminate(): void {
    this.terminated = true;
  }
}

function watcher() {
  RecordingWorker.made = [];
  const told: FromWatcher[] = [];
  const timers: (() => void)[] = [];
  const beats: (() => void)[] = [];
  let onMessage: ((event: { data?: unknown }) => void) | null = null;
  serveWatcher({
    addEventListener: (_type, l) => { onMessage = l; },
    postMessage: (m) => told.push(m as FromWatcher),
    Worker: RecordingWorker,
    setTimeout: (callback) => timers.push(callback),
    setInterval: (callback) => beats.push(callback),
  });
  const send = (m: ToWatcher) => onMessage!({ data: m });
  return { told, timers, beats, send };
}

const heartbeat = (channel: SyncChannel) => new Int32Array(channel.buffer)[4];

test('the watcher answers hello, starts a group under its role, forwards posts and beats its channel', () => {
  const w = watcher();
  w.send({ type: 'watch-hello', url: 'https://example.test/loopgrad-worker.js' });
  assert.equal(w.told, [{ type: 'watch-ready' }]);
  const channel = SyncChannel.create(2);
  w.send({ type: 'watch-start', group: 7, role: 'rtrl', workers: 2, channel: channel.buffer });
  assert.equal(RecordingWorker.made.map((m) => [m.url, m.options.name, m.options.type]), [
    ['https://example.test/loopgrad-worker.js', 'loopgrad rtrl worker 1', 'module'],
    ['https://example.test/loopgrad-worker.js', 'loopgrad rtrl worker 2', 'module'],
  ]);
  const before = heartbeat(channel);
  w.beats.forEach((beat) => beat());
  assert.is(heartbeat(channel), before + 1);
  w.send({ type: 'watch-post', group: 7, index: 1, message: { type: 'step', seq: 3 }, transfer: [] });
  assert.equal(RecordingWorker.made[1].received, [{ type: 'step', seq: 3 }]);
  assert.equal(RecordingWorker.made[0].received, []);
  assert.is.not(WATCHER_NAME, 'loopgrad rtrl worker 1');
});

test('a worker\'s error is one death: terminated, marked in the channel, told; the replacement starts on its next message', () => {
  const w = watcher();
  w.send({ type: 'watch-hello', url: 'w.js' });
  const channel = SyncChannel.create(2);
  w.send({ type: 'watch-start', group: 1, role: 'sync', workers: 2, channel: channel.buffer });
  const victim = RecordingWorker.made[1];
  let prevented = false;
  const error = { message: 'Uncaught Error: boom', filename: 'w.js', lineno: 3, preventDefault: () => { prevented = true; } };
  victim.listeners.get('error')!(error);
  victim.listeners.get('error')!(error); // a second event from the same worker is not a second death
  assert.ok(victim.terminated && prevented);
  assert.is(channel.deaths(1), 1);
  assert.is(channel.deaths(0), 0);
  assert.equal(w.told.slice(1), [{ type: 'watch-died', group: 1, index: 1, cause: 'loopgrad sync worker 2 an uncaught error at w.js:3: Uncaught Error: boom' }]);
  assert.is(RecordingWorker.made.length, 2, 'no replacement until it is needed');
  w.send({ type: 'watch-post', group: 1, index: 1, message: 'again', transfer: [] });
  assert.is(RecordingWorker.made.length, 3);
  assert.is(RecordingWorker.made[2].options.name, 'loopgrad sync worker 2');
  assert.equal(RecordingWorker.made[2].received, ['again']);
  // the replacement's own death counts again
  RecordingWorker.made[2].listeners.get('messageerror')!({});
  assert.is(channel.deaths(1), 2);
});

test('a kill terminates the worker after its delay and is reported as a death; close ends the group', () => {
  const w = watcher();
  w.send({ type: 'watch-hello', url: 'w.js' });
  const channel = SyncChannel.create(2);
  w.send({ type: 'watch-start', group: 2, role: 'rtrl', workers: 2, channel: channel.buffer });
  w.send({ type: 'watch-kill', group: 2, index: 0, afterMs: 5 });
  assert.is(channel.deaths(0), 0, 'not before its delay');
  w.timers.forEach((run) => run());
  assert.ok(RecordingWorker.made[0].terminated);
  assert.is(channel.deaths(0), 1);
  assert.equal(w.told.at(-1), { type: 'watch-died', group: 2, index: 0, cause: 'loopgrad rtrl worker 1 was terminated' });
  w.send({ type: 'watch-close', group: 2 });
  assert.ok(RecordingWorker.made[1].terminated);
  const made = RecordingWorker.made.length;
  w.send({ type: 'watch-post', group: 2, index: 0, message: 'late', transfer: [] });
  assert.is(RecordingWorker.made.length, made, 'a closed group starts nothing');
  const before = heartbeat(channel);
  w.beats.forEach((beat) => beat());
  assert.is(heartbeat(channel), before, 'a closed group is not beaten');
});

test('enableWebThreads refuses a platform without Web Workers, and one without shared memory', async () => {
  const g = globalThis as { Worker?: unknown; crossOriginIsolated?: unknown };
  let error: unknown = null;
  try { await enableWebThreads(); } catch (e) { error = e; }
  assert.ok(error instanceof ConfigError && /enableWebThreads: this platform has no Worker global/.test(error.message), String(error));
  g.Worker = RecordingWorker;
  try {
    error = null;
    try { await enableWebThreads(); } catch (e) { error = e; }
    assert.ok(error instanceof ConfigError && /cross-origin-isolated page: serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/.test(error.message), String(error));
    assert.throws(() => enableWebThreads({ workers: 2 } as never), /enableWebThreads: unknown option "?workers/);
  } finally {
    delete g.Worker;
  }
});

/** A stand-in for the watcher's Worker on the coordinator's side: answers hello, records the rest. */
class WatcherStandIn extends RecordingWorker {
  override postMessage(message: unknown): void {
    super.postMessage(message);
    if ((message as ToWatcher).type === 'watch-hello') setTimeout(() => this.listeners.get('message')?.({ data: { type: 'watch-ready' } }));
  }
}

test('enableWebThreads registers the host until the watcher dies or is closed; then a call starts a new one', async () => {
  const g = globalThis as { Worker?: unknown; crossOriginIsolated?: unknown };
  const before = workerHost(), teams = rtrlTeamFactory();
  g.Worker = WatcherStandIn;
  g.crossOriginIsolated = true;
  RecordingWorker.made = [];
  try {
    const workerUrl = 'https://example.test/loopgrad-worker.js';
    const first = await enableWebThreads({ workerUrl });
    assert.is(RecordingWorker.made.length, 1);
    assert.is(RecordingWorker.made[0].options.name, WATCHER_NAME);
    assert.is(workerHost(), first.host);
    assert.ok(rtrlTeamFactory() !== null);
    assert.is(await enableWebThreads({ workerUrl }), first, 'one watcher per thread');
    // the watcher dies (its error event, heard between calls): unregistered, and a new call starts anew
    RecordingWorker.made[0].listeners.get('error')!({ message: 'Uncaught Error: gone', preventDefault: () => {} });
    assert.ok(RecordingWorker.made[0].terminated);
    assert.is(workerHost(), null);
    assert.is(rtrlTeamFactory(), null);
    const second = await enableWebThreads({ workerUrl });
    assert.is.not(second, first);
    assert.is(workerHost(), second.host);
    second.close();
    assert.is(workerHost(), null);
    assert.is(rtrlTeamFactory(), null);
    first.close(); // closing a dead one again changes nothing
    assert.is(workerHost(), null);
  } finally {
    delete g.Worker;
    delete g.crossOriginIsolated;
    setWorkerHost(before);
    provideRtrlTeams(teams);
  }
});

test.run();
