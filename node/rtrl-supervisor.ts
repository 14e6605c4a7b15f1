// The thread that runs and watches Rtrl's workers (node/rtrl-threads.ts starts it). Rtrl's caller
// blocks in SyncChannel.wait during a step, and a blocked thread hears no 'exit' event, while a
// worker that is terminated or runs out of memory runs no hook of its own; this thread is never
// blocked: it starts the workers, forwards the caller's messages, and when one dies it marks the
// death in the channel (waking a blocked caller, and counted in channel.deaths), tells the caller
// why, and starts a fresh worker in its place (which learns its block again from the next init).
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { SyncChannel } from '../lib/parallel/sync-channel.js';
import type { RtrlToWorker } from '../lib/parallel/rtrl-shard.js';

export interface RtrlSupervisorData {
  channel: SharedArrayBuffer;
  workers: number;
  execArgv: string[];
}

/** What the caller sends: a message for worker `index`, a kill (after `afterMs`), or the end. */
export type ToRtrlSupervisor =
  | { type: 'post'; index: number; message: RtrlToWorker }
  | { type: 'kill'; index: number; afterMs: number }
  | { type: 'close' };

/** What it tells the caller: worker `index` died of `cause`. */
export interface FromRtrlSupervisor {
  type: 'died';
  index: number;
  cause: string;
}

const port = parentPort;
if (port === null) throw new Error('loopgrad/node rtrl supervisor: this file runs as a worker thread (new Worker), not as a script');
const data = workerData as RtrlSupervisorData;
const channel = SyncChannel.over(data.channel);
const WORKER_SCRIPT = new URL('./rtrl-worker.js', import.meta.url);
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
    const m: FromRtrlSupervisor = { type: 'died', index, cause: text };
    port!.postMessage(m);
  };
  worker.on('error', (e: unknown) => die(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
  worker.on('messageerror', (e: unknown) => die(`could not read a message: ${String(e)}`));
  worker.on('exit', (code: number) => die(`exited with code ${code}`));
  return slot;
}

for (let i = 0; i < data.workers; i++) slots.push(start(i));

port.on('message', (m: ToRtrlSupervisor) => {
  if (m.type === 'post') slots[m.index].worker.postMessage(m.message);
  else if (m.type === 'kill') {
    const victim = slots[m.index].worker;
    setTimeout(() => void victim.terminate(), m.afterMs);
  } else {
    closing = true;
    void Promise.all(slots.map((s) => s.worker.terminate())).then(() => port.close());
  }
});
