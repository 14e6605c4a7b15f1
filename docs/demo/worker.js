// The demo's training loop, in a module Web Worker so that the page never waits
// for it. It trains in slices of about SLICE_MS and yields to the event loop
// between slices, so 'stop', 'method' and 'sample' messages are handled promptly.
//
// in:  {type: 'start', config} | {type: 'method', method} | {type: 'stop'} | {type: 'resume'} | {type: 'sample'}
// out: {type: 'started', ...} | {type: 'progress', ...} | {type: 'sample', text}
//      | {type: 'method', method} | {type: 'stopped'} | {type: 'resumed'} | {type: 'error', message}
import * as lg from '../../dist/browser/loopgrad.min.mjs';
import { CharTrainer, checkConfig } from './trainer.js';

const SLICE_MS = 60;
const SAMPLE_EVERY_MS = 1500;
const SAMPLE_LENGTH = 240;

let trainer = null;
let generation = 0; // a newer start or stop ends older loops
let lastSample = 0;

function post(message) {
  self.postMessage(message);
}

function fail(err) {
  const message = err instanceof RangeError
    ? `Out of memory for this size (${err.message}): lower the hidden size.`
    : err instanceof Error ? err.message : String(err);
  post({ type: 'error', message });
}

function loop(myGeneration) {
  if (myGeneration !== generation || trainer === null) return;
  try {
    const start = performance.now();
    let lossBits = 0, updates = 0;
    const charsBefore = trainer.charsSeen;
    do {
      lossBits += trainer.trainStep();
      updates++;
    } while (performance.now() - start < SLICE_MS);
    const stats = trainer.stats;
    post({
      type: 'progress',
      method: trainer.method,
      chars: trainer.charsSeen,
      lossBits: lossBits / updates,
      updates: trainer.updates,
      charsPerSecond: (trainer.charsSeen - charsBefore) / ((performance.now() - start) / 1000),
      stats: Object.fromEntries(Object.entries(stats).map(([m, s]) => [m, { ...s }])),
    });
    if (performance.now() - lastSample > SAMPLE_EVERY_MS) {
      lastSample = performance.now();
      post({ type: 'sample', text: trainer.sample(SAMPLE_LENGTH), chars: trainer.charsSeen });
    }
  } catch (err) {
    generation++;
    trainer = null;
    fail(err);
    return;
  }
  setTimeout(() => loop(myGeneration), 0);
}

self.onmessage = (event) => {
  const message = event.data ?? {};
  try {
    switch (message.type) {
      case 'start': {
        generation++;
        trainer = null;
        const problem = checkConfig(message.config);
        if (problem !== null) {
          post({ type: 'error', message: problem });
          return;
        }
        trainer = new CharTrainer(lg, message.config);
        lastSample = performance.now();
        post({
          type: 'started',
          vocabSize: trainer.vocab.length,
          parameters: trainer.parameterCount,
          textChars: trainer.ids.length,
          method: trainer.method,
        });
        const mine = generation;
        setTimeout(() => loop(mine), 0);
        break;
      }
      case 'method': {
        if (trainer === null) return;
        const problem = trainer.setMethod(message.method);
        if (problem !== null) post({ type: 'error', message: problem, keepRunning: true });
        post({ type: 'method', method: trainer.method });
        break;
      }
      case 'stop':
        generation++;
        post({ type: 'stopped' });
        break;
      case 'resume': {
        if (trainer === null) return;
        generation++;
        const mine = generation;
        post({ type: 'resumed', method: trainer.method });
        setTimeout(() => loop(mine), 0);
        break;
      }
      case 'sample':
        if (trainer !== null) post({ type: 'sample', text: trainer.sample(SAMPLE_LENGTH), chars: trainer.charsSeen });
        break;
      default:
        post({ type: 'error', message: `worker: unknown message ${JSON.stringify(message.type)}` });
    }
  } catch (err) {
    generation++;
    trainer = null;
    fail(err);
  }
};

post({ type: 'ready', exports: Object.keys(lg).length });
