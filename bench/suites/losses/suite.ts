// Cost of each fused loss kernel relative to the forward of the LM head it follows ([P, h]·[V, h]ᵀ),
// for P response positions, K cached ids and two vocabulary sizes. Both are timed on the same device
// with the same batching (one submit per repetition, completion awaited).
import { describeAdapter } from '../../../src/engine/adapter.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { matmul } from '../../../src/engine/kernels/matmul/matmul.ts';
import { createNodeGpu } from '../../../src/engine/node-gpu.ts';
import { Rng } from '../../../src/engine/rng.ts';
import { planLoss, type LossSequence } from '../../../src/distill/losses/batch.ts';
import { computeLoss, releaseTeacher, uploadTeacher } from '../../../src/distill/losses/compute.ts';
import { LOSS_NAMES, binModeOf, termsOf, DEFAULT_WEIGHTS, type LossName } from '../../../src/distill/losses/recipes.ts';
import type { TeacherHost } from '../../../src/distill/losses/teacher.ts';
import { median, timeBatches } from '../../lib/stats.ts';
import { fmt } from '../../lib/table.ts';
import type { Measurement, Suite, SuiteContext, SuiteReport } from '../../lib/types.ts';

const HOST = 'node (Dawn)';
const HIDDEN = 576; // SmolLM2-135M
const K = 50;

function teacherRows(rng: Rng, P: number, V: number, kind: 'probs' | 'advantage'): TeacherHost {
  const ids = new Int32Array(P * K);
  const values = new Float32Array(P * K);
  const rest = new Float32Array(P);
  for (let p = 0; p < P; p++) {
    const used = new Set<number>();
    let mass = 0;
    for (let k = 0; k < K; k++) {
      let id: number;
      do id = Math.floor(rng.next() * V);
      while (used.has(id));
      used.add(id);
      ids[p * K + k] = id;
      const v = kind === 'probs' ? 0.9 / K : rng.next() * 4 - 2;
      values[p * K + k] = v;
      mass += v;
    }
    rest[p] = Math.max(0, 1 - mass);
  }
  return kind === 'probs' ? { kind, k: K, ids, probs: values, rest } : { kind, k: K, ids, advantage: values };
}

async function timeIt(gpu: Gpu, record: () => void, budgetMs: number): Promise<number[]> {
  return timeBatches(
    async () => {
      record();
      await gpu.sync();
    },
    { opsPerBatch: 1, budgetMs },
  );
}

export const suite: Suite = {
  name: 'losses',
  summary: 'each loss kernel relative to the LM-head forward it follows',
  async run(ctx: SuiteContext): Promise<SuiteReport> {
    const gpu = await createNodeGpu();
    const device = describeAdapter(gpu.report);
    const rng = Rng.fromSeed(7);
    const P = ctx.quick ? 64 : 256;
    const vocabs = ctx.quick ? [8192] : [8192, 49152];
    const budget = ctx.quick ? 400 : 1200;
    const measurements: Measurement[] = [];
    const table = [['loss', ...vocabs.map((v) => `V=${v} ms`), ...vocabs.map((v) => `V=${v} / head`)]];
    const rows = new Map<string, string[]>();
    try {
      const headMs: number[] = [];
      const lossMs = new Map<LossName, number[]>();
      for (const V of vocabs) {
        ctx.log(`losses: V=${V}`);
        const hidden = gpu.upload(Float32Array.from({ length: P * HIDDEN }, () => rng.next() - 0.5), [P, HIDDEN]);
        const head = gpu.upload(Float32Array.from({ length: V * HIDDEN }, () => (rng.next() - 0.5) * 0.1), [V, HIDDEN]);
        const logits = gpu.empty([P, V]);
        const scratch = gpu.empty([P, V]);
        const head_ = median(await timeIt(gpu, () => matmul(gpu, hidden, head, { transB: true, out: logits }), budget));
        headMs.push(head_);
        measurements.push({ case: `P=${P} V=${V} h=${HIDDEN}`, host: HOST, impl: 'lm-head forward', value: head_, unit: 'ms', samplesMs: [head_], opsPerSubmit: 1, check: 'ok', device });
        for (const loss of LOSS_NAMES) {
          const { terms } = termsOf(loss, DEFAULT_WEIGHTS[loss]);
          const seq: LossSequence = {
            rows: Array.from({ length: P }, (_, i) => i),
            labels: Array.from({ length: P }, () => Math.floor(rng.next() * V)),
            ce: terms.findIndex((t) => t.kind === 'ce') >= 0 ? terms.findIndex((t) => t.kind === 'ce') : undefined,
          };
          const ti = terms.findIndex((t) => t.kind === 'teacher');
          if (ti >= 0) Object.assign(seq, { teacher: ti, teacherRows: Array.from({ length: P }, (_, i) => i) });
          const plan = planLoss({ rowCount: P, vocab: V, terms, sequences: [seq], teacherRowCount: P });
          const teacher = ti >= 0 ? uploadTeacher(gpu, teacherRows(rng, P, V, loss === 'adpa' ? 'advantage' : 'probs')) : undefined;
          const samples = await timeIt(
            gpu,
            () => {
              const out = computeLoss(gpu, { logits, plan, teacher, divergence: binModeOf(loss), grad: scratch });
              out.terms.release();
            },
            budget,
          );
          if (teacher) releaseTeacher(teacher);
          const ms = median(samples);
          lossMs.set(loss, [...(lossMs.get(loss) ?? []), ms]);
          measurements.push({ case: `P=${P} V=${V} K=${K}`, host: HOST, impl: `loss:${loss}`, value: ms, unit: 'ms', samplesMs: samples, opsPerSubmit: 1, check: 'ok', device });
        }
        for (const t of [hidden, head, logits, scratch]) t.release();
      }
      for (const loss of LOSS_NAMES) {
        const ms = lossMs.get(loss)!;
        rows.set(loss, [loss, ...ms.map((m) => fmt(m)), ...ms.map((m, i) => `${fmt(m / headMs[i])}x`)]);
      }
      table.push(['lm-head forward', ...headMs.map((m) => fmt(m)), ...headMs.map(() => '1.00x')], ...rows.values());
    } finally {
      await gpu.destroy();
    }
    return {
      title: `loss kernels vs the LM-head forward (P=${P} positions, hidden ${HIDDEN}, K=${K})`,
      table,
      notes: [`${device}. Each loss time includes copying the logits into a gradient buffer (the trainer writes the gradient in place and skips that copy).`],
      measurements,
    };
  },
};
