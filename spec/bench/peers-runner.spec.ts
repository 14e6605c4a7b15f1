// The peers runner of `bench lstm --peers` (bench/peers/runner.ts): its options are checked, a
// missing peer is reported with the install command while loopgrad still runs, and a peer that
// answers, declines, dies or hangs is timed, skipped or reported, never fatal. The peers here are
// stand-ins written into a temp folder (a fake peer.mjs speaking the real protocol): no network,
// no real library, and only the stand-ins' own times are checked, not speed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../lib/errors.js';
import { benchLstm, type LstmConfig, type LstmRow, type LstmRunnerRow } from '../../bench/lstm.js';
import { PEER_NAMES, PEER_PACKAGES, findInstalledPeers, parsePeerOptions } from '../../bench/peers/runner.js';
import { benchCommand } from '../../cli/bench.js';
import { UsageError } from '../../cli/args.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const TINY: LstmConfig[] = [
  { name: 'tiny', batch: 2, steps: 3, inputSize: 2, hiddenSize: 3, train: true, rounds: 3 },
  { name: 'tiny-forward', batch: 1, steps: 3, inputSize: 2, hiddenSize: 3, train: false, rounds: 3 },
];

function throwsConfig(fn: () => unknown, text: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.ok((e as Error).message.startsWith('bench lstm peers: '), (e as Error).message);
    assert.ok((e as Error).message.includes(text), `"${(e as Error).message}" lacks "${text}"`);
    return;
  }
  assert.unreachable(`no error (expected one with "${text}")`);
}

/** Runs benchLstm with console.log / console.error captured. */
async function capture(run: () => Promise<LstmRow[]>): Promise<{ rows: LstmRow[]; out: string[]; err: string }> {
  const log = console.log;
  const error = console.error;
  const out: string[] = [];
  let err = '';
  console.log = (line: string) => { out.push(line); };
  console.error = (line: string) => { err += `${line}\n`; };
  try {
    return { rows: await run(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('parsePeerOptions: defaults are every peer, this checkout\'s bench/peers, 120 s', () => {
  const o = parsePeerOptions({});
  assert.equal(o.peers, [...PEER_NAMES]);
  assert.is(o.dir, resolve(root, 'bench', 'peers'));
  assert.is(o.timeoutMs, 120_000);
  assert.equal(parsePeerOptions({ peers: ['jax-js', 'tfjs-wasm'], dir: '/tmp/x', timeoutMs: 5 }), { peers: ['jax-js', 'tfjs-wasm'], dir: '/tmp/x', timeoutMs: 5 });
});

test('parsePeerOptions: unknown keys, peers, duplicates and bad values are ConfigErrors naming them', () => {
  throwsConfig(() => parsePeerOptions({ threads: 2 } as never), 'unknown option "threads"');
  throwsConfig(() => parsePeerOptions({ peers: ['torch'] }), 'unknown peer "torch" (known: tfjs-cpu, tfjs-wasm, brain.js, jax-js)');
  throwsConfig(() => parsePeerOptions({ peers: ['jax-js', 'jax-js'] }), 'peer "jax-js" is named twice');
  throwsConfig(() => parsePeerOptions({ peers: [] }), 'peers must be a non-empty list');
  throwsConfig(() => parsePeerOptions({ peers: 'jax-js' as never }), 'peers must be a non-empty list');
  throwsConfig(() => parsePeerOptions({ dir: ' ' }), 'dir must be a folder name');
  throwsConfig(() => parsePeerOptions({ timeoutMs: 0 }), 'timeoutMs must be a positive number of ms, got 0');
  throwsConfig(() => parsePeerOptions({ timeoutMs: Number.NaN }), 'got NaN');
  throwsConfig(() => parsePeerOptions(null as never), 'options must be an object');
});

test('findInstalledPeers: an empty folder has none, each missing one names its packages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-peers-'));
  try {
    const { available, missing } = findInstalledPeers(parsePeerOptions({ dir }));
    assert.equal(available, []);
    assert.equal(missing.map((m) => m.name), [...PEER_NAMES]);
    assert.ok(missing[1].reason.includes('@tensorflow/tfjs, @tensorflow/tfjs-backend-wasm not installed'), missing[1].reason);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench lstm --peers with no peer installed: says how to install them and runs loopgrad and the hand-fused loop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-peers-'));
  try {
    const { rows, out, err } = await capture(() => benchLstm({ json: true, configs: TINY, peers: { dir } }));
    assert.ok(err.includes('no peer is installed'), err);
    assert.ok(err.includes('npm run peers:install'), err);
    for (const name of PEER_NAMES) assert.ok(err.includes(`${name}: `), err);
    assert.equal(rows.map((r) => [r.runner, r.config]), [['loopgrad', 'tiny'], ['hand-fused', 'tiny'], ['loopgrad', 'tiny-forward'], ['hand-fused', 'tiny-forward']]);
    assert.equal(out.map((line) => JSON.parse(line)), JSON.parse(JSON.stringify(rows)));
    for (const r of rows) assert.ok(Number.isFinite(r.msPerBatch) && r.msPerBatch! > 0, `${r.runner}: ${r.msPerBatch}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A stand-in peer.mjs: tfjs-cpu answers every batch in 1.5 ms (then 2.5, alternately), brain.js
// declines batch > 1, jax-js dies on its first setup, tfjs-wasm never answers a batch.
const FAKE_PEER = `
const name = process.argv[2];
let n = 0;
let batch = 0;
process.send({ type: 'hello' });
process.on('message', (msg) => {
  if (msg.type === 'close') process.exit(0);
  if (msg.type === 'setup') {
    if (name === 'jax-js') { process.stderr.write('jax stand-in: boom\\n'); process.exit(3); }
    if (name === 'brain.js' && msg.config.batch > 1) return process.send({ type: 'skip', reason: 'no batch dimension' });
    batch = msg.config.batch;
    return process.send({ type: 'ready', info: name + ' stand-in' });
  }
  if (msg.type === 'batch') {
    if (name === 'tfjs-wasm') return;
    n++;
    return process.send({ type: 'done', ms: n % 2 === 0 ? 2.5 : 1.5, loss: batch });
  }
});
`;

test('bench lstm --peers: a peer that answers is timed, one that declines, dies or hangs is reported, none is fatal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopgrad-peers-'));
  try {
    writeFileSync(join(dir, 'peer.mjs'), FAKE_PEER);
    for (const pkgs of Object.values(PEER_PACKAGES)) {
      for (const pkg of pkgs) {
        mkdirSync(join(dir, 'node_modules', pkg), { recursive: true });
        writeFileSync(join(dir, 'node_modules', pkg, 'package.json'), '{}');
      }
    }
    const { rows, out, err } = await capture(() => benchLstm({ json: false, configs: TINY, peers: { dir, timeoutMs: 1000 } }));
    assert.is(err, '');
    const runner = (name: string, config: string) => rows.find((r) => r.runner === name && r.config === config) as LstmRunnerRow;
    for (const config of ['tiny', 'tiny-forward']) {
      const handFused = runner('hand-fused', config);
      // 2 or 3 warm-up answers then 3 rounds: 1.5, 2.5, 1.5 or 2.5, 1.5, 2.5; the median is one of them.
      const tfjs = runner('tfjs-cpu', config);
      assert.ok(tfjs.msPerBatch === 1.5 || tfjs.msPerBatch === 2.5, `${tfjs.msPerBatch}: ${tfjs.skipped}`);
      assert.is(tfjs.ratio, tfjs.msPerBatch! / handFused.msPerBatch!);
      assert.is(tfjs.info, 'tfjs-cpu stand-in');
      assert.is(tfjs.skipped, undefined);
      assert.is(tfjs.firstLoss, config === 'tiny' ? 2 : 1); // the stand-in's loss is the batch size
      const jax = runner('jax-js', config);
      assert.is(jax.msPerBatch, null);
      assert.ok(jax.skipped!.startsWith('failed: jax-js: exited (code 3): jax stand-in: boom'), jax.skipped);
      const wasm = runner('tfjs-wasm', config);
      assert.is(wasm.msPerBatch, null);
      assert.ok(wasm.skipped!.includes('no answer to "batch" within 1000 ms'), wasm.skipped);
    }
    assert.ok(runner('brain.js', 'tiny').skipped!.includes('does not fit: no batch dimension'));
    assert.is(runner('brain.js', 'tiny-forward').skipped, undefined);
    const text = out.join('\n');
    assert.ok(text.includes('runners, same rounds'), text);
    assert.ok(text.includes('jax-js, config tiny: failed'), text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI: --peers belongs to the lstm benchmark', async () => {
  try {
    await benchCommand.run(['kernels', '--peers']);
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as Error).message, '--peers applies to the lstm benchmark only');
  }
});

test.run();
