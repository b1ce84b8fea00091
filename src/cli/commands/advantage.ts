// `student-lab advantage`: ADPA's advantage cache from the DPO teacher's and the reference model's
// caches on the same student responses (docs/distillation.md).
import { readFile, writeFile } from 'node:fs/promises';
import { advantageCache } from '../../distill/losses/advantage.ts';
import { decodeTeacherCache, encodeTeacherCache } from '../../formats/teacher-cache.ts';
import { parseArgs, requireFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'advantage',
  summary: 'combine a DPO-teacher cache and a reference cache into an ADPA advantage cache',
  usage: `student-lab advantage --dpo <cache> --reference <cache> --out <file.safetensors>

  Â(k) = ln max(p_dpo(k), 1e-7) − ln p̃_ref(k) for the DPO teacher's top-K ids, with the reference
  probability imputed where the reference's top-K lacks the id. Both caches must cover the same
  student responses ŷ (teacher-cache --response student) with the same tokenizer.`,
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['dpo', 'reference', 'out'] });
    const read = async (flag: string) => {
      const file = requireFlag(args, flag);
      const bytes = await readFile(file).catch(() => {
        throw new UsageError(`--${flag}: cannot read ${file}.`);
      });
      return { file, cache: decodeTeacherCache(new Uint8Array(bytes), file) };
    };
    const dpo = await read('dpo');
    const ref = await read('reference');
    const out = requireFlag(args, 'out');
    const adv = advantageCache(dpo.cache, ref.cache, { dpo: dpo.file, ref: ref.file });
    await writeFile(out, encodeTeacherCache(adv, out));
    io.err(`wrote ${out}: ${adv.tokens.length} positions, K=${adv.meta.k}`);
    return 0;
  },
};
