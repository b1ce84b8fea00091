// `student-lab teacher-cache`: score preference data with a teacher model and write its top-K
// probabilities in the lab's teacher-cache format (docs/distillation.md).
import { writeFile } from 'node:fs/promises';
import { buildTeacherCache } from '../../distill/cache/assemble.ts';
import { generateStudentResponses } from '../../distill/cache/student-responses.ts';
import { encodeTeacherCache, type CacheResponse } from '../../formats/teacher-cache.ts';
import { numberFlag, parseArgs, requireFlag, stringFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { loadModelArg } from '../model-arg.ts';
import { loadPairs } from '../preference-arg.ts';

const USAGE = `student-lab teacher-cache --teacher <dir|url|repo-id> --data <pairs.jsonl> --response chosen|rejected|student --out <file.safetensors> [options]

  Runs the teacher over the responses of a preference data set ({"prompt", "chosen", "rejected"})
  and stores, for every response position, its top-K token ids and probabilities (temperature 1)
  and the remaining mass.

  --response student   the student's own greedy responses ŷ (ADPA): needs --student
  --student <model>    the student that generates ŷ (it must share the teacher's tokenizer)
  --k K                top-K per position (default 50, at most 64)
  --dtype f16|f32      stored probability precision (default f16)
  --max-length L       tokens per sequence (default 512)    --max-new-tokens N   ŷ length (default 128)
  --batch-size B       sequences per teacher forward (default 4)`;

export const command: Command = {
  name: 'teacher-cache',
  summary: 'build a teacher cache (top-K probabilities) for preference data',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['teacher', 'data', 'response', 'student', 'k', 'dtype', 'max-length', 'max-new-tokens', 'batch-size', 'out'] });
    const response = requireFlag(args, 'response') as CacheResponse;
    if (!['chosen', 'rejected', 'student'].includes(response)) throw new UsageError(`--response must be chosen, rejected or student, got "${response}".`);
    const dtype = (stringFlag(args, 'dtype') ?? 'f16').toUpperCase();
    if (dtype !== 'F16' && dtype !== 'F32') throw new UsageError(`--dtype must be f16 or f32.`);
    const k = numberFlag(args, 'k', 50)!;
    const out = requireFlag(args, 'out');
    const teacherArg = requireFlag(args, 'teacher');
    const { gpu, model } = await loadModelArg(teacherArg, io);
    try {
      const tok = model.files.tokenizer;
      const data = await loadPairs(requireFlag(args, 'data'), tok, { maxLength: numberFlag(args, 'max-length', 512)!, overLength: 'truncate' }, io);
      let student;
      if (response === 'student') {
        const studentArg = stringFlag(args, 'student');
        if (!studentArg) throw new UsageError('--response student needs --student <model> (the model whose greedy responses ŷ are scored).');
        const s = await loadModelArg(studentArg, io);
        try {
          if (s.model.files.tokenizer.tokenizerSha256 !== tok.tokenizerSha256) throw new UsageError('The student and the teacher have different tokenizers; a teacher cache needs a shared tokenizer.');
          student = await generateStudentResponses(s.model.decoder, data.pairs, {
            maxNewTokens: numberFlag(args, 'max-new-tokens', 128)!,
            eosTokenIds: s.model.files.stopTokenIds,
            onProgress: (d, n) => io.err(`ŷ ${d}/${n}`),
          });
        } finally {
          await s.gpu.destroy();
        }
      }
      const t0 = performance.now();
      const cache = await buildTeacherCache({
        teacher: model.decoder,
        model: teacherArg,
        tokenizerSha256: tok.tokenizerSha256,
        datasetSha256: data.set.sha256,
        pairs: data.pairs,
        response,
        student,
        k,
        valueDType: dtype,
        batchSize: numberFlag(args, 'batch-size', 4),
      });
      await writeFile(out, encodeTeacherCache(cache, out));
      const seconds = (performance.now() - t0) / 1000;
      io.err(`wrote ${out}: ${cache.meta.exampleIds.length} examples, ${cache.tokens.length} positions, K=${k}, ${(cache.tokens.length / seconds).toFixed(0)} positions/s`);
      return 0;
    } finally {
      await gpu.destroy();
    }
  },
};
