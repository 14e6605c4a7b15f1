// The standing fuzz test of the safetensors reader: five thousand seeded mutations of
// valid files (scripts/fuzz-core.ts; `npm run fuzz -- --count N` runs longer). Every
// case must be refused with a clear Error or read consistently, and none may be slow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { Rng } from '../../lib/mat/rng.js';
import { baseFiles, fuzzSafetensors, fuzzSummary, mutate, MUTATION_NAMES } from '../../scripts/fuzz-core.js';

test('fuzz: 5000 seeded mutations are refused with a clear Error or read back consistently', () => {
  const result = fuzzSafetensors({ seed: 20261202, count: 5000, slowMs: 500 });
  const failures = result.failures.map((f) => `case ${f.caseIndex} ${f.kind} (${f.mutations.join(' + ')}): ${f.message}`);
  assert.is(result.crashes + result.inconsistent + result.slow, 0, `${fuzzSummary(result)}\n${failures.join('\n')}`);
  assert.is(result.accepted + result.refused, 5000);
  assert.ok(result.accepted > 500, `some mutations keep the file valid (data bytes, digits, dtypes): ${fuzzSummary(result)}`);
  assert.ok(result.refused > 3500, `most mutations are refused: ${fuzzSummary(result)}`);
  for (const name of MUTATION_NAMES) assert.ok(result.byMutation[name].applied > 50, `mutation ${name} ran ${result.byMutation[name].applied} times`);
  assert.ok(result.elapsedMs < 10_000, `took ${result.elapsedMs} ms`);
});

test('fuzz: the run is reproducible from its seed', () => {
  const a = fuzzSafetensors({ seed: 7, count: 300 });
  const b = fuzzSafetensors({ seed: 7, count: 300 });
  assert.equal([a.accepted, a.refused, a.byMutation], [b.accepted, b.refused, b.byMutation]);
});

test('fuzz: the base files are valid, and a duplicated key is always refused', () => {
  const bases = baseFiles(3);
  for (const base of bases) readSafetensors(base);
  const rng = new Rng(11);
  let changed = 0;
  for (let i = 0; i < 400; i++) {
    const base = bases[i % bases.length];
    const bytes = mutate('duplicateKey', base, rng);
    if (bytes.length === base.length && bytes.every((b, j) => b === base[j])) continue; // nothing to duplicate
    changed++;
    let message = '';
    try {
      readSafetensors(bytes);
    } catch (err) {
      message = (err as Error).message;
    }
    // The length prefix is left stale 15% of the time: then the length check may speak first.
    assert.ok(/twice|two .*entries|header length|not valid JSON|data section|past the end/.test(message), `case ${i}: ${message || 'accepted'}`);
  }
  assert.ok(changed > 200, `${changed} duplications`);
});

test.run();
