// The Web Worker adapter of the worker pool: module Workers for the workers,
// navigator.hardwareConcurrency for the cores, SharedArrayBuffer only on a cross-origin-isolated
// page (COOP same-origin + COEP require-corp), copies otherwise.
//
// It lives in lib/ because it is platform-neutral in the way lib/ needs: it names no Node
// built-in and no DOM type, only the Web Worker standard's globals (Worker, navigator,
// crossOriginIsolated), looked up on globalThis when a host is made and typed here by their
// shape, so tsconfig.lib.json (ES2022, no DOM) checks it. Importing it does nothing on any
// platform; calling webWorkerHost() where there is no Worker global is a ConfigError.
//
// Death in a browser: an uncaught error in the worker, a module that fails to load or evaluate
// ('error' event), a message that cannot be read ('messageerror'), or terminate(). The first
// two leave a browser worker running, so the port terminates it before reporting the death.
// A worker the browser kills without an event (none does in Chromium short of a crash) is not
// seen: the call would wait.
//
// A replacement worker (the pool asks for one after a death) starts on its first message, not at
// once: a worker whose script cannot load then fails the next call instead of being respawned
// in a loop.
import { ConfigError } from '../mat/errors.js';
import { type WebWorkerEvent, describeError } from './web-watcher.js';
import { checkKeys } from '../mat/options.js';
import { WorkerPool, type WorkerPoolOptions } from './pool.js';
import type { FromWorker, ToWorker, WorkerHost, WorkerPort } from './protocol.js';

/** What the port uses of a Worker (the Web Worker standard's names). */
export interface WebWorker {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: WebWorkerEvent) => void): void;
  terminate(): void;
}


export type WebWorkerConstructor = new (url: string, options: { type: 'module'; name: string }) => WebWorker;

export interface WebGlobals {
  Worker?: WebWorkerConstructor;
  navigator?: { hardwareConcurrency?: unknown };
  crossOriginIsolated?: unknown;
  location?: { href?: unknown };
  URL?: new (url: string, base?: string) => { href: string };
  setTimeout?: (callback: () => void, ms: number) => unknown;
  clearTimeout?: (timer: unknown) => void;
}

// The URL of the bundle this code was loaded from: scripts/bundle.mjs defines
// LOOPGRAD_BUNDLE_URL as import.meta.url (ES module bundle) or document.currentScript.src (the
// IIFE bundle, read while the script runs). Read once, at load; undefined outside the bundles.
declare const LOOPGRAD_BUNDLE_URL: string | undefined;
const BUNDLE_URL: string | undefined = /* @__PURE__ */ readBundleUrl();

function readBundleUrl(): string | undefined {
  try {
    return typeof LOOPGRAD_BUNDLE_URL === 'string' && LOOPGRAD_BUNDLE_URL !== '' ? LOOPGRAD_BUNDLE_URL : undefined;
  } catch {
    return undefined; // the IIFE bundle run where there is no document (importScripts in a worker)
  }
}

/** The name of the worker bundle scripts/bundle.mjs writes beside the page bundles. */
export const WORKER_BUNDLE = 'loopgrad-worker.js';

export interface WebWorkerHostOptions {
  /**
   * The worker script: dist/browser/loopgrad-worker.js wherever it is served. Default: that
   * file beside the loopgrad bundle the page loaded (required when lib/ is used unbundled or
   * through another bundler).
   */
  workerUrl?: string | { href: string };
}

export interface WebPoolOptions extends WorkerPoolOptions, WebWorkerHostOptions {}

let spawned = 0;


class WebWorkerPort implements WorkerPort {
  readonly name: string;
  private worker: WebWorker | null = null;
  private onReply: ((message: FromWorker) => void) | null = null;
  private onDeath: ((cause: string) => void) | null = null;
  private dead = false;

  constructor(private readonly Worker: WebWorkerConstructor, private readonly url: string, eager: boolean) {
    this.name = `web worker ${++spawned}`;
    if (eager) this.started();
  }

  /** The Worker, started on first use (a replacement) or at once (the pool's first workers). */
  private started(): WebWorker | null {
    if (this.worker !== null || this.dead) return this.worker;
    const worker = new this.Worker(this.url, { type: 'module', name: `loopgrad ${this.name}` });
    this.worker = worker;
    worker.addEventListener('message', (event) => {
      if (!this.dead) this.onReply?.(event.data as FromWorker);
    });
    worker.addEventListener('error', (event) => {
      event.preventDefault?.(); // reported through the pool's call, not as the page's uncaught error
      this.die(describeError(event, this.url));
    });
    worker.addEventListener('messageerror', () => this.die('a message from it could not be deserialised (messageerror)'));
    return worker;
  }

  // The worker is stopped for good, then the pool told once. A browser worker survives an
  // uncaught error, so it is terminated here rather than left running beside its replacement.
  private die(cause: string): void {
    if (this.dead) return;
    this.dead = true;
    this.worker?.terminate();
    this.onDeath?.(cause);
  }

  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    // A dead port drops the message: the pool has already been told of the death.
    this.started()?.postMessage(message, transfer);
  }

  listen(onReply: (message: FromWorker) => void, onDeath: (cause: string) => void): void {
    this.onReply = onReply;
    this.onDeath = onDeath;
  }

  /** A page is never kept open by its workers: nothing to do. */
  keepAlive(): void {}

  /** Browsers send no event for a terminated worker, so the death is reported here. */
  terminate(): void {
    this.die('it was terminated');
  }
}

/** new URL(url, base).href (URL is a web global; ES2022 alone does not declare it). */
function resolveUrl(g: WebGlobals, url: string, base: string | undefined): string {
  return new g.URL!(url, base).href;
}

export function resolveWorkerUrl(g: WebGlobals, workerUrl: WebWorkerHostOptions['workerUrl']): string {
  const op = 'webWorkerHost';
  if (typeof g.URL !== 'function') throw new ConfigError(op, 'this platform has no URL global to resolve the worker script\'s URL with');
  if (workerUrl === undefined) {
    if (BUNDLE_URL === undefined) {
      throw new ConfigError(op, `workerUrl is needed here: this copy of loopgrad is not one of the browser bundles, so it cannot find ${WORKER_BUNDLE} by itself (pass workerUrl: the URL where dist/browser/${WORKER_BUNDLE} is served)`);
    }
    return resolveUrl(g, WORKER_BUNDLE, BUNDLE_URL);
  }
  const text = typeof workerUrl === 'string' ? workerUrl : workerUrl !== null && typeof workerUrl === 'object' && typeof workerUrl.href === 'string' ? workerUrl.href : null;
  if (text === null || text === '') throw new ConfigError(op, `workerUrl must be a URL or a non-empty string, got ${String(workerUrl)}`, { workerUrl: String(workerUrl) });
  const base = typeof g.location?.href === 'string' ? g.location.href : undefined;
  try {
    return resolveUrl(g, text, base);
  } catch {
    throw new ConfigError(op, `workerUrl ${JSON.stringify(text)} is not a URL${base === undefined ? ' (and there is no page location to resolve it against)' : ` relative to ${base}`}`, { workerUrl: text });
  }
}

/**
 * The browser's workers: one module Worker per slot running the worker bundle, cores from
 * navigator.hardwareConcurrency, memory shared when SharedArrayBuffer exists and the page is
 * cross-origin isolated.
 */
export function webWorkerHost(options: WebWorkerHostOptions = {}): WorkerHost {
  checkKeys('webWorkerHost', options, ['workerUrl']);
  const g = globalThis as WebGlobals;
  const WorkerClass = g.Worker;
  if (typeof WorkerClass !== 'function') {
    throw new ConfigError('webWorkerHost', 'this platform has no Worker global (Web Workers); in Node use loopgrad/node\'s createNodePool');
  }
  const url = resolveWorkerUrl(g, options.workerUrl);
  const reported = g.navigator?.hardwareConcurrency;
  const cores = typeof reported === 'number' && Number.isInteger(reported) && reported >= 1 ? reported : 1;
  const shared = typeof SharedArrayBuffer === 'function' && g.crossOriginIsolated === true;
  const started = new Set<number>();
  return {
    cores,
    shared,
    // The first worker of a slot starts at once; a replacement starts on its first message.
    spawn: (index: number) => {
      const first = !started.has(index);
      started.add(index);
      return new WebWorkerPort(WorkerClass, url, first);
    },
  };
}

/** A pool of Web Workers: createWebPool({ threads: 2 }); refuses more threads than cores. */
export function createWebPool(options: WebPoolOptions = {}): WorkerPool {
  checkKeys('createWebPool', options, ['threads', 'shared', 'workerUrl']);
  const { workerUrl, ...poolOptions } = options;
  return new WorkerPool(webWorkerHost(workerUrl === undefined ? {} : { workerUrl }), poolOptions);
}
