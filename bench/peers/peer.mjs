// One peer in a child process (forked by bench/peers/runner.ts), driven over the IPC channel
// (it says { type: 'hello' } once started, then answers one request at a time):
//   { type: 'setup', config }  -> { type: 'ready', info } | { type: 'skip', reason } | { type: 'error', message }
//   { type: 'batch', count }   -> { type: 'done', ms, loss } | { type: 'error', message }
//                                 (count batches back to back; ms per batch, the last loss)
//   { type: 'close' }          -> the process exits.
// The time is taken here, around one batch and the read-back that makes it finish (the IPC
// round trip is not counted). A peer whose library is missing or broken answers 'error' (or
// dies), which the parent reports and goes on without it.
import { Skip, checkConfig } from './common.mjs';

const RUNNERS = {
  'tfjs-cpu': async () => (await import('./tfjs.mjs')).createTfjs('cpu'),
  'tfjs-wasm': async () => (await import('./tfjs.mjs')).createTfjs('wasm'),
  'brain.js': async () => (await import('./brain.mjs')).createBrain(),
  'jax-js': async () => (await import('./jax.mjs')).createJax(),
};

const name = process.argv[2];
if (process.send === undefined) {
  console.error('peer.mjs: run by loopgrad bench lstm --peers (it needs an IPC channel)');
  process.exit(2);
}
const send = (msg) => process.send(msg);
const message = (e) => (e instanceof Error ? e.message : String(e));

let library = null;
let current = null;
process.on('message', async (msg) => {
  try {
    if (msg.type === 'close') {
      process.exit(0);
    } else if (msg.type === 'setup') {
      if (RUNNERS[name] === undefined) throw new Error(`unknown peer "${name}" (known: ${Object.keys(RUNNERS).join(', ')})`);
      library ??= await RUNNERS[name]();
      current?.dispose?.();
      current = null;
      try {
        current = await library.setup(checkConfig(msg.config));
        send({ type: 'ready', info: current.info });
      } catch (e) {
        if (e instanceof Skip) send({ type: 'skip', reason: e.message });
        else throw e;
      }
    } else if (msg.type === 'batch') {
      if (current === null) throw new Error('batch before setup');
      const count = msg.count ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new Error(`batch: count must be a positive integer, got ${count}`);
      let loss = 0;
      const start = performance.now();
      for (let b = 0; b < count; b++) loss = await current.batch();
      send({ type: 'done', ms: (performance.now() - start) / count, loss });
    } else {
      throw new Error(`unknown message type ${msg.type}`);
    }
  } catch (e) {
    send({ type: 'error', message: message(e) });
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'hello' });
