// TensorFlow.js (cpu or wasm backend, float32): the LSTM written with ops (one matMul of
// [x_t, h] by the four gates' weights, the dense head at every step), MSE over every step,
// gradients by tf's tape (optimizer.minimize) and an SGD update.
import { Skip, scaleFor, seededFloat32 } from './common.mjs';

export async function createTfjs(backend) {
  // tfjs prints a hint about its native Node backend on load; it is not one of the peers.
  const warn = console.warn;
  console.warn = () => {};
  let tf;
  try {
    tf = await import('@tensorflow/tfjs');
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  } finally {
    console.warn = warn;
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: the ${backend} backend did not initialise`);
  await tf.ready();
  let info = `tfjs ${tf.version.tfjs}, ${backend} backend, float32`;
  if (backend === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info += `, SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'}`;
  }
  return {
    async setup(cfg) {
      if (cfg.batch < 1) throw new Skip('batch must be positive');
      const { batch, steps, inputSize, hiddenSize, outputSize } = cfg;
      const W = tf.variable(tf.tensor2d(seededFloat32((inputSize + hiddenSize) * 4 * hiddenSize, 1, scaleFor(inputSize + hiddenSize)), [inputSize + hiddenSize, 4 * hiddenSize]));
      const b = tf.variable(tf.zeros([4 * hiddenSize]));
      const Wy = tf.variable(tf.tensor2d(seededFloat32(hiddenSize * outputSize, 2, scaleFor(hiddenSize)), [hiddenSize, outputSize]));
      const by = tf.variable(tf.zeros([outputSize]));
      const xs = tf.unstack(tf.tensor3d(seededFloat32(steps * batch * inputSize, 3, 1), [steps, batch, inputSize]));
      const ys = tf.unstack(tf.tensor3d(seededFloat32(steps * batch * outputSize, 4, 1), [steps, batch, outputSize]));
      const optimizer = tf.train.sgd(cfg.lr);
      // The outputs at every step (inside a tidy or minimize, which free the intermediates).
      const outputs = () => {
        let h = tf.zeros([batch, hiddenSize]);
        let c = tf.zeros([batch, hiddenSize]);
        const out = [];
        for (let t = 0; t < steps; t++) {
          const z = tf.add(tf.matMul(tf.concat([xs[t], h], 1), W), b);
          const [i, f, g, o] = tf.split(z, 4, 1);
          c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
          h = tf.mul(tf.sigmoid(o), tf.tanh(c));
          out.push(tf.add(tf.matMul(h, Wy), by));
        }
        return out;
      };
      // MSE over every output of every step: sum / (steps · batch · outputSize).
      const loss = () => {
        const out = outputs();
        let sum = tf.scalar(0);
        for (let t = 0; t < steps; t++) sum = tf.add(sum, tf.sum(tf.square(tf.sub(out[t], ys[t]))));
        return tf.div(sum, steps * batch * outputSize);
      };
      return {
        info,
        batch() {
          if (!cfg.train) {
            const all = tf.tidy(() => tf.stack(outputs()));
            const data = all.dataSync();
            all.dispose();
            return data[0];
          }
          const cost = optimizer.minimize(loss, true, [W, b, Wy, by]);
          const value = cost.dataSync()[0];
          cost.dispose();
          return value;
        },
        dispose() {
          for (const t of [W, b, Wy, by, ...xs, ...ys]) t.dispose();
          optimizer.dispose();
        },
      };
    },
  };
}
