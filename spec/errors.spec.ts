// The typed errors: each kind is a LoopgradError and an Error, keeps its operation and the values
// at fault, and its message starts with the operation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoopgradError, ShapeError, ConfigError, FormatError, ResourceError } from '../lib/index.js';

test('every kind is a LoopgradError with its own name, op, details and message', () => {
  for (const Kind of [ShapeError, ConfigError, FormatError, ResourceError]) {
    const e = new Kind('gemm', 'a.cols 5 != b.rows 4', { a: [3, 5], b: [4, 2] });
    assert.ok(e instanceof LoopgradError && e instanceof Error && e instanceof Kind);
    assert.is(e.name, Kind.name);
    assert.is(e.op, 'gemm');
    assert.is(e.message, 'gemm: a.cols 5 != b.rows 4');
    assert.equal(e.details, { a: [3, 5], b: [4, 2] });
  }
  assert.not.ok(new ShapeError('x', 'y') instanceof ConfigError);
  assert.equal(new FormatError('x', 'y').details, {});
});

test.run();
