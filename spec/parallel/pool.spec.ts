// Data-parallel BPTT on Node worker threads: the batch split across 2 workers gives 1 worker's
// and plain Bptt's loss and gradient to 1e-12, repeats bit for bit, survives a killed worker
// (the call fails naming it, the next call works), refuses bad thread counts, and never keeps
// the process alive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createNodePool, nodeWorkerHost } from '../../node/pool.js';
import { WorkerError, WorkerPool } from '../../lib/parallel/pool.js';
import type { ModelSpec } from '../../lib/parallel/model-spec.js';
import { modelFromSpec } from '../../lib/parallel/model-spec.js';
import type { WorkerPort } from '../../lib/parallel/protocol.js';
import { shardRanges } from '../../lib/parallel/shard.js';
import { ConfigError } from '../../lib/errors.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { sequenceLoss } from '../../lib/loss/losses.js';
import { mat } from '../../lib/mat/mat.js';
import { Rng } from '../../lib/mat/rng.js';
import { randomMat, relErr } from '../helpers.js';

const spec: ModelSpec = { cell: { kind: 'lstm', options: { inputSize: 3, hiddenSize: 5 } }, readout: 2 };
const batch = 5, steps = 6;
const lengths = [6, 3, 5, 6, 2];

function data() {
  const rng = new Rng(11);
  const model = modelFromSpec(spec);
  rng.fillNormal(model.params.theta as unknown as never, 0, 0.3);
  const theta = new Float64Array(model.params.theta.length);
  for (let i = 0; i < theta.length; i++) theta[i] = 0.3 * Math.sin(1 + i * 0.7);
  const xs = randomMat(rng, steps * batch, 3);
  const targets = randomMat(rng, steps * batch, 2);
  const mask = mat(steps * batch, 1);
  for (let t = 0; t < steps; t++) for (let b = 0; b < batch; b++) mask.data[t * batch + b] = t < lengths[b] ? 1 : 0;
  return { theta, xs, targets, mask };
}

/**
 * The Node host with 2 cores whatever the machine has, its ports visible, and a trap: after
 * killOnRun(i), the next shard posted to worker i is not delivered; the worker is terminated
 * instead, so it dies while the call waits for it (deterministically, whatever the timing).
 */
function watchedHost() {
  const ports: WorkerPort[] = [];
  const base = nodeWorkerHost();
  let victim = -1;
  const spawn = (i: number): WorkerPort => {
    const p = base.spawn(i);
    const port: WorkerPort = {
      name: p.name,
      post: (m, transfer) => {
        if (m.type === 'run' && victim === i) {
          victim = -1;
          void p.terminate();
          return;
        }
        p.post(m, transfer);
      },
      listen: (onReply, onDeath) => p.listen(onReply, onDeath),
      keepAlive: (on) => p.keepAlive(on),
      terminate: () => p.terminate(),
    };
    ports[i] = port;
    return port;
  };
  return { ports, killOnRun: (i: number) => { victim = i; }, host: { cores: 2, shared: base.shared, spawn } };
}

test('modelFromSpec: a stack, bidirectional layers and an embedding build the layers a network builds; bad fields are ConfigErrors naming them', () => {
  const cell = { kind: 'gru' as const, options: { inputSize: 3, hiddenSize: 4 } };
  const deep = modelFromSpec({ cell, layers: 2, bidirectional: true, embedding: { vocabSize: 5 }, readout: 2 }, { seed: 1 });
  // Embedding 5 x 3, then per layer and direction a GRU (layer 1 reads both directions of layer 0: 8 inputs), then the readout.
  const gruParams = (input: number) => 3 * 4 * input + 3 * 4 * 4 + 2 * 3 * 4;
  assert.is(deep.params.theta.length, 5 * 3 + 2 * gruParams(3) + 2 * gruParams(8) + 2 * 8 + 2);
  assert.is(deep.cell.causal, false);
  const bad: [unknown, RegExp][] = [
    [{ cell, layers: 0 }, /^modelFromSpec: layers must be/],
    [{ cell, layers: 1.5 }, /^modelFromSpec: layers must be/],
    [{ cell, bidirectional: 'yes' }, /^modelFromSpec: bidirectional must be true or false, got yes/],
    [{ cell, embedding: 5 }, /^modelFromSpec: embedding must be \{ vocabSize \}/],
    [{ cell, embedding: { vocabSize: 5, size: 3 } }, /^modelFromSpec embedding: unknown option "size" \(accepted: vocabSize\)/],
    [{ cell, dropout: 0.1 }, /^modelFromSpec: dropout must be \{ p, seed\? \}/],
    [{ cell, dropout: { p: 0.1, keep: 1 } }, /^modelFromSpec dropout: unknown option "keep"/],
  ];
  for (const [spec, message] of bad) assert.throws(() => modelFromSpec(spec as ModelSpec), (e: unknown) => e instanceof ConfigError && message.test((e as Error).message), JSON.stringify(spec));
});

test('shards are contiguous, cover the batch and never outnumber it', () => {
  assert.equal(shardRanges(5, 2), [{ start: 0, end: 2 }, { start: 2, end: 5 }]);
  assert.equal(shardRanges(1, 2), [{ start: 0, end: 1 }]);
  assert.equal(shardRanges(4, 4).map((r) => r.end - r.start), [1, 1, 1, 1]);
});

test('2 threads = 1 thread = Bptt to 1e-12, shared or copied, and 2 threads repeat bit for bit', async () => {
  const { theta, xs, targets, mask } = data();
  const plainModel = modelFromSpec(spec, theta.slice());
  const plain = new Bptt(plainModel).run(xs, sequenceLoss({ kind: 'mse', targets, mask, batch }), { batch, lengths });
  const { host } = watchedHost();
  const two = new WorkerPool(host, { threads: 2 });
  const one = new WorkerPool(host, { threads: 1 });
  const copied = new WorkerPool(host, { threads: 2, shared: false });
  try {
    assert.ok(two.shared, 'Node shares memory');
    const loss = { kind: 'mse' as const, targets, mask };
    const r2 = await two.bptt(spec, theta, xs, loss, { batch, lengths });
    const r1 = await one.bptt(spec, theta, xs, loss, { batch, lengths });
    const rc = await copied.bptt(spec, theta, xs, loss, { batch, lengths });
    assert.is(r2.shards, 2);
    assert.is(r1.shards, 1);
    assert.ok(relErr(r1.grad, plain.grad) <= 1e-12, `1 thread vs Bptt ${relErr(r1.grad, plain.grad)}`);
    assert.ok(relErr(r2.grad, r1.grad) <= 1e-12, `2 threads vs 1 ${relErr(r2.grad, r1.grad)}`);
    assert.ok(Math.abs(r2.loss - plain.loss) <= 1e-12 * plain.loss, `loss ${r2.loss} vs ${plain.loss}`);
    assert.equal(Array.from(rc.grad), Array.from(r2.grad), 'the copying pool gives the shared pool\'s bits');
    const again = await two.bptt(spec, theta, xs, loss, { batch, lengths });
    assert.equal(Array.from(again.grad), Array.from(r2.grad), 'a second call repeats bit for bit');
    assert.is(again.loss, r2.loss);
    // New parameters reach the workers (theta is read at each call, not only at init).
    const moved = theta.map((v, i) => v + 0.01 * Math.cos(i));
    const r3 = await two.bptt(spec, moved, xs, loss, { batch, lengths });
    const plain3 = new Bptt(modelFromSpec(spec, moved.slice())).run(xs, sequenceLoss({ kind: 'mse', targets, mask, batch }), { batch, lengths });
    assert.ok(relErr(r3.grad, plain3.grad) <= 1e-12, `moved theta ${relErr(r3.grad, plain3.grad)}`);
  } finally {
    await Promise.all([two.close(), one.close(), copied.close()]);
  }
});

test('a worker killed mid-call fails the call naming it; the pool replaces it and the next call is right', async () => {
  const { theta, xs, targets, mask } = data();
  const { host, ports, killOnRun } = watchedHost();
  const pool = new WorkerPool(host, { threads: 2 });
  try {
    const loss = { kind: 'mse' as const, targets, mask };
    const good = await pool.bptt(spec, theta, xs, loss, { batch, lengths });
    const victim = ports[1];
    killOnRun(1);
    const call = pool.bptt(spec, theta, xs, loss, { batch, lengths });
    let caught: unknown = null;
    try { await call; } catch (e) { caught = e; }
    assert.ok(caught instanceof WorkerError, `expected a WorkerError, got ${String(caught)}`);
    const message = (caught as Error).message;
    assert.match(message, /^parallel bptt: worker 1 \(thread \d+\) died: it exited with code 1/);
    assert.match(message, /no gradient is returned/);
    assert.ok(ports[1] !== victim, 'worker 1 was replaced');
    const after = await pool.bptt(spec, theta, xs, loss, { batch, lengths });
    assert.equal(Array.from(after.grad), Array.from(good.grad));
  } finally {
    await pool.close();
  }
  let closed: unknown = null;
  try { await pool.bptt(spec, new Float64Array(0), xs, { kind: 'mse', targets }, { batch }); } catch (e) { closed = e; }
  assert.ok(closed instanceof WorkerError && /the pool is closed/.test(closed.message), String(closed));
});

test('bad thread counts are refused with a ConfigError naming the cores', () => {
  const cores = availableParallelism();
  for (const threads of [0, -1, 1.5, cores + 1, Number.NaN]) {
    assert.throws(() => createNodePool({ threads }), (e: unknown) => e instanceof ConfigError && new RegExp(`^workerPool: threads must be an integer from 1 to ${cores} .*got ${threads}`).test((e as Error).message), `threads ${threads}`);
  }
  assert.throws(() => createNodePool({ threds: 2 } as never), /unknown option "threds"/);
});

test('a shard\'s error names the worker and its sequences; bad inputs are refused before any worker runs', async () => {
  const { theta, xs, targets } = data();
  const { host } = watchedHost();
  const pool = new WorkerPool(host, { threads: 2 });
  try {
    const nanXs = mat(xs.rows, xs.cols);
    nanXs.data.set(xs.data);
    nanXs.data[(3 * batch + 4) * 3] = Number.NaN; // step 3, sequence 4: shard 1 holds sequences 2..4
    let caught: unknown = null;
    try { await pool.bptt(spec, theta, nanXs, { kind: 'mse', targets }, { batch }); } catch (e) { caught = e; }
    assert.ok(caught instanceof WorkerError, String(caught));
    assert.match((caught as Error).message, /^parallel bptt: worker 1 failed on sequences 2\.\.4: ConfigError: bptt: /);
    // The pool goes on: a clean call after a failed one.
    const ok = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch });
    assert.ok(Number.isFinite(ok.loss) && ok.loss > 0);
  } finally {
    await pool.close();
  }
  const pool2 = new WorkerPool(watchedHost().host, { threads: 2 });
  try {
    for (const [what, call, pattern] of [
      ['theta', () => pool2.bptt(spec, new Float64Array(3), xs, { kind: 'mse', targets }, { batch }), /theta has 3 numbers/],
      ['targets', () => pool2.bptt(spec, theta, xs, { kind: 'mse', targets: mat(4, 2) }, { batch }), /targets are 4x2, need 30x2/],
      ['target width', () => pool2.bptt(spec, theta, xs, { kind: 'mse', targets: mat(30, 3) }, { batch }), /targets are 30x3, need 30x2/],
      ['input width', () => pool2.bptt(spec, theta, mat(30, 4), { kind: 'mse', targets }, { batch }), /^parallel bptt: input is 30x4 but the model takes 3 features/],
      ['batch', () => pool2.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch: 4 }), /not steps·batch rows for batch 4/],
      ['lengths', () => pool2.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch, lengths: [1, 2] }), /2 lengths for a batch of 5/],
      ['option', () => pool2.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch, initialState: 'carry' } as never), /unknown option "initialState"/],
      ['kind', () => pool2.bptt(spec, theta, xs, { kind: 'l1' as never, targets }, { batch }), /unknown loss kind "l1"/],
      ['spec', () => pool2.bptt({ cell: { kind: 'lsmt' as never, options: { inputSize: 3, hiddenSize: 5 } } }, theta, xs, { kind: 'mse', targets }, { batch }), /unknown cell "lsmt"/],
    ] as const) {
      let caught: unknown = null;
      try { await call(); } catch (e) { caught = e; }
      assert.ok(caught instanceof Error && pattern.test(caught.message), `${what}: ${String(caught)}`);
    }
  } finally {
    await pool2.close();
  }
});

test('an open pool does not keep the process alive, during or after a call', () => {
  const poolUrl = new URL('../../node/pool.js', import.meta.url).href;
  const script = `
    import { createNodePool } from ${JSON.stringify(poolUrl)};
    const pool = createNodePool({ threads: 1 });
    const xs = { rows: 2, cols: 2, offset: 0, data: new Float64Array([1, 2, 3, 4]) };
    const targets = { rows: 2, cols: 1, offset: 0, data: new Float64Array([0.5, -0.5]) };
    const spec = { cell: { kind: 'elman', options: { inputSize: 2, hiddenSize: 1 } } };
    const r = await pool.bptt(spec, new Float64Array([0.1, 0.2, 0.3, 0.4, 0.5]), xs, { kind: 'mse', targets });
    console.log('loss ' + String(r.loss));
  `;
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000, cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.is(child.signal, null, `the child hung (killed after ${Date.now() - started} ms): ${child.stderr}`);
  assert.is(child.status, 0, child.stderr);
  assert.ok(/^loss \d/.test(child.stdout), `stdout: ${child.stdout} stderr: ${child.stderr}`);
});

test.run();
