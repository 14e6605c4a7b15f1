// The typed errors of the floors converted last (lib/mat/gemm.ts, lib/ad/graph.ts, lib/train,
// lib/optim): each refusal provoked through the public functions is the right kind, names its
// operation in `op`, carries the values at fault in `details`, and prints exactly the message it
// always printed ("op: ..."), which other specs and users match.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoopgradError, ShapeError, ConfigError, FormatError, mat, matFrom, gemm, gemv, Graph } from '../lib/index.js';
import { Optimizer } from '../lib/optim/optimizer.js';
import { applyPenalty } from '../lib/optim/clip.js';
import { parseInit, recurrentBlocks } from '../lib/train/init.js';
import { BoundedCurve } from '../lib/train/curve.js';
import { train } from '../lib/train/trainer.js';
import { createModel, elman, parseMethod } from '../lib/index.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';
import { createParams } from '../lib/cells/params.js';

type Kind = typeof ShapeError | typeof ConfigError | typeof FormatError;

const sumLoss: SequenceLoss = { step: (g, _t, out) => g.sum(out) };
const shared = new Float64Array(12);
const adamState = () => {
  const o = new Optimizer({ kind: 'adam', lr: 0.1 });
  o.step(new Float64Array(2), Float64Array.from([1, 2]));
  return o.saveState();
};

const CASES: readonly { provoke: () => unknown; kind: Kind; op: string; message: string; detail: readonly [string, unknown] }[] = [
  // lib/mat/gemm.ts
  { provoke: () => gemm(mat(2, 2), mat(2, 3), mat(2, 2)), kind: ShapeError, op: 'gemm', message: 'gemm: a.cols 3 != b.rows 2 (a 2x3, b 2x2)', detail: ['a', [2, 3]] },
  { provoke: () => gemm(mat(2, 3), mat(2, 2), mat(2, 2)), kind: ShapeError, op: 'gemm', message: 'gemm: out is 2x3 but a 2x2 times b 2x2 is 2x2', detail: ['expected', [2, 2]] },
  { provoke: () => gemm(mat(2, 2), mat(2, 2), mat(2, 2), false, false, NaN), kind: ConfigError, op: 'gemm', message: 'gemm: alpha is NaN, not a finite number', detail: ['name', 'alpha'] },
  { provoke: () => gemm(matFrom(2, 2, shared, 0), matFrom(2, 2, shared, 2), mat(2, 2)), kind: ShapeError, op: 'gemm', message: 'gemm: out 2x2 at offset 0 shares storage with a 2x2 at offset 2 (out must not overlap an input; write into a separate matrix)', detail: ['offset', 2] },
  { provoke: () => gemm({ rows: 2, cols: 2, offset: 3, data: new Float64Array(4) }, mat(2, 2), mat(2, 2)), kind: ShapeError, op: 'gemm', message: 'gemm: out 2x2 at offset 3 does not fit in 4 elements', detail: ['length', 4] },
  { provoke: () => gemv(mat(3, 1), mat(3, 2), mat(3, 1)), kind: ShapeError, op: 'gemv', message: 'gemv: a.cols 2 != length 3 of x 3x1 (a 3x2)', detail: ['x', [3, 1]] },
  // lib/ad/graph.ts
  { provoke: () => new Graph('sideways' as never), kind: ConfigError, op: 'Graph', message: "Graph: mode must be 'eval', 'reverse' or 'forward', got sideways", detail: ['mode', 'sideways'] },
  { provoke: () => { const g = new Graph('eval'); g.backward(g.constant(mat(1, 1))); }, kind: ConfigError, op: 'backward', message: "backward: the graph is in 'eval' mode, not 'reverse'", detail: ['mode', 'eval'] },
  { provoke: () => { const g = new Graph('reverse'); g.backward(g.leaf(mat(2, 2), { requiresGrad: true })); }, kind: ShapeError, op: 'backward', message: 'backward: output 0 is 2x2; a cotangent is needed unless it is 1x1', detail: ['shape', [2, 2]] },
  { provoke: () => { const a = new Graph('eval'), b = new Graph('eval'); return b.matmul(a.constant(mat(2, 2)), b.constant(mat(2, 2))); }, kind: ConfigError, op: 'matmul', message: 'matmul: input 0 belongs to another graph', detail: ['input', 0] },
  // lib/optim
  { provoke: () => Optimizer.fromState({ ...adamState(), version: 2 } as never), kind: FormatError, op: 'Optimizer.fromState', message: 'Optimizer.fromState: unsupported version 2', detail: ['version', 2] },
  { provoke: () => Optimizer.fromState({ ...adamState(), buffers: { m: [1, 2], v: [1] } } as never), kind: FormatError, op: 'Optimizer.fromState', message: 'Optimizer.fromState: buffer v has 1 numbers, m has 2', detail: ['length', 1] },
  { provoke: () => new Optimizer({ kind: 'sgd', lr: 0.1 }).step(new Float64Array(3), new Float64Array(2)), kind: ShapeError, op: 'sgd.step', message: 'sgd.step: theta has 3 numbers but grad has 2', detail: ['grad', 2] },
  { provoke: () => applyPenalty(new Float64Array(3), new Float64Array(2), { l2: 1 }), kind: ShapeError, op: 'applyPenalty', message: 'applyPenalty: theta has 3 numbers but grad has 2', detail: ['theta', 3] },
  // lib/train
  { provoke: () => parseInit('normal:x'), kind: ConfigError, op: 'init', message: 'init: "normal:x": "x" is not a number', detail: ['text', 'normal:x'] },
  { provoke: () => recurrentBlocks(createParams([{ name: 'weight_hh', rows: 5, cols: 2, role: 'weight' }])), kind: ShapeError, op: 'recurrentBlocks', message: 'recurrentBlocks: weight_hh is 5x2, not a stack of 2x2 blocks', detail: ['shape', [5, 2]] },
  { provoke: () => new BoundedCurve(3), kind: ConfigError, op: 'BoundedCurve', message: 'BoundedCurve: cap must be an integer >= 4, got 3', detail: ['value', 3] },
  {
    provoke: () => train(createModel(elman({ inputSize: 1, hiddenSize: 2 })), {
      method: parseMethod('bptt'), optimizer: new Optimizer({ kind: 'sgd', lr: 0.1 }), iterations: 1,
      next: () => ({ xs: mat(5, 1), batch: 2, loss: sumLoss }),
    } as never),
    kind: ShapeError, op: 'train', message: 'train: input has 5 rows, not a multiple of batch 2', detail: ['rows', 5],
  },
];

test('each converted refusal: its kind, op, a value at fault and the very message it always printed', () => {
  for (const c of CASES) {
    let caught: unknown = null;
    try { c.provoke(); } catch (e) { caught = e; }
    assert.ok(caught instanceof c.kind, `${c.message}: got ${String(caught)}`);
    const e = caught as LoopgradError;
    assert.ok(e instanceof LoopgradError);
    assert.is(e.message, c.message);
    assert.is(e.op, c.op, c.message);
    assert.equal(e.details[c.detail[0]], c.detail[1], `${c.message}: details.${c.detail[0]}`);
  }
});

test('none of them names an option the CLI would turn into a usage error (their exit codes stay)', () => {
  for (const c of CASES) {
    let caught: unknown = null;
    try { c.provoke(); } catch (e) { caught = e; }
    // A case that stopped throwing must fail here too, not pass by asserting nothing.
    assert.ok(caught instanceof LoopgradError, `${c.message}: got ${String(caught)}`);
    if (c.op !== 'BoundedCurve') assert.is(caught.details.option, undefined, c.message);
  }
});

test.run();
