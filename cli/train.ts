import type { Command } from './args.js';
export const trainCommand: Command = { summary: '(not built yet)', usage: 'usage: loopgrad train', run: () => { console.error('loopgrad train: not built yet'); return 1; } };
