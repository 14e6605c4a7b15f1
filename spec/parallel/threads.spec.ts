// The `threads` option of Bptt: the batch split over this thread and workers gives Bptt's loss,
// gradient, final state, outputs and initial-state gradient to 1e-12 (LSTM and GRU with readouts,
// lengths, explicit and carried initial states, a loss that mixes the batch's rows), repeats bit
// for bit, Tbptt's windows of runs and of streams alike, survives a worker killed mid-call (the call fails naming it; the next call is right).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import '../../node/register.js';
import { nodeWorkerHost } from '../../node/pool.js';
import { type ModelSpec, modelFromSpec } from '../../lib/parallel/model-spec.js';
import { ThreadedBptt } from '../../lib/parallel/threaded-bptt.js';
import { WorkerError } from '../../lib/parallel/pool.js';
import { closeThreadPools } from '../../lib/parallel/sync-pool.js';
import { setWorkerHost, workerHost } from '../../lib/parallel/host.js';
import type { SyncWorkerGroup, WorkerHost } from '../../lib/parallel/protocol.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';
import type { Graph, Var } from '../../lib/ad/graph.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import type { RunOptions } from '../../lib/rnn/unroll.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { type Mat, mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat, relErr } from '../helpers.js';

const batch = 5, steps = 6, inputSize = 3;
const lengths = [6, 3, 5, 6, 2];

function setup(spec: ModelSpec, seed: number) {
  const model = modelFromSpec(spec, { seed });
  const rng = new Rng(seed + 1);
  const xs = randomMat(rng, steps * batch, inputSize);
  const outputs = spec.readout ?? spec.cell.options.hiddenSize;
  const targets = randomMat(rng, steps * batch, outputs);
  return { model, xs, targets, rng };
}

// A loss that mixes rows: at every other step, the squared norm of the batch's mean output
// (ones(1 x batch) · output / batch), minus the targets' mean; and a term on the final state.
function mixingLoss(targets: Mat, width: number): SequenceLoss {
  const ones = mat(1, batch);
  ones.data.fill(1 / batch);
  return {
    step(g: Graph, t: number, output: Var): Var | null {
      if (t % 2 === 1) return null;
      const mean = g.matmul(g.constant(ones), output);
      const target = mat(1, width);
      for (let b = 0; b < batch; b++) for (let c = 0; c < width; c++) target.data[c] += targets.data[(t * batch + b) * width + c] / batch;
      const d = g.sub(mean, g.constant(target));
      return g.dot(d, d);
    },
    final(g: Graph, state: readonly Var[]): Var | null {
      return g.scale(g.sum(g.mul(state[0], state[0])), 0.1);
    },
  };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const e = relErr(a, b);
  assert.ok(e <= 1e-12, `${what}: relative difference ${e}`);
}

function compare(spec: ModelSpec, seed: number, makeLoss: (targets: Mat) => SequenceLoss, options: RunOptions) {
  const { model, xs, targets } = setup(spec, seed);
  const loss = makeLoss(targets);
  const plain = new Bptt(model).run(xs, loss, options);
  const threaded = new Bptt(model, { threads: 2 });
  try {
    const r = threaded.run(xs, loss, options);
    assert.ok(Math.abs(r.loss - plain.loss) <= 1e-12 * Math.abs(plain.loss), `loss ${r.loss} vs ${plain.loss}`);
    assert.ok(plain.loss > 0);
    close(r.grad, plain.grad, 'gradient');
    r.finalState.forEach((m, k) => close(m.data, plain.finalState[k].data, `final state ${k}`));
    close(r.outputs.data, plain.outputs.data, 'outputs');
    // The shards' step tapes and the loss terms' tape on this thread: about the bytes one tape
    // holds (the length masks' ops are recorded per shard: within 2% here).
    assert.ok(Math.abs(r.tapeBytes - plain.tapeBytes) <= 0.02 * plain.tapeBytes, `tape bytes ${r.tapeBytes} vs ${plain.tapeBytes}`);
    assert.is(r.initialStateGrad === null, plain.initialStateGrad === null);
    r.initialStateGrad?.forEach((m, k) => close(m.data, plain.initialStateGrad![k].data, `initial state gradient ${k}`));
    // The same thread count repeats bit for bit.
    const again = threaded.run(xs, loss, options);
    assert.equal(Array.from(again.grad), Array.from(r.grad));
    assert.is(again.loss, r.loss);
    return { model, xs, loss, threaded, plain };
  } finally {
    threaded.close();
  }
}

const lstm: ModelSpec = { cell: { kind: 'lstm', options: { inputSize, hiddenSize: 4 } }, readout: 2 };
const gru: ModelSpec = { cell: { kind: 'gru', options: { inputSize, hiddenSize: 4 } }, readout: 3, initialState: 'learned' };

test('LSTM with a readout, lengths and a masked MSE: 2 threads = Bptt to 1e-12, bit for bit again', () => {
  compare(lstm, 3, (targets) => {
    const mask = mat(steps * batch, 1);
    for (let t = 0; t < steps; t++) for (let b = 0; b < batch; b++) mask.data[t * batch + b] = t < lengths[b] ? 1 : 0;
    return sequenceLoss({ kind: 'mse', targets, mask, batch });
  }, { batch, lengths });
});

test('GRU with a learned initial state and a loss that mixes the rows of the batch', () => {
  compare(gru, 5, (targets) => mixingLoss(targets, 3), { batch, lengths });
});

test('an explicit initial state (one row per sequence, or one row shared) and its gradient', () => {
  const rng = new Rng(9);
  const perRow = [randomMat(rng, batch, 4), randomMat(rng, batch, 4)];
  compare(lstm, 7, (targets) => mixingLoss(targets, 2), { batch, initialState: perRow });
  const shared = [randomMat(rng, 1, 4), randomMat(rng, 1, 4)];
  compare(lstm, 8, (targets) => sequenceLoss({ kind: 'mse', targets, mask: null, batch }), { batch, lengths, initialState: shared });
});

test("initialState 'carry' continues from the threaded method's own last final state", () => {
  const { model, xs, targets } = setup(lstm, 12);
  const loss = sequenceLoss({ kind: 'mse', targets, mask: null, batch });
  const plain = new Bptt(model);
  const threaded = new Bptt(model, { threads: 2 });
  try {
    plain.run(xs, loss, { batch });
    threaded.run(xs, loss, { batch });
    const p = plain.run(xs, loss, { batch, initialState: 'carry' });
    const r = threaded.run(xs, loss, { batch, initialState: 'carry' });
    close(r.grad, p.grad, 'carried gradient');
    close(r.finalState[1].data, p.finalState[1].data, 'carried final state');
  } finally {
    threaded.close();
  }
});

test('a batch of one sequence runs on this thread alone; bad options are refused', () => {
  const { model, xs, targets } = setup(lstm, 4);
  const one = xs.data.subarray(0, inputSize * steps);
  const x1 = { rows: steps, cols: inputSize, data: one.slice(), offset: 0 };
  const t1 = { rows: steps, cols: 2, data: targets.data.slice(0, 2 * steps), offset: 0 };
  const loss = sequenceLoss({ kind: 'mse', targets: t1, mask: null, batch: 1 });
  const threaded = new Bptt(model, { threads: 2 });
  try {
    close(threaded.run(x1, loss).grad, new Bptt(model).run(x1, loss).grad, 'batch 1');
    assert.throws(() => threaded.run(xs, loss, { batch, inputGrad: true }), /^bptt: inputGrad is not available with threads: 2/);
  } finally {
    threaded.close();
  }
  assert.throws(() => threaded.run(x1, loss), /^bptt: this threaded method was closed/);
  for (const threads of [0, 1.5, -2]) assert.throws(() => new Bptt(model, { threads }), new RegExp(`^bptt: threads must be an integer >= 1.*got ${threads}`));
  assert.throws(() => new Bptt(model, { threads: 64 }), /^bptt: threads must be an integer from 1 to \d+ \(the cores of this machine\), got 64/);
  const { createModel } = { createModel: (m: typeof model) => ({ ...m }) };
  assert.throws(() => new Bptt(createModel(model), { threads: 2 }), /^bptt: threads: 2 needs a model that can cross to a worker as data: one made by modelFromSpec/);
});

test('Tbptt with threads: 2 gives Tbptt\'s windows (k1 = k2 and k1 < k2), losses, gradients and final state, parameters changing between windows', () => {
  for (const [k1, k2] of [[2, 2], [2, 4], [4, 5]]) {
    for (const [spec, seed] of [[lstm, 41], [gru, 42]] as const) {
      const { xs, targets } = setup(spec, seed);
      const loss = mixingLoss(targets, spec.readout!);
      // Each window updates the parameters, as a trainer does: both runs must see the same windows.
      const go = (threads: number) => {
        const model = modelFromSpec(spec, { seed });
        const method = new Tbptt(model, { k1, k2, threads });
        const windows: number[][] = [];
        try {
          const r = method.run(xs, loss, {
            batch, lengths,
            onWindow: (w) => {
              windows.push([w.start, w.end, w.lossStart, w.loss]);
              for (let i = 0; i < w.grad.length; i++) model.params.theta[i] -= 0.1 * w.grad[i];
            },
          });
          return { r, windows, theta: model.params.theta };
        } finally {
          method.close();
        }
      };
      const one = go(1), two = go(2);
      const what = `${spec.cell.kind} k1 ${k1} k2 ${k2}`;
      assert.equal(two.windows.map((w) => w.slice(0, 3)), one.windows.map((w) => w.slice(0, 3)), `${what}: window bounds`);
      close(two.windows.map((w) => w[3]), one.windows.map((w) => w[3]), `${what}: window losses`);
      close(two.theta, one.theta, `${what}: parameters after the windows' updates`);
      close(two.r.grad, one.r.grad, `${what}: summed gradient`);
      two.r.finalState.forEach((m, k) => close(m.data, one.r.finalState[k].data, `${what}: final state ${k}`));
    }
  }
});

test('Tbptt with threads: 2 streams (reset, feed in uneven chunks, carry) with the one-thread stream\'s windows, states and tape', () => {
  for (const [k1, k2] of [[2, 3], [3, 3]]) {
    for (const [spec, seed] of [[lstm, 43], [gru, 44]] as const) {
      const { xs, targets } = setup(spec, seed);
      const loss = mixingLoss(targets, spec.readout!);
      const width = batch * inputSize;
      const chunk = (from: number, count: number): Mat => ({ rows: count * batch, cols: inputSize, data: xs.data.subarray(from * width, (from + count) * width), offset: 0 });
      const go = (threads: number) => {
        const model = modelFromSpec(spec, { seed });
        const method = new Tbptt(model, { k1, k2, threads });
        const seen: { bounds: number[]; loss: number; grad: Float64Array; state: Mat[]; tape: number }[] = [];
        const onWindow = (w: { start: number; end: number; lossStart: number; loss: number; grad: Float64Array }) => {
          seen.push({ bounds: [w.start, w.end, w.lossStart], loss: w.loss, grad: w.grad.slice(), state: method.state(), tape: method.tapeBytes() });
          for (let i = 0; i < w.grad.length; i++) model.params.theta[i] -= 0.05 * w.grad[i];
        };
        try {
          // A stream with lengths in chunks of 1, 3 and 2 steps; then a second stream carrying its state on.
          method.reset({ batch, lengths });
          method.feed(chunk(0, 1), loss, onWindow);
          method.feed(chunk(1, 3), loss, onWindow);
          method.feed(chunk(4, 2), loss, onWindow, true);
          method.reset({ batch, initialState: 'carry' });
          method.feed(chunk(0, 5), loss, onWindow, true);
          return seen;
        } finally {
          method.close();
        }
      };
      const one = go(1), two = go(2);
      const what = `${spec.cell.kind} k1 ${k1} k2 ${k2}`;
      assert.equal(two.map((w) => w.bounds), one.map((w) => w.bounds), `${what}: window bounds`);
      assert.ok(one.length >= 4, `${what}: ${one.length} windows`);
      close(two.map((w) => w.loss), one.map((w) => w.loss), `${what}: window losses`);
      two.forEach((w, i) => {
        close(w.grad, one[i].grad, `${what}: window ${i} gradient`);
        w.state.forEach((m, k) => close(m.data, one[i].state[k].data, `${what}: window ${i} state ${k}`));
        assert.ok(w.tape > 0, `${what}: window ${i} tape bytes ${w.tape}`);
      });
    }
  }
});

/**
 * Node's host claiming 4 cores, its worker groups visible, and a trap: after killOnForward(i), the
 * next forward phase posted to worker i is not delivered; the worker is killed instead, so it
 * dies while the caller is blocked waiting for it (deterministically, whatever the timing).
 */
function trappedHost() {
  const base = nodeWorkerHost();
  let victim = -1, confused = -1, stalled = -1, started = 0;
  const host: WorkerHost = {
    ...base,
    cores: 4,
    startSync: (workers, channel) => {
      started++;
      const group = base.startSync!(workers, channel);
      const trapped: SyncWorkerGroup = {
        post: (i, m, transfer) => {
          if (m.type === 'sync-forward' && i === victim) {
            victim = -1;
            group.kill(i);
            return;
          }
          if (m.type === 'sync-forward' && i === stalled) {
            stalled = -1; // never delivered: the worker stays in the phase, as a stuck one would
            return;
          }
          if (m.type === 'sync-forward' && i === confused) {
            confused = -1;
            group.post(i, { ...m, lease: 999 }, transfer);
            return;
          }
          group.post(i, m, transfer);
        },
        name: (i) => group.name(i),
        kill: (i) => group.kill(i),
        close: () => group.close(),
      };
      return trapped;
    },
  };
  return {
    host,
    killOnForward: (i: number) => { victim = i; },
    /** The next forward phase of worker i names a lease it does not know: an error inside the worker. */
    confuseOnForward: (i: number) => { confused = i; },
    /** The next forward phase of worker i never reaches it: the caller waits for it in vain. */
    stallOnForward: (i: number) => { stalled = i; },
    started: () => started,
  };
}

test('3 threads (uneven shards) = Bptt; a worker killed mid-call fails it naming the worker, the next call is right', () => {
  const { host, killOnForward } = trappedHost();
  const { model, xs, targets } = setup(lstm, 21);
  const loss = mixingLoss(targets, 2);
  const options = { batch, lengths };
  const plain = new Bptt(model).run(xs, loss, options);
  const threaded = new ThreadedBptt(model, 3, host, { maxBytes: 2 ** 30 });
  try {
    const good = threaded.run(xs, loss, options);
    close(good.grad, plain.grad, '3 threads');
    killOnForward(1);
    let caught: unknown = null;
    try { threaded.run(xs, loss, options); } catch (e) { caught = e; }
    assert.ok(caught instanceof WorkerError, `expected a WorkerError, got ${String(caught)}`);
    assert.match((caught as Error).message, /^bptt: worker 1 died during the forward phase: thread \d+ exited with code 1; no gradient is returned/);
    const after = threaded.run(xs, loss, options);
    assert.equal(Array.from(after.grad), Array.from(good.grad), 'the pool recovered');
  } finally {
    threaded.close();
  }
});

test('an error inside a worker fails the call with its message; one pool serves every method until closed', async () => {
  const { host, confuseOnForward, started } = trappedHost();
  const { model, xs, targets } = setup(gru, 31);
  const loss = sequenceLoss({ kind: 'mse', targets, mask: null, batch });
  const first = new ThreadedBptt(model, 2, host, { maxBytes: 2 ** 30 });
  const second = new ThreadedBptt(model, 2, host, { maxBytes: 2 ** 30 });
  const good = first.run(xs, loss, { batch });
  assert.equal(Array.from(second.run(xs, loss, { batch }).grad), Array.from(good.grad));
  assert.is(started(), 1, 'two methods, one pool');
  confuseOnForward(0);
  assert.throws(() => first.run(xs, loss, { batch }), (e: unknown) => e instanceof WorkerError
    && /^bptt: worker 0 failed in the forward phase: LoopgradError: bptt worker: lease 999 is unknown to this worker; no gradient is returned/.test((e as Error).message));
  assert.equal(Array.from(first.run(xs, loss, { batch }).grad), Array.from(good.grad), 'the next call is right');
  first.close();
  second.close();
  await closeThreadPools();
  assert.throws(() => second.run(xs, loss, { batch }), /^bptt: this threaded method was closed/);
  const third = new ThreadedBptt(model, 2, host, { maxBytes: 2 ** 30 });
  assert.equal(Array.from(third.run(xs, loss, { batch }).grad), Array.from(good.grad), 'a new pool after closeThreadPools');
  assert.is(started(), 2);
  third.close();
});

test('an open threaded method never keeps the process alive', () => {
  // A child makes a threaded method, runs it once, and returns without close(): it must exit at once.
  const root = new URL('../../', import.meta.url).href;
  const code = `
    await import(${JSON.stringify(`${root}node/register.js`)});
    const { Bptt } = await import(${JSON.stringify(`${root}lib/rnn/bptt.js`)});
    const { modelFromSpec } = await import(${JSON.stringify(`${root}lib/parallel/model-spec.js`)});
    const { sequenceLoss } = await import(${JSON.stringify(`${root}lib/loss/losses.js`)});
    const { mat } = await import(${JSON.stringify(`${root}lib/mat/mat.js`)});
    const model = modelFromSpec(${JSON.stringify(lstm)});
    const xs = mat(4 * 2, ${inputSize}); xs.data.fill(0.5);
    const targets = mat(4 * 2, 2);
    const r = new Bptt(model, { threads: 2 }).run(xs, sequenceLoss({ kind: 'mse', targets, mask: null, batch: 2 }), { batch: 2 });
    console.log('ran ' + r.grad.length);`;
  const t0 = Date.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  assert.is(child.status, 0, child.stderr);
  assert.ok(/^ran \d+/.test(child.stdout), `stdout ${JSON.stringify(child.stdout)}, stderr ${child.stderr}`);
  assert.ok(Date.now() - t0 < 10_000, `the child took ${Date.now() - t0} ms`);
});

test('timeoutMs: a worker that does not finish a phase in time is stopped, the run fails naming it, the next run is right', () => {
  const trap = trappedHost();
  const previous = workerHost();
  setWorkerHost(trap.host);
  try {
    const { model, xs, targets } = setup(lstm, 51);
    const loss = mixingLoss(targets, 2);
    const options = { batch, lengths };
    assert.throws(() => new Bptt(model, { timeoutMs: 100 }), /^bptt: timeoutMs bounds the wait for worker threads, and threads: 1 has none/);
    for (const bad of [0, -5, Number.NaN, Infinity]) assert.throws(() => new Bptt(model, { threads: 2, timeoutMs: bad }), /^bptt: timeoutMs must be a positive number of milliseconds/);
    const plain = new Bptt(model).run(xs, loss, options);
    const method = new Bptt(model, { threads: 2, timeoutMs: 300 });
    try {
      close(method.run(xs, loss, options).grad, plain.grad, 'before the stall');
      trap.stallOnForward(0);
      const began = Date.now();
      let caught: unknown = null;
      try { method.run(xs, loss, options); } catch (e) { caught = e; }
      assert.ok(caught instanceof WorkerError, `expected a WorkerError, got ${String(caught)}`);
      assert.match((caught as Error).message, /^bptt: worker 0 .*did not finish the forward phase within 300 ms and was stopped; no gradient is returned/);
      assert.ok(Date.now() - began >= 300, 'it waited the timeout out');
      close(method.run(xs, loss, options).grad, plain.grad, 'after: the pool replaced the stopped worker');
    } finally {
      method.close();
    }
  } finally {
    setWorkerHost(previous);
  }
});

test.run();
