// What truncated BPTT hands its onWindow callback, on one thread (tbptt.ts) or several
// (lib/parallel/threaded-tbptt.ts): its own file so both can name it without importing each other.

/** What one truncated backward pass computed. Valid during the callback only (buffers are reused). */
export interface TbpttWindow {
  /** First step the gradient reached (global step index since reset). */
  start: number;
  /** One past the last step. */
  end: number;
  /** First step whose loss term is in this window (end - k1, or fewer at the end of a run). */
  lossStart: number;
  /** Sum of the loss terms of steps [lossStart, end) (and the final term at the end of a run). */
  loss: number;
  /** Gradient of that loss with respect to theta, truncated to [start, end). */
  grad: Float64Array;
  /** Whether any loss term was present (false: grad is zero). */
  hasLoss: boolean;
}
