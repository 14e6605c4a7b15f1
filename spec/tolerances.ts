// The tolerances the specs hold the engine to, in one place. All float64.

/** Two orders of the same float64 computation (forward vs reverse mode, RTRL vs BPTT): rounding only. */
export const SAME_MATH = 1e-10;
/** The dot-product identity <gy, J dx> = <Jᵀ gy, dx> of one primitive: rounding of a few sums. */
export const DOT_IDENTITY = 1e-12;
/** A seed tangent against the identity tangent it stands for. */
export const SEED_VS_DENSE = 1e-13;
/** One mode, the same value by two op orders (a stack vs its layers, a packed batch vs one sequence alone). */
export const REORDERED = 1e-12;
/** A few float64 operations against a number worked out by hand or printed to 16 digits. */
export const HAND_COMPUTED = 1e-12;
/** A blocked kernel against the naive loop, relative to the size of the terms summed: another order of sums. */
export const KERNEL_ORDER = 1e-13;
/** Dot products of an orthogonal matrix's rows against 0 or gain², per unit of length and gain². */
export const ORTHOGONAL = 1e-13;
/** Central finite differences with step FD_STEP against an exact derivative, relative. */
export const FD_STEP = 1e-6;
export const FD_PRIMITIVE = 1e-7;
/** ... through a whole unrolled network, where the truncation error adds up over steps. */
export const FD_NETWORK = 1e-6;
/** The golden files' float64 bound, relative, from their README (spec/golden/README.md). */
export const GOLDEN_F64 = 1e-9;
// scripts/golden.ts, which users run too, applies the same bound (1e-4 for float32) on its own.
/** Gradient methods under one contract (Rtrl, Tbptt with k >= T, Bptt) on the same sequence: rounding only. */
export const METHODS_AGREE = 1e-12;
