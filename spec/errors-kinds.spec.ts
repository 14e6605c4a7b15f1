// The typed errors at work: one representative refusal per folder below the train floor, each
// provoked through the public functions, is the right kind, names its operation in `op`, carries
// the values at fault in `details`, and keeps the message it always printed ("op: ...").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  LoopgradError, ShapeError, ConfigError, FormatError, ResourceError,
  mat, matOf, reshape, Rng, Graph, valueAndGrad, jvp, lstm, elman, narx, createCell, createModel,
  Bptt, Tbptt, Rtrl, parseMethod, gradientFlow, lossValue, ctcLoss,
} from '../lib/index.js';
import { stacked, mdScan } from '../lib/arch/index.js';
import { createTask } from '../lib/tasks/index.js';
import { readSafetensors, matToTensor, loadPytorchParams } from '../lib/io/index.js';
import { add } from '../lib/mat/elementwise.js';
import type { SequenceLoss } from '../lib/rnn/loss-spec.js';

const sumLoss: SequenceLoss = { step: (g, _t, out) => g.sum(out) };

/** A safetensors file: 8-byte little-endian header length, the header text, then the data. */
function safetensorsBytes(header: string, data = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

type Kind = typeof ShapeError | typeof ConfigError | typeof FormatError | typeof ResourceError;

interface Case {
  readonly folder: string;
  readonly provoke: () => unknown;
  readonly kind: Kind;
  readonly op: string;
  /** The message as the specs of each folder have always matched it. */
  readonly message: RegExp;
  /** One value at fault, by its key in details. */
  readonly detail: readonly [string, unknown];
}

const CASES: readonly Case[] = [
  // lib/mat
  {
    folder: 'mat', provoke: () => add(mat(2, 3), mat(2, 3), mat(3, 2)),
    kind: ShapeError, op: 'add', message: /^add: shapes 2x3 and 3x2 differ$/, detail: ['b', [3, 2]],
  },
  {
    folder: 'mat', provoke: () => reshape(mat(2, 3), 4, 2),
    kind: ShapeError, op: 'reshape', message: /^reshape: 2x3 cannot become 4x2$/, detail: ['to', [4, 2]],
  },
  {
    folder: 'mat', provoke: () => matOf([[1, 2], [3]]),
    kind: ShapeError, op: 'matOf', message: /^matOf: row 1 has 1 values, row 0 has 2$/, detail: ['found', 1],
  },
  {
    folder: 'mat', provoke: () => Rng.fromState({ words: [0, 0, 0, 0], spare: 0, hasSpare: false } as never),
    kind: FormatError, op: 'Rng.fromState', message: /^Rng\.fromState: .* is not a generator state/, detail: ['state', { words: [0, 0, 0, 0], spare: 0, hasSpare: false }],
  },
  // lib/mat/options.ts, through a cell: checkKeys and checkInt
  {
    folder: 'mat (checkKeys)', provoke: () => lstm({ inputSize: 2, hiddenSize: 3, hidenSize: 4 } as never),
    kind: ConfigError, op: 'lstm', message: /^lstm: unknown option "hidenSize" \(accepted: .*hiddenSize/, detail: ['option', 'hidenSize'],
  },
  {
    folder: 'mat (checkInt)', provoke: () => lstm({ inputSize: 2, hiddenSize: 2.5 }),
    kind: ConfigError, op: 'lstm', message: /^lstm: hiddenSize must be an integer >= 1, got 2\.5$/, detail: ['value', 2.5],
  },
  // lib/ad: a bad matmul shape through the graph's kernel rule; valueAndGrad; jvp
  {
    folder: 'ad', provoke: () => { const g = new Graph('eval'); return g.matmul(g.constant(mat(2, 3)), g.constant(mat(2, 3))); },
    kind: ShapeError, op: 'matmul', message: /^matmul: a is 2x3 and b is 2x3/, detail: ['b', [2, 3]],
  },
  {
    folder: 'ad', provoke: () => valueAndGrad((g, [x]) => x, [mat(2, 2)]),
    kind: ShapeError, op: 'valueAndGrad', message: /^valueAndGrad: the function returned 2x2, not a 1x1 scalar$/, detail: ['out', [2, 2]],
  },
  {
    folder: 'ad', provoke: () => jvp((g, [x]) => x, [mat(2, 2)], [mat(3, 1)]),
    kind: ShapeError, op: 'jvp', message: /^jvp: tangent 0 is 3x1, needs 4 rows/, detail: ['tangent', [3, 1]],
  },
  // lib/cells
  {
    folder: 'cells', provoke: () => narx({ inputSize: 1, outputSize: 1, hiddenSize: 2, outputDelays: 1, feedback: 'open' } as never),
    kind: ConfigError, op: 'narx', message: /^narx: feedback must be 'closed' or 'teacher', got "open"$/, detail: ['value', 'open'],
  },
  {
    folder: 'cells', provoke: () => createCell('lstn' as never, { inputSize: 1, hiddenSize: 1 } as never),
    kind: ConfigError, op: 'createCell', message: /^createCell: unknown cell "lstn" \(one of .*lstm/, detail: ['value', 'lstn'],
  },
  // lib/arch
  {
    folder: 'arch', provoke: () => stacked([elman({ inputSize: 1, hiddenSize: 2 }), elman({ inputSize: 2, hiddenSize: 2 })], { dropout: 1.5 }),
    kind: ConfigError, op: 'stacked', message: /^stacked: dropout must be in \[0, 1\), got 1\.5$/, detail: ['option', 'dropout'],
  },
  {
    folder: 'arch', provoke: () => stacked([elman({ inputSize: 1, hiddenSize: 2 }), elman({ inputSize: 3, hiddenSize: 2 })]),
    kind: ShapeError, op: 'stacked', message: /^stacked: layer 1 \(elman\) takes 3 inputs but layer 0 \(elman\) emits 2$/, detail: ['takes', 3],
  },
{
    folder: 'arch', provoke: () => mdScan({} as never, 'middle' as never),
    kind: ConfigError, op: 'mdScan', message: /^mdScan: corner "middle" is not one of top-left, /, detail: ['option', 'corner'],
  },
  // lib/rnn: a bad input shape to Bptt, Rtrl over maxBytes, gradientFlow over maxBytes, Tbptt's k2, a method's text
  {
    folder: 'rnn', provoke: () => new Bptt(createModel(lstm({ inputSize: 3, hiddenSize: 2 }))).run(mat(4, 5), sumLoss),
    kind: ShapeError, op: 'bptt', message: /^bptt: input is 4x5 but the cell takes 3 features per step$/, detail: ['xs', [4, 5]],
  },
  {
    folder: 'rnn', provoke: () => new Rtrl(createModel(lstm({ inputSize: 3, hiddenSize: 6 })), { maxBytes: 1e3 }),
    kind: ResourceError, op: 'rtrl', message: /^rtrl: .* over the limit of 0\.0 MiB/, detail: ['limit', 1e3],
  },
  {
    folder: 'rnn', provoke: () => gradientFlow(createModel(lstm({ inputSize: 3, hiddenSize: 6 })), { steps: 500, maxBytes: 1e4 }),
    kind: ResourceError, op: 'gradientFlow', message: /^gradientFlow: 500 steps of \d+ rows keep about [\d.]+ MiB on the tape, over the limit of 0\.0 MiB \(raise maxBytes or lower steps\)$/, detail: ['limit', 1e4],
  },
  {
    folder: 'rnn', provoke: () => new Tbptt(createModel(elman({ inputSize: 1, hiddenSize: 2 })), { k1: 4, k2: 2 }),
    kind: ConfigError, op: 'tbptt', message: /^tbptt: k2 must be an integer >= k1 = 4, got 2$/, detail: ['value', 2],
  },
  {
    folder: 'rnn', provoke: () => parseMethod('bppt'),
    kind: ConfigError, op: 'method', message: /^method: "bppt" is not one of /, detail: ['value', 'bppt'],
  },
  // lib/loss: a bad CTC target, mismatched outputs and targets
  {
    folder: 'loss', provoke: () => ctcLoss(new Float64Array(2 * 1 * 3), { T: 2, N: 1, C: 3, targets: [[1, 3]], inputLengths: [2], targetLengths: [2] }),
    kind: ConfigError, op: 'ctcLoss', message: /^ctcLoss: item 0: target label 3 is not a class in \[0, 3\)$/, detail: ['label', 3],
  },
  {
    folder: 'loss', provoke: () => lossValue('mse', mat(4, 2), mat(4, 3), null),
    kind: ShapeError, op: 'lossValue', message: /^lossValue: outputs are 4x2 but targets are 4x3$/, detail: ['targets', [4, 3]],
  },
  // lib/io: a corrupt safetensors header, a tensor missing from a checkpoint, a bad shape to write
  {
    folder: 'io', provoke: () => readSafetensors(safetensorsBytes('[1, 2]')),
    kind: FormatError, op: 'safetensors', message: /^safetensors: header does not start with '\{' \(first byte 0x5b\)$/, detail: ['firstByte', 0x5b],
  },
  {
    folder: 'io', provoke: () => readSafetensors(safetensorsBytes('{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8))),
    kind: FormatError, op: 'safetensors', message: /^safetensors: tensor "w": data_offsets \[0, 8\] hold 8 bytes but shape \[2\] of F64 needs 16$/, detail: ['tensor', 'w'],
  },
  {
    folder: 'io', provoke: () => loadPytorchParams(createModel(elman({ inputSize: 1, hiddenSize: 2 })).params, new Map()),
    kind: FormatError, op: 'loadPytorchParams', message: /^loadPytorchParams: tensor "weight_ih_l0" is missing/, detail: ['tensor', 'weight_ih_l0'],
  },
  {
    folder: 'io', provoke: () => matToTensor(mat(2, 3), [4, 2]),
    kind: ShapeError, op: 'safetensors', message: /^safetensors: matToTensor: shape \[4, ?2\] has 8 elements but the matrix is 2x3$/, detail: ['mat', [2, 3]],
  },
  // lib/tasks
  {
    folder: 'tasks', provoke: () => createTask('addding' as never),
    kind: ConfigError, op: 'createTask', message: /^createTask: unknown task "addding" \(.*adding/, detail: ['value', 'addding'],
  },
];

test('one refusal per folder: the kind, its op, a value at fault and the message it always had', () => {
  const folders = new Set<string>();
  for (const c of CASES) {
    const label = `${c.folder} / ${String(c.message)}`;
    let caught: unknown = null;
    try {
      c.provoke();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught !== null, `${label}: did not throw`);
    const e = caught as LoopgradError;
    assert.ok(e instanceof c.kind, `${label}: is ${(e as Error).name} (${(e as Error).message}), not ${c.kind.name}`);
    assert.ok(e instanceof LoopgradError && e instanceof Error, label);
    assert.is(e.name, c.kind.name, label);
    assert.is(e.op, c.op, label);
    assert.ok(e.message.startsWith(`${c.op}: `), `${label}: ${e.message}`);
    assert.match(e.message, c.message, label);
    const [key, value] = c.detail;
    assert.ok(key in e.details, `${label}: details ${JSON.stringify(e.details)} lack ${key}`);
    assert.equal(e.details[key], value, `${label}: details.${key}`);
    folders.add(c.folder.split(' ')[0]);
  }
  assert.equal([...folders].sort(), ['ad', 'arch', 'cells', 'io', 'loss', 'mat', 'rnn', 'tasks']);
});

test('memory refusals carry the estimate and the limit it passed, in bytes', () => {
  for (const provoke of [
    () => new Rtrl(createModel(lstm({ inputSize: 3, hiddenSize: 6 })), { maxBytes: 1e3 }),
    () => new Bptt(createModel(lstm({ inputSize: 3, hiddenSize: 6 })), { maxBytes: 1e5 }).run(mat(400, 3), sumLoss),
    () => gradientFlow(createModel(lstm({ inputSize: 3, hiddenSize: 6 })), { steps: 500, maxBytes: 1e4 }),
  ]) {
    try {
      provoke();
      assert.unreachable('no refusal');
    } catch (e) {
      assert.instance(e, ResourceError);
      const { bytes, limit } = (e as ResourceError).details as { bytes: number; limit: number };
      assert.ok(typeof bytes === 'number' && typeof limit === 'number' && bytes > limit, JSON.stringify((e as ResourceError).details));
    }
  }
});

test('checkKeys names every accepted option; an options value that is not an object is a ConfigError too', () => {
  try {
    new Bptt(createModel(elman({ inputSize: 1, hiddenSize: 1 })), { maxbytes: 1 } as never);
    assert.unreachable('no refusal');
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.equal((e as ConfigError).details, { option: 'maxbytes', accepted: ['maxBytes', 'threads', 'timeoutMs'] });
  }
  assert.throws(() => lstm(3 as never), (e: unknown) => e instanceof ConfigError && e.op === 'lstm' && e.details.value === 3);
});

test.run();
