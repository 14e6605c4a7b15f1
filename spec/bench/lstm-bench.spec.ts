// bench lstm on tiny configs: one row per config and thread count, with the fields the JSON
// promises, and the 2-thread gradient equal to the 1-thread one (no timing is asserted).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableParallelism } from 'node:os';
import { benchLstm } from '../../bench/lstm.js';

test('bench lstm rows: every config at every thread count, gradients equal across threads', async () => {
  const threads = availableParallelism() >= 2 ? [1, 2] : [1];
  const configs = [
    { name: 'tiny', batch: 3, steps: 4, inputSize: 2, hiddenSize: 3, train: true, rounds: 2 },
    { name: 'tiny-forward', batch: 1, steps: 4, inputSize: 2, hiddenSize: 3, train: false, rounds: 2 },
  ];
  const log = console.log;
  const lines: string[] = [];
  console.log = (line: string) => { lines.push(line); };
  let rows;
  try {
    rows = await benchLstm({ json: true, threads, configs });
  } finally {
    console.log = log;
  }
  assert.is(rows.length, threads.length + 1);
  assert.is(lines.length, rows.length);
  for (const [i, row] of rows.entries()) {
    assert.equal(JSON.parse(lines[i]), row);
    if (row.runner !== 'loopgrad') throw new Error(`a ${row.runner} row without --peers`);
    for (const key of ['batch', 'steps', 'inputSize', 'hiddenSize', 'threads', 'msPerBatch', 'handFusedMs', 'gradRelDiffVsOneThread'] as const) {
      assert.ok(Number.isFinite(row[key]), `${key} is ${row[key]}`);
    }
    assert.ok(row.gradRelDiffVsOneThread <= 1e-12, `threads ${row.threads}: ${row.gradRelDiffVsOneThread}`);
  }
  assert.equal(rows.map((r) => [r.config, r.threads, r.work]), [...threads.map((n) => ['tiny', n, 'train']), ['tiny-forward', 1, 'forward']]);
});

test.run();
