// loopgrad bench <case>: the benchmarks under bench/, one name each.
import { type Command, UsageError, parseArgs, usageLines } from './args.js';

const flags = {
  json: { kind: 'boolean', help: 'print one JSON object instead of a table' },
  threads: { kind: 'ints', min: 1, help: 'lstm: thread counts to compare, e.g. 1,2 (default 1)' },
  peers: { kind: 'boolean', help: 'lstm: also run tfjs (cpu, wasm), brain.js and jax-js in the same rounds (npm run peers:install first)' },
} as const;

const cases: Record<string, { summary: string; run: (json: boolean, threads?: number[], peers?: boolean) => Promise<unknown> | unknown }> = {
  kernels: {
    summary: 'GFLOP/s of gemm and gemv at square and RNN shapes',
    run: async (json) => (await import('../bench/kernels.js')).benchKernels({ json }),
  },
  bilstm: {
    summary: '2-layer bidirectional LSTM, batch 32, 50 steps: forward + backward + SGD, GFLOP/s',
    run: async (json) => (await import('../bench/bilstm.js')).benchBilstm({ json }),
  },
  'rtrl-step': {
    summary: 'RTRL step vs its recurrent gemm; BPTT forward+backward vs forward (Elman, LSTM, GRU)',
    run: async (json) => (await import('../bench/rtrl-step.js')).benchRtrlStep({ json }),
  },
  'snap-step': {
    summary: 'SnAp-1, SnAp-2, RTRL and BPTT: ms per step and kept bytes (LSTM, GRU, IndRNN at hidden 16, 64)',
    run: async (json) => (await import('../bench/snap-step.js')).benchSnapStep({ json }),
  },
  'online-step': {
    summary: 'ms per online step: UORO, KF-RTRL (elman) vs RTRL and BPTT per step (elman, gru, lstm at 16, 64)',
    run: async (json) => (await import('../bench/online-step.js')).benchOnlineStep({ json }),
  },
  network: {
    summary: 'the network API: fit vs the raw Bptt loop (bilstm shape), generate symbols/s, load ms',
    run: async (json) => (await import('../bench/network.js')).benchNetwork({ json }),
  },
  lstm: {
    summary: 'LSTM + dense head, (a) batch 32 (b) batch 1 (c) forward only: loopgrad vs a hand-fused loop, --threads, --peers',
    run: async (json, threads, peers) => (await import('../bench/lstm.js')).benchLstm({ json, ...(threads === undefined ? {} : { threads }), ...(peers === true ? { peers: {} } : {}) }),
  },
  ctc: {
    summary: 'CTC loss + gradient time, and its growth in T·S',
    run: async (json) => (await import('../bench/ctc.js')).benchCtc({ json }),
  },
};

export const benchCommand: Command = {
  summary: 'run a benchmark: ' + Object.keys(cases).join(', '),
  usage: `usage: loopgrad bench <${Object.keys(cases).join('|')}> [--json] [--threads 1,2] [--peers]\n\n${Object.entries(cases).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`).join('\n')}\n\noptions:\n${usageLines(flags)}`,
  async run(argv) {
    const { flags: parsed, positional } = parseArgs(argv, flags);
    if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'which benchmark? name one' : `one benchmark at a time, got ${positional.join(' ')}`);
    const c = cases[positional[0]];
    if (c === undefined) throw new UsageError(`unknown benchmark "${positional[0]}"`);
    const threads = parsed.get('threads') as number[] | undefined;
    if (threads !== undefined && positional[0] !== 'lstm') throw new UsageError('--threads applies to the lstm benchmark only');
    const peers = parsed.get('peers') === true;
    if (peers && positional[0] !== 'lstm') throw new UsageError('--peers applies to the lstm benchmark only');
    await c.run(parsed.get('json') === true, threads, peers);
    return 0;
  },
};
