// A model's preference between two responses: the mean log-probability per response token of the
// chosen and of the rejected response, and their difference (the margin), averaged over pairs.
// Length-normalised, so a longer rejected answer is not penalised for its length alone. Computed on
// the GPU with the CE kernel, one term per sequence (each term is then that sequence's token mean).
import type { Decoder } from '../engine/models/decoder.ts';
import type { TokenizedPair } from './data/preference.ts';
import type { TokenizedExample } from './data/sft.ts';
import { planLoss, type LossSequence } from './losses/batch.ts';
import { computeLoss, readLoss } from './losses/compute.ts';
import { padRows, responsePositions } from './trainer/batches.ts';

/** Mean log-probability per response token of each sequence. */
export async function sequenceLogProbs(decoder: Decoder, seqs: readonly TokenizedExample[], batchSize = 8): Promise<number[]> {
  const { gpu } = decoder;
  const out: number[] = [];
  for (let start = 0; start < seqs.length; start += batchSize) {
    const batch = seqs.slice(start, start + batchSize);
    const rows = padRows(batch.map((s) => s.ids), 0);
    const sequences: LossSequence[] = batch.map((s, b) => ({ ...responsePositions(s.labels, b, rows.T), ce: b }));
    const plan = planLoss({
      rowCount: rows.B * rows.T,
      vocab: decoder.config.vocabSize,
      terms: batch.map((_, b) => ({ name: `seq${b}`, kind: 'ce' as const, coefficient: 1 })),
      sequences,
      sequencesPerTerm: batch.map(() => 1),
    });
    const ids = gpu.upload(rows.ids, [rows.B * rows.T], 'i32');
    const positions = gpu.upload(rows.positions, [rows.B * rows.T], 'i32');
    const mask = gpu.upload(rows.mask, [rows.B, rows.T]);
    const hidden = decoder.forward({ B: rows.B, T: rows.T, ids, positions, mask, maxPosition: rows.T - 1 });
    const logits = decoder.logits(hidden);
    const loss = computeLoss(gpu, { logits, plan });
    const values = await readLoss(gpu, loss);
    out.push(...batch.map((_, b) => -values.terms[`seq${b}`]));
    for (const t of [ids, positions, mask, hidden, logits, loss.terms]) t.release();
  }
  return out;
}

export interface MarginReport {
  /** Mean over pairs of the chosen response's mean token log-probability. */
  chosen: number;
  rejected: number;
  /** Mean over pairs of (chosen − rejected). */
  margin: number;
  /** Share of pairs where the chosen response is the more likely one. */
  accuracy: number;
}

export async function preferenceMargin(decoder: Decoder, pairs: readonly TokenizedPair[]): Promise<MarginReport> {
  const lp = await sequenceLogProbs(decoder, pairs.flatMap((p) => [p.chosen, p.rejected]));
  let chosen = 0;
  let rejected = 0;
  let wins = 0;
  for (let i = 0; i < pairs.length; i++) {
    chosen += lp[2 * i];
    rejected += lp[2 * i + 1];
    if (lp[2 * i] > lp[2 * i + 1]) wins++;
  }
  const n = pairs.length;
  return { chosen: chosen / n, rejected: rejected / n, margin: (chosen - rejected) / n, accuracy: wins / n };
}
