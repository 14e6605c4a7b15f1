// Shared by specs of rules outside the primitive table: a seed tangent on one input
// (RTRL's parameter leaf) must give what the explicit identity tangent it stands for gives.
import * as assert from 'uvu/assert';
import { Graph, type Var } from '../../lib/ad/graph.js';
import { seedTangent, denseTangent, tangentAt } from '../../lib/ad/tangent.js';
import type { Mat } from '../../lib/mat/mat.js';
import type { Rng } from '../../lib/mat/rng.js';
import { SEED_VS_DENSE } from '../tolerances.js';

export function assertSeedMatchesIdentity(label: string, f: (g: Graph, xs: Var[]) => Var, inputs: readonly Mat[], rng: Rng): void {
  for (let which = 0; which < inputs.length; which++) {
    const n = inputs[which].rows * inputs[which].cols;
    const start = 2, K = start + n + 3;
    const identity = new Float64Array(n * K);
    for (let e = 0; e < n; e++) identity[e * K + start + e] = 1;
    const other = inputs.map((m) => { const t = new Float64Array(m.rows * m.cols * K); for (let i = 0; i < t.length; i++) t[i] = rng.normal(0, 1); return t; });
    const run = (seeded: boolean) => {
      const g = new Graph('forward', K);
      const vars = inputs.map((m, i) => g.leaf(m, {
        tangent: i === which ? (seeded ? seedTangent(start) : denseTangent(identity)) : denseTangent(other[i]),
      }));
      const y = f(g, vars);
      const size = y.value.rows * y.value.cols;
      return Array.from({ length: size * K }, (_, i) => tangentAt(y.tangent, Math.floor(i / K), i % K, K));
    };
    const seeded = run(true), dense = run(false);
    for (let i = 0; i < dense.length; i++) {
      assert.ok(Math.abs(seeded[i] - dense[i]) <= SEED_VS_DENSE * (1 + Math.abs(dense[i])), `${label} input ${which}: entry ${i} ${seeded[i]} vs ${dense[i]}`);
    }
  }
}
