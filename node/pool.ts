// The Node adapter of the worker pool: worker_threads for the workers, SharedArrayBuffer for
// parameters and gradients, os.availableParallelism() for the cores. Workers are unref'd while
// idle, so an open pool never keeps the process alive; close() ends them.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FromWorker, SyncToWorker, SyncWorkerGroup, ToWorker, WorkerHost, WorkerPort } from '../lib/parallel/protocol.js';
import { WorkerError, WorkerPool, type WorkerPoolOptions } from '../lib/parallel/pool.js';
import type { SupervisorData, ToSupervisor } from './supervisor.js';

const WORKER_SCRIPT = new URL('./worker.js', import.meta.url);
const SUPERVISOR_SCRIPT = new URL('./supervisor.js', import.meta.url);

class NodeWorkerPort implements WorkerPort {
  readonly name: string;
  private readonly worker: Worker;

  constructor() {
    this.worker = new Worker(WORKER_SCRIPT, { execArgv: workerExecArgv() });
    this.name = `thread ${this.worker.threadId}`;
  }

  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  listen(onReply: (message: FromWorker) => void, onDeath: (cause: string) => void): void {
    let dead = false;
    const die = (cause: string) => {
      if (dead) return;
      dead = true;
      onDeath(cause);
    };
    this.worker.on('message', onReply);
    this.worker.on('error', (e: unknown) => die(e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
    this.worker.on('messageerror', (e: unknown) => die(`a message could not be read: ${String(e)}`));
    this.worker.on('exit', (code: number) => die(`it exited with code ${code}`));
  }

  keepAlive(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

// The workers of a threaded gradient method: started and watched by a supervisor thread (see
// supervisor.ts), which forwards every message. The supervisor is unref'd: it never keeps the
// process alive, and ending the process ends it and its workers.
class NodeSyncGroup implements SyncWorkerGroup {
  private readonly supervisor: Worker;
  private closed = false;

  constructor(workers: number, channel: SharedArrayBuffer) {
    this.supervisor = startSupervisor(workers, channel, 'worker.js');
  }

  post(index: number, message: SyncToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.closed) throw new WorkerError('threads', 'the thread pool is closed');
    const m: ToSupervisor = { type: 'post', index, message, transfer };
    this.supervisor.postMessage(m, transfer);
  }

  name(index: number): string {
    return `worker ${index}`;
  }

  kill(index: number): void {
    const m: ToSupervisor = { type: 'kill', index };
    this.supervisor.postMessage(m);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const m: ToSupervisor = { type: 'close' };
    this.supervisor.postMessage(m);
    await this.supervisor.terminate();
  }
}

/** The flags a worker inherits: the process's, except --input-type, which Node refuses for a worker that runs a file. */
function workerExecArgv(): string[] {
  return process.execArgv.filter((a) => !a.startsWith('--input-type'));
}

/**
 * A supervisor thread (supervisor.ts) running `workers` copies of `script` over the channel;
 * unref'd, and its own death ignored here: its workers die with it, so every later call fails,
 * naming the cause.
 */
export function startSupervisor(workers: number, channel: SharedArrayBuffer, script: SupervisorData['script']): Worker {
  const execArgv = workerExecArgv();
  const data: SupervisorData = { channel, workers, execArgv, script };
  const supervisor = new Worker(SUPERVISOR_SCRIPT, { workerData: data, execArgv });
  supervisor.unref();
  supervisor.on('error', () => undefined);
  return supervisor;
}

/** Node's workers: one worker_threads Worker per slot, memory shared, cores from the OS. */
export function nodeWorkerHost(): WorkerHost {
  return {
    spawn: () => new NodeWorkerPort(),
    cores: availableParallelism(),
    shared: typeof SharedArrayBuffer === 'function',
    startSync: (workers, channel) => new NodeSyncGroup(workers, channel),
  };
}

/** A pool of Node worker threads: createNodePool({ threads: 2 }); refuses more threads than cores. */
export function createNodePool(options: WorkerPoolOptions = {}): WorkerPool {
  return new WorkerPool(nodeWorkerHost(), options);
}
