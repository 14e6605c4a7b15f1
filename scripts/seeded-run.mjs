// A seeded training run of fixed small models, written once and run unchanged
// in Node and in a browser, to check that both give the same numbers to the
// last bit. It takes the loopgrad namespace as an argument (the ESM bundle,
// the IIFE global or dist/lib/index.js) and imports nothing itself.
//
// Three parts, each deterministic from its seed:
//   1. an LSTM trained by BPTT and plain SGD on a regression target (MSE);
//   2. a GRU trained online by RTRL, an SGD update after every step;
//   3. an Elman network with an output layer trained by BPTT on next-symbol
//      prediction with softmax cross-entropy (tanh, sigmoid, exp, log all run).
// The result lists every loss, its IEEE-754 bits and a hash of each final theta.

/** The 64 bits of a double as 16 hex digits (big-endian). */
export function bitsOf(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getUint32(0).toString(16).padStart(8, '0') + view.getUint32(4).toString(16).padStart(8, '0');
}

/** FNV-1a (32-bit) over the bytes of a Float64Array, as 8 hex digits. */
export function hashFloats(values) {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

function sgd(theta, grad, lr) {
  for (let i = 0; i < theta.length; i++) theta[i] -= lr * grad[i];
}

/** Runs the three parts; `lg` is the loopgrad namespace. */
export function seededRun(lg) {
  const losses = [];
  const hashes = {};

  // 1. LSTM, BPTT, MSE: batch 2, 8 steps, 3 inputs, hidden 4; 10 SGD updates.
  {
    const rng = new lg.Rng(20240611);
    const batch = 2, steps = 8;
    const model = lg.createModel(lg.lstm({ inputSize: 3, hiddenSize: 4, forgetBias: 1 }), { seed: 7 });
    const xs = lg.mat(steps * batch, 3);
    const targets = lg.mat(steps * batch, 4);
    rng.fillNormal(xs);
    rng.fillUniform(targets, -0.5, 0.5);
    const loss = {
      step(g, t, output) {
        const diff = g.sub(output, g.constant(lg.rowsView(targets, t * batch, batch)));
        return g.scale(g.dot(diff, diff), 0.5);
      },
    };
    const learner = new lg.Bptt(model);
    for (let i = 0; i < 10; i++) {
      const result = learner.run(xs, loss, { batch });
      losses.push(result.loss);
      sgd(model.params.theta, result.grad, 0.05);
    }
    hashes.lstm = hashFloats(model.params.theta);
  }

  // 2. GRU, RTRL online: one sequence of 24 steps, 2 inputs, hidden 3, update every step.
  {
    const rng = new lg.Rng(99);
    const model = lg.createModel(lg.gru({ inputSize: 2, hiddenSize: 3 }), { seed: 11, initialState: 'learned' });
    const steps = 24;
    const xs = lg.mat(steps, 2);
    rng.fillNormal(xs, 0, 1);
    const target = lg.mat(1, 3);
    const loss = {
      step(g, t, output) {
        // target: a delayed copy of the input's first feature, squashed
        target.data[0] = lg.math.tanh(t >= 2 ? xs.data[(t - 2) * 2] : 0);
        target.data[1] = 0.25;
        target.data[2] = -0.25;
        const diff = g.sub(output, g.constant(target));
        return g.dot(diff, diff);
      },
    };
    const learner = new lg.Rtrl(model);
    learner.reset();
    for (let t = 0; t < steps; t++) {
      learner.zeroGrad();
      learner.step(lg.rowsView(xs, t, 1), loss, t === steps - 1);
      losses.push(learner.loss);
      sgd(model.params.theta, learner.grad, 0.1);
    }
    hashes.gru = hashFloats(model.params.theta);
  }

  // 3. Elman with an output layer, BPTT, softmax cross-entropy on a 5-symbol sequence.
  {
    const rng = new lg.Rng(5);
    const symbols = 5, steps = 12;
    const model = lg.createModel(lg.elman({ inputSize: symbols, hiddenSize: 6, outputSize: symbols }), { seed: 3 });
    const sequence = [];
    for (let t = 0; t <= steps; t++) sequence.push(t < 3 ? rng.int(symbols) : (sequence[t - 1] + sequence[t - 3]) % symbols);
    const xs = lg.mat(steps, symbols);
    const next = lg.mat(steps, symbols);
    for (let t = 0; t < steps; t++) {
      xs.data[t * symbols + sequence[t]] = 1;
      next.data[t * symbols + sequence[t + 1]] = 1;
    }
    const loss = {
      step(g, t, output) {
        return g.scale(g.dot(g.logSoftmax(output), g.constant(lg.rowsView(next, t, 1))), -1 / steps);
      },
    };
    const learner = new lg.Bptt(model);
    for (let i = 0; i < 15; i++) {
      const result = learner.run(xs, loss);
      losses.push(result.loss);
      sgd(model.params.theta, result.grad, 0.5);
    }
    hashes.elman = hashFloats(model.params.theta);
  }

  return { losses, bits: losses.map(bitsOf), hashes };
}
