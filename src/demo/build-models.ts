// `npm run demo:build [-- --work <dir>]`: trains the demo models with the lab's own engine, builds
// the demo teacher caches and writes public/demo/models/ and public/demo/caches/ (src/demo/models/
// build.ts has the stages). Long (see public/demo/models/build.json for the measured times);
// interrupt it at any time and run it again to continue from the last checkpoint in the work folder
// (default .cache/demo-build/, git-ignored).
import { mkdirSync } from 'node:fs';
import { register } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

// The engine imports its WGSL as Vite `?raw` modules: the CLI's loader serves them in Node.
register('../../bin/raw-loader.mjs', import.meta.url);
const { createNodeGpu } = await import('../engine/node-gpu.ts');
const { buildDemoModels } = await import('./models/build.ts');
const { formatDuration } = await import('./models/stage.ts');

const { values } = parseArgs({ options: { work: { type: 'string', default: '.cache/demo-build' } } });
const workDir = resolve(values.work!);
mkdirSync(workDir, { recursive: true });
const started = performance.now();
const stamp = () => new Date().toISOString().slice(11, 19);
const log = (line: string) => console.log(`${stamp()} ${line}`);
log(`demo build: work folder ${workDir}`);
const gpu = await createNodeGpu();
try {
  const report = await buildDemoModels({ gpu, workDir, log });
  log(`demo build finished in ${formatDuration((performance.now() - started) / 1000)} this session; the whole build took ${formatDuration(report.seconds.total)} (training ${formatDuration(report.seconds.training)}, caches ${formatDuration(report.seconds.caches)}, margins ${formatDuration(report.seconds.margins)})`);
  for (const [name, m] of Object.entries(report.models)) {
    log(`  ${name.padEnd(12)} ${m.parameters.toLocaleString('en').padStart(10)} parameters  ${(m.folderBytes / 2 ** 20).toFixed(2)} MiB  held-out margin ${report.margins[name as keyof typeof report.margins].margin.toFixed(3)}`);
  }
} finally {
  await gpu.destroy();
}
