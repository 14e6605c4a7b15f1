import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../../cli/checkpoint.js';
import { writeFileAtomic as writeReal } from '../../cli/atomic-write.js';
import { createParams } from '../../lib/cells/params.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { Rng } from '../../lib/mat/rng.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOOPGRAD_DEBUG: '' }, timeout: 60000 });
const root = mkdtempSync(join(tmpdir(), 'loopgrad-resume-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const weightsOf = (dir: string): Map<string, Float64Array> => {
  const pointer = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, pointer.weights))));
  return new Map([...tensors].map(([k, t]) => [k, Float64Array.from(t.data as ArrayLike<number>)]));
};

test('Rng.state / fromState continue the stream exactly, spare normal included', () => {
  const a = new Rng(42);
  a.normal();
  const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
  for (let i = 0; i < 100; i++) assert.is(b.normal(), a.normal());
  assert.is(b.nextUint32(), a.nextUint32());
  assert.throws(() => Rng.fromState(null as never), /not a generator state/);
  assert.throws(() => Rng.fromState({ words: [0, 0, 0, 0], spare: 0, hasSpare: false }), /not a generator state/);
});

test('train: 20 iterations, then --load and 5 more, equal 25 iterations bit for bit (weights, losses, schedule, iteration count)', () => {
  const base = ['train', 'adding', '--steps', '6', '--cell', 'lstm', '--hidden', '4', '--batch', '3', '--held-out', '10', '--lr', '0.01', '--schedule', 'exp:0.9', '--json'];
  const full = join(root, 'full'), part = join(root, 'part');
  const a = run(...base, '--iterations', '25', '--save', full);
  assert.is(a.status, 0, a.stderr);
  const b = run(...base, '--iterations', '20', '--save', part);
  assert.is(b.status, 0, b.stderr);
  assert.is(readCheckpointMeta(part).iteration, 20);
  const c = run(...base, '--iterations', '5', '--load', part, '--save', part);
  assert.is(c.status, 0, c.stderr);
  const whole = JSON.parse(a.stdout).curve, rest = JSON.parse(c.stdout).curve;
  assert.equal(rest.map((p: { step: number }) => p.step), [21, 22, 23, 24, 25]);
  assert.equal(rest, whole.slice(20)); // every batch's loss, to the last bit
  const w1 = weightsOf(full), w2 = weightsOf(part);
  assert.equal([...w1.keys()], [...w2.keys()]);
  for (const [k, v] of w1) assert.ok(v.every((x, i) => Object.is(x, w2.get(k)![i])), `tensor ${k} differs`);
  assert.is(readCheckpointMeta(part).iteration, 25);
  assert.equal(readCheckpointMeta(part).dataRng, readCheckpointMeta(full).dataRng);
});

const tiny = ['train', 'adding', '--steps', '5', '--cell', 'elman', '--hidden', '3', '--batch', '2', '--held-out', '4'];

test('a save that fails at the very first save names --save, leaves no orphan file and exits 1 with the progress printed', () => {
  const dir = join(root, 'first');
  mkdirSync(dir);
  // The optimiser file's name taken by a directory: the weights are written, then the second file fails (as on a full disk).
  mkdirSync(join(dir, 'optimizer-000001.json'));
  const r = run(...tiny, '--iterations', '4', '--save', dir);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot save a checkpoint in --save ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.stderr, /no checkpoint of this run was saved/);
  assert.match(r.stdout, /4 iterations/);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.equal(readdirSync(dir).sort(), ['optimizer-000001.json']); // no weights-000001 orphan, no temporaries
});

test('a save that fails mid-run keeps the last good checkpoint and stops there', () => {
  const dir = join(root, 'mid');
  mkdirSync(dir);
  mkdirSync(join(dir, 'weights-000002.safetensors'));
  const r = run(...tiny, '--iterations', '30', '--save', dir, '--save-every', '10');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /the last good checkpoint there is generation 1 \(iteration 10\); training stopped after 20 iterations/);
  assert.match(r.stdout, /20 iterations/);
  assert.is(readCheckpointMeta(dir).iteration, 10);
  assert.ok(existsSync(join(dir, 'weights-000001.safetensors')));
  assert.not.ok(existsSync(join(dir, 'optimizer-000002.json')));
});

test('saveCheckpoint: ENOSPC on any file removes that generation\'s files and keeps the previous one', () => {
  const dir = join(root, 'enospc');
  const params = createParams([{ name: 'w', rows: 1, cols: 3, role: 'weight' }], Float64Array.from([1, 2, 3]));
  saveCheckpoint(dir, { params, meta: { iteration: 1 } });
  for (let failAt = 0; failAt < 3; failAt++) {
    let calls = 0;
    params.theta[0] = 100 + failAt;
    assert.throws(() => saveCheckpoint(dir, { params, meta: { iteration: 2 } }, {
      writeFile: (path, data) => {
        if (calls++ === failAt) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        // the real writer for the files before the failure
        writeReal(path, data);
      },
    }), /ENOSPC/);
    assert.equal(readdirSync(dir).sort(), ['checkpoint.json', 'optimizer-000001.json', 'weights-000001.safetensors']);
    const q = createParams([{ name: 'w', rows: 1, cols: 3, role: 'weight' }]);
    assert.is(loadCheckpoint(dir, q).meta.iteration, 1);
    assert.equal([...q.theta], [1, 2, 3]);
  }
});

test.run();
