// The tolerances the specs hold the engine to, in one place. All float64.

/** Two orders of the same float64 computation (forward vs reverse mode, RTRL vs BPTT): rounding only. */
export const SAME_MATH = 1e-10;
/** The dot-product identity <gy, J dx> = <Jᵀ gy, dx> of one primitive: rounding of a few sums. */
export const DOT_IDENTITY = 1e-12;
/** A seed tangent against the identity tangent it stands for. */
export const SEED_VS_DENSE = 1e-13;
/** Central finite differences with step FD_STEP against an exact derivative, relative. */
export const FD_STEP = 1e-6;
export const FD_PRIMITIVE = 1e-7;
/** ... through a whole unrolled network, where the truncation error adds up over steps. */
export const FD_NETWORK = 1e-6;
// The golden files' bound (1e-9 relative, 1e-4 for float32, from their README) lives with the
// checker, scripts/golden.ts, which users run too.
/** Gradient methods under one contract (Rtrl, Tbptt with k >= T, Bptt) on the same sequence: rounding only. */
export const METHODS_AGREE = 1e-12;
