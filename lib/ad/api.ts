// The user-facing differentiation helpers. A function to differentiate takes
// the Graph and its inputs as Vars and returns one Var:
//   const f = (g: Graph, [w, x]: Var[]) => g.sum(g.tanh(g.matmul(w, x)));
import { type Mat, mat, clone, shapeOf } from '../mat/mat.js';
import { Rng } from '../mat/rng.js';
import { Graph, type Var } from './graph.js';
import { denseTangent } from './tangent.js';
import { ShapeError } from '../mat/errors.js';

export type Differentiable = (g: Graph, inputs: Var[]) => Var;

function sizeOf(m: Mat): number {
  return m.rows * m.cols;
}

/** f(inputs) (which must be 1x1) and its gradient with respect to every input, by reverse mode. */
export function valueAndGrad(f: Differentiable, inputs: readonly Mat[]): { value: number; grads: Mat[] } {
  const g = new Graph('reverse');
  const vars = inputs.map((m) => g.leaf(m, { requiresGrad: true }));
  const out = f(g, vars);
  if (out.value.rows !== 1 || out.value.cols !== 1) {
    throw new ShapeError('valueAndGrad', `the function returned ${shapeOf(out.value)}, not a 1x1 scalar`, { out: [out.value.rows, out.value.cols] });
  }
  g.backward(out);
  return { value: out.value.data[out.value.offset], grads: vars.map((v, i) => v.grad === null ? mat(inputs[i].rows, inputs[i].cols) : clone(v.grad)) };
}

/**
 * Vector-Jacobian product: y = f(inputs) and Jᵀ·cotangent for every input.
 * The cotangent has the shape of y.
 */
export function vjp(f: Differentiable, inputs: readonly Mat[], cotangent: Mat): { value: Mat; grads: Mat[] } {
  const g = new Graph('reverse');
  const vars = inputs.map((m) => g.leaf(m, { requiresGrad: true }));
  const out = f(g, vars);
  if (out.value.rows !== cotangent.rows || out.value.cols !== cotangent.cols) {
    throw new ShapeError('vjp', `cotangent is ${shapeOf(cotangent)} but f returned ${shapeOf(out.value)}`, { cotangent: [cotangent.rows, cotangent.cols], out: [out.value.rows, out.value.cols] });
  }
  g.backward(out, cotangent);
  return { value: clone(out.value), grads: vars.map((v, i) => v.grad === null ? mat(inputs[i].rows, inputs[i].cols) : clone(v.grad)) };
}

/**
 * Jacobian-vector product over a bundle of K directions: tangents[i] is
 * (size of input i) x K, column k the k-th direction (null: zero). Returns
 * y = f(inputs) and J·tangent as a (size of y) x K matrix.
 */
export function jvp(f: Differentiable, inputs: readonly Mat[], tangents: readonly (Mat | null)[]): { value: Mat; tangent: Mat } {
  if (tangents.length !== inputs.length) {
    throw new ShapeError('jvp', `${inputs.length} inputs but ${tangents.length} tangents`, { inputs: inputs.length, tangents: tangents.length });
  }
  let K = 0;
  tangents.forEach((t, i) => {
    if (t === null) return;
    if (t.rows !== sizeOf(inputs[i])) {
      throw new ShapeError('jvp', `tangent ${i} is ${shapeOf(t)}, needs ${sizeOf(inputs[i])} rows (one per element of input ${i}, ${shapeOf(inputs[i])})`, { index: i, tangent: [t.rows, t.cols], input: [inputs[i].rows, inputs[i].cols] });
    }
    if (K !== 0 && t.cols !== K) throw new ShapeError('jvp', `tangent ${i} has ${t.cols} directions, others ${K}`, { index: i, found: t.cols, expected: K });
    K = t.cols;
  });
  if (K === 0) K = 1;
  const g = new Graph('forward', K);
  const vars = inputs.map((m, i) => {
    const t = tangents[i];
    return g.leaf(m, { tangent: t === null ? null : denseTangent(t.data, t.offset) });
  });
  const out = f(g, vars);
  const n = sizeOf(out.value);
  const tangent = mat(n, K);
  const t = out.tangent;
  if (t !== null) {
    if (t.kind === 'dense') tangent.data.set(t.data.subarray(t.offset, t.offset + n * K));
    else for (let e = 0; e < n; e++) tangent.data[e * K + t.start + e] = 1;
  }
  return { value: clone(out.value), tangent };
}

export interface GradCheckOptions {
  /** Finite-difference step (central differences). */
  epsilon?: number;
  /** Check at most this many elements per input (chosen at random); all when absent. */
  maxElements?: number;
  /** Random directions for the dot-product identity. */
  directions?: number;
  seed?: number;
  /** Tolerance on the finite-difference check's relative error (default 1e-6). */
  tolerance?: number;
  /** Tolerance on the dot-product identity's relative error (default 1e-10: only rounding). */
  dotTolerance?: number;
}

export interface GradCheckReport {
  ok: boolean;
  /** Largest |fd - ad| / max(1, |fd|, |ad|) over checked elements. */
  finiteDifferenceError: number;
  /** Largest |<gy, J dx> - <Jᵀ gy, dx>| / max(1, |each side|) over random directions. */
  dotProductError: number;
  worst: string;
}

/**
 * Checks a user's function: reverse-mode gradient against central finite
 * differences, and forward against reverse mode through the dot-product
 * identity <gy, J·dx> = <Jᵀ·gy, dx> in random directions.
 */
export function gradCheck(f: Differentiable, inputs: readonly Mat[], options: GradCheckOptions = {}): GradCheckReport {
  const epsilon = options.epsilon ?? 1e-6;
  const tolerance = options.tolerance ?? 1e-6;
  const rng = new Rng(options.seed ?? 1);
  const work = inputs.map(clone);
  const evalAt = (): Mat => {
    const g = new Graph('eval');
    return clone(f(g, work.map((m) => g.leaf(m))).value);
  };
  const y0 = evalAt();
  const gy = mat(y0.rows, y0.cols);
  rng.fillNormal(gy, 0, 1);
  const { grads } = vjp(f, work, gy);
  let fdError = 0, worst = '';
  work.forEach((m, i) => {
    const n = sizeOf(m);
    const picks = options.maxElements !== undefined && options.maxElements < n
      ? Array.from({ length: options.maxElements }, () => rng.int(n)) : Array.from({ length: n }, (_, e) => e);
    for (const e of picks) {
      const saved = m.data[e];
      m.data[e] = saved + epsilon;
      const plus = evalAt();
      m.data[e] = saved - epsilon;
      const minus = evalAt();
      m.data[e] = saved;
      let fd = 0;
      for (let j = 0; j < sizeOf(gy); j++) fd += gy.data[j] * (plus.data[j] - minus.data[j]) / (2 * epsilon);
      const ad = grads[i].data[e];
      const err = Math.abs(fd - ad) / Math.max(1, Math.abs(fd), Math.abs(ad));
      if (!(err <= fdError)) { fdError = err; worst = `input ${i} element ${e}: finite difference ${fd}, reverse mode ${ad}`; }
    }
  });
  const directions = options.directions ?? 3;
  const tangents = work.map((m) => { const t = mat(sizeOf(m), directions); rng.fillNormal(t, 0, 1); return t; });
  const { tangent } = jvp(f, work, tangents);
  let dotError = 0;
  for (let d = 0; d < directions; d++) {
    let lhs = 0, rhs = 0;
    for (let j = 0; j < sizeOf(gy); j++) lhs += gy.data[j] * tangent.data[j * directions + d];
    grads.forEach((gx, i) => {
      for (let e = 0; e < sizeOf(gx); e++) rhs += gx.data[e] * tangents[i].data[e * directions + d];
    });
    const err = Math.abs(lhs - rhs) / Math.max(1, Math.abs(lhs), Math.abs(rhs));
    if (!(err <= dotError)) dotError = err;
  }
  return {
    ok: fdError <= tolerance && dotError <= (options.dotTolerance ?? 1e-10),
    finiteDifferenceError: fdError,
    dotProductError: dotError,
    worst,
  };
}
