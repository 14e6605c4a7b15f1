// The Web Worker adapter in Node, against a stand-in Worker global that runs the real worker side
// (serveWebWorker over a ShardWorker) in this thread, its messages structured-cloned as a browser
// would: the pool over webWorkerHost gives Bptt's loss and gradient to 1e-12, copying or
// sharing; a worker's uncaught error or messageerror, or terminate(), is a death that fails the
// call and terminates the worker; a replacement starts on its first message (no respawn loop);
// the worker URL and the platform are checked. Chromium runs the same code for real in
// scripts/browser-test.mjs (npm run test:browser).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWebPool, webWorkerHost } from '../../lib/parallel/web-host.js';
import { serveWebWorker } from '../../lib/parallel/web-worker.js';
import { WorkerError, WorkerPool } from '../../lib/parallel/pool.js';
import { type ModelSpec, modelFromSpec } from '../../lib/parallel/model-spec.js';
import { ConfigError, LoopgradError } from '../../lib/errors.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { mat } from '../../lib/mat/mat.js';
import { relErr } from '../helpers.js';

type Listener = (event: Record<string, unknown>) => void;

/** A Worker stand-in: the real worker side in this thread, each message a structured clone delivered on a later turn. */
class FakeWorker {
  static made: FakeWorker[] = [];
  readonly page = new Map<string, Listener[]>();
  readonly inside = new Map<string, Listener[]>();
  terminated = false;

  constructor(readonly url: string, readonly options: { type: string; name: string }) {
    FakeWorker.made.push(this);
    if (url.endsWith('/broken.js')) {
      // a module that throws while evaluating: the page sees an ErrorEvent
      setTimeout(() => this.emit(this.page, 'error', { message: 'Uncaught Error: broken on purpose', filename: url, lineno: 1, preventDefault: () => {} }));
      return;
    }
    serveWebWorker({
      addEventListener: (type, l) => this.on(this.inside, type, l as Listener),
      postMessage: (m, transfer) => this.deliver(this.page, m, transfer),
    });
  }

  private on(to: Map<string, Listener[]>, type: string, l: Listener): void {
    to.set(type, [...(to.get(type) ?? []), l]);
  }

  emit(to: Map<string, Listener[]>, type: string, event: Record<string, unknown>): void {
    if (this.terminated) return;
    for (const l of to.get(type) ?? []) l(event);
  }

  private deliver(to: Map<string, Listener[]>, message: unknown, transfer: ArrayBuffer[]): void {
    const data = structuredClone(message, { transfer });
    setTimeout(() => this.emit(to, 'message', { data }));
  }

  postMessage(message: unknown, transfer: ArrayBuffer[]): void {
    if (!this.terminated) this.deliver(this.inside, message, transfer);
  }

  addEventListener(type: string, l: Listener): void {
    this.on(this.page, type, l);
  }

  terminate(): void {
    this.terminated = true;
  }
}

/** Runs body with the browser globals the host reads stubbed, and puts the old ones back. */
async function withBrowserGlobals<T>(globals: Record<string, unknown>, body: () => Promise<T> | T): Promise<T> {
  const saved = Object.keys(globals).map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)] as const);
  for (const [k, v] of Object.entries(globals)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  FakeWorker.made = [];
  try {
    return await body();
  } finally {
    for (const [k, d] of saved) {
      if (d === undefined) delete (globalThis as Record<string, unknown>)[k];
      else Object.defineProperty(globalThis, k, d);
    }
  }
}

const browser = (extra: Record<string, unknown> = {}) => ({ Worker: FakeWorker, navigator: { hardwareConcurrency: 2 }, location: { href: 'https://example.test/app/page.html' }, ...extra });

const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize: 3, hiddenSize: 4 } }, readout: 2 };
const batch = 3, steps = 4;

function data() {
  const theta = new Float64Array(modelFromSpec(spec).params.theta.length);
  for (let i = 0; i < theta.length; i++) theta[i] = 0.3 * Math.sin(1 + 0.7 * i);
  const xs = mat(steps * batch, 3), targets = mat(steps * batch, 2);
  for (let i = 0; i < xs.data.length; i++) xs.data[i] = Math.cos(0.37 * i);
  for (let i = 0; i < targets.data.length; i++) targets.data[i] = 0.5 * Math.sin(0.23 * i + 2);
  const plain = new Bptt(modelFromSpec(spec, theta.slice())).run(xs, sequenceLoss({ kind: 'mse', targets, mask: null, batch }), { batch });
  return { theta, xs, targets, plain };
}

async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (e) {
    return e as Error;
  }
  throw new Error('the call succeeded');
}

test('2 web workers = Bptt to 1e-12, copying and (cross-origin isolated) sharing, and repeat bit for bit', async () => {
  const { theta, xs, targets, plain } = data();
  for (const isolated of [false, true]) {
    await withBrowserGlobals(browser({ crossOriginIsolated: isolated }), async () => {
      const host = webWorkerHost({ workerUrl: '../workers/loopgrad-worker.js' });
      assert.is(host.shared, isolated);
      assert.is(host.cores, 2);
      const pool = createWebPool({ threads: 2, workerUrl: '../workers/loopgrad-worker.js' });
      try {
        assert.is(pool.shared, isolated);
        assert.equal(FakeWorker.made.map((w) => [w.url, w.options.type]), [['https://example.test/workers/loopgrad-worker.js', 'module'], ['https://example.test/workers/loopgrad-worker.js', 'module']]);
        const a = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
        const b = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
        assert.is(a.shards, 2);
        assert.ok(Math.abs(a.loss - plain.loss) <= 1e-12 * plain.loss, `loss ${a.loss} vs ${plain.loss}`);
        assert.ok(relErr(a.grad, plain.grad) <= 1e-12, `gradient ${relErr(a.grad, plain.grad)}`);
        assert.equal(Array.from(b.grad), Array.from(a.grad));
        assert.is(b.loss, a.loss);
      } finally {
        await pool.close();
      }
      assert.ok(FakeWorker.made.every((w) => w.terminated), 'close() terminates every worker');
    });
  }
});

test('an uncaught error, a load failure or a messageerror fails the call naming the worker; the replacement starts on demand', async () => {
  const { theta, xs, targets } = data();
  await withBrowserGlobals(browser(), async () => {
    const pool = createWebPool({ threads: 2, workerUrl: 'https://example.test/w.js' });
    try {
      const good = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
      const deaths: [string, (w: FakeWorker) => void, RegExp][] = [
        ['an uncaught error', (w) => w.emit(w.page, 'error', { message: 'Uncaught RangeError: out of memory', filename: 'https://example.test/w.js', lineno: 7, preventDefault: () => {} }), /an uncaught error at https:\/\/example\.test\/w\.js:7: Uncaught RangeError: out of memory/],
        ['a plain error event (a load failure)', (w) => w.emit(w.page, 'error', {}), /its script failed to load or to start \(https:\/\/example\.test\/w\.js/],
        ['a messageerror', (w) => w.emit(w.page, 'messageerror', {}), /a message from it could not be deserialised/],
      ];
      for (const [what, kill, pattern] of deaths) {
        const before = FakeWorker.made.length;
        const call = pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
        await new Promise((r) => setTimeout(r, 0)); // the call is waiting for its shards
        const victim = FakeWorker.made.filter((w) => !w.terminated)[1];
        kill(victim);
        const e = await failure(call);
        assert.ok(e instanceof WorkerError, `${what}: ${String(e)}`);
        assert.match(e.message, /^parallel bptt: worker \d \(web worker \d+\) died: /, what);
        assert.match(e.message, pattern, what);
        assert.match(e.message, /no gradient is returned/, what);
        assert.ok(victim.terminated, `${what}: the dead worker is terminated, not left running`);
        assert.is(FakeWorker.made.length, before, `${what}: no worker started before it is needed`);
        const after = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
        assert.is(FakeWorker.made.length, before + 1, `${what}: the replacement started for the next call`);
        assert.equal(Array.from(after.grad), Array.from(good.grad), `${what}: the next call is whole`);
      }
    } finally {
      await pool.close();
    }
  });
});

test('the pool\'s terminate of a worker during a call fails the call; a script that throws at load fails each call without a respawn loop', async () => {
  const { theta, xs, targets } = data();
  await withBrowserGlobals(browser(), async () => {
    // terminate through the port while a call waits for it (the browser sends no event for it)
    const base = webWorkerHost({ workerUrl: 'https://example.test/w.js' });
    const ports: ReturnType<typeof base.spawn>[] = [];
    const pool = new WorkerPool({ cores: 2, shared: false, spawn: (i) => (ports[i] = base.spawn(i)) }, { threads: 2 });
    try {
      const call = pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
      await new Promise((r) => setTimeout(r, 0)); // the call is waiting for its shards
      const victim = ports[0];
      await victim.terminate();
      const e = await failure(call);
      assert.ok(e instanceof WorkerError, String(e));
      assert.match(e.message, /^parallel bptt: worker 0 \(web worker \d+\) died: it was terminated; no gradient is returned/);
      assert.ok(ports[0] !== victim, 'replaced');
      const again = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
      assert.ok(Number.isFinite(again.loss));
    } finally {
      await pool.close();
    }

    let spawns = 0;
    const madeBefore = FakeWorker.made.length;
    const brokenBase = webWorkerHost({ workerUrl: 'https://example.test/broken.js' });
    const broken = new WorkerPool({ cores: 1, shared: false, spawn: (i) => (spawns++, brokenBase.spawn(i)) }, { threads: 1 });
    try {
      for (let k = 0; k < 2; k++) {
        const e = await failure(broken.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch }));
        assert.ok(e instanceof WorkerError, String(e));
        assert.match(e.message, /died: an uncaught error at https:\/\/example\.test\/broken\.js:1: Uncaught Error: broken on purpose/);
      }
      const settled = spawns;
      await new Promise((r) => setTimeout(r, 30));
      assert.is(spawns, settled, 'no worker is respawned between calls');
      const started = FakeWorker.made.length - madeBefore;
      assert.ok(started <= 3, `${started} workers started for 2 calls (the first, then one per call at most)`);
    } finally {
      await broken.close();
    }
  });
});

test('the worker side refuses an unreadable message loudly (the page sees the worker die)', () => {
  const listeners = new Map<string, (e: { data?: unknown }) => void>();
  serveWebWorker({ addEventListener: (type, l) => listeners.set(type, l), postMessage: () => {} });
  assert.throws(() => listeners.get('messageerror')!({}), (e: unknown) => e instanceof LoopgradError && /^parallel worker: a message could not be deserialised/.test((e as Error).message));
});

test('no Worker global, no worker URL, a bad URL, unknown options and too many threads are ConfigErrors', async () => {
  assert.throws(() => webWorkerHost({ workerUrl: 'w.js' }), (e: unknown) => e instanceof ConfigError && /^webWorkerHost: this platform has no Worker global/.test((e as Error).message));
  await withBrowserGlobals(browser(), () => {
    // lib/ unbundled: no bundle URL to find loopgrad-worker.js beside
    assert.throws(() => webWorkerHost(), (e: unknown) => e instanceof ConfigError && /^webWorkerHost: workerUrl is needed here/.test((e as Error).message));
    assert.throws(() => webWorkerHost({ workerUrl: '' }), /workerUrl must be a URL or a non-empty string/);
    assert.throws(() => webWorkerHost({ workerUrl: 'http://[bad' }), /workerUrl "http:\/\/\[bad" is not a URL/);
    assert.throws(() => webWorkerHost({ workerUrl: 'w.js', threads: 2 } as never), /^webWorkerHost: unknown option "threads"/);
    assert.throws(() => createWebPool({ threads: 3, workerUrl: 'w.js' }), (e: unknown) => e instanceof ConfigError && /^workerPool: threads must be an integer from 1 to 2 /.test((e as Error).message));
    assert.throws(() => createWebPool({ threds: 2 } as never), /^createWebPool: unknown option "threds"/);
    assert.throws(() => createWebPool({ threads: 1, shared: true, workerUrl: 'w.js' }), /no usable SharedArrayBuffer/);
    assert.is(FakeWorker.made.length, 0, 'no worker started by a refused call');
  });
  await withBrowserGlobals(browser({ navigator: undefined, location: undefined }), () => {
    assert.is(webWorkerHost({ workerUrl: 'https://example.test/w.js' }).cores, 1, 'no navigator: 1 core');
    assert.throws(() => webWorkerHost({ workerUrl: 'w.js' }), /workerUrl "w\.js" is not a URL \(and there is no page location/);
  });
});

test.run();
