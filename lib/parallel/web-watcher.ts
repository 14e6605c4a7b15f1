// The watcher: a Web Worker that starts, feeds and watches the workers of the synchronous threaded
// methods (threaded BPTT's and RTRL's) for a thread that blocks while they run. It is the browser's
// counterpart of node/supervisor.ts, with one difference that shapes the design: Chromium does not
// start a worker while the thread that created it is blocked (seen with Chromium 156 on a throwaway
// page: a worker made just before its parent blocks in Atomics.wait does not run until the parent wakes). So the
// watcher is started once, asynchronously (enableWebThreads, web-threads.ts), and every later
// worker is its child: it is never blocked, so its children start, and their deaths are seen,
// while the coordinator waits in SyncChannel.wait.
//
// One watcher serves every group of its coordinator (one group per thread pool or RTRL team). On a
// death it terminates the worker (a browser worker outlives an uncaught error), marks it dead in
// the group's channel (which wakes the coordinator), and tells the coordinator. The replacement
// starts on its next message, not at once, so a worker script that cannot load fails each call
// instead of being restarted in a loop. Every 250 ms it beats each group's channel: a coordinator
// waiting with staleMs (every threaded method waits so) gives up if the watcher itself is gone.
//
// Browser-safe and platform-neutral: it names only the Web Worker standard's globals, typed here by
// their shape (as web-host.ts does).
import { ConfigError } from '../mat/errors.js';
import { SyncChannel } from './sync-channel.js';

/** What a worker of a group runs: threaded BPTT's SyncShardWorker, or an RtrlShard. */
export type WatchedRole = 'sync' | 'rtrl';

/** The Worker name that tells the worker bundle (web-worker.ts) what to serve. */
export const WATCHER_NAME = 'loopgrad watcher';
export const rolePrefix = (role: WatchedRole): string => `loopgrad ${role} worker`;
export const roleName = (role: WatchedRole, index: number): string => `${rolePrefix(role)} ${index + 1}`;

export type ToWatcher =
  | { type: 'watch-hello'; url: string }
  | { type: 'watch-start'; group: number; role: WatchedRole; workers: number; channel: SharedArrayBuffer }
  | { type: 'watch-post'; group: number; index: number; message: unknown; transfer: ArrayBuffer[] }
  | { type: 'watch-kill'; group: number; index: number; afterMs: number }
  | { type: 'watch-close'; group: number };

export type FromWatcher =
  | { type: 'watch-ready' }
  | { type: 'watch-died'; group: number; index: number; cause: string };

interface WatchedWorker {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'error' | 'messageerror', listener: (event: WebWorkerEvent) => void): void;
  terminate(): void;
}

type WorkerConstructor = new (url: string, options: { type: 'module'; name: string }) => WatchedWorker;

/** What serveWatcher uses of its DedicatedWorkerGlobalScope. */
export interface WatcherScope {
  addEventListener(type: 'message', listener: (event: { data?: unknown }) => void): void;
  postMessage(message: unknown): void;
  Worker?: unknown;
  setTimeout(callback: () => void, ms: number): unknown;
  setInterval(callback: () => void, ms: number): unknown;
}

interface Slot {
  worker: WatchedWorker | null;
  dead: boolean;
}

interface Group {
  role: WatchedRole;
  channel: SyncChannel;
  slots: Slot[];
}

const HEARTBEAT_MS = 250;

/** The fields of a MessageEvent or ErrorEvent a Web Worker's creator reads (a plain Event has none of them). */
export interface WebWorkerEvent {
  data?: unknown;
  message?: unknown;
  filename?: unknown;
  lineno?: unknown;
  preventDefault?: () => void;
}

/** Why a worker of `url` died, from its 'error' event (no message: its script did not load or start). */
export function describeError(event: WebWorkerEvent, url: string): string {
  const message = typeof event.message === 'string' && event.message !== '' ? event.message : null;
  if (message === null) return `its script failed to load or to start (${url}: is it served, as JavaScript, with the page's COEP header when the page has one?)`;
  const where = typeof event.filename === 'string' && event.filename !== '' ? ` at ${event.filename}${typeof event.lineno === 'number' ? `:${event.lineno}` : ''}` : '';
  return `an uncaught error${where}: ${message}`;
}

/** Serves a coordinator's ToWatcher messages on this worker's scope until it is terminated. */
export function serveWatcher(scope: WatcherScope): void {
  const WorkerClass = scope.Worker as WorkerConstructor | undefined;
  const groups = new Map<number, Group>();
  let url = '';

  const tell = (m: FromWatcher) => scope.postMessage(m);

  const die = (id: number, group: Group, index: number, slot: Slot, cause: string) => {
    if (slot.dead || !groups.has(id)) return;
    slot.dead = true;
    slot.worker?.terminate();
    const text = `${roleName(group.role, index)} ${cause}`;
    group.channel.markDead(index, text);
    group.slots[index] = { worker: null, dead: false }; // the replacement, started by its next message
    tell({ type: 'watch-died', group: id, index, cause: text });
  };

  const started = (id: number, group: Group, index: number): WatchedWorker => {
    const slot = group.slots[index];
    if (slot.worker !== null) return slot.worker;
    const worker = new WorkerClass!(url, { type: 'module', name: roleName(group.role, index) });
    slot.worker = worker;
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      die(id, group, index, slot, describeError(event, url));
    });
    worker.addEventListener('messageerror', () => die(id, group, index, slot, 'could not read a message (messageerror)'));
    return worker;
  };

  scope.setInterval(() => { for (const g of groups.values()) g.channel.beat(); }, HEARTBEAT_MS);

  scope.addEventListener('message', (event) => {
    const m = event.data as ToWatcher;
    switch (m.type) {
      case 'watch-hello':
        url = m.url;
        // thrown uncaught, it reaches enableWebThreads as the watcher's 'error' event
        if (typeof WorkerClass !== 'function') throw new ConfigError('loopgrad watcher', 'this worker has no Worker global, so it cannot start workers (a browser without nested workers)');
        tell({ type: 'watch-ready' });
        break;
      case 'watch-start': {
        const group: Group = { role: m.role, channel: SyncChannel.over(m.channel), slots: [] };
        groups.set(m.group, group);
        for (let i = 0; i < m.workers; i++) group.slots.push({ worker: null, dead: false });
        for (let i = 0; i < m.workers; i++) started(m.group, group, i);
        group.channel.beat();
        break;
      }
      case 'watch-post': {
        const group = groups.get(m.group);
        if (group !== undefined) started(m.group, group, m.index).postMessage(m.message, m.transfer);
        break;
      }
      case 'watch-kill': {
        const group = groups.get(m.group);
        if (group === undefined) break;
        const slot = group.slots[m.index];
        scope.setTimeout(() => die(m.group, group, m.index, slot, 'was terminated'), m.afterMs);
        break;
      }
      case 'watch-close': {
        const group = groups.get(m.group);
        if (group === undefined) break;
        groups.delete(m.group);
        for (const slot of group.slots) slot.worker?.terminate();
        break;
      }
    }
  });
}
