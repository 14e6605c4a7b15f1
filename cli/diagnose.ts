import type { Command } from './args.js';
export const diagnoseCommand: Command = { summary: '(not built yet)', usage: 'usage: loopgrad diagnose', run: () => { console.error('loopgrad diagnose: not built yet'); return 1; } };
