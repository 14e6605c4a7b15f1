// Parameter roles: weight decay and penalties spare biases and learned initial
// states by role, so renamed specs (a hierarchy's s0/bias_ih, a grid cell's b,
// a corner's b_tl) are spared too while every weight is still decayed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Params, createParams } from '../../lib/cells/params.js';
import { lstm } from '../../lib/cells/lstm.js';
import { gru } from '../../lib/cells/gru.js';
import { elman } from '../../lib/cells/elman.js';
import { Optimizer } from '../../lib/optim/optimizer.js';
import { applyPenalty, weightMask } from '../../lib/optim/clip.js';
import { bidirectional } from '../../lib/arch/bidirectional.js';
import { createLayerParams, gridStack, mdFourWay, mdScan, mdTanh } from '../../lib/arch/mdrnn.js';
import { createModel } from '../../lib/rnn/model.js';
import { stacked } from '../../lib/arch/stacked.js';
import { hierarchy, recurrentLayer, subsample } from '../../lib/arch/subsampling.js';
import { withReadout } from '../../lib/arch/readout.js';

/** Names of the specs whose entries one AdamW step with a zero gradient shrank, and of those it left alone. */
function decayed(params: Params): { shrunk: string[]; kept: string[] } {
  const opt = new Optimizer({ kind: 'adamw', lr: 0.1, weightDecay: 0.5 });
  opt.decayMask = weightMask(params);
  const before = params.theta.slice();
  opt.step(params.theta, new Float64Array(params.theta.length));
  const shrunk: string[] = [], kept: string[] = [];
  params.specs.forEach((s, i) => {
    const start = params.offsets[i], end = start + s.rows * s.cols;
    let same = true;
    for (let k = start; k < end; k++) {
      if (params.theta[k] !== before[k]) {
        same = false;
        // Decoupled decay alone: θ ← θ (1 - lr λ).
        assert.ok(Math.abs(params.theta[k] - before[k] * (1 - 0.05)) < 1e-15, `${s.name}[${k - start}]`);
      }
    }
    (same ? kept : shrunk).push(s.name);
  });
  return { shrunk, kept };
}

test('a hierarchy\'s s0/bias_ih and s1/bias are not decayed; its weights are', () => {
  const layer = hierarchy([recurrentLayer(lstm({ inputSize: 2, hiddenSize: 3 })), subsample({ inputSize: 3, outputSize: 2, window: 2 })]);
  const params = createLayerParams(layer, { seed: 3 });
  const { shrunk, kept } = decayed(params);
  assert.equal(kept, ['s0/bias_ih', 's0/bias_hh', 's1/bias']);
  assert.equal(shrunk, ['s0/weight_ih', 's0/weight_hh', 's1/weight']);
});

test('the 2-D tanh cell\'s b is not decayed, in a scan, a four-way layer and a grid stack; W, U1, U2 are', () => {
  const cell = mdTanh({ inputSize: 2, hiddenSize: 2 });
  const scan = decayed(createLayerParams(mdScan(cell), { seed: 1 }));
  assert.equal(scan.kept, ['b']);
  assert.equal(scan.shrunk, ['W', 'U1', 'U2']);
  const grid = decayed(createLayerParams(gridStack([mdFourWay(cell), mdScan(mdTanh({ inputSize: 8, hiddenSize: 2 }))]), { seed: 2 }));
  assert.equal(grid.kept, ['b_tl_l0', 'b_tr_l0', 'b_bl_l0', 'b_br_l0', 'b_l1']);
  assert.is(grid.shrunk.length, 4 * 3 + 3);
  assert.ok(grid.shrunk.every((n) => /^(W|U1|U2)_/.test(n)));
});

test('roles survive stacking, reversal, readouts and learned initial states; names stay PyTorch\'s', () => {
  const cell = withReadout(stacked([bidirectional(gru({ inputSize: 2, hiddenSize: 2 })), elman({ inputSize: 4, hiddenSize: 2 })]), 3);
  const model = createModel(cell, { initialState: 'learned' });
  const roles = Object.fromEntries(model.params.specs.map((s) => [s.name, s.role]));
  assert.equal(roles, {
    weight_ih_l0: 'weight', weight_hh_l0: 'weight', bias_ih_l0: 'bias', bias_hh_l0: 'bias',
    weight_ih_l0_reverse: 'weight', weight_hh_l0_reverse: 'weight', bias_ih_l0_reverse: 'bias', bias_hh_l0_reverse: 'bias',
    weight_ih_l1: 'weight', weight_hh_l1: 'weight', bias_ih_l1: 'bias', bias_hh_l1: 'bias',
    weight_out: 'weight', bias_out: 'bias',
    init_h_l0: 'initial', init_h_l0_reverse: 'initial', init_h_l1: 'initial',
  });
  // Nonzero everywhere (the learned initial states start at 0), so that sparing is visible.
  model.params.theta.forEach((_, i) => { model.params.theta[i] = 0.1 + 0.01 * i; });
  const { shrunk, kept } = decayed(model.params);
  assert.equal(shrunk, model.params.specs.filter((s) => s.role === 'weight').map((s) => s.name));
  assert.equal(kept, model.params.specs.filter((s) => s.role !== 'weight').map((s) => s.name));
});

test('penalties spare by role too, and createParams refuses a spec without a role', () => {
  const params = createParams([
    { name: 'bias_like_weight', rows: 1, cols: 2, role: 'weight' }, { name: 'w', rows: 1, cols: 1, role: 'bias' }, { name: 'h0', rows: 1, cols: 1, role: 'initial' },
  ]);
  params.theta.set([1, -2, 3, 4]);
  const grad = new Float64Array(4);
  const value = applyPenalty(params.theta, grad, { l2: 1, mask: weightMask(params) });
  assert.is(value, 0.5 * (1 + 4));
  assert.equal(Array.from(grad), [1, -2, 0, 0]);
  assert.throws(() => createParams([{ name: 'x', rows: 1, cols: 1 } as never]), /parameter "x" has role undefined, not weight, bias or initial/);
});

test.run();
