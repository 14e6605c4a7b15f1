// The workers of the threaded gradient methods: one pool per platform host and worker count, made
// on first use and reused by every method after (never one per call or per method). A method holds
// a lease: its model (as a ModelSpec), its shared parameters, one shared gradient slot per worker
// and one shared exchange region per worker. Workers learn a lease on first use, and again after a
// death (the platform restarts a dead worker, which then knows nothing).
import { ConfigError } from '../mat/errors.js';
import type { ModelSpec } from './model-spec.js';
import type { SyncToWorker, SyncWorkerGroup, WorkerHost } from './protocol.js';
import { SyncChannel } from './sync-channel.js';

export class SyncPool {
  readonly workers: number;
  readonly channel: SyncChannel;
  readonly group: SyncWorkerGroup;
  private closed = false;
  private nextLease = 1;

  constructor(host: WorkerHost, workers: number) {
    if (host.startSync === undefined) throw new ConfigError('threads', 'this platform\'s worker host offers no synchronous workers (startSync): use the async WorkerPool.bptt instead');
    this.workers = workers;
    this.channel = SyncChannel.create(workers);
    this.group = host.startSync(workers, this.channel.buffer);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  lease(spec: ModelSpec, paramCount: number): PoolLease {
    return new PoolLease(this, this.nextLease++, spec, paramCount);
  }

  post(index: number, message: SyncToWorker, transfer?: ArrayBuffer[]): void {
    this.group.post(index, message, transfer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    forget(this);
    await this.group.close();
  }
}

export class PoolLease {
  readonly pool: SyncPool;
  readonly id: number;
  readonly spec: ModelSpec;
  readonly theta: Float64Array;
  /** Per worker: P gradient numbers, then the bytes of its tape. */
  readonly grads: Float64Array[];
  private readonly regions: Float64Array[] = [];
  /** Per worker: the death count when it learned this lease (-1: never). */
  private readonly known: number[];
  private released = false;

  constructor(pool: SyncPool, id: number, spec: ModelSpec, paramCount: number) {
    this.pool = pool;
    this.id = id;
    this.spec = spec;
    this.theta = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, paramCount)), 0, paramCount);
    const slots = new SharedArrayBuffer(8 * (paramCount + 1) * pool.workers);
    this.grads = Array.from({ length: pool.workers }, (_, i) => new Float64Array(slots, 8 * (paramCount + 1) * i, paramCount + 1));
    this.known = new Array<number>(pool.workers).fill(-1);
  }

  /** Worker i's exchange region, at least n numbers (regrown when a run needs more). */
  region(i: number, n: number): Float64Array {
    const r = this.regions[i];
    if (r !== undefined && r.length >= n) return r.length === n ? r : r.subarray(0, n);
    const fresh = new Float64Array(new SharedArrayBuffer(8 * n));
    this.regions[i] = fresh;
    return fresh;
  }

  /** Makes sure worker i knows this lease (a restarted worker learns it again). */
  ensure(i: number): void {
    const deaths = this.pool.channel.deaths(i);
    if (this.known[i] === deaths) return;
    this.known[i] = deaths;
    this.pool.post(i, { type: 'sync-init', channel: this.pool.channel.buffer, index: i, lease: this.id, spec: this.spec, theta: this.theta, grad: this.grads[i] });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.pool.isClosed) return;
    for (let i = 0; i < this.pool.workers; i++) if (this.known[i] !== -1) this.pool.post(i, { type: 'sync-release', lease: this.id });
  }
}

// One pool per host and worker count.
const pools = new WeakMap<WorkerHost, Map<number, SyncPool>>();
const every = new Set<SyncPool>();

function forget(pool: SyncPool): void {
  every.delete(pool);
}

/** The pool of `workers` workers on host, made on first use. */
export function syncPool(host: WorkerHost, workers: number): SyncPool {
  let byCount = pools.get(host);
  if (byCount === undefined) pools.set(host, byCount = new Map());
  let pool = byCount.get(workers);
  if (pool === undefined || pool.isClosed) {
    pool = new SyncPool(host, workers);
    byCount.set(workers, pool);
    every.add(pool);
  }
  return pool;
}

/**
 * Stops the workers of every threaded method's pool (they never keep a process alive, so this is
 * needed only to free them early). A later threaded run starts a new pool.
 */
export async function closeThreadPools(): Promise<void> {
  await Promise.all([...every].map((p) => p.close()));
}
