// `student-lab info [--json]`: the WebGPU adapter, its limits and features.
import { describeAdapter } from '../../engine/adapter.ts';
import { formatBytes } from '../../engine/allocator.ts';
import { createNodeGpu } from '../../engine/node-gpu.ts';
import { boolFlag, parseArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'info',
  summary: 'print the WebGPU adapter, limits and features',
  usage: 'student-lab info [--json]\n  Acquires a WebGPU device the way every command does and prints what it found.',
  async run(argv, io) {
    const args = parseArgs(argv, { booleans: ['json'] });
    const gpu = await createNodeGpu();
    const r = gpu.report;
    if (boolFlag(args, 'json')) {
      io.out(JSON.stringify(r, null, 2));
    } else {
      io.out(`adapter       ${describeAdapter(r)}`);
      if (r.device) io.out(`device        ${r.device}`);
      io.out(`feature level ${r.featureLevel}${r.isFallbackAdapter ? ' (fallback adapter)' : ''}`);
      io.out(`features      ${r.features.join(', ') || '(none)'}`);
      io.out(`shader-f16    ${gpu.hasF16 ? 'yes' : 'no'}   subgroups ${gpu.hasSubgroups ? 'yes' : 'no'}`);
      io.out('limits');
      for (const [key, value] of Object.entries(r.limits)) {
        const shown = /Size$/.test(key) && value >= 1024 ? `${value} (${formatBytes(value)})` : String(value);
        io.out(`  ${key.padEnd(36)} ${shown}`);
      }
    }
    await gpu.destroy();
    return 0;
  },
};
