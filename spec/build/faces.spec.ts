// The package's faces: the root holds the core, each floor above it has its own subpath, and
// every runtime name lives in exactly one face (no aliases, no internals).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as core from '../../lib/index.js';
import * as arch from '../../lib/arch/index.js';
import * as train from '../../lib/train/index.js';
import * as tasks from '../../lib/tasks/index.js';
import * as io from '../../lib/io/index.js';
import * as browser from '../../lib/browser.js';

const faces: Record<string, Record<string, unknown>> = { '.': core, './arch': arch, './train': train, './tasks': tasks, './io': io };

test('the root face is the core: at most about 80 runtime names', () => {
  const names = Object.keys(core);
  assert.ok(names.length <= 80, `the root exports ${names.length} names: ${names.join(', ')}`);
  for (const name of ['Graph', 'createModel', 'Bptt', 'Tbptt', 'Rtrl', 'Snap', 'Uoro', 'KfRtrl', 'Forward', 'lstm', 'gru', 'elman', 'indrnn', 'mat', 'sequenceLoss', 'ctcLoss']) {
    assert.ok(name in core, `the core lacks ${name}`);
  }
});

test('every runtime name is in one face only, and internals and aliases are in none', () => {
  const owner = new Map<string, string>();
  for (const [face, exports] of Object.entries(faces)) {
    for (const name of Object.keys(exports)) {
      assert.ok(!owner.has(name), `${name} is exported by ${owner.get(name)} and ${face}`);
      owner.set(name, face);
    }
  }
  for (const internal of ['SequenceBptt', 'sequenceBptt', 'bptt', 'forward', 'createOptimizer', 'runStacked', 'scanCell', 'LengthMasks', 'primitives', 'normalizeRunConfig', 'normalizeOptimizerConfig', 'seedTangent', 'denseTangent']) {
    assert.ok(!owner.has(internal), `${internal} is exported by ${owner.get(internal)}`);
  }
});

test('package.json maps every face, and the browser bundle holds them as namespaces', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, unknown> };
  for (const face of Object.keys(faces)) assert.ok(face in pkg.exports, `package.json exports lacks ${face}`);
  const b = browser as Record<string, unknown>;
  for (const name of Object.keys(core)) assert.is(b[name], (core as Record<string, unknown>)[name], name);
  for (const [ns, exports] of [['arch', arch], ['train', train], ['tasks', tasks], ['io', io]] as const) {
    assert.equal(Object.keys(b[ns] as object).sort(), Object.keys(exports).sort(), ns);
  }
});

test.run();
