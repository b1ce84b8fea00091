// `student-lab forward`: the logits of one token sequence, written as safetensors, for parity checks
// against other implementations (transformers, llama.cpp, …).
import { writeFile } from 'node:fs/promises';
import { writeSafetensors } from '../../formats/safetensors-writer.ts';
import { parseArgs, requireFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { loadModelArg } from '../model-arg.ts';

const USAGE = `student-lab forward --model <dir|url|repo-id> --ids 1,2,3 --out logits.safetensors

  Runs the model once over the token ids (no KV cache, causal attention) and writes the tensor
  "logits" (F32, shape [T, vocab]) to --out.`;

/** "1,2,3" → [1, 2, 3]; every entry a whole number ≥ 0. */
export function parseIds(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new UsageError(`--ids: entry ${i + 1} "${p}" is not a token id (a whole number ≥ 0).`, 'Write the ids comma-separated, e.g. --ids 1,85,91.');
    return Number(p);
  });
}

export const command: Command = {
  name: 'forward',
  summary: 'write the logits of a token sequence to a safetensors file',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['model', 'ids', 'out'] });
    if (args.positionals.length) throw new UsageError(`Unexpected argument "${args.positionals[0]}".`);
    const modelArg = requireFlag(args, 'model');
    const ids = parseIds(requireFlag(args, 'ids'));
    const out = requireFlag(args, 'out');

    const { gpu, model } = await loadModelArg(modelArg, io);
    try {
      const { decoder } = model;
      const V = decoder.config.vocabSize;
      const bad = ids.findIndex((id) => id >= V);
      if (bad >= 0) throw new UsageError(`--ids: entry ${bad + 1} (${ids[bad]}) is outside the vocabulary of ${V} tokens (0 … ${V - 1}).`);
      const T = ids.length;
      const idsT = gpu.upload(Int32Array.from(ids), [T], 'i32', 'forward.ids');
      const positions = gpu.upload(Int32Array.from({ length: T }, (_, i) => i), [T], 'i32', 'forward.positions');
      const mask = gpu.upload(new Float32Array(T).fill(1), [1, T], 'f32', 'forward.mask');
      const hidden = decoder.forward({ B: 1, T, ids: idsT, positions, mask, maxPosition: T - 1 });
      const logits = await gpu.readF32(decoder.logits(hidden));
      await writeFile(out, writeSafetensors([{ name: 'logits', dtype: 'F32', shape: [T, V], data: logits }], { ids: ids.join(',') }));
      io.err(`wrote logits [${T}, ${V}] (F32) to ${out}`);
      return 0;
    } finally {
      await gpu.destroy();
    }
  },
};
