// Gated recurrent unit with PyTorch's equations and gate order (r, z, n):
//   [r z n]_x = x_t W_ihᵀ + b_ih,   [r z n]_h = h_{t-1} W_hhᵀ + b_hh
//   r = σ(r_x + r_h),  z = σ(z_x + z_h)
//   n = tanh(n_x + r ⊙ n_h)            (the reset gate multiplies W_hn h + b_hn)
//   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} = n + z ⊙ (h_{t-1} - n)   (one lerp node)
import type { Graph, Var } from '../ad/graph.js';
import { type Mat, mat } from '../mat/mat.js';
import { gemm } from '../mat/gemm.js';
import { sigmoid, tanh } from '../mat/math.js';
import type { Rng } from '../mat/rng.js';
import { uniformInit } from '../mat/init.js';
import { checkInt, checkKeys, keysOf } from '../mat/options.js';
import { type Cell, type ParamInfluence } from './cell.js';
import type { ParamSpec } from './params.js';

export interface GruOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
}

const GRU_OPTIONS = keysOf<GruOptions>({ inputSize: true, hiddenSize: true, bias: true });

export function gru(options: GruOptions): Cell {
  checkKeys('gru', options, GRU_OPTIONS);
  const op = 'gru';
  const inputSize = checkInt(op, 'inputSize', options.inputSize);
  const H = checkInt(op, 'hiddenSize', options.hiddenSize);
  const bias = options.bias ?? true;
  const specs: ParamSpec[] = [
    { name: 'weight_ih', rows: 3 * H, cols: inputSize, role: 'weight' },
    { name: 'weight_hh', rows: 3 * H, cols: H, role: 'weight' },
  ];
  if (bias) specs.push({ name: 'bias_ih', rows: 1, cols: 3 * H, role: 'bias' }, { name: 'bias_hh', rows: 1, cols: 3 * H, role: 'bias' });
  let scratch: { gx: Mat; gh: Mat } | null = null;
  // Pre-activation rows (UnitInfluence): r, z, n_x = (x W_inᵀ + b_in), n_h = (h W_hnᵀ + b_hn), H each;
  // W_ih's and b_ih's rows are r, z, n_x, W_hh's and b_hh's r, z, n_h.
  const xRows = Int32Array.from({ length: 3 * H }, (_, i) => i);
  const hRows = Int32Array.from({ length: 3 * H }, (_, i) => (i < 2 * H ? i : i + H));
  const influenceParams: (ParamInfluence | null)[] = [
    { kind: 'matrix', rowOf: xRows, source: 'x' },
    { kind: 'matrix', rowOf: hRows, source: { state: 0, time: 'prev' } },
  ];
  if (bias) influenceParams.push({ kind: 'vector', rowOf: xRows, source: 'one' }, { kind: 'vector', rowOf: hRows, source: 'one' });
  // D's unit blocks (the comment at unitJacobian) and, with rowDerivative, dh/d pre per row:
  //   dh/da_r = (1 - z)(1 - n²)·n_h·r(1 - r),  dh/da_z = (h - n)·z(1 - z),
  //   dh/dn_x = (1 - z)(1 - n²),  dh/dn_h = (1 - z)(1 - n²)·r   (the reset gate scales n_h).
  const unitDerivatives = (mats: readonly Mat[], [h]: readonly Mat[], x: Mat, out: Float64Array, rowDerivative: Float64Array | null): void => {
    const batch = x.rows;
    if (scratch === null || scratch.gx.rows !== batch) scratch = { gx: mat(batch, 3 * H), gh: mat(batch, 3 * H) };
    const { gx, gh } = scratch;
    const wHh = mats[1];
    gemm(gx, x, mats[0], false, true);
    gemm(gh, h, wHh, false, true);
    const G = 3 * H, wd = wHh.data, wo = wHh.offset;
    for (let b = 0; b < batch; b++) {
      for (let u = 0; u < H; u++) {
        let aR = gx.data[b * G + u] + gh.data[b * G + u];
        let aZ = gx.data[b * G + H + u] + gh.data[b * G + H + u];
        let ghN = gh.data[b * G + 2 * H + u], aN = gx.data[b * G + 2 * H + u];
        if (bias) {
          const bi = mats[2], bh = mats[3];
          aR += bi.data[bi.offset + u] + bh.data[bh.offset + u];
          aZ += bi.data[bi.offset + H + u] + bh.data[bh.offset + H + u];
          aN += bi.data[bi.offset + 2 * H + u];
          ghN += bh.data[bh.offset + 2 * H + u];
        }
        const r = sigmoid(aR), z = sigmoid(aZ);
        const n = tanh(aN + r * ghN);
        const dr = r * (1 - r) * wd[wo + u * H + u], dz = z * (1 - z) * wd[wo + (H + u) * H + u];
        const dn = (1 - n * n) * (dr * ghN + r * wd[wo + (2 * H + u) * H + u]);
        const hPrev = h.data[h.offset + b * H + u];
        out[b * H + u] = z + (1 - z) * dn + (hPrev - n) * dz;
        if (rowDerivative !== null) {
          const nx = (1 - z) * (1 - n * n), at = b * 4 * H + u;
          rowDerivative[at] = nx * ghN * r * (1 - r);
          rowDerivative[at + H] = (hPrev - n) * z * (1 - z);
          rowDerivative[at + 2 * H] = nx;
          rowDerivative[at + 3 * H] = nx * r;
        }
      }
    }
  };
  return {
    kind: 'gru',
    inputSize,
    stateSizes: [H],
    stateNames: ['h'],
    outputSize: H,
    paramSpecs: specs,
    step(g: Graph, params: readonly Var[], [h]: readonly Var[], x: Var) {
      const [wIh, wHh] = params;
      const bIh = bias ? params[2] : null, bHh = bias ? params[3] : null;
      const gx = g.linear(x, wIh, bIh), gh = g.linear(h, wHh, bHh);
      const rz = g.sigmoid(g.add(g.sliceCols(gx, 0, 2 * H), g.sliceCols(gh, 0, 2 * H)));
      const r = g.sliceCols(rz, 0, H), z = g.sliceCols(rz, H, H);
      const n = g.tanh(g.add(g.sliceCols(gx, 2 * H, H), g.mul(r, g.sliceCols(gh, 2 * H, H))));
      const hNew = g.lerp(n, h, z);
      return { state: [hNew], output: hNew };
    },
    // dh'_u/dh_u = z + (1 - z)·n' + (h - n)·z',  z' = z(1 - z)·W_hz[u, u],  r' = r(1 - r)·W_hr[u, u],
    // n' = (1 - n²)·(r'·(W_hn h + b_hn)_u + r·W_hn[u, u]).
    unitJacobian(mats: readonly Mat[], state: readonly Mat[], x: Mat, out: Float64Array) {
      unitDerivatives(mats, state, x, out, null);
    },
    unitInfluence: {
      rows: 4 * H,
      rowUnit: Int32Array.from({ length: 4 * H }, (_, r) => r % H),
      rowState: new Int32Array(4 * H),
      params: influenceParams,
      compute(mats: readonly Mat[], state: readonly Mat[], _next: readonly Mat[], x: Mat, jacobian: Float64Array, rowDerivative: Float64Array) {
        unitDerivatives(mats, state, x, jacobian, rowDerivative);
      },
    },
    init(mats: readonly Mat[], rng: Rng) {
      const bound = 1 / Math.sqrt(H);
      for (const m of mats) uniformInit(m, rng, -bound, bound);
    },
  };
}
