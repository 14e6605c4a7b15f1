import type { Command } from './args.js';
export const compareCommand: Command = { summary: 'compare BPTT and RTRL (not built yet)', usage: 'usage: loopgrad compare', run: () => { console.error('loopgrad compare: not built yet'); return 1; } };
