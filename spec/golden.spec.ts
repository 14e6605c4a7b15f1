// The golden files PyTorch wrote (spec/golden): every file that loopgrad
// supports must reproduce them, none may fail, and the list of files that must
// pass only grows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkGoldenFile, goldenFiles, formatReport } from '../scripts/golden.js';
import { GOLDEN_DIR } from './helpers.js';

const dir = GOLDEN_DIR;

const mustPass = [
  'rnn_tanh_1l', 'rnn_tanh_nobias', 'lstm_1l', 'lstm_1l_f32', 'gru_1l', 'lstm_long',
  'rtrl_elman', 'rtrl_lstm', 'rtrl_gru',
  'rnn_relu_2l', 'lstm_2l_bi', 'gru_2l_bi', 'lstm_bi_packed', 'mdrnn_2d',
  'ctc_basic', 'ctc_blank_last', 'ctc_empty_target', 'ctc_impossible', 'ctc_impossible_zero_inf', 'ctc_long', 'ctc_repeats_minimal',
];

test('the golden directory is there', () => {
  assert.ok(existsSync(dir), `${dir} is missing: the golden files are ground truth and must be present`);
});

test('no golden file fails, and every file loopgrad supports passes', () => {
  const reports = goldenFiles([dir]).map(checkGoldenFile);
  const byName = new Map(reports.map((r) => [r.file.replace(/\.safetensors$/, ''), r]));
  for (const r of reports) assert.ok(r.status !== 'failed', formatReport(r));
  for (const name of mustPass) {
    const r = byName.get(name);
    assert.ok(r !== undefined, `golden file ${name} is missing`);
    assert.is(r!.status, 'passed', formatReport(r!));
    assert.ok(r!.comparisons.length >= 2, `${name} compared ${r!.comparisons.length} tensors`);
  }
});

test('a tampered expected tensor makes the file fail (the check can fail)', async () => {
  const { readFileSync, writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { readSafetensors, writeSafetensors } = await import('../lib/io/safetensors.js');
  const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(resolve(dir, 'gru_1l.safetensors'))));
  const out: Record<string, { dtype: 'F64'; shape: number[]; data: Float64Array }> = {};
  for (const [name, t] of tensors) out[name] = { dtype: 'F64', shape: t.shape, data: t.data.slice() };
  out['grad/weight_hh_l0'].data[3] += 1e-6;
  const path = resolve(mkdtempSync(resolve(tmpdir(), 'loopgrad-golden-')), 'tampered.safetensors');
  writeFileSync(path, writeSafetensors(out, metadata));
  const report = checkGoldenFile(path);
  assert.is(report.status, 'failed');
});

test.run();
