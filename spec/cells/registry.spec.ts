// The cell registry: every kind builds through createCell, with its own options, and an unknown
// kind is an Error listing the kinds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CELL_KINDS, cellGates, createCell, isCellKind } from '../../lib/cells/registry.js';

test('every kind builds from inputSize and hiddenSize, and says its kind', () => {
  assert.equal([...CELL_KINDS], ['elman', 'jordan', 'lstm', 'gru', 'indrnn']);
  for (const kind of CELL_KINDS) {
    const cell = createCell(kind, { inputSize: 3, hiddenSize: 4 });
    assert.is(cell.kind, kind);
    assert.is(cell.inputSize, 3);
    assert.is(cell.outputSize, 4, `${kind}: the output is the hidden size (Jordan: its fed-back output)`);
    const recurrent = cell.paramSpecs.find((s) => s.name === 'weight_hh' || s.name === 'weight_hy')!;
    // IndRNN's recurrent weight is one row of n element-wise weights (gates 1: n products per step).
    if (kind === 'indrnn') assert.is(`${recurrent.rows}x${recurrent.cols}`, '1x4', 'indrnn: weight_hh is a row');
    else assert.is(recurrent.rows, cellGates(kind) * 4, `${kind}: gates`);
  }
});

test('cell-specific options reach the cell; unknown kinds are refused', () => {
  assert.is(createCell('elman', { inputSize: 1, hiddenSize: 2, bias: false }).paramSpecs.length, 2);
  assert.is(createCell('jordan', { inputSize: 1, hiddenSize: 2, outputSize: 5 }).outputSize, 5);
  assert.is(createCell('lstm', { inputSize: 1, hiddenSize: 2, peephole: true }).paramSpecs.some((s) => s.name === 'weight_ci'), true);
  assert.ok(isCellKind('gru') && !isCellKind('rnn') && !isCellKind(3));
  assert.throws(() => createCell('rnn' as 'gru', { inputSize: 1, hiddenSize: 2 }), /createCell: unknown cell "rnn" \(one of elman, jordan, lstm, gru, indrnn\)/);
});

test.run();
