// The character-level model of the demo, free of any DOM or Worker API so that
// it runs in the page's worker and in Node alike. It takes the loopgrad
// namespace as an argument (the ESM bundle in the browser).
//
// A cell (LSTM, GRU or Elman) reads one-hot characters; a linear readout gives
// logits over the vocabulary; the loss is softmax cross-entropy on the next
// character. Every method trains the same parameters theta with Adam (the online
// methods' rate divided by the window, since they update at every character):
//   BPTT:    windows of `seqLength` characters, the state carried from window to
//            window (truncated BPTT), one update per window;
//   RTRL:    one update per character from the exact sensitivity S_t, which is
//            carried forward forever and never truncated (online learning);
//   SnAp-1, SnAp-2: RTRL on the entries of S_t a parameter reaches within 1 or 2
//            steps (Menick et al. 2021); SnAp-2 of a dense cell is nearly all of S_t;
//   UORO:    a rank-one unbiased estimate of S_t (Tallec & Ollivier 2017);
//   KF-RTRL: a Kronecker-factored estimate of S_t (Mujika et al. 2018), Elman only.
// All online methods run through the same contract (reset, zeroGrad, step, grad).

/** Limits past which the demo refuses to start, with a message, rather than freeze or run out of memory. */
export const LIMITS = {
  maxTextChars: 1_000_000,
  maxVocab: 256,
  maxHidden: 512,
  maxSeqLength: 512,
  /** Memory the chosen method may take for its gradient. */
  maxBytes: 256 * 1024 * 1024,
  /** RTRL work per character; past this one step takes seconds. */
  maxRtrlFlopsPerChar: 4e9,
};

export const CELL_KINDS = ['lstm', 'gru', 'elman'];
export const METHODS = ['bptt', 'rtrl', 'snap1', 'snap2', 'uoro', 'kf-rtrl'];
export const METHOD_LABELS = { bptt: 'BPTT', rtrl: 'RTRL', snap1: 'SnAp-1', snap2: 'SnAp-2', uoro: 'UORO', 'kf-rtrl': 'KF-RTRL' };

/** Whether a method can train this cell kind (KF-RTRL factors an Elman cell's recurrence only). */
export function methodFitsCell(method, kind) {
  return method !== 'kf-rtrl' || kind === 'elman';
}

const LN2 = Math.log(2);

/** The distinct characters of text (code points), sorted, and the text as indices. */
export function buildVocab(text) {
  const chars = Array.from(text);
  const vocab = [...new Set(chars)].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = new Int32Array(chars.length);
  for (let i = 0; i < chars.length; i++) ids[i] = index.get(chars[i]);
  return { vocab, ids };
}

/** Number of parameters of the model (cell + readout) for vocabulary size V and hidden size H. */
export function parameterCount(kind, hidden, vocab) {
  const H = hidden, V = vocab;
  const gates = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
  return gates * H * (V + H) + 2 * gates * H + V * H + V;
}

/**
 * Rough memory and work of each method. RTRL keeps a (state size) x P
 * sensitivity and, while a step runs, a tangent of P numbers for every value
 * of the step (about `tangentRows` of them, counted from the cells' ops); its
 * per-step work is dominated by the recurrent matrix product with S_{t-1}.
 * BPTT keeps the activations of one window.
 */
export function estimateCost(kind, hidden, vocab, seqLength) {
  const H = hidden, V = vocab;
  const P = parameterCount(kind, H, V);
  const gates = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
  const stateSize = kind === 'lstm' ? 2 * H : H;
  // values per step that carry a tangent: the cell's nodes, then readout, log-softmax and loss
  const tangentRows = (kind === 'lstm' ? 30 * H : kind === 'gru' ? 29 * H : 4 * H) + 4 * V + 4;
  const rtrlBytes = 8 * P * (2 * stateSize + tangentRows);
  const rtrlFlopsPerChar = 2 * P * (gates * H * H + V * H) + 2 * P * tangentRows;
  const bpttBytes = 8 * seqLength * (tangentRows + 2 * V) * 2 + 8 * 6 * P;
  return { parameters: P, rtrlBytes, rtrlFlopsPerChar, bpttBytes };
}

/** A message explaining what is wrong with the configuration, or null when it can run. */
export function checkConfig(config) {
  const { text, kind, hidden, seqLength, learningRate, method } = config;
  if (typeof text !== 'string' || text.trim().length === 0) return 'There is no text to learn from: type or paste some into the box.';
  const length = Array.from(text).length;
  if (length > LIMITS.maxTextChars) return `The text has ${length.toLocaleString('en')} characters; the demo takes at most ${LIMITS.maxTextChars.toLocaleString('en')}.`;
  if (!CELL_KINDS.includes(kind)) return `Unknown cell "${kind}": choose one of ${CELL_KINDS.join(', ')}.`;
  if (!METHODS.includes(method)) return `Unknown method "${method}": choose one of ${METHODS.map((m) => METHOD_LABELS[m]).join(', ')}.`;
  if (!Number.isInteger(hidden) || hidden < 1 || hidden > LIMITS.maxHidden) return `Hidden size must be a whole number from 1 to ${LIMITS.maxHidden}, got ${hidden}.`;
  if (!Number.isInteger(seqLength) || seqLength < 1 || seqLength > LIMITS.maxSeqLength) return `Sequence length must be a whole number from 1 to ${LIMITS.maxSeqLength}, got ${seqLength}.`;
  if (!(learningRate > 0 && learningRate <= 1)) return `Learning rate must be a number in (0, 1], got ${learningRate}.`;
  if (length < seqLength + 1) return `The text has ${length} characters; training on windows of ${seqLength} needs at least ${seqLength + 1}. Add text or shorten the sequence length.`;
  const { vocab } = buildVocab(text);
  if (vocab.length < 2) return 'The text uses a single character: there is nothing to predict. Add some variety.';
  if (vocab.length > LIMITS.maxVocab) return `The text uses ${vocab.length} distinct characters; the demo handles at most ${LIMITS.maxVocab}.`;
  return checkMethodFits(method, kind, hidden, vocab.length, seqLength);
}

/** Whether `method` fits the memory and time limits for this size; a message if not. */
export function checkMethodFits(method, kind, hidden, vocabSize, seqLength) {
  const cost = estimateCost(kind, hidden, vocabSize, seqLength);
  const mb = (bytes) => (bytes >= 1073741824 ? `${(bytes / 1073741824).toFixed(1)} GB` : `${(bytes / 1048576).toFixed(0)} MB`);
  if (!methodFitsCell(method, kind)) return `${METHOD_LABELS[method]} factors an Elman cell's recurrence only: choose the Elman cell, or another method for the ${kind.toUpperCase()}.`;
  // SnAp-2 of a dense cell keeps nearly all of S (every unit reaches every unit in two steps):
  // it is held to RTRL's limits. SnAp-1, UORO and KF-RTRL keep O(parameters) and cost a few passes.
  if (method === 'rtrl' || method === 'snap2') {
    const name = METHOD_LABELS[method];
    if (cost.rtrlBytes > LIMITS.maxBytes) {
      return `${name} for this ${kind.toUpperCase()} (hidden ${hidden}, ${cost.parameters.toLocaleString('en')} parameters) would need about ${mb(cost.rtrlBytes)}, over the demo's ${mb(LIMITS.maxBytes)}: lower the hidden size or use BPTT.`;
    }
    if (cost.rtrlFlopsPerChar > LIMITS.maxRtrlFlopsPerChar) {
      return `${name} for this size costs about ${(cost.rtrlFlopsPerChar / 1e9).toFixed(1)} GFLOP per character (it grows as hidden⁴): lower the hidden size or use BPTT.`;
    }
  } else if (cost.bpttBytes > LIMITS.maxBytes) {
    return `BPTT for this size would need about ${mb(cost.bpttBytes)}: lower the hidden size or the sequence length.`;
  }
  return null;
}

/** Builds the model's cell for a vocabulary of V characters. */
export function charCell(lg, kind, hidden, V) {
  if (kind === 'elman') return lg.elman({ inputSize: V, hiddenSize: hidden, outputSize: V });
  if (kind === 'gru') return lg.arch.withReadout(lg.gru({ inputSize: V, hiddenSize: hidden }), V);
  return lg.arch.withReadout(lg.lstm({ inputSize: V, hiddenSize: hidden, forgetBias: 1 }), V);
}

/** Adam (loopgrad's) with gradient clipping by global norm, in place on theta. */
function clippedAdam(lg, learningRate, clipNorm = 5) {
  const adam = new lg.train.Optimizer({ kind: 'adam', lr: learningRate });
  return { step(theta, grad) { lg.train.clipGlobalNorm(grad, clipNorm); adam.step(theta, grad); } };
}

/** Trains the character model; every method call is short, so a caller can interleave messages. */
export class CharTrainer {
  constructor(lg, config) {
    const problem = checkConfig(config);
    if (problem !== null) throw new Error(problem);
    this.lg = lg;
    this.config = { ...config };
    const { vocab, ids } = buildVocab(config.text);
    this.vocab = vocab;
    this.ids = ids;
    const V = vocab.length;
    this.cell = charCell(lg, config.kind, config.hidden, V);
    this.model = lg.createModel(this.cell, { seed: config.seed ?? 1 });
    this.theta = this.model.params.theta;
    // BPTT makes one update per window of seqLength characters, the online methods one per
    // character: their rate is divided by the window so that all move theta about as far per
    // character read. Each method has its own Adam (its moments), made when first used.
    this.optimizers = {};
    this.rng = new lg.Rng(config.seed ?? 1);
    this.method = config.method;
    this.position = 0; // next character to read
    this.charsSeen = 0;
    this.updates = 0;
    // BPTT buffers: one window of inputs and next-character targets
    const T = config.seqLength;
    this.xs = lg.mat(T, V);
    this.targets = lg.mat(T, V);
    this.carried = null; // BPTT state carried between windows
    this.bptt = null;
    /** The online learners, by method, made when first used. */
    this.online = {};
    this.rtrlX = lg.mat(1, V);
    this.rtrlTarget = lg.mat(1, V);
    const targets = this.targets, rtrlTarget = this.rtrlTarget, scale = -1 / T;
    this.bpttLoss = { step: (g, t, output) => g.scale(g.dot(g.logSoftmax(output), g.constant(lg.rowsView(targets, t, 1))), scale) };
    this.rtrlLoss = { step: (g, t, output) => g.scale(g.dot(g.logSoftmax(output), g.constant(rtrlTarget)), -1) };
    /** Per method: smoothed milliseconds per character, bytes held for the gradient, bytes in all. */
    this.stats = {};
    for (const m of METHODS) this.stats[m] = { msPerChar: null, gradientBytes: null, totalBytes: null, chars: 0 };
  }

  get parameterCount() {
    return this.theta.length;
  }

  /** Switches method, keeping the parameters. Returns a message if the method does not fit, else null. */
  setMethod(method) {
    if (!METHODS.includes(method)) return `Unknown method "${method}".`;
    const { kind, hidden, seqLength } = this.config;
    const problem = checkMethodFits(method, kind, hidden, this.vocab.length, seqLength);
    if (problem !== null) return problem;
    this.method = method;
    this.carried = null;
    // An online method starts again from a zero state and a zero sensitivity (estimate).
    if (this.online[method] !== undefined) this.online[method].reset();
    return null;
  }

  optimizer(method) {
    const lr = method === 'bptt' ? this.config.learningRate : this.config.learningRate / this.config.seqLength;
    return this.optimizers[method] ??= clippedAdam(this.lg, lr);
  }

  /** One update: a BPTT window or one character of an online method. Returns the mean loss in bits per character. */
  trainStep() {
    return this.method === 'bptt' ? this.bpttStep() : this.onlineStep(this.method);
  }

  bpttStep() {
    const { lg, ids, xs, targets } = this;
    const T = this.config.seqLength, V = this.vocab.length;
    if (this.bptt === null) this.bptt = new lg.Bptt(this.model);
    if (this.position + T + 1 > ids.length) {
      this.position = 0;
      this.carried = null;
    }
    xs.data.fill(0);
    targets.data.fill(0);
    for (let t = 0; t < T; t++) {
      xs.data[t * V + ids[this.position + t]] = 1;
      targets.data[t * V + ids[this.position + t + 1]] = 1;
    }
    const start = now();
    const options = this.carried === null ? {} : { initialState: this.carried };
    const result = this.bptt.run(xs, this.bpttLoss, options);
    this.optimizer('bptt').step(this.theta, result.grad);
    const ms = now() - start;
    this.carried = result.finalState;
    this.position += T;
    this.charsSeen += T;
    this.updates++;
    const s = this.stats.bptt;
    s.msPerChar = smooth(s.msPerChar, ms / T);
    s.gradientBytes = result.tapeBytes;
    s.totalBytes = this.bptt.graph.arenaBytes() + 8 * 4 * this.theta.length;
    s.chars += T;
    return result.loss / LN2;
  }

  onlineStep(method) {
    const { lg, ids, rtrlX, rtrlTarget } = this;
    let learner = this.online[method];
    if (learner === undefined) {
      // The method table's factory: the same object `--method` makes on the command line.
      learner = this.online[method] = lg.createMethod(this.model, lg.parseMethod(method));
      learner.reset();
    }
    if (this.position + 2 > ids.length) {
      this.position = 0;
      learner.reset();
    }
    rtrlX.data.fill(0);
    rtrlTarget.data.fill(0);
    rtrlX.data[ids[this.position]] = 1;
    rtrlTarget.data[ids[this.position + 1]] = 1;
    const start = now();
    learner.zeroGrad();
    learner.step(rtrlX, this.rtrlLoss, false);
    this.optimizer(method).step(this.theta, learner.grad);
    const ms = now() - start;
    this.position += 1;
    this.charsSeen += 1;
    this.updates++;
    const s = this.stats[method];
    s.msPerChar = smooth(s.msPerChar, ms);
    s.gradientBytes = keptBytes(learner);
    const all = allBytes(learner);
    s.totalBytes = all === null ? null : all + 8 * 3 * this.theta.length;
    s.chars += 1;
    return learner.loss / LN2;
  }

  /** Samples `length` characters from the model, starting from a zero state after `prime`. */
  sample(length, temperature = 0.8, prime = null) {
    const { lg, cell, model } = this;
    const V = this.vocab.length;
    const g = new lg.Graph('eval');
    const state = cell.stateSizes.map((size) => lg.mat(1, size));
    const x = lg.mat(1, V);
    const probs = new Float64Array(V);
    let current = prime === null ? this.ids[this.rng.int(this.ids.length)] : prime;
    let out = this.vocab[current];
    for (let n = 0; n < length; n++) {
      g.reset();
      x.data.fill(0);
      x.data[current] = 1;
      const params = model.params.mats.map((m) => g.constant(m));
      const result = cell.step(g, params, state.map((m) => g.constant(m)), g.constant(x));
      result.state.forEach((v, i) => state[i].data.set(v.value.data.subarray(v.value.offset, v.value.offset + v.value.cols)));
      const logits = result.output.value;
      let max = -Infinity;
      for (let c = 0; c < V; c++) max = Math.max(max, logits.data[logits.offset + c] / temperature);
      let total = 0;
      for (let c = 0; c < V; c++) total += probs[c] = Math.exp(logits.data[logits.offset + c] / temperature - max);
      let u = this.rng.uniform() * total;
      current = V - 1;
      for (let c = 0; c < V; c++) {
        u -= probs[c];
        if (u < 0) { current = c; break; }
      }
      out += this.vocab[current];
    }
    return out;
  }
}

/** What an online learner keeps between characters for its gradient: RTRL's S, SnAp's pattern of S, UORO's and KF-RTRL's factors (with the state). */
function keptBytes(learner) {
  return learner.stateBytes();
}

/** All a learner holds, where it says (RTRL, UORO and SnAp count their buffers); null otherwise. */
function allBytes(learner) {
  if (typeof learner.totalBytes === 'function') return learner.totalBytes();
  return null;
}

function smooth(previous, value) {
  return previous === null ? value : 0.9 * previous + 0.1 * value;
}

function now() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
