import { describe, expect, it } from 'vitest';
import { planLoss, ROW_WORDS, type LossBatch } from '../../../src/distill/losses/batch.ts';
import type { BinMode, LossOptions } from '../../../src/distill/losses/definitions.ts';
import { binLoss64, lossReference, softmax64 } from '../../../src/distill/losses/reference.ts';
import { resolveBinMode } from '../../../src/distill/losses/definitions.ts';
import type { TeacherHost } from '../../../src/distill/losses/teacher.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { makeProblem, type Problem, type ProblemSpec } from './loss-data.ts';

const kl = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * Math.log(x / b[i]), 0);
const c = (x: number) => Math.min(Math.max(x, 1e-8), 1 - 1e-8);

/** One position, V = 6, S = {4, 1, 7 (>= V)}: bins written out by hand from distillation.md. */
function handCase() {
  const z = [0.3, -1.2, 2.0, 0.7, 1.1, -0.4];
  const q = softmax64(z);
  const ids = [4, 1, 7];
  const p = [0.5, 0.2, 0.1];
  const rest = 0.2;
  const P = [0.5, 0.2, rest + 0.1]; // the mass of id 7 (not in the student's vocabulary) joins the rest
  const Q = [q[4], q[1], 1 - q[4] - q[1]];
  return { z, q, ids, p, rest, P, Q };
}

describe('bin losses: values from the definitions', () => {
  const h = handCase();
  const cases: [BinMode, LossOptions, number][] = [
    ['fkl', {}, kl(h.P, h.Q)],
    ['rkl', {}, kl(h.Q, h.P)],
    ['skew-fkl', { skewLambda: 0.1 }, kl(h.P, h.P.map((x, i) => 0.1 * x + 0.9 * h.Q[i]))],
    ['skew-rkl', { skewLambda: 0.1 }, kl(h.Q, h.P.map((x, i) => 0.9 * x + 0.1 * h.Q[i]))],
    [
      'jsd',
      { jsdBeta: 0.3 },
      (() => {
        const m = h.P.map((x, i) => 0.3 * x + 0.7 * h.Q[i]);
        return 0.3 * kl(h.P, m) + 0.7 * kl(h.Q, m);
      })(),
    ],
    ['tvd', {}, 0.5 * h.P.reduce((s, x, i) => s + Math.abs(x - h.Q[i]), 0)],
  ];
  for (const [mode, options, want] of cases) {
    it(`${mode} matches its textbook formula on the K+1 bins`, () => {
      const got = binLoss64(h.z, h.ids, h.p, h.rest, resolveBinMode(mode, options));
      expect(got).toBeCloseTo(want, 12);
    });
  }

  it('jsd at β = 0 and 1 is the forward and the reverse KL', () => {
    expect(binLoss64(h.z, h.ids, h.p, h.rest, resolveBinMode('jsd', { jsdBeta: 0 }))).toBeCloseTo(kl(h.P, h.Q), 12);
    expect(binLoss64(h.z, h.ids, h.p, h.rest, resolveBinMode('jsd', { jsdBeta: 1 }))).toBeCloseTo(kl(h.Q, h.P), 12);
  });

  it('adpa: Σ c(q_k)·c(Â_k) + c(1 − Σ q)·1e-8, ids >= V dropped; signed: β·Â unclamped', () => {
    const adv = [-2.5, 1.7, 0.4]; // negative -> 1e-8, above 1 -> 1 − 1e-8; id 7 is dropped
    const parity = c(h.q[4]) * c(adv[0]) + c(h.q[1]) * c(adv[1]) + c(1 - h.q[4] - h.q[1]) * 1e-8;
    expect(binLoss64(h.z, h.ids, adv, 0, resolveBinMode('adpa'))).toBeCloseTo(parity, 14);
    const signed = c(h.q[4]) * 0.5 * adv[0] + c(h.q[1]) * 0.5 * adv[1] + c(1 - h.q[4] - h.q[1]) * 1e-8;
    expect(binLoss64(h.z, h.ids, adv, 0, resolveBinMode('adpa', { advantage: { mode: 'signed', beta: 0.5 } }))).toBeCloseTo(signed, 14);
  });

  it('parity clamps: teacher 0 -> 1e-8, student floor 1e-7 (its bin passes no gradient)', () => {
    // id 0 gets q ≈ 1e-12 (floored to 1e-7); the teacher puts 0 on id 1 (clamped to 1e-8).
    const z = [-30, 0, 0.5, 0.2];
    const q = softmax64(z);
    const P = [0.6, 1e-8, 0.4];
    const Q = [1e-7, q[1], 1 - q[0] - q[1]];
    const grad = new Float64Array(4);
    const v = binLoss64(z, [0, 1], [0.6, 0], 0.4, resolveBinMode('fkl'), grad);
    expect(v).toBeCloseTo(kl(P, Q), 12);
    // Closed form with g_0 = 0 (floored), g_1 = −P_1/Q_1, g_rest = −P_r/Q_r.
    const g = [0, -P[1] / Q[1], -P[2] / Q[2]];
    const gBar = q[0] * g[0] + q[1] * g[1] + Q[2] * g[2];
    const want = z.map((_, j) => q[j] * ((j === 0 ? g[0] : j === 1 ? g[1] : g[2]) - gBar));
    expectClose(grad, want, { atol: 1e-15, rtol: 1e-12 }, 'floored bin gradient');
  });
});

describe('closed-form gradients of distillation.md', () => {
  it('forward KL without active clamps: (q − p̃)/N with p̃ = p on S, r·q/(1 − Σ_S q) elsewhere', () => {
    const rng = makeRng();
    const V = 29;
    const z = Array.from(normal(rng, V));
    const ids = [3, 17, 8, 22];
    const p = [0.4, 0.25, 0.15, 0.05];
    const r = 0.15;
    const grad = new Float64Array(V);
    binLoss64(z, ids, p, r, resolveBinMode('fkl'), grad, 1 / 3);
    const q = softmax64(z);
    const sumS = ids.reduce((s, id) => s + q[id], 0);
    const pt = q.map((x, j) => (ids.includes(j) ? p[ids.indexOf(j)] : (r * x) / (1 - sumS)));
    expectClose(grad, q.map((x, j) => (x - pt[j]) / 3), { atol: 1e-15, rtol: 1e-10 }, `seed=${rng.seed}`);
  });

  it('ADPA without active clamps: −q_j (Ã_j − Σ_i q_i Ã_i)/N with Ã = c(Â) on S, 1e-8 elsewhere', () => {
    const rng = makeRng();
    const V = 31;
    const z = Array.from(normal(rng, V));
    const ids = [5, 0, 30, 12, 9];
    const adv = [0.9, -0.3, 2.2, 0.05, 0.5];
    const grad = new Float64Array(V);
    binLoss64(z, ids, adv, 0, resolveBinMode('adpa'), grad, -1.6 / 4);
    const q = softmax64(z);
    const At = q.map((_, j) => (ids.includes(j) ? c(adv[ids.indexOf(j)]) : 1e-8));
    const mean = q.reduce((s, x, j) => s + x * At[j], 0);
    expectClose(grad, q.map((x, j) => (-1.6 / 4) * x * (At[j] - mean)), { atol: 1e-15, rtol: 1e-10 }, `seed=${rng.seed}`);
  });
});

/** Central differences of the whole reference loss with respect to every logit. */
function finiteDifferenceCheck(pr: Problem, divergence: BinMode | undefined, options: LossOptions | undefined, context: string) {
  const logits = Float64Array.from(pr.logits);
  const f = () => lossReference({ logits, batch: pr.batch, teacher: pr.teacher, divergence, options }).loss;
  const { grad } = lossReference({ logits, batch: pr.batch, teacher: pr.teacher, divergence, options });
  const h = 1e-5; // truncation ~h²·|f'''| ≈ 1e-10, rounding ~1e-16·|f|/h ≈ 1e-10
  const fd = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    logits[i] = x + h;
    const up = f();
    logits[i] = x - h;
    const down = f();
    logits[i] = x;
    fd[i] = (up - down) / (2 * h);
  }
  expectClose(grad, fd, { atol: 1e-8, rtol: 1e-6 }, context);
}

describe('closed-form gradients vs central differences (f64)', () => {
  // 12 positions with a cache entry reach every clamp case of makeProblem's `extremes` (9 kinds).
  const base: ProblemSpec = { vocab: 13, k: 5, lengths: [4, 5, 3], spareRows: 1, outOfVocab: 0.1, logitStd: 1.5 };
  const modes: [BinMode, LossOptions | undefined][] = [
    ['fkl', undefined],
    ['rkl', undefined],
    ['skew-fkl', { skewLambda: 0.1 }],
    ['skew-rkl', { skewLambda: 0.1 }],
    ['jsd', { jsdBeta: 0.4 }],
    ['tvd', undefined],
  ];
  for (const [mode, options] of modes) {
    it(`${mode} (+ CE), random and clamp-active rows`, () => {
      for (const extremes of [false, true]) {
        const rng = makeRng();
        const spec = extremes ? { ...base, extremes } : { ...base, missingTeacher: 0.2 };
        finiteDifferenceCheck(makeProblem(rng, spec), mode, options, `${mode} extremes=${extremes} seed=${rng.seed}`);
      }
    });
  }
  it('adpa parity and signed (+ CE)', () => {
    for (const options of [undefined, { advantage: { mode: 'signed' as const, beta: 0.8 } }]) {
      const rng = makeRng();
      finiteDifferenceCheck(makeProblem(rng, { ...base, teacher: 'advantage', extremes: true }), 'adpa', options, `adpa ${options ? 'signed' : 'parity'} seed=${rng.seed}`);
    }
  });
  it('CE alone and full-vocabulary KL', () => {
    let rng = makeRng();
    finiteDifferenceCheck(makeProblem(rng, { ...base, teacher: 'none' }), undefined, undefined, `ce seed=${rng.seed}`);
    rng = makeRng();
    finiteDifferenceCheck(makeProblem(rng, { ...base, teacher: 'logits' }), 'fkl', undefined, `full kl seed=${rng.seed}`);
  });
});

describe('normalisation: token mean per sequence, then mean over sequences, each term on its own counts', () => {
  /** A DCKD-shaped batch: 2 chosen sequences (CE + KL), 2 rejected (KL only), ragged, one missing cache entry. */
  function dckdBatch(): { batch: LossBatch; logits: Float32Array; teacher: TeacherHost } {
    const rng = makeRng(12345);
    const V = 7;
    const K = 2;
    const logits = normal(rng, 12 * V);
    const teacher: TeacherHost = {
      kind: 'probs',
      k: K,
      ids: Int32Array.from({ length: 11 * K }, (_, i) => (i % K === 0 ? i % V : (i + 3) % V)),
      probs: Float32Array.from({ length: 11 * K }, (_, i) => (i % K === 0 ? 0.5 : 0.2)),
      rest: new Float32Array(11).fill(0.3),
    };
    const batch: LossBatch = {
      rowCount: 12,
      vocab: V,
      teacherRowCount: 11,
      terms: [
        { name: 'sft', kind: 'ce', coefficient: 1 },
        { name: 'kl_chosen', kind: 'teacher', coefficient: 0.1 },
        { name: 'kl_rejected', kind: 'teacher', coefficient: 0.1 },
      ],
      sequences: [
        { rows: [0, 1, 2], labels: [1, 2, 3], teacherRows: [0, 1, -1], ce: 0, teacher: 1 },
        { rows: [3], labels: [4], teacherRows: [2], ce: 0, teacher: 1 },
        { rows: [4, 5, 6, 7], labels: [0, 0, 1, 1], teacherRows: [3, 4, 5, 6], teacher: 2 },
        { rows: [8, 9, 10], labels: [2, 2, 2], teacherRows: [7, 8, 9], teacher: 2 },
      ],
    };
    return { batch, logits, teacher };
  }

  it('matches the per-position losses combined by hand', () => {
    const { batch, logits, teacher } = dckdBatch();
    const V = batch.vocab;
    const m = resolveBinMode('fkl');
    const row = (r: number) => Array.from(logits.subarray(r * V, (r + 1) * V));
    const ce = (r: number, y: number) => -Math.log(softmax64(row(r))[y]);
    const klAt = (r: number, t: number) => binLoss64(row(r), teacher.kind === 'probs' ? teacher.ids.subarray(t * 2, t * 2 + 2) : [], teacher.kind === 'probs' ? teacher.probs.subarray(t * 2, t * 2 + 2) : [], teacher.kind === 'probs' ? teacher.rest[t] : 0, m);
    const sft = ((ce(0, 1) + ce(1, 2) + ce(2, 3)) / 3 + ce(3, 4)) / 2;
    // Row 2 has no cache entry: the chosen KL of sequence 0 is a mean over its 2 covered tokens.
    const klC = ((klAt(0, 0) + klAt(1, 1)) / 2 + klAt(3, 2)) / 2;
    const klR = ((klAt(4, 3) + klAt(5, 4) + klAt(6, 5) + klAt(7, 6)) / 4 + (klAt(8, 7) + klAt(9, 8) + klAt(10, 9)) / 3) / 2;
    const r = lossReference({ logits, batch, teacher });
    expectClose(r.terms, [sft, klC, klR], { atol: 0, rtol: 1e-12 }, 'dckd terms');
    expect(r.loss).toBeCloseTo(sft + 0.1 * klC + 0.1 * klR, 12);
    // Row 11 is in no sequence: zero gradient.
    expect(Array.from(r.grad.subarray(11 * V))).toEqual(new Array(V).fill(0));
  });

  it('planLoss writes 1/(tokens · sequences) and the coefficients per row', () => {
    const { batch } = dckdBatch();
    const plan = planLoss(batch);
    const f32 = new Float32Array(plan.table.buffer);
    const i32 = new Int32Array(plan.table.buffer);
    const at = (r: number, w: number) => r * ROW_WORDS + w;
    expect([i32[at(0, 0)], i32[at(0, 1)], plan.table[at(0, 2)], plan.table[at(0, 3)]]).toEqual([1, 0, 0, 1]);
    expect(f32[at(0, 4)]).toBeCloseTo(1 / (3 * 2), 7); // sft: 3 tokens, 2 chosen sequences
    expect(f32[at(0, 5)]).toBeCloseTo(1 / (2 * 2), 7); // chosen KL: 2 covered tokens
    expect(i32[at(2, 1)]).toBe(-1); // no cache entry
    expect(f32[at(2, 5)]).toBe(0);
    expect(i32[at(4, 0)]).toBe(-1); // rejected: no CE
    expect(f32[at(4, 5)]).toBeCloseTo(1 / (4 * 2), 7);
    expect(f32[at(4, 7)]).toBeCloseTo(0.1, 7);
    expect(i32[at(11, 0)]).toBe(-1);
    expect(i32[at(11, 1)]).toBe(-1);
    expect(plan.names).toEqual(['sft', 'kl_chosen', 'kl_rejected']);
  });

  it('sequencesPerTerm overrides the sequence count (accumulation over micro-batches)', () => {
    const { batch, logits, teacher } = dckdBatch();
    const a = lossReference({ logits, batch, teacher });
    const b = lossReference({ logits, batch: { ...batch, sequencesPerTerm: [4, 4, 4] }, teacher });
    expectClose(b.terms, Array.from(a.terms, (x) => x / 2), { atol: 0, rtol: 1e-12 }, 'halved');
  });

  it('refuses a row used twice, a label outside the vocabulary, and a teacher row out of range', () => {
    const { batch } = dckdBatch();
    const s0 = batch.sequences[0];
    expect(() => planLoss({ ...batch, sequences: [s0, { ...s0 }] })).toThrow(/row 0 belongs to two positions/);
    expect(() => planLoss({ ...batch, sequences: [{ ...s0, labels: [1, 9, 3] }] })).toThrow(/label 9 is outside the vocabulary \[0, 7\)/);
    expect(() => planLoss({ ...batch, sequences: [{ ...s0, teacherRows: [0, 1, 11] }] })).toThrow(/teacher row 11 is outside/);
  });
});
