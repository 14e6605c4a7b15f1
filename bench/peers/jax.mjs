// jax-js (wasm device, float32): the loss as a plain function of the parameters (the LSTM
// unrolled over the steps, the dense head at every step, MSE over every step), its gradient
// by valueAndGrad, and the whole SGD step (forward, backward, update) traced once by jit.
// jax-js counts references: each use of an array but the last is `.ref`, every function
// consumes its arguments.
import { scaleFor, seededFloat32, versionOf } from './common.mjs';

export async function createJax() {
  const jax = await import('@jax-js/jax');
  const { numpy: np, nn, jit, valueAndGrad } = jax;
  const devices = await jax.init('wasm');
  if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`);
  jax.defaultDevice('wasm');
  const version = versionOf('@jax-js/jax');
  return {
    async setup(cfg) {
      const { batch, steps, inputSize, hiddenSize, outputSize, lr } = cfg;
      const outputs = (p, xs, emit) => {
        let h = np.zeros([batch, hiddenSize]);
        let c = np.zeros([batch, hiddenSize]);
        for (let t = 0; t < steps; t++) {
          const z = np.matmul(np.concatenate([xs[t], h], 1), p.W.ref).add(p.b.ref);
          const [i, f, g, o] = np.split(z, 4, 1);
          c = nn.sigmoid(f).mul(c).add(nn.sigmoid(i).mul(np.tanh(g)));
          h = nn.sigmoid(o).mul(np.tanh(c.ref));
          emit(t, np.matmul(h.ref, p.Wy.ref).add(p.by.ref));
        }
        h.dispose(); c.dispose();
        for (const k of Object.keys(p)) p[k].dispose();
      };
      const lossOf = (p, xs, ys) => {
        let sum = np.zeros([]);
        outputs(p, xs, (t, y) => { sum = sum.add(np.square(y.sub(ys[t])).sum()); });
        return sum.mul(1 / (steps * batch * outputSize));
      };
      const refs = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.ref]));
      const trainStep = jit((p, xs, ys) => {
        const [loss, grad] = valueAndGrad(lossOf)(refs(p), xs, ys);
        const next = {};
        for (const k of Object.keys(p)) next[k] = p[k].sub(grad[k].mul(lr));
        return [loss, next];
      });
      const forwardAll = jit((p, xs) => {
        const ys = [];
        outputs(p, xs, (t, y) => { ys.push(y); });
        return np.stack(ys);
      });
      let params = {
        W: np.array(seededFloat32((inputSize + hiddenSize) * 4 * hiddenSize, 1, scaleFor(inputSize + hiddenSize))).reshape([inputSize + hiddenSize, 4 * hiddenSize]),
        b: np.zeros([4 * hiddenSize]),
        Wy: np.array(seededFloat32(hiddenSize * outputSize, 2, scaleFor(hiddenSize))).reshape([hiddenSize, outputSize]),
        by: np.zeros([outputSize]),
      };
      const xsData = seededFloat32(steps * batch * inputSize, 3, 1);
      const ysData = seededFloat32(steps * batch * outputSize, 4, 1);
      const xs = Array.from({ length: steps }, (_, t) => np.array(xsData.slice(t * batch * inputSize, (t + 1) * batch * inputSize)).reshape([batch, inputSize]));
      const ys = Array.from({ length: steps }, (_, t) => np.array(ysData.slice(t * batch * outputSize, (t + 1) * batch * outputSize)).reshape([batch, outputSize]));
      return {
        info: `jax-js ${version}, wasm device, jit(valueAndGrad + SGD), float32`,
        batch() {
          if (!cfg.train) {
            const out = forwardAll(refs(params), xs.map((x) => x.ref));
            return out.dataSync()[0]; // dataSync consumes out
          }
          const [loss, next] = trainStep(params, xs.map((x) => x.ref), ys.map((y) => y.ref));
          params = next;
          return loss.dataSync()[0];
        },
        dispose() {
          for (const a of [...Object.values(params), ...xs, ...ys]) a.dispose();
          trainStep.dispose?.();
          forwardAll.dispose?.();
        },
      };
    },
  };
}
