// The standing fuzz test of the checkpoint loader: two thousand seeded mutations of one
// file of a valid checkpoint (scripts/checkpoint-fuzz-core.ts; `npm run fuzz -- --target
// checkpoint --count N` runs longer). Every case must be refused with a plain or typed (LoopgradError) error naming
// the file, or load the saved weights bit for bit; none may crash, be slow, or accept a
// changed weights file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, readCheckpointMeta } from '../../cli/checkpoint.js';
import { createParams } from '../../lib/cells/params.js';
import { lstm } from '../../lib/cells/lstm.js';
import { createModel } from '../../lib/rnn/model.js';
import { FormatError } from '../../lib/errors.js';
import { baseCheckpoint, CHECKPOINT_MUTATIONS, checkpointFuzzSummary, fuzzCheckpoint } from '../../scripts/checkpoint-fuzz-core.js';

test('checkpoint fuzz: 2000 seeded mutations are refused with a plain or typed (LoopgradError) error naming the file, or load the saved weights', () => {
  const result = fuzzCheckpoint({ seed: 20261202, count: 2000, slowMs: 1000 });
  const failures = result.failures.map((f) => `case ${f.caseIndex} ${f.kind} (${f.file}/${f.mutation}): ${f.message}`);
  assert.is(result.crashes + result.corruptions + result.slow, 0, `${checkpointFuzzSummary(result)}\n${failures.join('\n')}`);
  assert.is(result.accepted + result.refused, 2000);
  assert.ok(result.refused > 1500, `most mutations are refused: ${checkpointFuzzSummary(result)}`);
  assert.ok(result.accepted > 50, `some meta and optimiser edits keep the checkpoint loadable: ${checkpointFuzzSummary(result)}`);
  for (const name of CHECKPOINT_MUTATIONS) assert.ok(result.byMutation[name].applied > 20, `mutation ${name} ran ${result.byMutation[name].applied} times`);
  for (const name of CHECKPOINT_MUTATIONS.filter((n) => n.startsWith('weights/'))) assert.is(result.byMutation[name].accepted, 0, name);
  assert.ok(result.elapsedMs < 10_000, `took ${result.elapsedMs} ms`);
});

test('checkpoint fuzz: the run is reproducible from its seed', () => {
  const a = fuzzCheckpoint({ seed: 7, count: 200 });
  const b = fuzzCheckpoint({ seed: 7, count: 200 });
  assert.equal([a.accepted, a.refused, a.byMutation], [b.accepted, b.refused, b.byMutation]);
});

// Found by the fuzzer: deeply nested JSON in the pointer or the optimiser file reached
// JSON.stringify in an error message (readPointer, readSide) or Optimizer.fromState's checks
// and overflowed the stack (RangeError). Now refused up front, naming the file.
test('checkpoint fuzz: deeply nested JSON in the pointer or the optimiser file is refused with a FormatError (not a stack-overflow RangeError)', () => {
  const root = mkdtempSync(join(tmpdir(), 'loopgrad-ckpt-deep-'));
  try {
    const { files } = baseCheckpoint(root);
    const specs = createModel(lstm({ inputSize: 2, hiddenSize: 3 })).params.specs;
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const edits: [string, (o: Record<string, unknown>) => void][] = [
      [files.pointer, (o) => { o.version = 'DEEP'; }],
      [files.pointer, (o) => { o.weights = 'DEEP'; }],
      [files.optimizer, (o) => { o.meta = 'DEEP'; }],
      [files.optimizer, (o) => { (o.optimizer as Record<string, unknown>).steps = 'DEEP'; }],
      [files.optimizer, (o) => { (o.optimizer as Record<string, unknown>).version = 'DEEP'; }],
    ];
    for (const [name, edit] of edits) {
      const path = join(root, name);
      const original = readFileSync(path, 'utf8');
      const obj = JSON.parse(original) as Record<string, unknown>;
      edit(obj);
      writeFileSync(path, JSON.stringify(obj).replace('"DEEP"', deep));
      for (const load of [() => readCheckpointMeta(root), () => loadCheckpoint(root, createParams(specs))]) {
        try {
          load();
          assert.unreachable('accepted');
        } catch (err) {
          assert.is((err as Error).constructor, FormatError, String(err));
          assert.is((err as FormatError).op, 'checkpoint');
          assert.match((err as Error).message, `${name} nests arrays and objects 200`);
        }
      }
      writeFileSync(path, original);
    }
    const params = createParams(specs);
    loadCheckpoint(root, params); // restored: loads again
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
