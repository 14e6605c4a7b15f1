// The demo page: reads the form, talks to the training worker, draws the loss,
// the cost table and the samples. No training happens on this thread.
// State for tests and the curious lives in window.loopgradDemo.
import { METHODS, checkConfig, methodFitsCell } from './trainer.js';

const $ = (id) => document.getElementById(id);
const ui = {
  text: $('text'), kind: $('kind'), hidden: $('hidden'), seqLength: $('seqLength'), learningRate: $('learningRate'),
  start: $('start'), pause: $('pause'), message: $('message'), status: $('status'),
  plot: $('plot'), sample: $('sample'), sampleInfo: $('sample-info'), heartbeat: $('heartbeat'), gap: $('gap'),
};

const demo = {
  /** 'idle' | 'starting' | 'training' | 'paused' | 'failed' */
  state: 'idle',
  method: 'bptt',
  /** The cell kind of the model being trained. */
  kind: null,
  /** One entry per progress report: {seconds, chars, lossBits, method}. */
  history: [],
  samples: [],
  messages: [],
  info: null,
  stats: null,
  /** requestAnimationFrame callbacks seen, and timer ticks. */
  frames: 0,
  ticks: 0,
  /** Longest pause between timer ticks while training, in ms: the page's responsiveness. */
  maxGapMs: 0,
};
window.loopgradDemo = demo;

let worker = null;
let trainingSeconds = 0; // wall-clock seconds spent training, over all runs of this model
let lastProgressAt = null;

function showMessage(text) {
  demo.messages.push(text);
  ui.message.textContent = text;
  ui.message.hidden = false;
}

function clearMessage() {
  ui.message.hidden = true;
  ui.message.textContent = '';
}

function selectedMethod() {
  return document.querySelector('input[name="method"]:checked').value;
}

function setMethodRadio(method) {
  const radio = document.querySelector(`input[name="method"][value="${method}"]`);
  if (radio) radio.checked = true;
  demo.method = method;
  for (const m of METHODS) $(`row-${m}`).classList.toggle('active', m === method);
}

/**
 * Methods the chosen cell cannot take (KF-RTRL unless Elman) are greyed out. The cell chosen is the
 * one the next Start builds; a running model of another kind refuses such a switch with a message.
 */
function updateMethodAvailability() {
  const kind = ui.kind.value;
  for (const m of METHODS) {
    const fits = methodFitsCell(m, kind);
    document.querySelector(`input[name="method"][value="${m}"]`).disabled = !fits;
    $(`row-${m}`).classList.toggle('unavailable', !fits);
  }
  const running = demo.state === 'training' || demo.state === 'paused';
  if (!running && !methodFitsCell(selectedMethod(), kind)) setMethodRadio('bptt');
}

function readConfig() {
  return {
    text: ui.text.value,
    kind: ui.kind.value,
    hidden: Number(ui.hidden.value),
    seqLength: Number(ui.seqLength.value),
    learningRate: Number(ui.learningRate.value),
    method: selectedMethod(),
    seed: 1,
  };
}

function setState(state) {
  demo.state = state;
  ui.pause.disabled = !(state === 'training' || state === 'paused');
  ui.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
  ui.start.textContent = state === 'training' || state === 'paused' ? 'Restart' : 'Start';
}

function ensureWorker() {
  if (worker !== null) return worker;
  if (typeof Worker === 'undefined') throw new Error('This browser has no Web Workers, which the demo needs to train without freezing the page.');
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (event) => onWorkerMessage(event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    const detail = event.message ? `: ${event.message}` : '';
    showMessage(`The training worker failed${detail}. It loads ../../dist/browser/loopgrad.min.mjs: run "npm run build" and serve the repository root over http (see docs/browser.md).`);
    worker.terminate();
    worker = null;
    setState('failed');
  };
  return worker;
}

function start() {
  clearMessage();
  const config = readConfig();
  const problem = checkConfig(config);
  if (problem !== null) {
    showMessage(problem);
    return;
  }
  try {
    ensureWorker().postMessage({ type: 'start', config });
  } catch (err) {
    showMessage(err instanceof Error ? err.message : String(err));
    return;
  }
  demo.history = [];
  demo.samples = [];
  demo.maxGapMs = 0;
  trainingSeconds = 0;
  lastProgressAt = null;
  resetCostTable();
  setMethodRadio(config.method);
  demo.kind = config.kind;
  setState('starting');
  ui.status.textContent = 'Starting…';
  schedulePlot();
}

function togglePause() {
  if (worker === null) return;
  if (demo.state === 'training') {
    worker.postMessage({ type: 'stop' });
  } else if (demo.state === 'paused') {
    clearMessage();
    lastProgressAt = null;
    worker.postMessage({ type: 'resume' });
  }
}

function onMethodChange() {
  const method = selectedMethod();
  if (worker !== null && (demo.state === 'training' || demo.state === 'paused')) {
    clearMessage();
    worker.postMessage({ type: 'method', method });
  } else {
    setMethodRadio(method);
  }
}

function onWorkerMessage(message) {
  switch (message.type) {
    case 'ready':
      break;
    case 'started':
      demo.info = message;
      setState('training');
      updateMethodAvailability();
      setMethodRadio(message.method);
      ui.status.textContent = `Training ${ui.kind.value.toUpperCase()} · ${message.parameters.toLocaleString('en')} parameters · ${message.vocabSize} distinct characters · ${message.textChars.toLocaleString('en')} characters of text`;
      break;
    case 'progress': {
      const now = performance.now();
      if (lastProgressAt !== null) trainingSeconds += (now - lastProgressAt) / 1000;
      lastProgressAt = now;
      demo.history.push({ seconds: trainingSeconds, chars: message.chars, lossBits: message.lossBits, method: message.method });
      demo.stats = message.stats;
      updateCostTable(message);
      schedulePlot();
      break;
    }
    case 'sample':
      demo.samples.push(message.text);
      ui.sample.textContent = message.text;
      ui.sampleInfo.textContent = `(after ${message.chars.toLocaleString('en')} characters)`;
      break;
    case 'method':
      setMethodRadio(message.method);
      break;
    case 'stopped':
      setState('paused');
      lastProgressAt = null;
      break;
    case 'resumed':
      setState('training');
      break;
    case 'error':
      showMessage(message.message);
      if (message.keepRunning) break;
      setState('failed');
      break;
    default:
      break;
  }
}

// ---- cost table ----

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

function resetCostTable() {
  for (const m of METHODS) {
    const row = $(`row-${m}`);
    row.querySelector('.ms').textContent = '–';
    row.querySelector('.grad').textContent = '–';
    row.querySelector('.total').textContent = '–';
    row.querySelector('.chars').textContent = '0';
  }
}

function updateCostTable(message) {
  for (const m of METHODS) {
    const s = message.stats[m];
    const row = $(`row-${m}`);
    row.querySelector('.ms').textContent = formatMs(s.msPerChar);
    row.querySelector('.grad').textContent = formatBytes(s.gradientBytes);
    row.querySelector('.total').textContent = formatBytes(s.totalBytes);
    row.querySelector('.chars').textContent = s.chars.toLocaleString('en');
  }
}

// ---- loss plot ----

let plotScheduled = false;
function schedulePlot() {
  if (plotScheduled) return;
  plotScheduled = true;
  requestAnimationFrame(() => {
    plotScheduled = false;
    drawPlot();
  });
}

const COLORS = { bptt: '#2166ac', rtrl: '#d6604d', snap1: '#1b9e77', snap2: '#7570b3', uoro: '#e6ab02', 'kf-rtrl': '#a6761d' };

function drawPlot() {
  const canvas = ui.plot;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640, height = canvas.clientHeight || 260;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 44, right = 10, top = 10, bottom = 26;
  const plotW = width - left - right, plotH = height - top - bottom;
  const points = demo.history;
  const maxSeconds = Math.max(1, points.length > 0 ? points[points.length - 1].seconds : 1);
  let maxLoss = 1;
  for (const p of points) if (Number.isFinite(p.lossBits)) maxLoss = Math.max(maxLoss, p.lossBits);
  maxLoss = Math.ceil(maxLoss);
  const x = (s) => left + (s / maxSeconds) * plotW;
  const y = (l) => top + plotH - (Math.min(l, maxLoss) / maxLoss) * plotH;

  // axes and grid
  ctx.strokeStyle = '#e3e7eb';
  ctx.fillStyle = '#5d6670';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  const yStep = maxLoss <= 4 ? 0.5 : maxLoss <= 8 ? 1 : 2;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let l = 0; l <= maxLoss + 1e-9; l += yStep) {
    ctx.beginPath();
    ctx.moveTo(left, y(l));
    ctx.lineTo(left + plotW, y(l));
    ctx.stroke();
    ctx.fillText(l.toFixed(yStep < 1 ? 1 : 0), left - 6, y(l));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const xStep = niceStep(maxSeconds / 6);
  for (let s = 0; s <= maxSeconds + 1e-9; s += xStep) ctx.fillText(`${+s.toFixed(2)} s`, x(s), top + plotH + 6);

  if (points.length === 0) {
    ctx.fillText('training time →', left + plotW / 2, top + plotH / 2);
    return;
  }
  // raw slices as dots, a running mean as a line, coloured by method
  for (const p of points) {
    ctx.fillStyle = COLORS[p.method] + '55';
    ctx.fillRect(x(p.seconds) - 1, y(p.lossBits) - 1, 2, 2);
  }
  ctx.lineWidth = 2;
  let mean = null, previous = null;
  for (const p of points) {
    if (!Number.isFinite(p.lossBits)) continue;
    mean = mean === null ? p.lossBits : 0.75 * mean + 0.25 * p.lossBits;
    if (previous !== null) {
      ctx.strokeStyle = COLORS[p.method];
      ctx.beginPath();
      ctx.moveTo(x(previous.seconds), y(previous.mean));
      ctx.lineTo(x(p.seconds), y(mean));
      ctx.stroke();
    }
    previous = { seconds: p.seconds, mean };
  }
}

function niceStep(raw) {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

// ---- heartbeat: shows (and lets a test check) that this thread never stalls ----

function frame() {
  demo.frames++;
  if (demo.frames % 10 === 0) ui.heartbeat.textContent = String(demo.frames);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  if (demo.state === 'training') {
    demo.maxGapMs = Math.max(demo.maxGapMs, now - lastTick);
    ui.gap.textContent = demo.maxGapMs.toFixed(0);
  }
  demo.ticks++;
  lastTick = now;
}, 50);

// ---- wiring ----

ui.start.addEventListener('click', start);
ui.pause.addEventListener('click', togglePause);
for (const radio of document.querySelectorAll('input[name="method"]')) radio.addEventListener('change', onMethodChange);
ui.kind.addEventListener('change', updateMethodAvailability);
window.addEventListener('resize', schedulePlot);
setMethodRadio(selectedMethod());
updateMethodAvailability();
drawPlot();
