// Memory refused before it is allocated: Bptt's tape grows with the sequence, so a run whose
// estimated tape passes maxBytes is refused at the call, with the estimate in the message; the
// estimate (each step's values and adjoints, from one step run for values) matches what a run keeps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mat } from '../../lib/mat/mat.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { stacked } from '../../lib/arch/stacked.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createModel } from '../../lib/rnn/model.js';
import { Bptt } from '../../lib/rnn/bptt.js';
import { createMethod } from '../../lib/rnn/methods.js';
import type { SequenceLoss } from '../../lib/rnn/loss-spec.js';
import { gradientFlow } from '../../lib/rnn/diagnose.js';

const loss: SequenceLoss = { step: (g, _t, out) => g.sum(out) };

test('Bptt\'s tape estimate is twice the values its tape records (values and adjoints), for cells, stacks and bidirectional layers', () => {
  for (const cell of [lstm({ inputSize: 3, hiddenSize: 6 }), gru({ inputSize: 3, hiddenSize: 4 }), stacked([bidirectional(lstm({ inputSize: 3, hiddenSize: 2 })), gru({ inputSize: 4, hiddenSize: 3 })])]) {
    const bptt = new Bptt(createModel(cell));
    for (const [steps, batch] of [[30, 1], [10, 3]]) {
      const run = bptt.run(mat(steps * batch, 3), loss, { batch });
      const ratio = bptt.estimateBytes(steps, batch) / run.tapeBytes;
      assert.ok(ratio > 1.9 && ratio < 2.1, `${cell.kind}, ${steps} steps x ${batch}: estimate / tape values ${ratio}`);
    }
  }
});

test('a run over the limit is refused at the call with the estimate; createMethod hands the limit down', () => {
  const model = createModel(lstm({ inputSize: 3, hiddenSize: 6 }));
  const small = new Bptt(model, { maxBytes: 1e5 });
  small.run(mat(20, 3), loss);
  assert.throws(() => small.run(mat(400, 3), loss), /bptt: 400 steps of a batch of 1 keep about \d+\.\d MiB on the tape, over the limit of 0\.1 MiB \(raise maxBytes/);
  assert.throws(() => createMethod(model, 'bptt', { maxBytes: 1e5 }).run(mat(400, 3), loss), /over the limit of 0\.1 MiB/);
  assert.throws(() => createMethod(model, 'rtrl', { maxBytes: 1e3 }), /rtrl: .* over the limit of 0\.0 MiB/);
  assert.throws(() => new Bptt(model, { maxBytes: -1 }), /bptt: maxBytes must be a positive number, got -1/);
  assert.throws(() => new Bptt(model, { maxbytes: 1 } as never), /bptt: unknown option "maxbytes" \(accepted: maxBytes, threads, timeoutMs\)/);
});

test('gradientFlow refuses a run over its limit before recording it', () => {
  const model = createModel(lstm({ inputSize: 2, hiddenSize: 4 }));
  assert.ok(gradientFlow(model, { steps: 5, maxBytes: 1e6 }).steps === 5);
  assert.throws(() => gradientFlow(model, { steps: 1e9 }), /gradientFlow: 1000000000 steps of 9 rows keep about \d+\.\d MiB on the tape, over the limit of 2048\.0 MiB/);
});

test.run();
