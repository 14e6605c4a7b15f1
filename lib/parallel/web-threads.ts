// `threads` in a browser: the synchronous threaded methods (Bptt, Tbptt, Rtrl, fit with threads > 1)
// on Web Workers. They block the calling thread while the workers run, so they run in a Web Worker
// (a page's main thread may not block) on a cross-origin-isolated page (SharedArrayBuffer). Chromium
// starts no worker while its creator is blocked, so the workers cannot be made on first use as in
// Node: `await enableWebThreads()` first starts a watcher worker (web-watcher.ts), which then starts
// and watches every group of workers the methods ask for, blocked coordinator or not. It registers
// the platform's host for every method (setWorkerHost, provideRtrlTeams), as importing loopgrad
// does under Node.
//
//   // in a module Web Worker, on a page served with COOP same-origin + COEP require-corp:
//   await loopgrad.parallel.enableWebThreads();          // once; the worker bundle beside loopgrad's
//   const bptt = new loopgrad.Bptt(model, { threads: 2 });
import { ConfigError } from '../mat/errors.js';
import { checkKeys } from '../mat/options.js';
import { provideRtrlTeams } from '../rnn/rtrl-threads.js';
import { setWorkerHost } from './host.js';
import type { SyncToWorker, SyncWorkerGroup, WorkerHost } from './protocol.js';
import { type RtrlGroup, type RtrlHost, RtrlWorkers } from './rtrl-team.js';
import type { RtrlToWorker } from './rtrl-shard.js';
import { SyncChannel, canBlock } from './sync-channel.js';
import { type FromWatcher, type ToWatcher, WATCHER_NAME, type WatchedRole, type WebWorkerEvent, describeError, roleName } from './web-watcher.js';
import { type WebGlobals, type WebWorker, type WebWorkerHostOptions, resolveWorkerUrl, webWorkerHost } from './web-host.js';

const OP = 'enableWebThreads';
/** ms the watcher may take to load and answer before enableWebThreads gives up. */
const READY_TIMEOUT_MS = 30_000;

type DeathListener = (index: number, cause: string) => void;

/** The coordinator's end of the watcher: groups of workers started, fed and watched by it. */
class Watcher {
  private nextGroup = 1;
  private readonly listeners = new Map<number, DeathListener[]>();
  private readonly channels = new Map<number, SyncChannel>();
  private deadCause: string | null = null;

  /** Called once when the watcher dies (or is closed): the platform's registration is undone. */
  onGone: (() => void) | null = null;

  constructor(private readonly worker: WebWorker) {}

  get dead(): string | null {
    return this.deadCause;
  }

  send(message: ToWatcher): void {
    if (this.deadCause !== null) {
      // Nobody would run it: a phase it belongs to fails at once, naming the cause.
      if (message.type === 'watch-post') this.channels.get(message.group)?.markDead(message.index, `the thread watcher died (${this.deadCause})`);
      return;
    }
    this.worker.postMessage(message, message.type === 'watch-post' ? message.transfer : []);
  }

  /** A new group of `workers` workers serving `role` over channel: its id. */
  start(role: WatchedRole, workers: number, channel: SharedArrayBuffer): number {
    if (this.deadCause !== null) throw new ConfigError('threads', `the browser's thread watcher died (${this.deadCause}); call enableWebThreads() again`);
    const id = this.nextGroup++;
    this.channels.set(id, SyncChannel.over(channel));
    this.listeners.set(id, []);
    this.send({ type: 'watch-start', group: id, role, workers, channel });
    return id;
  }

  onDeath(group: number, listener: DeathListener): void {
    this.listeners.get(group)?.push(listener);
  }

  close(group: number): void {
    this.listeners.delete(group);
    this.channels.delete(group);
    this.send({ type: 'watch-close', group });
  }

  heard(message: FromWatcher): void {
    if (message.type !== 'watch-died') return;
    for (const l of this.listeners.get(message.group) ?? []) l(message.index, message.cause);
  }

  /** The watcher itself died: its workers died with it, so every group's workers are marked dead. */
  died(cause: string): void {
    if (this.deadCause !== null) return;
    this.deadCause = cause;
    for (const [id, channel] of this.channels) {
      for (let i = 0; i < channel.workers; i++) {
        const text = `the thread watcher died (${cause})`;
        channel.markDead(i, text);
        for (const l of this.listeners.get(id) ?? []) l(i, text);
      }
    }
    this.worker.terminate();
    this.onGone?.();
  }

  terminate(): void {
    this.died('it was closed');
  }
}

/** Threaded BPTT's workers (SyncPool) as one watched group. */
class WebSyncGroup implements SyncWorkerGroup {
  private readonly id: number;

  constructor(private readonly watcher: Watcher, workers: number, channel: SharedArrayBuffer) {
    this.id = watcher.start('sync', workers, channel);
  }

  post(index: number, message: SyncToWorker, transfer: ArrayBuffer[] = []): void {
    this.watcher.send({ type: 'watch-post', group: this.id, index, message, transfer });
  }

  name(index: number): string {
    return roleName('sync', index);
  }

  kill(index: number): void {
    this.watcher.send({ type: 'watch-kill', group: this.id, index, afterMs: 0 });
  }

  close(): void {
    this.watcher.close(this.id);
  }
}

/** Threaded RTRL's workers (RtrlWorkers) as one watched group. */
class WebRtrlGroup implements RtrlGroup {
  private readonly id: number;
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly watcher: Watcher, workers: number, channel: SharedArrayBuffer) {
    this.id = watcher.start('rtrl', workers, channel);
    watcher.onDeath(this.id, (index) => {
      this.waiting.get(index)?.();
      this.waiting.delete(index);
    });
  }

  post(index: number, message: RtrlToWorker): void {
    this.watcher.send({ type: 'watch-post', group: this.id, index, message, transfer: [] });
  }

  onDeath(listener: DeathListener): void {
    this.watcher.onDeath(this.id, listener);
  }

  kill(index: number, afterMs = 0): Promise<void> {
    const died = new Promise<void>((resolve) => this.waiting.set(index, resolve));
    this.watcher.send({ type: 'watch-kill', group: this.id, index, afterMs });
    return died;
  }

  close(): void {
    this.watcher.close(this.id);
  }
}

export interface WebThreads {
  /** The worker host now registered (its startSync runs threaded BPTT's workers under the watcher). */
  readonly host: WorkerHost;
  /** Threaded RTRL's workers under the watcher. */
  readonly rtrlHost: RtrlHost;
  /** Cores the browser reports (navigator.hardwareConcurrency): the most threads a method may ask for. */
  readonly cores: number;
  /** Ends the watcher and every worker it started, and unregisters the host: threads > 1 is refused again. */
  close(): void;
}

let current: Promise<WebThreads> | null = null;

/**
 * Starts the browser's thread watcher and registers Web Workers for the `threads` option of every
 * gradient method on this thread. Call it once, in a Web Worker of a cross-origin-isolated page;
 * later calls return the same (until close()).
 */
export function enableWebThreads(options: WebWorkerHostOptions = {}): Promise<WebThreads> {
  checkKeys(OP, options, ['workerUrl']);
  if (current !== null) return current;
  const attempt = startWatcher(options);
  current = attempt;
  attempt.catch(() => { if (current === attempt) current = null; });
  return attempt;
}

async function startWatcher(options: WebWorkerHostOptions): Promise<WebThreads> {
  const g = globalThis as WebGlobals;
  if (typeof g.Worker !== 'function') throw new ConfigError(OP, 'this platform has no Worker global (Web Workers); under Node, importing loopgrad registers worker_threads');
  if (typeof SharedArrayBuffer !== 'function' || g.crossOriginIsolated !== true) {
    throw new ConfigError(OP, 'threads need SharedArrayBuffer, which a browser gives only to a cross-origin-isolated page: serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (or use the async createWebPool, which copies)');
  }
  if (!canBlock()) {
    throw new ConfigError(OP, 'the threaded methods block the thread that calls them while the workers run, and this thread may not block (a page\'s main thread): call enableWebThreads and run the methods in a Web Worker, or use the async createWebPool(...).bptt, which never blocks');
  }
  const url = resolveWorkerUrl(g, options.workerUrl);
  const base = webWorkerHost({ workerUrl: url });
  const worker = new g.Worker(url, { type: 'module', name: WATCHER_NAME });
  let watcher: Watcher | null = null;
  await new Promise<void>((resolve, reject) => {
    const timer = g.setTimeout?.(() => fail(`it did not answer within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    function fail(cause: string): void {
      g.clearTimeout?.(timer);
      worker.terminate();
      reject(new ConfigError(OP, `the thread watcher (${url}) could not start: ${cause}`, { workerUrl: url }));
    }
    worker.addEventListener('message', (event: WebWorkerEvent) => {
      const m = event.data as FromWatcher;
      if (watcher !== null) watcher.heard(m);
      else if (m.type === 'watch-ready') {
        g.clearTimeout?.(timer);
        watcher = new Watcher(worker);
        resolve();
      }
    });
    worker.addEventListener('error', (event: WebWorkerEvent) => {
      event.preventDefault?.();
      const cause = describeError(event, url);
      if (watcher === null) fail(cause);
      else watcher.died(cause);
    });
    const hello: ToWatcher = { type: 'watch-hello', url };
    worker.postMessage(hello, []);
  });
  const w = watcher as unknown as Watcher;
  // A dead or closed watcher takes its registration with it: enableWebThreads() starts a new one.
  const mine = current; // this call's promise (enableWebThreads set it before this resumed)
  w.onGone = () => {
    if (current !== mine) return;
    current = null;
    setWorkerHost(null);
    provideRtrlTeams(null);
  };
  const host: WorkerHost = { ...base, shared: true, startSync: (workers, channel) => new WebSyncGroup(w, workers, channel) };
  const rtrlHost: RtrlHost = { cores: base.cores, start: (workers, channel) => new WebRtrlGroup(w, workers, channel) };
  setWorkerHost(host);
  provideRtrlTeams((request) => new RtrlWorkers(rtrlHost, request));
  return { host, rtrlHost, cores: base.cores, close: () => w.terminate() };
}
