// A synchronous barrier between one coordinating thread and N workers, over one SharedArrayBuffer.
// Browser-safe (no Node built-ins): it needs only SharedArrayBuffer and Atomics.
//
// API (small on purpose; the coordinator is the thread that may block, a worker never blocks here):
//   SyncChannel.create(workers, { errorChars? })  coordinator: a new channel; send `.buffer` to every worker
//   SyncChannel.over(buffer)                      worker (or a supervisor): the same channel over a received buffer
//   channel.begin(indices?) -> seq                coordinator: marks the given workers (default all) RUNNING
//                                                 in phase number seq; then tell them (by message) to run it
//   channel.wait(seq, { timeoutMs?, sliceMs? })   coordinator: blocks (Atomics.wait, in slices) until every
//                                                 worker of phase seq has settled; returns one PhaseOutcome
//                                                 per worker: 'done' | 'failed' (its error's text) | 'dead'
//                                                 (its cause) | 'idle' (not in the phase); 'timeout' after timeoutMs;
//                                                 'lost' when the watcher's heartbeat stopped (staleMs)
//   channel.run(index, seq, fn)                   worker: runs fn inside try/catch and settles its part of the
//                                                 phase: 'done', or 'failed' with the error's name and message
//                                                 written into shared memory (never a partial success)
//   channel.markDead(index, cause)                whoever watches a worker's life (a thread that is never blocked,
//                                                 e.g. the thread that started it): settles its part as 'dead' and
//                                                 counts the death, so a blocked coordinator wakes at once
//   channel.beat()                                the watcher's sign of life; wait({ staleMs }) gives up on
//                                                 workers nobody watches any more once the beats stop
//   channel.deaths(index)                         deaths recorded so far (the coordinator re-initialises a
//                                                 worker whose count moved)
//   canBlock()                                    whether this thread may Atomics.wait (false on a browser's main thread)
//
// Layout of the Int32 control block: [pending, seq, workers, errorChars, heartbeat, -, -, -] then per worker [status, seq, errorLength, deaths],
// then per worker errorChars UTF-16 code units of text (no TextEncoder needed). A worker settles with a compare-exchange RUNNING -> DONE/FAILED/DEAD,
// so exactly one settlement counts per phase, and a late answer to an old phase (seq differs) is ignored.
import { ConfigError, ResourceError } from '../mat/errors.js';

const PENDING = 0, SEQ = 1, WORKERS = 2, ERROR_CHARS = 3, HEARTBEAT = 4, HEADER = 8, PER_WORKER = 4;
const STATUS = 0, WORKER_SEQ = 1, ERROR_LENGTH = 2, DEATHS = 3;
const IDLE = 0, RUNNING = 1, DONE = 2, FAILED = 3, DEAD = 4;

/** How one worker ended a phase. */
export type PhaseOutcome =
  | { readonly status: 'done' }
  | { readonly status: 'failed' | 'dead' | 'timeout' | 'lost'; readonly message: string }
  | { readonly status: 'idle' };

export interface SyncChannelOptions {
  /** UTF-16 code units of error text kept per worker (default 4096; longer texts are cut). */
  errorChars?: number;
}

export interface WaitOptions {
  /** Give up after this many milliseconds: the workers still running are reported 'timeout' (default: never). */
  timeoutMs?: number;
  /** Wake at least this often to look at the clock (default 50 ms). */
  sliceMs?: number;
  /**
   * Once the watcher has beaten (beat()), give up when its heartbeat stalls this long: the workers
   * still running are reported 'lost' (nobody is left to report their deaths). Default: never.
   */
  staleMs?: number;
}

/** The watchers (Node's supervisor, the browser's watcher) beat every 250 ms; this long without a beat means nobody watches the workers (WaitOptions.staleMs). */
export const WATCHER_STALE_MS = 10_000;

/** Whether the calling thread may block in Atomics.wait (a browser's main thread may not). */
export function canBlock(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // 'not-equal' at once where blocking is allowed
    return true;
  } catch {
    return false;
  }
}

export class SyncChannel {
  readonly buffer: SharedArrayBuffer;
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly text: Uint16Array;
  private readonly errorChars: number;

  private constructor(buffer: SharedArrayBuffer) {
    const head = new Int32Array(buffer, 0, HEADER);
    this.buffer = buffer;
    this.workers = head[WORKERS];
    this.errorChars = head[ERROR_CHARS];
    const ints = HEADER + PER_WORKER * this.workers;
    this.control = new Int32Array(buffer, 0, ints);
    this.text = new Uint16Array(buffer, 4 * ints, this.errorChars * this.workers);
  }

  /** A new channel for `workers` workers (the coordinator's side). */
  static create(workers: number, options: SyncChannelOptions = {}): SyncChannel {
    if (typeof SharedArrayBuffer !== 'function') throw new ResourceError('syncChannel', 'SharedArrayBuffer is not available (browsers need a cross-origin-isolated page)');
    if (!Number.isInteger(workers) || workers < 1) throw new ConfigError('syncChannel', `workers must be an integer >= 1, got ${String(workers)}`, { workers });
    const errorChars = options.errorChars ?? 4096;
    if (!Number.isInteger(errorChars) || errorChars < 64) throw new ConfigError('syncChannel', `errorChars must be an integer >= 64, got ${String(errorChars)}`, { errorChars });
    const ints = HEADER + PER_WORKER * workers;
    const buffer = new SharedArrayBuffer(4 * ints + 2 * errorChars * workers);
    const head = new Int32Array(buffer, 0, HEADER);
    head[WORKERS] = workers;
    head[ERROR_CHARS] = errorChars;
    return new SyncChannel(buffer);
  }

  /** The channel over a buffer made by create (a worker's side). */
  static over(buffer: SharedArrayBuffer): SyncChannel {
    return new SyncChannel(buffer);
  }

  private at(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.workers) throw new ConfigError('syncChannel', `worker ${String(index)} is not one of 0..${this.workers - 1}`, { index });
    return HEADER + PER_WORKER * index;
  }

  /** Deaths recorded for worker `index` so far. */
  deaths(index: number): number {
    return Atomics.load(this.control, this.at(index) + DEATHS);
  }

  /** Starts a phase for the given workers (default all): returns its number, to pass to them and to wait. */
  begin(indices?: readonly number[]): number {
    const c = this.control;
    const list = indices ?? Array.from({ length: this.workers }, (_, i) => i);
    const seq = (Atomics.load(c, SEQ) + 1) | 0;
    Atomics.store(c, SEQ, seq);
    for (let i = 0; i < this.workers; i++) Atomics.store(c, this.at(i) + STATUS, IDLE);
    Atomics.store(c, PENDING, list.length);
    for (const i of list) {
      const base = this.at(i);
      Atomics.store(c, base + ERROR_LENGTH, 0);
      Atomics.store(c, base + WORKER_SEQ, seq);
      Atomics.store(c, base + STATUS, RUNNING);
    }
    return seq;
  }

  /** Blocks until every worker of phase seq has settled (or the timeout): one outcome per worker. */
  wait(seq: number, options: WaitOptions = {}): PhaseOutcome[] {
    const c = this.control;
    const slice = options.sliceMs ?? 50;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const staleMs = options.staleMs ?? Infinity;
    let beat = Atomics.load(c, HEARTBEAT), beatSeen = Date.now(), stale = false;
    for (;;) {
      const pending = Atomics.load(c, PENDING);
      if (pending <= 0) break;
      const now = Date.now();
      if (now >= deadline) break;
      const b = Atomics.load(c, HEARTBEAT);
      if (b !== beat) { beat = b; beatSeen = now; }
      else if (b !== 0 && now - beatSeen >= staleMs) { stale = true; break; }
      Atomics.wait(c, PENDING, pending, Math.min(slice, Math.max(1, deadline - now)));
    }
    const out: PhaseOutcome[] = [];
    for (let i = 0; i < this.workers; i++) {
      const base = this.at(i);
      const status = Atomics.load(c, base + STATUS);
      if (Atomics.load(c, base + WORKER_SEQ) !== seq || status === IDLE) out.push({ status: 'idle' });
      else if (status === DONE) out.push({ status: 'done' });
      else if (status === RUNNING && stale) out.push({ status: 'lost', message: `the thread watching the workers gave no sign of life for ${staleMs} ms` });
      else if (status === RUNNING) out.push({ status: 'timeout', message: `worker ${i} did not finish within ${options.timeoutMs} ms` });
      else out.push({ status: status === DEAD ? 'dead' : 'failed', message: this.readText(i) });
    }
    return out;
  }

  /** Worker side: runs fn for phase seq and settles it: 'done', or 'failed' with the error's text. */
  run(index: number, seq: number, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.settle(index, seq, FAILED, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      return;
    }
    this.settle(index, seq, DONE, '');
  }

  /** The watcher's sign of life (call it every few hundred ms; see WaitOptions.staleMs). */
  beat(): void {
    Atomics.add(this.control, HEARTBEAT, 1);
  }

  /** Records the death of worker `index` (from a thread watching it): its running phase, if any, settles 'dead'. */
  markDead(index: number, cause: string): void {
    const base = this.at(index);
    Atomics.add(this.control, base + DEATHS, 1);
    this.settle(index, Atomics.load(this.control, base + WORKER_SEQ), DEAD, cause);
  }

  private settle(index: number, seq: number, status: number, message: string): void {
    const c = this.control, base = this.at(index);
    if (Atomics.load(c, base + WORKER_SEQ) !== seq) return; // an answer to an old phase
    if (Atomics.load(c, base + STATUS) !== RUNNING) return; // settled already (a death after its answer)
    if (status !== DONE) this.writeText(index, message);
    if (Atomics.compareExchange(c, base + STATUS, RUNNING, status) !== RUNNING) return;
    Atomics.sub(c, PENDING, 1);
    Atomics.notify(c, PENDING);
  }

  private writeText(index: number, message: string): void {
    const n = Math.min(message.length, this.errorChars), at = index * this.errorChars;
    for (let k = 0; k < n; k++) this.text[at + k] = message.charCodeAt(k);
    Atomics.store(this.control, this.at(index) + ERROR_LENGTH, n);
  }

  private readText(index: number): string {
    const n = Atomics.load(this.control, this.at(index) + ERROR_LENGTH);
    const at = index * this.errorChars;
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCharCode(this.text[at + k]);
    return s;
  }
}
