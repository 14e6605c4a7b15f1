// The thread that watches the workers of a threaded gradient method (threaded BPTT's, node/pool.ts;
// threaded RTRL's, node/rtrl-threads.ts). The method's caller blocks in SyncChannel.wait while they
// run, so its own event loop cannot hear a worker die (measured on Node 20: neither the 'exit'
// event nor worker.resourceLimits reach a blocked thread, and a worker that is terminated or runs
// out of memory runs no hook of its own). This thread is never blocked: it starts the workers (of
// the script it is given), forwards the caller's messages to them, and when one dies marks it dead
// in the channel (waking the caller), tells the caller why, and starts a fresh one in its place.
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { SyncChannel } from '../lib/parallel/sync-channel.js';

export interface SupervisorData {
  channel: SharedArrayBuffer;
  workers: number;
  execArgv: string[];
  /** The workers' script, beside this file: 'worker.js' (threaded BPTT) or 'rtrl-worker.js'. */
  script: string;
}

/** What the caller sends: a message for worker `index`, a kill (after `afterMs`, default at once), or the end. */
export type ToSupervisor =
  | { type: 'post'; index: number; message: unknown; transfer?: ArrayBuffer[] }
  | { type: 'kill'; index: number; afterMs?: number }
  | { type: 'close' };

/** What it tells the caller: worker `index` died of `cause` (already marked in the channel). */
export interface FromSupervisor {
  type: 'died';
  index: number;
  cause: string;
}

const port = parentPort;
if (port === null) throw new Error('loopgrad/node supervisor: this file runs as a worker thread (new Worker), not as a script');
const data = workerData as SupervisorData;
const channel = SyncChannel.over(data.channel);
const WORKER_SCRIPT = new URL(`./${data.script}`, import.meta.url);
let closing = false;

interface Slot { worker: Worker; dead: boolean }
const slots: Slot[] = [];

function start(index: number): Slot {
  const worker = new Worker(WORKER_SCRIPT, { execArgv: data.execArgv });
  const slot: Slot = { worker, dead: false };
  const name = `thread ${worker.threadId}`;
  const die = (cause: string) => {
    if (slot.dead || closing) return;
    slot.dead = true;
    const text = `${name} ${cause}`;
    channel.markDead(index, text);
    slots[index] = start(index);
    const m: FromSupervisor = { type: 'died', index, cause: text };
    port!.postMessage(m);
  };
  worker.on('error', (e: unknown) => die(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
  worker.on('messageerror', (e: unknown) => die(`could not read a message: ${String(e)}`));
  worker.on('exit', (code: number) => die(`exited with code ${code}`));
  return slot;
}

for (let i = 0; i < data.workers; i++) slots.push(start(i));
// A sign of life for the blocked caller: should this thread ever die, the beats stop and a caller
// that waits with staleMs gives up instead of waiting for deaths nobody reports.
const heartbeat = setInterval(() => channel.beat(), 250);
channel.beat();

port.on('message', (m: ToSupervisor) => {
  if (m.type === 'post') slots[m.index].worker.postMessage(m.message, m.transfer ?? []);
  else if (m.type === 'kill') {
    const victim = slots[m.index].worker;
    if (m.afterMs === undefined) void victim.terminate();
    else setTimeout(() => void victim.terminate(), m.afterMs);
  } else {
    closing = true;
    clearInterval(heartbeat);
    void Promise.all(slots.map((s) => s.worker.terminate())).then(() => port.close());
  }
});
