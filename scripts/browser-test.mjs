#!/usr/bin/env node
// loopgrad in a real browser. Serves the built bundles and the demo on
// localhost, starts Debian's headless Chromium through playwright-core and checks:
//   1. the bundle loads as an ES module and as the IIFE global `loopgrad`;
//   2. a seeded training run (scripts/seeded-run.mjs) gives the same losses and
//      parameters, to the last bit, in Chromium and in Node;
//   3. the demo page trains: its loss falls within a few seconds, the page keeps
//      ticking (timer and animation-frame heartbeats, prompt evaluation round
//      trips), the BPTT/RTRL switch reports each method's cost, and bad input
//      shows a message;
//   4. a screenshot of the demo is written to a PNG file;
//   5. data-parallel BPTT on a pool of Web Workers (loopgrad.parallel.createWebPool and the
//      worker bundle dist/browser/loopgrad-worker.js), on a page served without and with
//      COOP/COEP (copies, then SharedArrayBuffer): 2 workers equal the main thread's Bptt to
//      1e-12, repeat bit for bit, survive a worker terminated mid-call (the call fails naming
//      it, the next is whole) and a worker script that throws at load (no respawn loop), and
//      close() ends every worker (counted by playwright); the IIFE bundle finds the worker too;
//   6. the synchronous threaded methods in a Web Worker (loopgrad.parallel.enableWebThreads): Bptt,
//      Tbptt and fit with 2 threads equal 1 thread to 1e-12, Rtrl bit for bit; a terminated RTRL
//      worker fails the next step naming it and reset() recovers; the page's main thread and a
//      page that is not cross-origin isolated are refused with messages that say what to do.
// Needs the bundles (node scripts/bundle.mjs), /usr/bin/chromium and playwright-core.
//
// Check 2 runs twice and both must be bit-identical to Node's: once as is (lib/
// computes exp/log/tanh itself in lib/mat/math.ts, so the engines' Math.exp/log/
// tanh, which differ between Node 20's V8 and Chromium 156's, must not matter),
// and once with Math's exp/log/tanh swapped for scripts/portable-math.mjs, which
// also catches any engine function a caller of lib/ might still use.
// --lenient-math turns a difference in the first run into a WARN when the
// engines' own Math differs (for diagnosing a regression).
//
// usage: node scripts/browser-test.mjs [--screenshot FILE] [--train-seconds S] [--chromium PATH] [--keep-profile] [--lenient-math]
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { seededRun } from './seeded-run.mjs';
import { mathFingerprint, withPortableMath } from './portable-math.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/browser-test.mjs [--screenshot FILE] [--train-seconds S] [--chromium PATH] [--keep-profile] [--lenient-math]';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

function parseOptions(argv) {
  const options = { screenshot: 'build/browser-test/demo.png', trainSeconds: 4, chromium: '/usr/bin/chromium', keepProfile: false, lenientMath: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usageError(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--screenshot': options.screenshot = value(); break;
      case '--train-seconds': {
        const v = value();
        options.trainSeconds = Number(v);
        if (!(options.trainSeconds >= 1 && options.trainSeconds <= 60)) usageError(`--train-seconds must be a number from 1 to 60, got ${JSON.stringify(v)}`);
        break;
      }
      case '--chromium': options.chromium = value(); break;
      case '--keep-profile': options.keepProfile = true; break;
      case '--lenient-math': options.lenientMath = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: usageError(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  return options;
}

function usageError(message) {
  console.error(`browser-test: ${message}\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// A static server for the repository's built files, plus two generated pages.

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const SERVED = ['dist/browser/', 'dist/lib/mat/math.js', 'docs/demo/', 'scripts/seeded-run.mjs', 'scripts/portable-math.mjs'];

// Both pages run the seeded routine twice: with the engine's own Math, and
// with portable elementary functions (scripts/portable-math.mjs) in its place.
const RUN_BOTH = `
  const { seededRun } = await import('/scripts/seeded-run.mjs');
  const { withPortableMath, mathFingerprint } = await import('/scripts/portable-math.mjs');
  const t0 = performance.now();
  const run = seededRun(lg);
  const ms = performance.now() - t0;
  const portable = withPortableMath(() => seededRun(lg));
  const result = { exports: Object.keys(lg).sort(), run, ms, portable: portable.result, engineFunctionsUsed: portable.engineFunctionsUsed, fingerprint: mathFingerprint() };`;

const TEST_PAGES = {
  '/__test/esm.html': `<!doctype html><meta charset="utf-8"><title>esm</title><link rel="icon" href="data:,">
<script type="module">
try {
  const lg = await import('/dist/browser/loopgrad.min.mjs');
  ${RUN_BOTH}
  window.__result = result;
} catch (err) { window.__result = { error: String(err && err.stack || err) }; }
</script>`,
  '/__test/iife.html': `<!doctype html><meta charset="utf-8"><title>iife</title><link rel="icon" href="data:,">
<script src="/dist/browser/loopgrad.min.js"></script>
<script type="module">
try {
  const lg = window.loopgrad;
  if (typeof lg !== 'object' || lg === null) throw new Error('the IIFE bundle defined no global loopgrad');
  ${RUN_BOTH}
  window.__result = { ...result, isGlobal: true };
} catch (err) { window.__result = { error: String(err && err.stack || err) }; }
</script>`,
  '/__test/broken-worker.js': `throw new Error('broken on purpose');`,
  // the IIFE bundle finds loopgrad-worker.js beside itself (document.currentScript, read at load)
  '/__test/workers-iife.html': `<!doctype html><meta charset="utf-8"><title>workers-iife</title><link rel="icon" href="data:,">
<script src="/dist/browser/loopgrad.min.js"></script>
<script type="module">
try {
  const lg = window.loopgrad;
  const spec = { cell: { kind: 'gru', options: { inputSize: 2, hiddenSize: 3 } }, readout: 1 };
  const theta = new Float64Array(lg.parallel.modelFromSpec(spec).params.theta.length).map((_, i) => 0.4 * Math.cos(i));
  const xs = lg.mat(8, 2), targets = lg.mat(8, 1);
  xs.data.forEach((_, i) => { xs.data[i] = Math.sin(i); });
  targets.data.forEach((_, i) => { targets.data[i] = 0.1 * i; });
  const plain = new lg.Bptt(lg.parallel.modelFromSpec(spec, theta.slice())).run(xs, lg.sequenceLoss({ kind: 'mse', targets, mask: null, batch: 2 }), { batch: 2 });
  const pool = lg.parallel.createWebPool({ threads: 1 });
  const r = await pool.bptt(spec, theta, xs, { kind: 'mse', targets }, { batch: 2 });
  await pool.close();
  let d = 0, m = 0;
  for (let i = 0; i < r.grad.length; i++) { d = Math.max(d, Math.abs(r.grad[i] - plain.grad[i])); m = Math.max(m, Math.abs(plain.grad[i])); }
  window.__iife = { gradRel: d / m, lossRel: Math.abs(r.loss - plain.loss) / plain.loss };
} catch (err) { window.__iife = { error: String(err && err.stack || err) }; }
</script>`,
  // Check 6 (served as is and under /__coi/): the page's main thread is refused, a Web Worker
  // enables threads and runs the threaded methods (threads-worker.js), which set window.__threads.
  '/__test/threads.html': `<!doctype html><meta charset="utf-8"><title>threads</title><link rel="icon" href="data:,">
<script type="module">
const out = { isolated: globalThis.crossOriginIsolated === true };
try {
  const lg = await import(new URL('../dist/browser/loopgrad.min.mjs', location.href).href);
  out.mainThread = await lg.parallel.enableWebThreads().then(() => null, (e) => String(e && e.message));
  const worker = new Worker('./threads-worker.js', { type: 'module', name: 'coordinator' });
  out.worker = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => resolve({ error: 'the worker failed: ' + e.message });
  });
} catch (err) { out.error = String(err && err.stack || err); }
window.__threads = out;
</script>`,
  '/__test/threads-worker.js': `const out = {};
try {
  const lg = await import(new URL('../dist/browser/loopgrad.min.mjs', import.meta.url).href);
  const P = lg.parallel;
  const t0 = performance.now();
  const threads = await P.enableWebThreads();
  out.enableMs = performance.now() - t0;
  out.cores = threads.cores;
  const batch = 4, steps = 6, lengths = [6, 3, 5, 6];
  const xs = lg.mat(steps * batch, 3), targets = lg.mat(steps * batch, 2);
  for (let i = 0; i < xs.data.length; i++) xs.data[i] = Math.cos(0.37 * i);
  for (let i = 0; i < targets.data.length; i++) targets.data[i] = 0.5 * Math.sin(0.23 * i + 2);
  const loss = lg.sequenceLoss({ kind: 'mse', targets, mask: null, batch });
  const relErr = (a, b) => { let d = 0, m = 0; for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); } return m === 0 ? d : d / m; };
  const sameBits = (a, b) => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
  // Bptt and Tbptt: an LSTM with a learned initial state, data-parallel over the batch
  const model = P.modelFromSpec({ cell: { kind: 'lstm', options: { inputSize: 3, hiddenSize: 6 } }, readout: 2, initialState: 'learned' }, { seed: 4 });
  const plain = new lg.Bptt(model).run(xs, loss, { batch, lengths });
  const bptt = new lg.Bptt(model, { threads: 2 });
  const a = bptt.run(xs, loss, { batch, lengths }), b = bptt.run(xs, loss, { batch, lengths });
  out.bptt = { params: a.grad.length, gradRel: relErr(a.grad, plain.grad), lossRel: Math.abs(a.loss - plain.loss) / Math.abs(plain.loss), repeat: a.loss === b.loss && sameBits(a.grad, b.grad) };
  const windows = (t) => { const grads = []; t.run(xs, loss, { batch, lengths, onWindow: (w) => { grads.push(Array.from(w.grad)); } }); return grads; };
  const w1 = windows(new lg.Tbptt(model, { k1: 2, k2: 3 })), w2 = windows(new lg.Tbptt(model, { k1: 2, k2: 3, threads: 2 }));
  out.tbptt = { windows: w2.length, gradRel: Math.max(...w1.map((g, i) => relErr(w2[i] ?? [], g))), count: w1.length === w2.length };
  // Rtrl: a GRU wide enough for two column blocks, bit for bit against one thread
  const rmodel = P.modelFromSpec({ cell: { kind: 'gru', options: { inputSize: 3, hiddenSize: 20 } }, readout: 2 }, { seed: 5 });
  const r1 = new lg.Rtrl(rmodel).run(xs, loss, { batch, lengths });
  const rtrl = new lg.Rtrl(rmodel, { threads: 2 });
  const r2 = rtrl.run(xs, loss, { batch, lengths });
  out.rtrl = { params: r2.grad.length, shards: rtrl.shards, sameBits: r1.loss === r2.loss && sameBits(r1.grad, r2.grad), gradRelVsBptt: relErr(r2.grad, new lg.Bptt(rmodel).run(xs, loss, { batch, lengths }).grad) };
  // Snap (SnAp-2): Ŝ's columns split over the same kind of team, to 1e-12 against one thread
  const s1 = new lg.Snap(rmodel, { order: 2 }).run(xs, loss, { batch, lengths });
  const snap = new lg.Snap(rmodel, { order: 2, threads: 2 });
  const s2 = snap.run(xs, loss, { batch, lengths });
  out.snap = { shards: snap.shards, gradRel: relErr(s2.grad, s1.grad), lossSame: s1.loss === s2.loss };
  snap.close();
  // a worker terminated between steps: the next step fails naming it, reset() brings a new one
  rtrl.reset({ batch });
  rtrl.step(lg.rowsView(xs, 0, batch), loss);
  await rtrl.team.kill(1);
  try { rtrl.step(lg.rowsView(xs, batch, batch), loss); out.killed = null; } catch (e) { out.killed = { name: e instanceof P.WorkerError ? 'WorkerError' : String(e && e.name), message: String(e.message) }; }
  const r3 = rtrl.run(xs, loss, { batch, lengths });
  out.afterKill = r1.loss === r3.loss && sameBits(r1.grad, r3.grad);
  // fit through the network API: two threads train as one (to 1e-12)
  const description = { inputSize: 3, cell: 'gru', hiddenSize: 5, layers: 2, output: { size: 2 }, loss: 'mse', seed: 6 };
  const data = { inputs: Array.from({ length: 8 }, (_, i) => Array.from({ length: 5 }, (_, t) => [Math.sin(i + t), Math.cos(i * t), 0.1 * t])),
    targets: Array.from({ length: 8 }, (_, i) => Array.from({ length: 5 }, (_, t) => [Math.sin(i - t), 0.2 * i])) };
  const n1 = lg.train.createNetwork(description), n2 = lg.train.createNetwork(description);
  const h1 = n1.fit(data, { epochs: 2, batchSize: 4 }), h2 = n2.fit(data, { epochs: 2, batchSize: 4, threads: 2 });
  out.fit = { thetaRel: relErr(n2.model.params.theta, n1.model.params.theta), lossRel: relErr(h2.epochs.map((e) => e.loss), h1.epochs.map((e) => e.loss)),
    trained: relErr(n1.model.params.theta, lg.train.createNetwork(description).model.params.theta) };
  // for scale, not asserted: an RTRL step at n = 64 on 1 and 2 threads, alternated, best of 3 each
  const big = P.modelFromSpec({ cell: { kind: 'gru', options: { inputSize: 3, hiddenSize: 64 } }, readout: 2 }, { seed: 6 });
  const square = { step: (g, t, o) => g.dot(o, o) };
  const stepMs = (m) => { m.reset({ batch: 1 }); const x = lg.rowsView(xs, 0, 1); m.step(x, square); const t = performance.now(); for (let i = 0; i < 4; i++) m.step(x, square); return (performance.now() - t) / 4; };
  const single = new lg.Rtrl(big), double = new lg.Rtrl(big, { threads: 2 });
  const ms = [[], []];
  for (let round = 0; round < 3; round++) { ms[0].push(stepMs(single)); ms[1].push(stepMs(double)); }
  out.rtrlStep = { params: single.grad.length, one: Math.min(...ms[0]), two: Math.min(...ms[1]) };
  double.close();
  // close(): the methods made after it refuse threads; those made before fail at once, naming it;
  // enableWebThreads() then starts a new watcher
  threads.close();
  try { new lg.Bptt(model, { threads: 2 }); out.afterClose = null; } catch (e) { out.afterClose = String(e.message); }
  const failsAt = (f) => { const t = performance.now(); try { f(); return null; } catch (e) { return { message: String(e.message), ms: performance.now() - t, worker: e instanceof P.WorkerError }; } };
  out.oldBptt = failsAt(() => bptt.run(xs, loss, { batch, lengths }));
  out.oldRtrl = failsAt(() => rtrl.run(xs, loss, { batch, lengths }));
  const renewed = await P.enableWebThreads();
  const fresh = new lg.Bptt(model, { threads: 2 }).run(xs, loss, { batch, lengths });
  out.renewed = { gradRel: relErr(fresh.grad, plain.grad), other: renewed !== threads };
  renewed.close();
} catch (err) { out.error = String(err && err.stack || err); }
postMessage(out);
`,
};

// Check 5: data-parallel BPTT on a pool of Web Workers. The page is served twice: at
// /__test/workers.html as is (no SharedArrayBuffer: parameters and gradients are copied) and at
// /__coi/__test/workers.html with every response under /__coi/ carrying COOP same-origin and
// COEP require-corp (cross-origin isolated: SharedArrayBuffer). Each run: an LSTM with a readout,
// 5 sequences of different lengths, MSE; a 2-worker pool's loss and gradient against the
// main thread's Bptt; the same call again and on a second pool (bit for bit); a worker
// terminated while a call waits for it; a worker script that throws while loading; close().
// The pages leave their pools open and set window.__workers; window.__closeAll() closes them.
function workersPage(prefix) {
  return `<!doctype html><meta charset="utf-8"><title>workers</title><link rel="icon" href="data:,">
<script type="module">
const out = { isolated: globalThis.crossOriginIsolated === true, sab: typeof SharedArrayBuffer === 'function' };
const pools = [];
try {
  const lg = await import('${prefix}/dist/browser/loopgrad.min.mjs');
  const P = lg.parallel;
  const spec = { cell: { kind: 'lstm', options: { inputSize: 3, hiddenSize: 6 } }, readout: 2 };
  const batch = 5, steps = 7, lengths = [7, 4, 6, 7, 2];
  const theta = new Float64Array(P.modelFromSpec(spec).params.theta.length);
  for (let i = 0; i < theta.length; i++) theta[i] = 0.3 * Math.sin(1 + 0.7 * i);
  const xs = lg.mat(steps * batch, 3), targets = lg.mat(steps * batch, 2), mask = lg.mat(steps * batch, 1);
  for (let i = 0; i < xs.data.length; i++) xs.data[i] = Math.cos(0.37 * i);
  for (let i = 0; i < targets.data.length; i++) targets.data[i] = 0.5 * Math.sin(0.23 * i + 2);
  for (let t = 0; t < steps; t++) for (let b = 0; b < batch; b++) mask.data[t * batch + b] = t < lengths[b] ? 1 : 0;
  const plain = new lg.Bptt(P.modelFromSpec(spec, theta.slice())).run(xs, lg.sequenceLoss({ kind: 'mse', targets, mask, batch }), { batch, lengths });
  const relErr = (a, b) => { let d = 0, m = 0; for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); } return m === 0 ? d : d / m; };
  const sameBits = (a, b) => a.length === b.length && new Uint8Array(a.buffer, a.byteOffset, a.byteLength).every((v, i) => v === new Uint8Array(b.buffer, b.byteOffset, b.byteLength)[i]);
  const call = (pool) => pool.bptt(spec, theta, xs, { kind: 'mse', targets, mask }, { batch, lengths });
  // (the class, not e.name: the minified bundles rename classes, and LoopgradError takes its name from the class)
  const failure = (promise) => promise.then(() => null, (e) => ({ name: e instanceof P.WorkerError ? 'WorkerError' : e instanceof lg.ConfigError ? 'ConfigError' : String(e && e.name), message: String(e && e.message) }));

  // The real host, wrapped: after killOnRun(i) the next shard posted to worker i is posted and
  // its worker terminated at once, so it dies while the call waits for it.
  const base = P.webWorkerHost();
  out.host = { cores: base.cores, shared: base.shared };
  let victim = -1;
  const host = { cores: Math.max(2, base.cores), shared: base.shared, spawn: (i) => {
    const p = base.spawn(i);
    return { name: p.name, listen: (r, d) => p.listen(r, d), keepAlive: (on) => p.keepAlive(on), terminate: () => p.terminate(),
      post: (m, transfer) => { p.post(m, transfer); if (m.type === 'run' && victim === i) { victim = -1; p.terminate(); } } };
  } };
  const pool = new P.WorkerPool(host, { threads: 2 });
  pools.push(pool);
  out.poolShared = pool.shared;
  const t0 = performance.now();
  const a = await call(pool);
  out.firstCallMs = performance.now() - t0;
  const t1 = performance.now();
  const b = await call(pool);
  out.repeatCallMs = performance.now() - t1;
  out.shards = a.shards;
  out.lossRel = Math.abs(a.loss - plain.loss) / Math.abs(plain.loss);
  out.gradRel = relErr(a.grad, plain.grad);
  out.params = a.grad.length;
  out.repeatBits = a.loss === b.loss && sameBits(a.grad, b.grad);
  out.bits = Array.from(new Uint8Array(new Float64Array([a.loss, ...a.grad]).buffer), (v) => v.toString(16).padStart(2, '0')).join('');
  // the public entry, default worker URL (beside the bundle), a second pool of 2
  const other = P.createWebPool({ threads: 2 });
  pools.push(other);
  const c = await call(other);
  out.otherPoolBits = a.loss === c.loss && sameBits(a.grad, c.grad);
  // a worker terminated mid-call: the call fails naming it; the next call works, bit for bit
  victim = 1;
  out.killed = await failure(call(pool));
  const d = await call(pool);
  out.afterKillBits = a.loss === d.loss && sameBits(a.grad, d.grad);
  // a worker script that throws while loading: the call fails with its error, twice, and the
  // pool does not respawn it in a loop between calls
  let spawns = 0;
  const brokenBase = P.webWorkerHost({ workerUrl: '${prefix}/__test/broken-worker.js' });
  const broken = new P.WorkerPool({ cores: 1, shared: brokenBase.shared, spawn: (i) => { spawns++; return brokenBase.spawn(i); } }, { threads: 1 });
  pools.push(broken);
  out.broken = await failure(call(broken));
  const spawnsAfter = spawns;
  await new Promise((r) => setTimeout(r, 300));
  out.brokenSpawns = { after: spawnsAfter, later: spawns };
  out.brokenAgain = await failure(call(broken));
  out.threadsRefused = await failure(Promise.resolve().then(() => P.createWebPool({ threads: base.cores + 1 })));
  // close() ends the workers (counted from outside by the test); a call after it is refused
  window.__closeAll = async () => {
    await Promise.all(pools.map((p) => p.close()));
    return failure(call(pool));
  };
} catch (err) {
  out.error = String(err && err.stack || err);
}
window.__workers = out;
</script>`;
}

function startServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // /__coi/...: the same file, cross-origin isolated (what a page needs for SharedArrayBuffer)
    const isolated = url.pathname.startsWith('/__coi/');
    const pathname = isolated ? url.pathname.slice('/__coi'.length) : url.pathname;
    const send = (status, type, body) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...(isolated ? ISOLATION_HEADERS : {}) });
      res.end(body);
    };
    if (pathname === '/__test/workers.html') return send(200, MIME['.html'], workersPage(isolated ? '/__coi' : ''));
    if (TEST_PAGES[pathname]) return send(200, MIME[extname(pathname)] ?? MIME['.html'], TEST_PAGES[pathname]);
    let path;
    try {
      path = normalize(decodeURIComponent(pathname)).replace(/^[/\\]+/, '');
    } catch {
      return send(400, MIME['.txt'], 'bad path');
    }
    if (path.endsWith('/') || path === 'docs/demo') path = join(path, 'index.html');
    const rel = path.split(sep).join('/');
    if (rel.split('/').includes('..') || !SERVED.some((p) => rel === p || rel.startsWith(p))) return send(404, MIME['.txt'], 'not served');
    const file = join(root, rel);
    if (!existsSync(file) || !statSync(file).isFile()) return send(404, MIME['.txt'], `missing ${rel}`);
    send(200, MIME[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
  return new Promise((resolveServer, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

// ---------------------------------------------------------------------------

const results = [];
/** status: true (ok), false (fail) or 'warn' (reported, does not fail the run). */
function check(name, status, detail) {
  results.push({ name, status, detail });
  const label = status === 'warn' ? 'WARN' : status ? 'ok  ' : 'FAIL';
  console.log(`${label}  ${name}${detail ? ` — ${detail}` : ''}`);
}

/** Compares two seeded runs: {identical, detail}. */
function compareRuns(reference, other) {
  if (other === null || other === undefined) return { identical: false, detail: 'no result' };
  let first = -1, maxRelative = 0, differing = 0;
  const n = Math.max(reference.bits.length, other.bits.length);
  for (let i = 0; i < n; i++) {
    if (reference.bits[i] === other.bits[i]) continue;
    differing++;
    if (first < 0) first = i;
    const a = reference.losses[i], b = other.losses[i];
    maxRelative = Math.max(maxRelative, Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300));
  }
  const hashesEqual = JSON.stringify(reference.hashes) === JSON.stringify(other.hashes);
  if (first < 0 && hashesEqual) {
    return { identical: true, detail: `${reference.bits.length} losses and 3 final thetas bit-identical (theta FNV-1a ${Object.values(reference.hashes).join(' ')})` };
  }
  const where = first < 0
    ? 'all losses equal'
    : `${differing} of ${n} losses differ, first at #${first}: ${reference.losses[first]} (0x${reference.bits[first]}) vs ${other.losses[first]} (0x${other.bits[first]}), max relative difference ${maxRelative.toExponential(1)}`;
  return { identical: false, detail: `${where}; final thetas ${hashesEqual ? 'equal' : 'differ'}` };
}

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(path) : s.mtimeMs);
  }
  return newest;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const esmBundle = join(root, 'dist/browser/loopgrad.min.mjs');
  for (const file of [esmBundle, join(root, 'dist/browser/loopgrad.min.js')]) {
    if (!existsSync(file)) {
      console.error(`browser-test: ${relative(root, file)} is missing: build the bundles first (node scripts/bundle.mjs)`);
      process.exit(1);
    }
  }
  if (!existsSync(options.chromium)) {
    console.error(`browser-test: no Chromium at ${options.chromium}: install it (apt-get install -y chromium) or pass --chromium PATH`);
    process.exit(1);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    console.error('browser-test: playwright-core is not installed (it is a devDependency: npm install)');
    process.exit(1);
  }

  // Node's side of check 2: the same routine on the ESM bundle and on tsc's output.
  const nodeBundle = await import(pathToFileURL(esmBundle).href);
  const nodeExports = Object.keys(nodeBundle).sort();
  const reference = seededRun(nodeBundle);
  const { result: portableReference, engineFunctionsUsed: nodeEngineUsed } = withPortableMath(() => seededRun(nodeBundle));
  const nodeFingerprint = mathFingerprint();
  // tsc's output, if one is at least as new as every source under lib/ (a stale one would differ for no fault of the bundle)
  const newestSource = newestMtime(join(root, 'lib'));
  const tscEntry = ['dist/lib/index.js', 'build/lib/index.js'].map((p) => join(root, p))
    .find((p) => existsSync(p) && statSync(p).mtimeMs >= newestSource);
  if (tscEntry !== undefined) {
    const { identical, detail } = compareRuns(reference, seededRun(await import(pathToFileURL(tscEntry).href)));
    check(`node: ESM bundle = tsc output (${relative(root, tscEntry)}), seeded run`, identical, detail);
  } else {
    console.log('note  no tsc output (dist/lib or build/lib) newer than lib/ to compare the bundle with in Node');
  }

  const server = await startServer();
  const base = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'loopgrad-chromium-'));
  let context = null;
  const pageErrors = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: options.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1200, height: 1000 },
      timeout: 60_000,
    });
    const version = context.browser()?.version() ?? '(version unknown)';
    console.log(`info  Chromium ${version}; Node ${process.version} (V8 ${process.versions.v8}); serving ${base}`);
    const page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(`${page.url()}: console.error ${msg.text()}`); });

    // 1 + 2: the bundle as ESM and as the IIFE global, each running the seeded routine
    for (const [label, path] of [['ESM', '/__test/esm.html'], ['IIFE', '/__test/iife.html']]) {
      await page.goto(base + path);
      await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
      const result = await page.evaluate(() => window.__result);
      if (result.error) {
        check(`chromium: ${label} bundle loads`, false, result.error.split('\n')[0]);
        continue;
      }
      const sameExports = JSON.stringify(result.exports) === JSON.stringify(nodeExports);
      const detail = label === 'IIFE' ? `window.loopgrad is ${result.isGlobal ? 'an object' : 'missing'}, ` : '';
      check(`chromium: ${label} bundle loads`, (label !== 'IIFE' || result.isGlobal) && sameExports && result.exports.includes('Rtrl'),
        `${detail}${result.exports.length} exports${sameExports ? ', same as in Node' : `, differ from Node's ${nodeExports.length}`}`);
      const portable = compareRuns(portableReference, result.portable);
      const engineUsed = [...new Set([...nodeEngineUsed, ...result.engineFunctionsUsed])];
      check(`chromium ${label} = node: seeded run, portable exp/log/tanh`, portable.identical && engineUsed.length === 0,
        portable.detail + (engineUsed.length ? `; engine functions still used: ${engineUsed.join(', ')}` : ''));
      const own = compareRuns(reference, result.run);
      const mathDiffers = JSON.stringify(result.fingerprint) !== JSON.stringify(nodeFingerprint);
      // lib/ computes exp/log/tanh itself (lib/mat/math.ts), so the engines' own Math must not matter.
      const ownStatus = own.identical ? true : mathDiffers && options.lenientMath ? 'warn' : false;
      const why = own.identical ? '' : mathDiffers
        ? `; the engines' own Math differs (exp/log/tanh fingerprints node ${JSON.stringify(nodeFingerprint)} vs chromium ${JSON.stringify(result.fingerprint)})`
        : '; the engines agree on Math.exp/log/tanh, so this is not their libm';
      check(`chromium ${label} = node: seeded run, each engine's own Math (${result.ms.toFixed(0)} ms in Chromium)`, ownStatus, own.detail + why);
    }

    // 3: the demo trains, stays responsive, switches method, reports mistakes
    await page.goto(`${base}/docs/demo/index.html`);
    await page.waitForFunction(() => window.loopgradDemo !== undefined, null, { timeout: 30_000 });
    await page.click('#start');
    await page.waitForFunction(() => window.loopgradDemo.history.length > 0 || window.loopgradDemo.messages.length > 0, null, { timeout: 30_000 });
    const before = await page.evaluate(() => ({ frames: window.loopgradDemo.frames, ticks: window.loopgradDemo.ticks, t: performance.now() }));
    const roundTrips = [];
    const until = Date.now() + options.trainSeconds * 1000;
    while (Date.now() < until) {
      const t0 = Date.now();
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      roundTrips.push(Date.now() - t0);
      await sleep(100);
    }
    const demo = await page.evaluate(() => {
      const d = window.loopgradDemo;
      return { state: d.state, history: d.history, messages: d.messages, samples: d.samples.length, frames: d.frames, ticks: d.ticks, maxGapMs: d.maxGapMs, t: performance.now() };
    });
    const losses = demo.history.filter((h) => h.method === 'bptt').map((h) => h.lossBits);
    const k = Math.max(1, Math.min(5, Math.floor(losses.length / 4)));
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = losses.length > 0 ? mean(losses.slice(0, k)) : NaN;
    const last = losses.length > 0 ? mean(losses.slice(-k)) : NaN;
    check('demo: BPTT loss falls', demo.messages.length === 0 && losses.length >= 8 && last < 0.8 * first,
      `${losses.length} reports in ${options.trainSeconds} s, ${first.toFixed(3)} -> ${last.toFixed(3)} bits/char (mean of first/last ${k})${demo.messages.length ? `; message: ${demo.messages[0]}` : ''}`);
    const seconds = (demo.t - before.t) / 1000;
    const ticks = demo.ticks - before.ticks, frames = demo.frames - before.frames;
    const worstTrip = Math.max(...roundTrips);
    check('demo: page stays responsive while training', ticks >= seconds * 20 * 0.5 && frames > 0 && demo.maxGapMs < 1000 && worstTrip < 1000,
      `${ticks} timer ticks (50 ms timer) and ${frames} animation frames in ${seconds.toFixed(1)} s; longest timer gap ${demo.maxGapMs.toFixed(0)} ms; evaluation round trips max ${worstTrip} ms over ${roundTrips.length}`);
    check('demo: sampled text appears', demo.samples > 0, `${demo.samples} samples`);

    // the screenshot, with BPTT's curve and samples on it
    const shot = resolve(root, options.screenshot);
    mkdirSync(dirname(shot), { recursive: true });

    // switch to RTRL while training and wait for its costs
    await page.check('input[name="method"][value="rtrl"]');
    await page.waitForFunction(() => (window.loopgradDemo.stats?.rtrl?.chars ?? 0) >= 3, null, { timeout: 60_000 });
    await sleep(1000);
    const stats = await page.evaluate(() => ({ stats: window.loopgradDemo.stats, method: window.loopgradDemo.method, rtrlReports: window.loopgradDemo.history.filter((h) => h.method === 'rtrl').length }));
    const { bptt, rtrl } = stats.stats;
    check('demo: the BPTT/RTRL switch reports each method\'s time and memory',
      stats.method === 'rtrl' && stats.rtrlReports > 0 && rtrl.msPerChar > 0 && rtrl.gradientBytes > 0 && bptt.msPerChar > 0 && bptt.gradientBytes > 0,
      `BPTT ${bptt.msPerChar.toFixed(3)} ms/char, tape ${(bptt.gradientBytes / 1024).toFixed(0)} KB; RTRL ${rtrl.msPerChar.toFixed(1)} ms/char, sensitivity ${(rtrl.gradientBytes / 1048576).toFixed(1)} MB, all ${(rtrl.totalBytes / 1048576).toFixed(1)} MB`);

    // the online approximations on the same model: SnAp-1 and UORO train and report their costs beside
    // RTRL's; what each keeps for its gradient orders as the methods do (UORO's rank-one pair is
    // O(P), SnAp-1's pattern about one number per parameter and state link, RTRL's S is state x P)
    for (const method of ['snap1', 'uoro']) {
      await page.check(`input[name="method"][value="${method}"]`);
      await page.waitForFunction((m) => (window.loopgradDemo.stats?.[m]?.chars ?? 0) >= 20, method, { timeout: 60_000 });
    }
    await sleep(500);
    const online = await page.evaluate(() => ({
      stats: window.loopgradDemo.stats, method: window.loopgradDemo.method, messages: [...window.loopgradDemo.messages],
      reports: Object.fromEntries(['snap1', 'uoro'].map((m) => [m, window.loopgradDemo.history.filter((h) => h.method === m && Number.isFinite(h.lossBits)).length])),
      rowMs: document.querySelector('#row-uoro .ms').textContent, kfDisabled: document.querySelector('input[name="method"][value="kf-rtrl"]').disabled,
    }));
    const { snap1, uoro } = online.stats;
    const kb = (b) => `${(b / 1024).toFixed(0)} KB`;
    check('demo: SnAp-1 and UORO train on the same model and report their time and memory beside RTRL\'s',
      online.method === 'uoro' && online.messages.length === 0 && online.reports.snap1 > 0 && online.reports.uoro > 0
        && snap1.msPerChar > 0 && uoro.msPerChar > 0 && uoro.gradientBytes < snap1.gradientBytes && snap1.gradientBytes < rtrl.gradientBytes
        && online.rowMs !== '–',
      `SnAp-1 ${snap1.msPerChar.toFixed(2)} ms/char, keeps ${kb(snap1.gradientBytes)}; UORO ${uoro.msPerChar.toFixed(2)} ms/char, keeps ${kb(uoro.gradientBytes)}; RTRL keeps ${kb(rtrl.gradientBytes)}${online.messages.length ? `; message: ${online.messages[0]}` : ''}`);
    check('demo: KF-RTRL is not offered for the LSTM', online.kfDisabled, `kf-rtrl radio ${online.kfDisabled ? 'disabled' : 'enabled'}`);
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    check('screenshot written', png.length > 1000 && png.subarray(1, 4).toString() === 'PNG', `${relative(root, shot)} (${png.length} bytes)`);

    // mistakes: empty text, then a size RTRL cannot afford; each must show a message, not freeze
    const mistakes = [
      { name: 'empty text', text: '', hidden: '32', method: 'bptt', expect: /no text/i },
      { name: 'one repeated character', text: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', hidden: '32', method: 'bptt', expect: /single character/ },
      { name: 'RTRL too large', text: null, hidden: '512', method: 'rtrl', expect: /RTRL .*(MB|GFLOP)/ },
      { name: 'hidden size not a number', text: null, hidden: 'lots', method: 'bptt', expect: /Hidden size/ },
    ];
    const originalText = await page.inputValue('#text');
    for (const m of mistakes) {
      await page.evaluate(() => { window.loopgradDemo.messages.length = 0; });
      await page.fill('#text', m.text ?? originalText);
      await page.evaluate((hidden) => { document.getElementById('hidden').type = 'text'; document.getElementById('hidden').value = hidden; }, m.hidden);
      await page.check(`input[name="method"][value="${m.method}"]`);
      const t0 = Date.now();
      await page.click('#start');
      await page.waitForFunction(() => window.loopgradDemo.messages.length > 0, null, { timeout: 10_000 }).catch(() => {});
      const shown = await page.evaluate(() => ({ text: document.getElementById('message').textContent, visible: !document.getElementById('message').hidden }));
      check(`demo: ${m.name} shows a message`, shown.visible && m.expect.test(shown.text), `${Date.now() - t0} ms: "${shown.text}"`);
    }

    // KF-RTRL: offered once Elman is chosen; the running LSTM refuses it with a message and keeps
    // its method; a restarted Elman model switches to it and reports its cost
    await page.fill('#text', originalText);
    await page.evaluate(() => { document.getElementById('hidden').value = '16'; window.loopgradDemo.messages.length = 0; });
    await page.selectOption('#kind', 'elman');
    const runningMethod = await page.evaluate(() => window.loopgradDemo.method);
    await page.click('input[name="method"][value="kf-rtrl"]');
    await page.waitForFunction(() => window.loopgradDemo.messages.length > 0, null, { timeout: 10_000 }).catch(() => {});
    const refused = await page.evaluate(() => ({ text: document.getElementById('message').textContent, method: window.loopgradDemo.method }));
    check('demo: switching the running LSTM to KF-RTRL shows a message and keeps its method', /KF-RTRL .*Elman/.test(refused.text) && refused.method === runningMethod,
      `"${refused.text}"; method ${refused.method}`);
    await page.evaluate(() => { window.loopgradDemo.messages.length = 0; });
    await page.check('input[name="method"][value="bptt"]');
    await page.click('#start');
    await page.waitForFunction(() => window.loopgradDemo.state === 'training' && window.loopgradDemo.kind === 'elman' && window.loopgradDemo.stats !== null && window.loopgradDemo.history.length > 0, null, { timeout: 30_000 });
    await page.check('input[name="method"][value="kf-rtrl"]');
    await page.waitForFunction(() => (window.loopgradDemo.stats?.['kf-rtrl']?.chars ?? 0) >= 20 || window.loopgradDemo.messages.length > 0, null, { timeout: 60_000 });
    const kf = await page.evaluate(() => ({ s: window.loopgradDemo.stats['kf-rtrl'], method: window.loopgradDemo.method, messages: [...window.loopgradDemo.messages], kind: window.loopgradDemo.kind }));
    check('demo: KF-RTRL trains an Elman cell and reports its cost',
      kf.kind === 'elman' && kf.method === 'kf-rtrl' && kf.messages.length === 0 && kf.s.msPerChar > 0 && kf.s.gradientBytes > 0,
      kf.messages.length ? `message: ${kf.messages[0]}` : `${kf.s.msPerChar.toFixed(2)} ms/char, keeps ${(kf.s.gradientBytes / 1024).toFixed(1)} KB`);
    // 5: data-parallel BPTT on Web Workers, copying and sharing memory
    const workersStarted = Date.now();
    const workerBits = [];
    for (const [label, path, isolated] of [['copies', '/__test/workers.html', false], ['SharedArrayBuffer', '/__coi/__test/workers.html', true]]) {
      const name = `workers (${label})`;
      await page.goto(base + path);
      await page.waitForFunction(() => window.__workers !== undefined, null, { timeout: 60_000 });
      const w = await page.evaluate(() => window.__workers);
      if (w.error) {
        check(`${name}: the page runs`, false, w.error.split('\n')[0]);
        continue;
      }
      check(`${name}: isolation and memory as served`, w.isolated === isolated && w.host.shared === isolated && w.poolShared === isolated,
        `crossOriginIsolated ${w.isolated}, SharedArrayBuffer ${w.sab ? 'defined' : 'undefined'}, host.shared ${w.host.shared}, pool.shared ${w.poolShared}, cores ${w.host.cores}`);
      check(`${name}: 2 workers' BPTT = the main thread's Bptt to 1e-12 relative`, w.shards === 2 && w.lossRel <= 1e-12 && w.gradRel <= 1e-12,
        `LSTM 3-6 + readout 2, ${w.params} parameters, batch 5, 7 steps: loss ${w.lossRel.toExponential(1)}, gradient ${w.gradRel.toExponential(1)}; first call ${w.firstCallMs.toFixed(0)} ms (workers starting), the next ${w.repeatCallMs.toFixed(1)} ms`);
      check(`${name}: 2 workers repeat bit for bit (same pool, a second pool from createWebPool)`, w.repeatBits && w.otherPoolBits,
        `same pool ${w.repeatBits ? 'identical' : 'differs'}, second pool ${w.otherPoolBits ? 'identical' : 'differs'}`);
      workerBits.push(w.bits);
      if (workerBits.length === 2) {
        check('workers: copying and sharing give the same bits', workerBits[0] === workerBits[1], `loss and ${w.params} gradient entries ${workerBits[0] === workerBits[1] ? 'identical' : 'differ'} between the two pages`);
      }
      const killed = w.killed;
      check(`${name}: a worker terminated mid-call fails the call naming it; the next call is whole`,
        killed !== null && killed.name === 'WorkerError' && /worker 1 \(web worker \d+\) died: it was terminated; no gradient is returned/.test(killed.message) && w.afterKillBits,
        `${killed === null ? 'the call succeeded' : `${killed.name}: ${killed.message}`}; next call ${w.afterKillBits ? 'bit-identical to the first' : 'differs'}`);
      const broken = w.broken, again = w.brokenAgain;
      check(`${name}: a worker script that throws while loading fails each call, without a respawn loop`,
        broken !== null && again !== null && broken.name === 'WorkerError' && /broken on purpose/.test(broken.message) && /broken on purpose/.test(again.message) && w.brokenSpawns.later === w.brokenSpawns.after,
        `${broken === null ? 'the call succeeded' : `${broken.name}: ${broken.message}`}; workers spawned ${w.brokenSpawns.after}, 300 ms later ${w.brokenSpawns.later}`);
      check(`${name}: more threads than cores is refused`, w.threadsRefused !== null && w.threadsRefused.name === 'ConfigError' && /threads must be an integer from 1 to/.test(w.threadsRefused.message),
        w.threadsRefused === null ? 'accepted' : w.threadsRefused.message);
      const live = page.workers().length;
      const t0 = Date.now();
      const afterClose = await page.evaluate(() => window.__closeAll());
      while (page.workers().length > 0 && Date.now() - t0 < 5000) await sleep(25);
      const left = page.workers().length;
      check(`${name}: close() ends every worker and later calls are refused`, live >= 4 && left === 0 && afterClose !== null && /closed/.test(afterClose.message),
        `${live} workers running before close, ${left} ${Date.now() - t0} ms after; a call after close: ${afterClose === null ? 'succeeded' : afterClose.message}`);
    }

    // 6: the synchronous threaded methods (Bptt, Tbptt, Rtrl with threads) in a Web Worker
    for (const [label, path, isolated] of [['not isolated', '/__test/threads.html', false], ['isolated', '/__coi/__test/threads.html', true]]) {
      const name = `threads in a Web Worker (${label})`;
      await page.goto(base + path);
      await page.waitForFunction(() => window.__threads !== undefined, null, { timeout: 60_000 });
      const t = await page.evaluate(() => window.__threads);
      if (t.error || t.worker.error && isolated) {
        check(`${name}: the page runs`, false, (t.error ?? t.worker.error).split('\n')[0]);
        continue;
      }
      // (a page that is not isolated hears about the headers first: no shared memory at all)
      const wayOut = isolated ? /may not block.*Web Worker/ : /Cross-Origin-Opener-Policy: same-origin/;
      check(`${name}: enableWebThreads on the page's main thread is refused, naming the way out`, t.mainThread !== null && wayOut.test(t.mainThread), t.mainThread ?? 'accepted');
      if (!isolated) {
        const e = t.worker.error ?? '';
        check(`${name}: enableWebThreads in a worker is refused, naming the headers`, t.isolated === false && /Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/.test(e), e.split('\n')[0] || 'accepted');
        continue;
      }
      const w = t.worker;
      check(`${name}: Bptt with 2 threads = 1 thread to 1e-12 relative, and repeats bit for bit`, w.bptt.gradRel <= 1e-12 && w.bptt.lossRel <= 1e-12 && w.bptt.repeat,
        `LSTM 3-6 + readout, learned h0, ${w.bptt.params} parameters, batch 4 with lengths: loss ${w.bptt.lossRel.toExponential(1)}, gradient ${w.bptt.gradRel.toExponential(1)}; watcher started in ${w.enableMs.toFixed(0)} ms`);
      check(`${name}: Tbptt with 2 threads = 1 thread, window by window, to 1e-12 relative`, w.tbptt.count && w.tbptt.windows >= 2 && w.tbptt.gradRel <= 1e-12,
        `${w.tbptt.windows} windows (k1 2, k2 3), worst gradient ${w.tbptt.gradRel.toExponential(1)}`);
      check(`${name}: Rtrl with 2 threads = 1 thread bit for bit (and BPTT to 1e-12)`, w.rtrl.shards === 2 && w.rtrl.sameBits && w.rtrl.gradRelVsBptt <= 1e-12,
        `GRU 3-20 + readout, ${w.rtrl.params} parameters in ${w.rtrl.shards} column blocks: ${w.rtrl.sameBits ? 'identical' : 'differs'}; against BPTT ${w.rtrl.gradRelVsBptt.toExponential(1)}`);
      check(`${name}: Snap (SnAp-2) with 2 threads = 1 thread to 1e-12 relative`, w.snap.shards === 2 && w.snap.gradRel <= 1e-12 && w.snap.lossSame,
        `GRU 3-20 + readout, Ŝ's columns in ${w.snap.shards} blocks: gradient ${w.snap.gradRel.toExponential(1)}, loss ${w.snap.lossSame ? 'identical' : 'differs'}`);
      check(`${name}: a terminated RTRL worker fails the next step naming it; reset() recovers bit for bit`,
        w.killed !== null && w.killed.name === 'WorkerError' && /rtrl: worker 1 \(columns \d+\.\.\d+\) died: loopgrad rtrl worker 1 was terminated/.test(w.killed.message) && w.afterKill,
        `${w.killed === null ? 'the step succeeded' : w.killed.message}; after reset ${w.afterKill ? 'identical' : 'differs'}`);
      check(`${name}: fit with threads: 2 trains as with 1 (two stacked GRU layers, to 1e-12)`, w.fit.thetaRel <= 1e-12 && w.fit.lossRel <= 1e-12 && w.fit.trained > 1e-3,
        `weights ${w.fit.thetaRel.toExponential(1)}, epoch losses ${w.fit.lossRel.toExponential(1)} apart; moved ${w.fit.trained.toExponential(1)} from the start`);
      console.log(`info  ${name}: an RTRL step, GRU 3-64 + readout (${w.rtrlStep.params} parameters), batch 1: 1 thread ${w.rtrlStep.one.toFixed(1)} ms, 2 threads ${w.rtrlStep.two.toFixed(1)} ms (${(w.rtrlStep.one / w.rtrlStep.two).toFixed(2)}x; best of 3 alternated rounds of 4 steps)`);
      check(`${name}: after close(), threads are refused`, w.afterClose !== null && /no worker host is registered.*enableWebThreads/.test(w.afterClose), w.afterClose ?? 'accepted');
      const old = [w.oldBptt, w.oldRtrl];
      check(`${name}: after close(), a threaded Bptt and Rtrl made before fail at once naming the closed watcher; enableWebThreads() starts anew`,
        old.every((o) => o !== null && o.worker && /the thread watcher died \(it was closed\)/.test(o.message) && o.ms < 1000) && w.renewed.other && w.renewed.gradRel <= 1e-12,
        `${old.map((o) => (o === null ? 'ran' : `${o.message.slice(0, 90)}... in ${o.ms.toFixed(0)} ms`)).join('; ')}; a new watcher's Bptt ${w.renewed.gradRel.toExponential(1)} from 1 thread`);
    }

    await page.goto(`${base}/__test/workers-iife.html`);
    await page.waitForFunction(() => window.__iife !== undefined, null, { timeout: 30_000 });
    const iife = await page.evaluate(() => window.__iife);
    check('workers (IIFE bundle): createWebPool finds the worker bundle beside loopgrad.min.js', !iife.error && iife.lossRel <= 1e-12 && iife.gradRel <= 1e-12,
      iife.error ? iife.error.split('\n')[0] : `1 worker's GRU BPTT against the main thread's: loss ${iife.lossRel.toExponential(1)}, gradient ${iife.gradRel.toExponential(1)} relative`);

    console.log(`info  the Web Worker checks took ${((Date.now() - workersStarted) / 1000).toFixed(1)} s`);

    check('no page errors', pageErrors.length === 0, pageErrors.slice(0, 3).join(' | '));
  } catch (err) {
    check('browser session', false, err instanceof Error ? err.message.split('\n')[0] : String(err));
  } finally {
    if (context !== null) await context.close().catch(() => {});
    server.close();
    if (!options.keepProfile) rmSync(profile, { recursive: true, force: true });
  }
  const failed = results.filter((r) => r.status === false);
  const warned = results.filter((r) => r.status === 'warn');
  const warnText = warned.length ? ` (${warned.length} warning${warned.length > 1 ? 's' : ''})` : '';
  console.log(failed.length === 0 ? `browser-test: ${results.length - warned.length} of ${results.length} checks passed${warnText}` : `browser-test: ${failed.length} of ${results.length} checks failed${warnText}`);
  process.exit(failed.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`browser-test: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
