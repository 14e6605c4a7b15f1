// brain.js (float32, CPU): recurrent.LSTMTimeStep, one sequence at a time. Its training is
// next-step prediction over a sequence of steps + 1 vectors (a dense output at every step, a
// squared error at every step, BPTT through the whole sequence), and its update is brain.js's
// own (an RMSProp-style step with clipping and L2, not plain SGD). It has no batch dimension:
// a batch of B sequences would be B separate updates, not the same work, so batch > 1 is skipped.
import { Skip, seededFloat32, versionOf } from './common.mjs';

export async function createBrain() {
  const brain = (await import('brain.js')).default ?? (await import('brain.js'));
  const version = versionOf('brain.js');
  return {
    async setup(cfg) {
      const { batch, steps, inputSize, hiddenSize, outputSize } = cfg;
      if (batch !== 1) throw new Skip(`LSTMTimeStep has no batch dimension (batch ${batch} would be ${batch} separate updates)`);
      const net = new brain.recurrent.LSTMTimeStep({ inputSize, hiddenLayers: [hiddenSize], outputSize, learningRate: cfg.lr });
      net.initialize();
      const data = seededFloat32((steps + 1) * inputSize, 3, 1);
      // steps + 1 vectors: trained to predict vectors 1..steps from 0..steps-1 (steps outputs).
      const train = Array.from({ length: steps + 1 }, (_, t) => data.subarray(t * inputSize, (t + 1) * inputSize));
      const forward = train.slice(0, steps);
      // run() needs the step equations that training binds: one untimed training pass binds them.
      if (!cfg.train) net.trainPattern(train);
      return {
        info: `brain.js ${version} LSTMTimeStep, float32, CPU; its own RMSProp-style update`,
        batch() {
          if (!cfg.train) return net.run(forward)[0];
          return net.trainPattern(train, true);
        },
      };
    },
  };
}
