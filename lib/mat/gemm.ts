import type { Mat } from './mat.js';

// PLACEHOLDER naive kernel: out = alpha * op(a) * op(b) + beta * out,
// op(x) = x or its transpose. To be replaced by the register-blocked kernel.
export function gemm(out: Mat, a: Mat, b: Mat, transA = false, transB = false, alpha = 1, beta = 0): void {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb || out.rows !== m || out.cols !== n) {
    throw new Error(`gemm: op(a) ${m}x${k} times op(b) ${kb}x${n} into out ${out.rows}x${out.cols}`);
  }
  const ad = a.data, bd = b.data, od = out.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? ad[a.offset + p * a.cols + i] : ad[a.offset + i * a.cols + p];
        const bv = transB ? bd[b.offset + j * b.cols + p] : bd[b.offset + p * b.cols + j];
        s += av * bv;
      }
      const o = out.offset + i * n + j;
      od[o] = beta === 0 ? alpha * s : alpha * s + beta * od[o];
    }
  }
}
