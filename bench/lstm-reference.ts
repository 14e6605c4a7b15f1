// A hand-fused float64 LSTM with a dense head at every step: forward, BPTT and an SGD update written
// as plain loops over Float64Array, no graph, no gemm kernel. It is the yardstick of
// `loopgrad bench lstm` (what a single loop written by hand for this one network costs), not
// library code. spec/bench/lstm-reference.spec.ts checks its gradient equals loopgrad's.
//
// theta holds, in loopgrad's order for withReadout(lstm(...), O):
//   W_ih (4H x I), W_hh (4H x H), b_ih (4H), b_hh (4H), W_out (O x H), b_out (O)
// Gates in PyTorch's order (i, f, g, o):
//   a = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
//   c_t = f c_{t-1} + i g;  h_t = o tanh(c_t);  y_t = h_t W_outᵀ + b_out
// Loss: mean over every (step, sequence, output) of (y - target)², as sequenceLoss('mse').

export interface LstmReferenceShape {
  batch: number;
  steps: number;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export class LstmReference {
  readonly shape: LstmReferenceShape;
  readonly paramCount: number;
  readonly grad: Float64Array;
  // Per step (time-major, batch rows): activated gates [i f g o], c, tanh(c), h; y of the step.
  private readonly gates: Float64Array;
  private readonly cs: Float64Array;
  private readonly tanhCs: Float64Array;
  private readonly hs: Float64Array;
  private readonly ys: Float64Array;
  private readonly dh: Float64Array;
  private readonly dhPrev: Float64Array;
  private readonly dc: Float64Array;
  private readonly dGates: Float64Array;
  private readonly dy: Float64Array;

  constructor(shape: LstmReferenceShape) {
    this.shape = shape;
    const { batch: B, steps: T, inputSize: I, hiddenSize: H, outputSize: O } = shape;
    this.paramCount = 4 * H * I + 4 * H * H + 8 * H + O * H + O;
    this.grad = new Float64Array(this.paramCount);
    this.gates = new Float64Array(T * B * 4 * H);
    this.cs = new Float64Array(T * B * H);
    this.tanhCs = new Float64Array(T * B * H);
    this.hs = new Float64Array(T * B * H);
    this.ys = new Float64Array(T * B * O);
    this.dh = new Float64Array(B * H);
    this.dhPrev = new Float64Array(B * H);
    this.dc = new Float64Array(B * H);
    this.dGates = new Float64Array(B * 4 * H);
    this.dy = new Float64Array(B * O);
  }

  /** Forward over xs ((T·B) x I, time-major), from a zero state; returns the outputs ((T·B) x O). */
  forward(theta: Float64Array, xs: Float64Array): Float64Array {
    const { batch: B, steps: T, inputSize: I, hiddenSize: H, outputSize: O } = this.shape;
    const G = 4 * H;
    const oWhh = G * I, oBih = oWhh + G * H, oBhh = oBih + G, oWout = oBhh + G, oBout = oWout + O * H;
    const { gates, cs, tanhCs, hs, ys } = this;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const xo = row * I, go = row * G, so = row * H;
        const prev = (t - 1) * B + b; // the previous step's row of the same sequence
        for (let r = 0; r < G; r++) {
          let a = theta[oBih + r] + theta[oBhh + r];
          const wi = r * I;
          for (let k = 0; k < I; k++) a += theta[wi + k] * xs[xo + k];
          if (t > 0) {
            const wh = oWhh + r * H, ho = prev * H;
            for (let k = 0; k < H; k++) a += theta[wh + k] * hs[ho + k];
          }
          gates[go + r] = r >= 2 * H && r < 3 * H ? Math.tanh(a) : sigmoid(a);
        }
        for (let j = 0; j < H; j++) {
          const i = gates[go + j], f = gates[go + H + j], g = gates[go + 2 * H + j], o = gates[go + 3 * H + j];
          const c = (t > 0 ? f * cs[prev * H + j] : 0) + i * g;
          const tc = Math.tanh(c);
          cs[so + j] = c;
          tanhCs[so + j] = tc;
          hs[so + j] = o * tc;
        }
        for (let q = 0; q < O; q++) {
          let y = theta[oBout + q];
          const w = oWout + q * H;
          for (let k = 0; k < H; k++) y += theta[w + k] * hs[so + k];
          ys[row * O + q] = y;
        }
      }
    }
    return ys;
  }

  /** Forward, then BPTT; returns the loss and leaves d loss / d theta in this.grad. */
  lossAndGrad(theta: Float64Array, xs: Float64Array, targets: Float64Array): number {
    const { batch: B, steps: T, inputSize: I, hiddenSize: H, outputSize: O } = this.shape;
    const G = 4 * H;
    const oWhh = G * I, oBih = oWhh + G * H, oBhh = oBih + G, oWout = oBhh + G, oBout = oWout + O * H;
    const ys = this.forward(theta, xs);
    const { gates, cs, tanhCs, hs, grad, dh, dhPrev, dc, dGates, dy } = this;
    const scale = 1 / (T * B * O);
    let loss = 0;
    grad.fill(0);
    dh.fill(0);
    dc.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      dhPrev.fill(0);
      for (let b = 0; b < B; b++) {
        const row = t * B + b, so = row * H, go = row * G, xo = row * I;
        const prev = (t - 1) * B + b;
        // The head: dy = 2 s (y - target); dW_out += dy hᵀ; db_out += dy; dh += dy W_out.
        for (let q = 0; q < O; q++) {
          const d = ys[row * O + q] - targets[row * O + q];
          loss += d * d;
          dy[b * O + q] = 2 * scale * d;
        }
        for (let q = 0; q < O; q++) {
          const d = dy[b * O + q];
          grad[oBout + q] += d;
          const w = oWout + q * H;
          for (let k = 0; k < H; k++) {
            grad[w + k] += d * hs[so + k];
            dh[b * H + k] += d * theta[w + k];
          }
        }
        // The cell: through h = o tanh(c) and c = f c_prev + i g to the pre-activations.
        for (let j = 0; j < H; j++) {
          const i = gates[go + j], f = gates[go + H + j], g = gates[go + 2 * H + j], o = gates[go + 3 * H + j];
          const tc = tanhCs[so + j];
          const dhj = dh[b * H + j];
          const dcj = dc[b * H + j] + dhj * o * (1 - tc * tc);
          const cPrev = t > 0 ? cs[prev * H + j] : 0;
          dGates[b * G + j] = dcj * g * i * (1 - i);
          dGates[b * G + H + j] = dcj * cPrev * f * (1 - f);
          dGates[b * G + 2 * H + j] = dcj * i * (1 - g * g);
          dGates[b * G + 3 * H + j] = dhj * tc * o * (1 - o);
          dc[b * H + j] = dcj * f;
        }
        // The gate products: dW_ih += da xᵀ, dW_hh += da h_prevᵀ, db += da, dh_prev += da W_hh.
        for (let r = 0; r < G; r++) {
          const d = dGates[b * G + r];
          grad[oBih + r] += d;
          grad[oBhh + r] += d;
          const wi = r * I;
          for (let k = 0; k < I; k++) grad[wi + k] += d * xs[xo + k];
          if (t > 0) {
            const wh = oWhh + r * H, ho = prev * H, dp = b * H;
            for (let k = 0; k < H; k++) {
              grad[wh + k] += d * hs[ho + k];
              dhPrev[dp + k] += d * theta[wh + k];
            }
          }
        }
      }
      dh.set(dhPrev);
    }
    return loss * scale;
  }

  /** One batch of training: forward, BPTT, theta -= lr · grad. Returns the loss. */
  trainBatch(theta: Float64Array, xs: Float64Array, targets: Float64Array, lr: number): number {
    const loss = this.lossAndGrad(theta, xs, targets);
    const { grad } = this;
    for (let p = 0; p < theta.length; p++) theta[p] -= lr * grad[p];
    return loss;
  }
}
