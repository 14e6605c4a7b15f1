#!/usr/bin/env node
// loopgrad as another project consumes it. Packs the package with `npm pack`,
// installs the tarball into a fresh temporary TypeScript project, type-checks a
// small program against the shipped declarations under both "moduleResolution":
// "node16" and "bundler" (one deliberately wrong call sits under
// // @ts-expect-error, so the check fails if the declarations stop catching it),
// then compiles and runs the program: it builds an LSTM, trains it a few steps
// with BPTT and with RTRL, saves its weights to a safetensors file with PyTorch
// names, reloads them into a fresh model and checks the outputs are identical.
// Then the CommonJS side, in a second project without "type": "module": a plain .cjs file
// `require`s every face (an error thrown under loopgrad/train is `instanceof` the root face's
// ConfigError: one module graph), and a TypeScript program is type-checked against the
// shipped .d.cts declarations with "module": "commonjs" (moduleResolution node10, the
// default there) and with "module": "node16" in a CommonJS package, compiled to require()
// calls and run.
//
// Needs the compiled package (npm run build: dist/lib/index.js and .d.ts, dist/cjs/index.cjs and .d.cts).
// The temporary project uses this checkout's TypeScript and @types/node, so no
// network is needed.
//
// usage: node scripts/consumer-test.mjs [--keep]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/consumer-test.mjs [--keep]';
const tsc = join(root, 'node_modules/typescript/bin/tsc');

const args = process.argv.slice(2);
for (const a of args) {
  if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
  if (a !== '--keep') { console.error(`consumer-test: unknown argument ${JSON.stringify(a)}\n${USAGE}`); process.exit(2); }
}
const keep = args.includes('--keep');

function fail(message) {
  console.error(`consumer-test: ${message}`);
  process.exit(1);
}

function run(command, commandArgs, cwd, label) {
  try {
    return execFileSync(command, commandArgs, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
    fail(`${label} failed (exit ${err.status ?? '?'}):\n${out}`);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(path) : s.mtimeMs);
  }
  return newest;
}

// The consumer's program. It uses the public entry only.
const PROGRAM = `import { readFileSync, writeFileSync } from 'node:fs';
import { Bptt, Rtrl, Rng, createModel, lstm, mat, rowsView, type Mat, type RecurrentModel, type SequenceLoss } from 'loopgrad';
import { stacked } from 'loopgrad/arch';
import { Optimizer } from 'loopgrad/train';
import { addingTask } from 'loopgrad/tasks';
import { loadPytorchParams, pytorchStateDict, readSafetensors, writeSafetensors } from 'loopgrad/io';

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error('consumer: ' + message);
}

const inputSize = 3, hiddenSize = 5, batch = 2, steps = 6;
const rng = new Rng(2024);
const xs: Mat = mat(steps * batch, inputSize);
const targets: Mat = mat(steps * batch, hiddenSize);
rng.fillNormal(xs);
rng.fillUniform(targets, -0.5, 0.5);

// 0.5 * squared error of the output against the target at every step
const loss: SequenceLoss = {
  step(g, t, output) {
    const diff = g.sub(output, g.constant(rowsView(targets, t * batch, batch)));
    return g.scale(g.dot(diff, diff), 0.5);
  },
};

// The declarations must reject a wrong argument type; at run time the cell rejects it too.
let rejected = '';
try {
  // @ts-expect-error hiddenSize is a number, not a string
  lstm({ inputSize, hiddenSize: 'five' });
} catch (err) {
  rejected = (err as Error).message;
}
check(/lstm: hiddenSize/.test(rejected), 'lstm() accepted hiddenSize "five": ' + rejected);

const model: RecurrentModel = createModel(lstm({ inputSize, hiddenSize, forgetBias: 1 }), { seed: 7 });
const theta = model.params.theta;
const sgd = (grad: Float64Array, lr: number): void => {
  for (let i = 0; i < theta.length; i++) theta[i] -= lr * grad[i];
};

// BPTT: a few full-batch SGD steps
const bptt = new Bptt(model);
const bpttLosses: number[] = [];
for (let i = 0; i < 5; i++) {
  const result = bptt.run(xs, loss, { batch });
  bpttLosses.push(result.loss);
  sgd(result.grad, 0.1);
}
check(bpttLosses[4] < bpttLosses[0], 'BPTT loss did not fall: ' + bpttLosses.join(' '));

// RTRL: the same gradient as BPTT, then a few steps of its own
const rtrl = new Rtrl(model);
const rtrlLoss = rtrl.run(xs, loss, { batch }).loss;
const reference = bptt.run(xs, loss, { batch });
let maxDiff = 0;
for (let i = 0; i < theta.length; i++) maxDiff = Math.max(maxDiff, Math.abs(rtrl.grad[i] - reference.grad[i]));
check(Math.abs(rtrlLoss - reference.loss) < 1e-12 && maxDiff < 1e-10, 'RTRL and BPTT disagree: max |grad difference| ' + maxDiff);
const rtrlLosses: number[] = [];
for (let i = 0; i < 5; i++) {
  rtrlLosses.push(rtrl.run(xs, loss, { batch }).loss);
  sgd(rtrl.grad, 0.1);
}
check(rtrlLosses[4] < rtrlLosses[0], 'RTRL loss did not fall: ' + rtrlLosses.join(' '));

// Every face of the package resolves: a two-layer stack trained by the package's Adam on its adding task.
const task = addingTask({ steps: 8 });
const deep = createModel(stacked([lstm({ inputSize: 2, hiddenSize: 4 }), lstm({ inputSize: 4, hiddenSize: 1 })]), { seed: 3 });
const adam = new Optimizer({ kind: 'adam', lr: 0.01 });
const taskBatch = task.batch(new Rng(5), 4);
check(taskBatch.xs.cols === 2, 'adding task inputs have ' + taskBatch.xs.cols + ' columns');
const deepRun = new Bptt(deep).run(taskBatch.xs, { step: (g, _t, out) => g.dot(out, out) }, { batch: 4 });
adam.step(deep.params.theta, deepRun.grad);
check(Number.isFinite(deepRun.loss) && deepRun.grad.length === deep.params.theta.length, 'the stack did not run');

// Save with PyTorch names, reload into a fresh model with other weights, compare outputs.
const file = process.argv[2] ?? 'lstm.safetensors';
writeFileSync(file, writeSafetensors(pytorchStateDict(model.params), { format: 'pt' }));
const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(file)));
check(metadata.format === 'pt', 'metadata lost: ' + JSON.stringify(metadata));
check(tensors.has('weight_ih_l0') && tensors.has('bias_hh_l0'), 'PyTorch names missing: ' + [...tensors.keys()].join(', '));
const reloaded = createModel(lstm({ inputSize, hiddenSize, forgetBias: 1 }), { seed: 99 });
loadPytorchParams(reloaded.params, tensors);
const before = new Bptt(model).run(xs, loss, { batch });
const after = new Bptt(reloaded).run(xs, loss, { batch });
let identical = before.loss === after.loss && before.outputs.data.length === after.outputs.data.length;
for (let i = 0; i < before.outputs.data.length; i++) identical &&= before.outputs.data[i] === after.outputs.data[i];
for (let i = 0; i < theta.length; i++) identical &&= theta[i] === reloaded.params.theta[i];
check(identical, 'the reloaded model gives different outputs');

console.log('consumer: OK: LSTM with ' + theta.length + ' parameters; BPTT loss ' + bpttLosses[0].toFixed(4) + ' -> ' + bpttLosses[4].toFixed(4)
  + '; RTRL = BPTT gradient to ' + maxDiff.toExponential(1) + '; RTRL loss ' + rtrlLosses[0].toFixed(4) + ' -> ' + rtrlLosses[4].toFixed(4)
  + '; reloaded from ' + file + ' (' + tensors.size + ' tensors): outputs bit-identical');
`;

// CommonJS: every face by require(), in a plain .cjs file.
const REQUIRE_PROGRAM = `'use strict';
const assert = require('node:assert');
const root = require('loopgrad');
const { stacked } = require('loopgrad/arch');
const { Optimizer } = require('loopgrad/train');
const { addingTask } = require('loopgrad/tasks');
const { readSafetensors, writeSafetensors, pytorchStateDict } = require('loopgrad/io');
const { Bptt, Rng, createModel, lstm, ConfigError, LoopgradError } = root;
assert.strictEqual(typeof require('loopgrad/package.json').version, 'string');
const model = createModel(stacked([lstm({ inputSize: 2, hiddenSize: 4 }), lstm({ inputSize: 4, hiddenSize: 1 })]), { seed: 3 });
const batch = addingTask({ steps: 8 }).batch(new Rng(5), 4);
const run = new Bptt(model).run(batch.xs, { step: (g, _t, out) => g.dot(out, out) }, { batch: 4 });
new Optimizer({ kind: 'adam', lr: 0.01 }).step(model.params.theta, run.grad);
assert.ok(Number.isFinite(run.loss) && run.grad.length === model.params.theta.length, 'the stack did not run');
const bytes = writeSafetensors(pytorchStateDict(model.params), { format: 'pt' });
assert.ok(readSafetensors(bytes).tensors.size > 0, 'no tensors read back');
// One module graph for every face: the error thrown under loopgrad/train is the root face's class.
let caught;
try { new Optimizer({ kind: 'adam', lr: 0.1, momentum: 0.9 }); } catch (e) { caught = e; }
assert.ok(caught instanceof ConfigError && caught instanceof LoopgradError, 'not a ConfigError of the root face: ' + caught);
assert.strictEqual(caught.details.option, 'momentum');
console.log('consumer (require): OK: every face required; ' + model.params.theta.length + ' parameters; ' + caught.constructor.name + ' from loopgrad/train is instanceof loopgrad.ConfigError');
`;

// CommonJS from TypeScript: imports compile to require() calls.
const CJS_TS_PROGRAM = `import { Bptt, ConfigError, Rng, createModel, gru, type RecurrentModel } from 'loopgrad';
import { bidirectional } from 'loopgrad/arch';
import { Optimizer } from 'loopgrad/train';
import { parityTask } from 'loopgrad/tasks';
import { readSafetensors, writeSafetensors, pytorchStateDict } from 'loopgrad/io';

// The declarations are real (not any): a wrong type is an error. Never called.
// @ts-expect-error hiddenSize is a number
const wrong = (): unknown => gru({ inputSize: 1, hiddenSize: 'two' });

const model: RecurrentModel = createModel(bidirectional(gru({ inputSize: 1, hiddenSize: 3 }), gru({ inputSize: 1, hiddenSize: 3 })), { seed: 1 });
const batch = parityTask({ steps: 5 }).batch(new Rng(2), 3);
const result = new Bptt(model).run(batch.xs, { step: (g, _t, out) => g.dot(out, out) }, { batch: 3 });
new Optimizer({ kind: 'sgd', lr: 0.01 }).step(model.params.theta, result.grad);
const read = readSafetensors(writeSafetensors(pytorchStateDict(model.params)));
let option: unknown = 'none';
try {
  new Optimizer({ kind: 'adam', lr: 0.1, weightDecay: 0.1 });
} catch (e) {
  if (e instanceof ConfigError) option = e.details.option;
}
if (!Number.isFinite(result.loss) || read.tensors.size === 0 || option !== 'weightDecay' || typeof wrong !== 'function') {
  throw new Error('consumer (commonjs): failed: loss ' + result.loss + ', ' + read.tensors.size + ' tensors, option ' + String(option));
}
console.log('consumer (' + (typeof require === 'function' ? 'require' : 'import') + '): OK: ' + model.params.theta.length + ' parameters, ' + read.tensors.size + ' tensors, ConfigError names ' + option);
`;

function tsconfig(module, moduleResolution, extra = {}) {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module, ...(moduleResolution === undefined ? {} : { moduleResolution }), strict: true, skipLibCheck: false,
      types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
      rootDir: 'src', outDir: 'out', ...extra,
    },
    include: ['src'],
  }, null, 2);
}

function main() {
  if (!existsSync(tsc)) fail(`no TypeScript at ${relative(root, tsc)}: run npm install in ${root}`);
  if (!existsSync(join(root, 'node_modules/@types/node'))) fail('no @types/node in node_modules: run npm install');
  for (const f of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/cjs/index.cjs', 'dist/cjs/index.d.cts']) {
    if (!existsSync(join(root, f))) fail(`${f} is missing: run npm run build first`);
  }
  if (newestMtime(join(root, 'lib')) > statSync(join(root, 'dist/lib/index.js')).mtimeMs) {
    console.log('consumer-test: note: lib/ has sources newer than dist/lib/index.js; the package holds the last build');
  }

  const work = mkdtempSync(join(tmpdir(), 'loopgrad-consumer-'));
  try {
    // 1. pack (the build already ran; --ignore-scripts keeps pack from rebuilding)
    const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root, 'npm pack'));
    const info = packed[0];
    const tarball = join(work, info.filename);
    const paths = info.files.map((f) => f.path);
    const missing = ['package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/cjs/index.cjs', 'dist/cjs/index.d.cts'].filter((p) => !paths.includes(p));
    if (missing.length > 0) fail(`the tarball lacks ${missing.join(', ')}`);
    const strays = paths.filter((p) => /^(spec|build|node_modules)\//.test(p));
    if (strays.length > 0) fail(`the tarball ships files it should not: ${strays.slice(0, 5).join(', ')}`);
    console.log(`consumer-test: packed ${info.filename}: ${info.entryCount} files, ${(info.size / 1000).toFixed(1)} kB packed, ${(info.unpackedSize / 1000).toFixed(1)} kB unpacked`);

    // 2. a fresh project that depends on the tarball
    const project = join(work, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'loopgrad-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2));
    writeFileSync(join(project, 'src/main.ts'), PROGRAM);
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('node16', 'node16'));
    writeFileSync(join(project, 'tsconfig.bundler.json'), tsconfig('esnext', 'bundler', { noEmit: true }));
    run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--offline', tarball], project, 'npm install of the tarball');
    if (!existsSync(join(project, 'node_modules/loopgrad/dist/lib/index.d.ts'))) fail('the installed package has no dist/lib/index.d.ts');

    // 3. type-check against the shipped declarations, both resolutions
    run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], project, 'tsc with "moduleResolution": "bundler"');
    console.log('consumer-test: type-checks with "moduleResolution": "bundler" (the @ts-expect-error call is rejected)');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], project, 'tsc with "moduleResolution": "node16"');
    console.log('consumer-test: type-checks and compiles with "moduleResolution": "node16"');

    // 4. run it
    const output = run(process.execPath, ['out/main.js', join(work, 'lstm.safetensors')], project, 'the consumer program');
    process.stdout.write(output);
    if (!output.includes('consumer: OK')) fail('the consumer program did not report OK');

    // 5. CommonJS: a project without "type": "module"
    const cjs = join(work, 'project-cjs');
    mkdirSync(join(cjs, 'src'), { recursive: true });
    writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'loopgrad-consumer-cjs', version: '0.0.0', private: true }, null, 2));
    writeFileSync(join(cjs, 'require.cjs'), REQUIRE_PROGRAM);
    writeFileSync(join(cjs, 'src/main.ts'), CJS_TS_PROGRAM);
    // "module": "commonjs" alone resolves as node10 (no "exports": the package's "types" and "typesVersions")
    writeFileSync(join(cjs, 'tsconfig.json'), tsconfig('commonjs', undefined));
    writeFileSync(join(cjs, 'tsconfig.node16.json'), tsconfig('node16', 'node16', { outDir: 'out16' }));
    run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--offline', tarball], cjs, 'npm install of the tarball (CommonJS project)');
    const required = run(process.execPath, ['require.cjs'], cjs, 'require() of every face');
    process.stdout.write(required);
    if (!required.includes('consumer (require): OK')) fail('the require() program did not report OK');
    const checks = [
      ['tsconfig.json', 'out', '"module": "commonjs"', 'the "types" and "typesVersions" declarations'],
      ['tsconfig.node16.json', 'out16', '"module": "node16" in a CommonJS package', 'the "require" condition\'s .d.cts declarations'],
    ];
    for (const [config, out, label, against] of checks) {
      run(process.execPath, [tsc, '-p', config], cjs, `tsc with ${label}`);
      const compiled = readFileSync(join(cjs, out, 'main.js'), 'utf8');
      if (!/require\("loopgrad\/train"\)/.test(compiled)) fail(`tsc with ${label} did not compile the imports to require() calls`);
      const ran = run(process.execPath, [join(out, 'main.js')], cjs, `the program compiled with ${label}`);
      if (!ran.includes('consumer (require): OK')) fail(`the program compiled with ${label} did not report OK:\n${ran}`);
      console.log(`consumer-test: type-checks with ${label} (against ${against}), compiles to require() and runs: ${ran.trim()}`);
    }
    console.log('consumer-test: passed');
  } finally {
    if (keep) console.log(`consumer-test: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main();
