// `student-lab loss` on random dumped data: the GPU kernel and the f64 reference agree, the printed
// JSON parses, and the values match losses computed here by hand from the definitions.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { advantageCache } from '../../../src/distill/losses/advantage.ts';
import { binLoss64, softmax64 } from '../../../src/distill/losses/reference.ts';
import { resolveBinMode } from '../../../src/distill/losses/definitions.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/engine/f16.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../../src/formats/safetensors-writer.ts';
import { encodeTeacherCache, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal, type Rng } from '../../helpers/random.ts';
import { expectGradClose } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'loss-cli-'));
let fileNo = 0;

interface Dump {
  logits: Float32Array;
  labels: Int32Array;
  B: number;
  T: number;
  V: number;
  logitsFile: string;
  labelsFile: string;
}

/** B sequences of T positions: a random prompt (−100), a response, then padding (−100). */
function dump(rng: Rng, B: number, T: number, V: number): Dump {
  const logits = normal(rng, B * T * V, 2);
  const labels = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) {
    const start = 1 + Math.floor(rng.next() * 3);
    const end = start + 1 + Math.floor(rng.next() * (T - start - 1));
    for (let t = start; t < end; t++) labels[b * T + t] = Math.floor(rng.next() * V);
  }
  const n = fileNo++;
  const logitsFile = join(dir, `logits-${n}.safetensors`);
  const labelsFile = join(dir, `labels-${n}.safetensors`);
  writeFileSync(logitsFile, writeSafetensors([{ name: 'logits', dtype: 'F32', shape: [B, T, V], data: logits }]));
  writeFileSync(labelsFile, writeSafetensors([{ name: 'labels', dtype: 'I32', shape: [B, T], data: labels }]));
  return { logits, labels, B, T, V, logitsFile, labelsFile };
}

/** A probability cache over the labelled positions of a dump (one example per row), K ids with some >= V. */
function cacheFor(rng: Rng, d: Dump, K: number): Extract<TeacherCache, { kind: 'probs' }> {
  const tokens: number[] = [];
  const offsets = [0];
  for (let b = 0; b < d.B; b++) {
    for (let t = 0; t < d.T; t++) if (d.labels[b * d.T + t] !== -100) tokens.push(d.labels[b * d.T + t]);
    offsets.push(tokens.length);
  }
  const P = tokens.length;
  const vocab = d.V + 5; // a padded teacher vocabulary: some cached ids fall outside the student's
  const indices = new Int32Array(P * K);
  const bits = new Uint16Array(P * K);
  const rest = new Float32Array(P);
  for (let t = 0; t < P; t++) {
    const ids = new Set<number>();
    while (ids.size < K) ids.add(Math.floor(rng.next() * vocab));
    const w = Array.from({ length: K + 1 }, () => Math.exp(2 * normal(rng, 1)[0]));
    const s = w.reduce((a, b) => a + b, 0);
    const p = w.slice(0, K).map((x) => x / s).sort((a, b) => b - a);
    [...ids].forEach((id, k) => {
      indices[t * K + k] = id;
      bits[t * K + k] = float32ToFloat16(p[k]);
    });
    rest[t] = 1 - p.reduce((a, b) => a + b, 0);
  }
  return {
    kind: 'probs',
    meta: { response: 'chosen', k: K, temperature: 1, model: 'test', tokenizerSha256: 'a'.repeat(64), vocabSize: vocab, datasetSha256: 'b'.repeat(64), exampleIds: Array.from({ length: d.B }, (_, b) => `x${b}`) },
    exampleOffsets: Int32Array.from(offsets),
    tokens: Int32Array.from(tokens),
    indices,
    probs: { dtype: 'F16', bits },
    rest,
  };
}

function save(c: TeacherCache): string {
  const f = join(dir, `cache-${fileNo++}.safetensors`);
  writeFileSync(f, encodeTeacherCache(c));
  return f;
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['loss', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Run both modes, check they agree, return the reference's JSON and both gradient files. */
async function both(args: string[], logitsOf: Record<string, { logits: Float32Array; labels: Int32Array; V: number }>, context: string) {
  const results: { json: Record<string, number>; grads: Record<string, Float32Array> }[] = [];
  for (const mode of ['--gpu', '--reference']) {
    const outFile = join(dir, `grad-${fileNo++}.safetensors`);
    const r = await cli([...args, mode, '--out', outFile]);
    expect(r.code, `${context} ${mode}: ${r.err.join('\n')}`).toBe(0);
    expect(r.out.length).toBe(1);
    const json = JSON.parse(r.out[0]) as Record<string, number>;
    const st = parseSafetensors(new Uint8Array(readFileSync(outFile)), outFile);
    const grads: Record<string, Float32Array> = {};
    for (const name of Object.keys(logitsOf)) grads[name] = tensorToFloat32(st.get(name)).slice();
    results.push({ json, grads });
  }
  const [gpu, ref] = results;
  expect(Object.keys(gpu.json)).toEqual(Object.keys(ref.json));
  expectClose(Object.values(gpu.json), Object.values(ref.json), { atol: 1e-7, rtol: 1e-5 }, `${context} values`);
  for (const [name, d] of Object.entries(logitsOf)) {
    expectGradClose(gpu.grads[name], ref.grads[name], d.logits, d.V, (r) => d.labels[r], `${context} ${name}`);
    // Ignored positions get exactly zero.
    for (let r = 0; r < d.labels.length; r++) {
      if (d.labels[r] === -100) expect(ref.grads[name].subarray(r * d.V, (r + 1) * d.V).every((x) => x === 0)).toBe(true);
    }
  }
  return ref;
}

const ce = (z: Float32Array, V: number, r: number, y: number) => -Math.log(softmax64(Array.from(z.subarray(r * V, (r + 1) * V)))[y]);

/** Mean over sequences (rows) of the token mean of f over each row's labelled positions. */
function perSequenceMean(d: Dump, f: (row: number, y: number, p: number) => number): number {
  let total = 0;
  let seqs = 0;
  let p = 0;
  for (let b = 0; b < d.B; b++) {
    let s = 0;
    let n = 0;
    for (let t = 0; t < d.T; t++) {
      const i = b * d.T + t;
      if (d.labels[i] === -100) continue;
      s += f(i, d.labels[i], p++);
      n++;
    }
    if (n > 0) {
      total += s / n;
      seqs++;
    }
  }
  return total / seqs;
}

describe('student-lab loss', () => {
  it('sft: GPU and reference agree with the hand-computed CE', async () => {
    const rng = makeRng();
    const d = dump(rng, 3, 11, 97);
    const ref = await both(['--loss', 'sft', '--logits', d.logitsFile, '--labels', d.labelsFile], { grad: d }, `sft seed=${rng.seed}`);
    const want = perSequenceMean(d, (r, y) => ce(d.logits, d.V, r, y));
    expect(ref.json.sft).toBeCloseTo(want, 10);
    expect(ref.json.loss).toBeCloseTo(want, 10);
  });

  it('kd with --weights sft=0.5: the KL term from the definitions, ids >= V in the rest bin', async () => {
    const rng = makeRng();
    const d = dump(rng, 4, 9, 83);
    const c = cacheFor(rng, d, 7);
    const ref = await both(['--loss', 'kd', '--logits', d.logitsFile, '--labels', d.labelsFile, '--cache', save(c), '--weights', 'sft=0.5'], { grad: d }, `kd seed=${rng.seed}`);
    const m = resolveBinMode('fkl');
    const K = c.meta.k;
    const kl = perSequenceMean(d, (r, _y, p) =>
      binLoss64(Array.from(d.logits.subarray(r * d.V, (r + 1) * d.V)), c.indices.subarray(p * K, (p + 1) * K), Array.from(c.probs.dtype === 'F16' ? c.probs.bits.subarray(p * K, (p + 1) * K) : [], float16ToFloat32), c.rest[p], m),
    );
    const sft = perSequenceMean(d, (r, y) => ce(d.logits, d.V, r, y));
    expect(ref.json.kd).toBeCloseTo(kl, 10);
    expect(ref.json.loss).toBeCloseTo(kl + 0.5 * sft, 10);
  });

  it('dckd: chosen and rejected sets, each normalised on its own, defaults 1/1/0.1/0.1', async () => {
    const rng = makeRng();
    const chosen = dump(rng, 3, 10, 71);
    const rejected = dump(rng, 3, 7, 71);
    const cc = cacheFor(rng, chosen, 5);
    const cr = cacheFor(rng, rejected, 3); // another K: the rejected rows are padded
    const ref = await both(
      ['--loss', 'dckd', '--logits', chosen.logitsFile, '--labels', chosen.labelsFile, '--cache', save(cc), '--logits-rejected', rejected.logitsFile, '--labels-rejected', rejected.labelsFile, '--cache-rejected', save(cr)],
      { grad: chosen, grad_rejected: rejected },
      `dckd seed=${rng.seed}`,
    );
    expect(Object.keys(ref.json)).toEqual(['loss', 'sft', 'kl_chosen', 'kl_rejected']);
    expect(ref.json.loss).toBeCloseTo(ref.json.sft + 0.1 * ref.json.kl_chosen + 0.1 * ref.json.kl_rejected, 12);
    // Rejected rows carry no CE: their gradient sums to zero per row (pure softmax-space terms).
    const V = rejected.V;
    for (let r = 0; r < rejected.labels.length; r++) {
      const s = ref.grads.grad_rejected.subarray(r * V, (r + 1) * V).reduce((a, b) => a + b, 0);
      expect(Math.abs(s)).toBeLessThan(1e-7);
    }
  });

  it('adpa: advantage cache on ŷ plus the SFT term on y_w; parity and --signed-advantage', async () => {
    const rng = makeRng();
    const yhat = dump(rng, 2, 9, 61);
    const yw = dump(rng, 2, 8, 61);
    const dpoProbs = cacheFor(rng, yhat, 6);
    const dpo = { ...dpoProbs, meta: { ...dpoProbs.meta, response: 'student' as const } };
    const sftRef = { ...cacheFor(rng, yhat, 6), meta: dpo.meta };
    const adv = save(advantageCache(dpo, sftRef));
    const base = ['--loss', 'adpa', '--logits', yhat.logitsFile, '--labels', yhat.labelsFile, '--cache', adv, '--logits-chosen', yw.logitsFile, '--labels-chosen', yw.labelsFile];
    const ref = await both(base, { grad: yhat, grad_chosen: yw }, `adpa seed=${rng.seed}`);
    expect(ref.json.loss).toBeCloseTo(ref.json.sft - 1.6 * ref.json.adpa, 12);
    expect(ref.json.sft).toBeCloseTo(perSequenceMean(yw, (r, y) => ce(yw.logits, yw.V, r, y)), 10);
    const signed = await both([...base, '--signed-advantage', '--advantage-beta', '0.5'], { grad: yhat, grad_chosen: yw }, `adpa signed seed=${rng.seed}`);
    expect(signed.json.adpa).not.toBeCloseTo(ref.json.adpa, 6);
  });

  it('the zoo runs through the command with its parameters', async () => {
    const rng = makeRng();
    const d = dump(rng, 2, 8, 53);
    const cache = save(cacheFor(rng, d, 4));
    for (const [loss, extra] of [['rkl', []], ['skew-fkl', ['--lambda', '0.2']], ['skew-rkl', []], ['jsd', ['--beta', '0.3']], ['tvd', []]] as const) {
      const ref = await both(['--loss', loss, '--logits', d.logitsFile, '--labels', d.labelsFile, '--cache', cache, ...extra], { grad: d }, `${loss} seed=${rng.seed}`);
      expect(Object.keys(ref.json)).toEqual(['loss', loss]);
    }
  });

  it('bad input: a clear message and a non-zero exit', async () => {
    const rng = makeRng();
    const d = dump(rng, 2, 8, 41);
    const c = cacheFor(rng, d, 4);
    const wrongTokens = save({ ...c, tokens: c.tokens.map((t, i) => (i === 2 ? (t + 1) % 41 : t)) });
    const out = join(dir, 'never.safetensors');
    let r = await cli(['--loss', 'kd', '--logits', d.logitsFile, '--labels', d.labelsFile, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(/Missing --cache/);
    r = await cli(['--loss', 'kd', '--logits', d.logitsFile, '--labels', d.labelsFile, '--cache', wrongTokens, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/TeacherCacheMismatchError: .*position 2 holds token \d+, but the label it maps onto .* is \d+/);
    r = await cli(['--loss', 'adpa', '--logits', d.logitsFile, '--labels', d.labelsFile, '--cache', save(c), '--weights', 'sft=0', '--out', out]);
    expect(r.err.join('\n')).toMatch(/is a "probs" cache, the loss needs a "advantage" cache/);
    r = await cli(['--loss', 'dckd', '--weights', 'adpa=2', '--logits', d.logitsFile, '--labels', d.labelsFile, '--out', out]);
    expect(r.err.join('\n')).toMatch(/the dckd loss has no weight "adpa"/);
    r = await cli(['--loss', 'kl', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(/--loss "kl" is not a loss/);
  });
});
