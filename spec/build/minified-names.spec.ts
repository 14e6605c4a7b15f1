// Error names survive minification: the browser bundles are minified, which renames classes, so
// an error's name must not come from its class's name. Bundles lib/ with esbuild (minified, as
// scripts/bundle.mjs does) in memory, provokes one error of each kind and reads its name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';

const ENTRY = `
import { mat, gemm } from './lib/index.js';
export { LoopgradError, ShapeError, ConfigError, FormatError, ResourceError } from './lib/index.js';
export { WorkerError } from './lib/parallel/pool.js';
export function provoke(kind) {
  try {
    if (kind === 'ShapeError') gemm(mat(2, 2), mat(2, 3), mat(2, 3));
    else throw new Error('no provocation for ' + kind);
  } catch (e) { return e; }
}
`;

test("a minified bundle keeps every error kind's name", async () => {
  const out = await build({
    stdin: { contents: ENTRY, resolveDir: 'build', loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent',
  });
  const code = out.outputFiles[0].text;
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, new (op: string, m: string) => Error> & { provoke(kind: string): Error };
  for (const kind of ['LoopgradError', 'ShapeError', 'ConfigError', 'FormatError', 'ResourceError', 'WorkerError']) {
    const e = new mod[kind]('op', 'message');
    assert.is(e.name, kind, `a minified ${kind} is named ${e.name}`);
    assert.ok(String(e).startsWith(`${kind}: op: message`), String(e));
  }
  const thrown = mod.provoke('ShapeError');
  assert.is(thrown.name, 'ShapeError', String(thrown));
  assert.ok(thrown instanceof mod.ShapeError);
});

test("a caller's own subclass keeps its own name", async () => {
  const { ShapeError } = await import('../../lib/mat/errors.js');
  class MyShapeError extends ShapeError {}
  assert.is(new MyShapeError('op', 'm').name, 'MyShapeError');
  assert.is(new ShapeError('op', 'm').name, 'ShapeError');
});

test.run();
