// `npm run demo:data`: regenerates the demo corpus and tokenizer under public/demo/ (or the folder
// given as the first argument). Deterministic: the same code gives byte-identical files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { demoDataFiles } from './data-files.ts';

const root = resolve(process.argv[2] ?? 'public/demo');
const started = Date.now();
const files = await demoDataFiles();
for (const [path, text] of files) {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`${String(Buffer.byteLength(text)).padStart(9)}  ${target}`);
}
console.log(`demo data written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
