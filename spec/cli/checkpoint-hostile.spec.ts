import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, loadCheckpoint, saveCheckpoint } from '../../cli/checkpoint.js';
import { createParams } from '../../lib/cells/params.js';

const cli = fileURLToPath(new URL('../../cli/loopgrad.js', import.meta.url));
const run = (...args: string[]) => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOOPGRAD_DEBUG: '' }, timeout: 30000 });
  return { ...r, ms: Date.now() - started };
};
const root = mkdtempSync(join(tmpdir(), 'loopgrad-hostile-'));
const original = join(root, 'original');
const tiny = ['--steps', '5', '--cell', 'elman', '--hidden', '3', '--iterations', '4', '--batch', '4', '--held-out', '10', '--quiet'];

test.before(() => {
  const r = run('train', 'adding', ...tiny, '--save', original);
  assert.is(r.status, 0, r.stderr);
});
test.after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the saved checkpoint, changed by `edit`, then `diagnose --load` on it. */
function hostile(edit: (dir: string, files: { weights: string; optimizer: string; pointer: string }) => void) {
  const dir = join(root, `case-${n++}`);
  cpSync(original, dir, { recursive: true });
  const names = readdirSync(dir);
  const files = {
    weights: join(dir, names.find((f) => f.startsWith('weights-'))!),
    optimizer: join(dir, names.find((f) => f.startsWith('optimizer-'))!),
    pointer: join(dir, 'checkpoint.json'),
  };
  edit(dir, files);
  return { dir, files, result: run('diagnose', '--load', dir, '--steps', '10') };
}
const editJson = (path: string, change: (j: any) => unknown) => writeFileSync(path, JSON.stringify(change(JSON.parse(readFileSync(path, 'utf8')))));

test('the pointer carries the CRC-32 and size of the weights file', () => {
  const pointer = JSON.parse(readFileSync(join(original, 'checkpoint.json'), 'utf8'));
  const weights = readFileSync(join(original, pointer.weights));
  assert.is(pointer.weightsCrc32, crc32(new Uint8Array(weights)));
  assert.is(pointer.weightsBytes, weights.length);
  assert.is(crc32(new TextEncoder().encode('123456789')), 'cbf43926'); // the standard check value
  assert.is(run('diagnose', '--load', original, '--steps', '10').status, 0);
});

const cases: [string, (dir: string, f: { weights: string; optimizer: string; pointer: string }) => void, RegExp][] = [
  ['hidden: 10000 in a tiny checkpoint', (_d, f) => editJson(f.optimizer, (j) => { j.meta.config.hidden = 10000; return j; }), /describes 6 parameter tensors of 100050001 numbers, but .*weights-000001\.safetensors holds 6 tensors of 25 numbers/],
  ['lstm hidden: 1e6', (_d, f) => editJson(f.optimizer, (j) => { j.meta.config.hidden = 1e6; j.meta.config.cell = 'lstm'; return j; }), /config and weights do not match/],
  ['steps: 1e9 in the config', (_d, f) => editJson(f.optimizer, (j) => { j.meta.config.steps = 1e9; return j; }), /this run would need about .*one sequence of the task/],
  ['hidden: -3', (_d, f) => editJson(f.optimizer, (j) => { j.meta.config.hidden = -3; return j; }), /training config .* is invalid: .*hidden/],
  ['config: "x"', (_d, f) => editJson(f.optimizer, (j) => { j.meta.config = 'x'; return j; }), /training config .* is invalid/],
  ['a flipped bit in the weights', (_d, f) => { const b = readFileSync(f.weights); b[b.length - 3] ^= 4; writeFileSync(f.weights, b); }, /weights-000001\.safetensors is corrupt: its CRC-32 is [0-9a-f]{8}, the pointer says [0-9a-f]{8}/],
  ['a truncated weights file', (_d, f) => { const b = readFileSync(f.weights); writeFileSync(f.weights, b.subarray(0, 100)); }, /weights-000001\.safetensors is 100 bytes, the pointer says/],
  ['optimizer JSON null', (_d, f) => writeFileSync(f.optimizer, 'null'), /optimizer-000001\.json holds null, not an object/],
  ['optimizer JSON not JSON', (_d, f) => writeFileSync(f.optimizer, '{"format":'), /optimizer-000001\.json is not valid JSON/],
  ['meta of the wrong type', (_d, f) => editJson(f.optimizer, (j) => { j.meta = 5; return j; }), /optimizer-000001\.json: meta is 5, not an object/],
  ['optimizer of the wrong type', (_d, f) => editJson(f.optimizer, (j) => { j.optimizer = 'adam'; return j; }), /optimizer-000001\.json: optimizer is "adam", not an object or null/],
  ['format missing', (_d, f) => editJson(f.optimizer, (j) => { delete j.format; return j; }), /optimizer-000001\.json: format is missing/],
  ['pointer null', (_d, f) => writeFileSync(f.pointer, 'null'), /checkpoint\.json is not a loopgrad checkpoint pointer/],
  ['pointer weights missing', (_d, f) => editJson(f.pointer, (j) => { delete j.weights; return j; }), /checkpoint\.json: weights is missing, not a file name/],
  ['pointer checksum of the wrong type', (_d, f) => editJson(f.pointer, (j) => { j.weightsCrc32 = 7; return j; }), /weightsCrc32 7 is not 8 hex digits/],
  ['weights file missing', (_d, f) => rmSync(f.weights), /the weights file .*weights-000001\.safetensors is missing/],
  ['optimizer file a directory', (_d, f) => { rmSync(f.optimizer); mkdirSync(f.optimizer); }, /the optimiser file .*optimizer-000001\.json is a directory, not a file/],
];
for (const [name, edit, message] of cases) {
  test(`diagnose --load refuses ${name} with a sentence naming the file, fast`, () => {
    const { result } = hostile(edit);
    assert.is(result.status, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.not.match(result.stderr, /\n\s+at |Cannot read properties|Invalid typed array length|ENOENT|EISDIR/);
    assert.ok(result.ms < 3000, `took ${result.ms} ms`);
  });
}

test('missing and wrong directories are sentences, not ENOENT', () => {
  const missing = run('diagnose', '--load', join(root, 'nope'));
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /directory .*nope does not exist/);
  const file = run('diagnose', '--load', join(original, 'checkpoint.json'));
  assert.is(file.status, 2);
  assert.match(file.stderr, /is a file, not a checkpoint directory/);
  const trained = run('train', 'adding', ...tiny, '--load', join(root, 'nope'));
  assert.is(trained.status, 2);
  assert.match(trained.stderr, /--load: no checkpoint in/);
});

test('train --load with an optimiser state of the wrong shape names the checkpoint', () => {
  const { dir } = hostile((_d, f) => editJson(f.optimizer, (j) => { j.optimizer = { format: 'nope' }; return j; }));
  const r = run('train', 'adding', ...tiny, '--load', dir);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /optimiser state in .* is unusable/);
});

test('loadCheckpoint: a weights file for another model is a sentence naming it', () => {
  const dir = join(root, 'lib');
  saveCheckpoint(dir, { params: createParams([{ name: 'w', rows: 1, cols: 2, role: 'weight' }]) });
  assert.throws(() => loadCheckpoint(dir, createParams([{ name: 'w', rows: 1, cols: 3, role: 'weight' }])), /weights-000001\.safetensors does not fit the model/);
});

test.run();
