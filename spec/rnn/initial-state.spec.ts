// A fixed initial state of the wrong count, width, row count or type is an Error
// naming the state vector, whether given to createModel or to a run (Bptt, Rtrl,
// Tbptt), instead of a TypeError from deep inside a step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstm } from '../../lib/cells/lstm.js';
import { mat } from '../../lib/mat/mat.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createModel } from '../../lib/rnn/model.js';
import { Rtrl } from '../../lib/rnn/rtrl.js';
import { Tbptt } from '../../lib/rnn/tbptt.js';

const cell = lstm({ inputSize: 2, hiddenSize: 3 });
const xs = mat(4, 2);
const plainError = (pattern: RegExp) => (e: Error) => !(e instanceof TypeError) && pattern.test(e.message);

test('createModel: wrong count, width or type of a fixed initial state', () => {
  assert.throws(() => createModel(cell, { initialState: [mat(1, 3)] }), plainError(/^createModel: a fixed initial state needs 2 matrices \(h, c\), got 1$/));
  assert.throws(() => createModel(cell, { initialState: [mat(1, 3), mat(1, 4)] }), plainError(/^createModel: initial c is 1x4, needs 3 columns$/));
  assert.throws(() => createModel(cell, { initialState: [null, mat(1, 3)] as never }), plainError(/^createModel: initial h is null, not a matrix$/));
  assert.throws(() => createModel(cell, { initialState: 'learnd' as never }), plainError(/^createModel: a fixed initial state is an array of 2 matrices \(h, c\), got "learnd"$/));
  // Rows are checked against the batch when it is known, at the run.
  const model = createModel(cell, { initialState: [mat(3, 3), mat(3, 3)] });
  assert.throws(() => new Bptt(model).run(xs, {}, { batch: 2 }), plainError(/initial h is 3x3; it needs 1 row \(shared by the batch\) or batch 2 rows/));
});

test('Bptt, Rtrl and Tbptt: a wrong explicit initial state is a plain Error naming the vector', () => {
  const model = createModel(cell);
  const runs: [string, (init: never) => unknown][] = [
    ['bptt', (init) => new Bptt(model).run(xs, {}, { initialState: init })],
    ['rtrl', (init) => new Rtrl(model).run(xs, {}, { initialState: init })],
    ['tbptt', (init) => new Tbptt(model, { k1: 2 }).run(xs, {}, { initialState: init })],
  ];
  for (const [name, run] of runs) {
    assert.throws(() => run([mat(1, 3)] as never), plainError(new RegExp(`^${name}: a fixed initial state needs 2 matrices \\(h, c\\), got 1$`)), name);
    assert.throws(() => run([mat(1, 3), mat(1, 4)] as never), plainError(new RegExp(`^${name}: initial c is 1x4, needs 3 columns$`)), name);
    assert.throws(() => run([undefined, mat(1, 3)] as never), plainError(new RegExp(`^${name}: initial h is undefined, not a matrix$`)), name);
    assert.throws(() => run('zero' as never), plainError(new RegExp(`^${name}: a fixed initial state is an array of 2 matrices \\(h, c\\), got "zero"$`)), name);
  }
  // The right shapes still run.
  new Bptt(model).run(xs, {}, { initialState: [mat(1, 3), mat(1, 3)] });
  new Rtrl(model).run(xs, {}, { initialState: [mat(1, 3), mat(1, 3)] });
});

test.run();
