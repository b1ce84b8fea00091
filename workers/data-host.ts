// The engine worker's data side (EngineApi.data, src/engine/data-api.ts): preference data sets
// rendered with a loaded model's chat template, and teacher caches built with the model of the
// 'teacher' (or 'reference') slot, resumed after a reload, combined into advantage caches,
// imported, exported and checked. Data sets and caches live in IndexedDB; this host reads and
// writes them itself.
//
// A build is resumable and gives the same bytes as one uninterrupted build (and as the CLI's
// buildTeacherCache): it scores the examples in batches of `batchSize` from example 0, and writes
// progress (a chunk) only at batch boundaries, at most every `flushSeconds` (and on cancel), so a
// resumed build forms the same batches. ŷ (response 'student') is generated greedily by the
// student for the examples still to do; greedy decoding is deterministic, so it is the same ŷ.
import * as Comlink from 'comlink';
import type { ModelCard, ModelSlot, RequestId, Sink } from '../src/engine/api.ts';
import { errorInfo, STUDENT_SLOT } from '../src/engine/api.ts';
import type {
  AdvantageRequest,
  CacheBuildEvent,
  CacheBuildPhase,
  CacheBuildRequest,
  CacheCheck,
  CheckCachesRequest,
  DataApi,
  DataPreview,
  ImportCacheRequest,
  PreviewRequest,
  TokenStats,
} from '../src/engine/data-api.ts';
import { LabError } from '../src/engine/errors.ts';
import type { LoadedModel } from '../src/engine/models/load.ts';
import { TOPK_MAX_K } from '../src/engine/kernels/topk/topk.ts';
import { sequencesFor } from '../src/distill/cache/assemble.ts';
import { scoreWithTeacher, type ScoredSequence, type TeacherRows } from '../src/distill/cache/build.ts';
import { generateStudentResponses } from '../src/distill/cache/student-responses.ts';
import { fitPairs, renderPairs, responseTokens, type PreferenceSet, type TokenizedPair } from '../src/distill/data/preference.ts';
import { DataError } from '../src/distill/data/records.ts';
import type { TokenizedExample } from '../src/distill/data/sft.ts';
import { advantageCache } from '../src/distill/losses/advantage.ts';
import { checkCacheMatches, decodeTeacherCache, type CacheExpectation, type TeacherCache, type TeacherCacheMeta } from '../src/formats/teacher-cache.ts';
import { sha256Hex, type Tokenizer } from '../src/formats/tokenizer.ts';
import { getBuildPlan, saveBuildPlan, type CacheBuildPlan, type ModelIdentity } from '../src/store/cache-builds.ts';
import { loadPreferenceSet, type DatasetRecord } from '../src/store/datasets.ts';
import type { LabDb } from '../src/store/db.ts';
import {
  TEACHER_CHUNK_BYTES,
  TeacherCacheBuild,
  exportTeacherCache,
  listTeacherCaches,
  loadTeacherCache,
  saveTeacherCache,
  type StoredTeacherCache,
  type TeacherCacheSummary,
} from '../src/store/teacher-caches.ts';

export interface DataHostDeps {
  /** Queue a GPU job (the worker's job queue; the signal aborts on cancel(requestId)). */
  runJob<T>(label: string, requestId: RequestId | undefined, body: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** The model loaded in a slot, or null. */
  slot(slot: ModelSlot): { model: LoadedModel; card: ModelCard } | null;
  db(): Promise<LabDb>;
}

export interface DataHostOptions {
  /** Write the progress of a build at least this often, in seconds (default 5): what a reload loses. */
  flushSeconds?: number;
  /** At most one progress event per this many milliseconds (default 100). */
  progressMs?: number;
}

export class CacheOptionsError extends LabError {
  constructor(field: string, message: string) {
    super('CacheOptionsError', `${field}: ${message}`, `Correct "${field}" in the teacher-cache options.`);
  }
}

export const RESPONSE_LABEL = { chosen: 'chosen', rejected: 'rejected', student: 'ŷ' } as const;

function whole(field: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new CacheOptionsError(field, `must be a whole number in ${min} … ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}, got ${v}.`);
}

export function validateBuild(r: CacheBuildRequest): void {
  if (!['chosen', 'rejected', 'student'].includes(r.response)) throw new CacheOptionsError('Responses', `must be chosen, rejected or student, got "${r.response}".`);
  if (r.valueDType !== 'F16' && r.valueDType !== 'F32') throw new CacheOptionsError('Precision', `must be F16 or F32, got "${r.valueDType}".`);
  whole('K', r.k, 1, TOPK_MAX_K);
  whole('Max length', r.maxLength, 2);
  whole('Batch size', r.batchSize, 1, 64);
  if (r.response === 'student') whole('Max new tokens', r.maxNewTokens, 1);
}

function stats(xs: readonly number[]): TokenStats {
  let sum = 0;
  let max = 0;
  for (const x of xs) {
    sum += x;
    max = Math.max(max, x);
  }
  return { mean: xs.length ? sum / xs.length : 0, max };
}

function identity(card: ModelCard): ModelIdentity {
  return { id: card.id, name: card.name };
}

/** A mismatch message without the "<file>: " prefix the cache errors carry (the row names the cache). */
function withoutPrefix(message: string, file: string): string {
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

interface Rendered {
  record: DatasetRecord;
  set: PreferenceSet;
  pairs: TokenizedPair[];
}

export class DataHost {
  /** The last data set rendered with each tokenizer (rendering thousands of pairs takes seconds). */
  private readonly rendered = new WeakMap<Tokenizer, Rendered>();
  private readonly flushMs: number;
  private readonly progressMs: number;

  constructor(
    private readonly deps: DataHostDeps,
    options: DataHostOptions = {},
  ) {
    this.flushMs = (options.flushSeconds ?? 5) * 1000;
    this.progressMs = options.progressMs ?? 100;
  }

  readonly api: DataApi = {
    preview: (r) => this.preview(r),
    buildCache: (r, sink, requestId) => this.deps.runJob('building a cache', requestId, (signal) => this.build(r, sink, signal, null)),
    resumeCache: async (cacheId, sink, requestId) => {
      const plan = await getBuildPlan(await this.deps.db(), cacheId);
      if (!plan) throw new LabError('CacheBuildError', `There is no build to resume for teacher cache ${cacheId}.`, 'It was imported or its build record was deleted: build it again.');
      return this.deps.runJob('building a cache', requestId, (signal) => this.build(plan.request, sink, signal, plan));
    },
    buildAdvantage: (r) => this.advantage(r),
    importCache: (r) => this.importCache(r),
    exportCache: async (cacheId) => {
      const bytes = await exportTeacherCache(await this.deps.db(), cacheId);
      return Comlink.transfer(bytes, [bytes.buffer]);
    },
    checkCaches: (r) => this.check(r),
  };

  private need(slot: ModelSlot, purpose: string): { model: LoadedModel; card: ModelCard } {
    const m = this.deps.slot(slot);
    if (m) return m;
    const where = slot === STUDENT_SLOT ? 'Load the student in the Models panel.' : `Load a model as the ${slot} (Data & teacher cache panel).`;
    throw new LabError('NoModelError', `No model is loaded as the ${slot}, which would ${purpose}.`, where);
  }

  private async renderedOf(datasetId: string, tok: Tokenizer): Promise<Rendered> {
    const last = this.rendered.get(tok);
    if (last?.record.id === datasetId) return last;
    const { record, set } = await loadPreferenceSet(await this.deps.db(), datasetId);
    const out = { record, set, pairs: renderPairs(set, tok) };
    this.rendered.set(tok, out);
    return out;
  }

  // ---- preview -------------------------------------------------------------------------------

  private async preview(r: PreviewRequest): Promise<DataPreview> {
    whole('Max length', r.maxLength, 2);
    const { model, card } = this.need(r.slot, 'render the data');
    const tok = model.files.tokenizer;
    const { record, pairs } = await this.renderedOf(r.datasetId, tok);
    const maxLength = Math.min(r.maxLength, card.context);
    const fit = fitPairs(pairs, { maxLength, overLength: 'truncate' });
    const promptLen = (p: TokenizedPair) => p.promptIds.length;
    const positions = (side: 'chosen' | 'rejected') => fit.pairs.reduce((n, p) => n + responseTokens(p[side]).length, 0);
    return {
      datasetId: record.id,
      model: card.name,
      tokenizerSha256: tok.tokenizerSha256,
      chatTemplate: tok.hasChatTemplate,
      pairs: pairs.length,
      maxLength,
      overLength: fit.truncated + fit.skipped,
      skipped: fit.skipped,
      prompt: stats(pairs.map(promptLen)),
      chosen: stats(pairs.map((p) => p.chosen.ids.length - promptLen(p))),
      rejected: stats(pairs.map((p) => p.rejected.ids.length - promptLen(p))),
      positions: { chosen: positions('chosen'), rejected: positions('rejected') },
      examples: pairs.slice(0, Math.max(0, r.examples)).map((p) => {
        const n = promptLen(p);
        return {
          id: p.id,
          where: p.chosen.where,
          prompt: tok.decode(p.promptIds),
          chosen: tok.decode(p.chosen.ids.slice(n)),
          rejected: tok.decode(p.rejected.ids.slice(n)),
          promptTokens: n,
          chosenTokens: p.chosen.ids.length - n,
          rejectedTokens: p.rejected.ids.length - n,
          overLength: Math.max(p.chosen.ids.length, p.rejected.ids.length) > maxLength,
        };
      }),
    };
  }

  // ---- building ------------------------------------------------------------------------------

  private async build(r: CacheBuildRequest, sink: Sink<CacheBuildEvent>, signal: AbortSignal, plan: CacheBuildPlan | null): Promise<TeacherCacheSummary> {
    validateBuild(r);
    const { scorer, student } = this.buildModels(r, plan);
    const tok = scorer.model.files.tokenizer;
    const { record, set, pairs } = await this.renderedOf(r.datasetId, tok);
    // As in training: at most the model's context.
    const maxLength = Math.min(r.maxLength, scorer.card.context);
    const fit = fitPairs(pairs, { maxLength, overLength: 'truncate' });
    if (fit.pairs.length === 0) throw new DataError(set.file, '', `has no pair whose prompt fits in ${maxLength} tokens.`, 'Raise the max length.');
    const meta: TeacherCacheMeta = {
      response: r.response,
      k: r.k,
      temperature: 1,
      model: scorer.card.name,
      tokenizerSha256: tok.tokenizerSha256,
      vocabSize: scorer.model.decoder.config.vocabSize,
      datasetSha256: set.sha256,
      exampleIds: fit.pairs.map((p) => p.id),
    };
    const ofStudent = student && identity(student.card);
    const cacheId = plan?.cacheId ?? (await cacheIdOf(r, scorer.card, ofStudent));
    const db = await this.deps.db();
    const build = await TeacherCacheBuild.begin(db, {
      id: cacheId,
      name: `${scorer.card.name} · ${RESPONSE_LABEL[r.response]} · ${record.name}`,
      kind: 'probs',
      valueDType: r.valueDType,
      meta,
      chunkBytes: Infinity, // chunks are written by scoreInto, at batch boundaries
    });
    if (!plan) await saveBuildPlan(db, { cacheId, request: r, scorer: identity(scorer.card), student: ofStudent, createdAt: Date.now() });
    void sink({ type: 'started', cache: build.info, resumedAt: build.nextExample });
    const todo = fit.pairs.slice(build.nextExample);
    const progress = new BuildProgress(sink, build.examplesTotal, build.info.positions, this.progressMs);
    let ys: Map<string, TokenizedExample> | undefined;
    if (student && todo.length) {
      const longest = Math.max(...todo.map((p) => p.promptIds.length));
      if (longest + r.maxNewTokens > student.card.context) {
        throw new CacheOptionsError('Max new tokens', `a prompt of ${longest} tokens + ${r.maxNewTokens} new tokens exceeds the student's context of ${student.card.context}.`);
      }
      ys = await generateStudentResponses(student.model.decoder, todo, {
        maxNewTokens: r.maxNewTokens,
        eosTokenIds: student.model.files.stopTokenIds,
        signal,
        onProgress: (done, n) => progress.report('responses', done, n),
      });
    }
    const seqs = sequencesFor(todo, r.response, ys);
    const longest = seqs.reduce((n, q) => Math.max(n, q.ids.length), 0);
    if (longest > scorer.card.context) throw new CacheOptionsError('Max new tokens', `a sequence of ${longest} tokens exceeds the ${r.scorer}'s context of ${scorer.card.context}.`);
    await this.scoreInto(build, scorer.model, seqs, r, progress, signal);
    return build.finish();
  }

  /** The scorer, and the student whose ŷ it scores (response 'student'), checked against the request and the plan. */
  private buildModels(r: CacheBuildRequest, plan: CacheBuildPlan | null): { scorer: { model: LoadedModel; card: ModelCard }; student: { model: LoadedModel; card: ModelCard } | null } {
    const scorer = this.need(r.scorer, 'score the responses');
    if (plan && scorer.card.id !== plan.scorer.id) {
      throw new LabError('CacheBuildError', `This build scores with ${plan.scorer.name}, but the ${r.scorer} loaded now is ${scorer.card.name}.`, `Load ${plan.scorer.name} as the ${r.scorer}, then resume.`);
    }
    const student = r.response === 'student' ? this.need(STUDENT_SLOT, 'write the responses ŷ that the cache scores') : this.deps.slot(STUDENT_SLOT);
    if (plan?.student && student?.card.id !== plan.student.id) {
      throw new LabError('CacheBuildError', `This build scores the responses ŷ of ${plan.student.name}, but the student loaded now is ${student?.card.name ?? 'none'}.`, `Load ${plan.student.name} as the student (Models), then resume.`);
    }
    if (student && student.card.tokenizerSha256 !== scorer.card.tokenizerSha256) {
      throw new LabError(
        'TokenizerMismatchError',
        `The ${r.scorer} (${scorer.card.name}) and the student (${student.card.name}) have different tokenizers (tokenizer.json sha256 ${scorer.card.tokenizerSha256.slice(0, 12)}… vs ${student.card.tokenizerSha256.slice(0, 12)}…).`,
        'A teacher cache indexes the student vocabulary directly: pick a teacher that shares the student’s tokenizer.',
      );
    }
    return { scorer, student: r.response === 'student' ? student : null };
  }

  /** Score the sequences into the build (see scoreRowsInto). */
  private scoreInto(build: TeacherCacheBuild, scorer: LoadedModel, seqs: ScoredSequence[], r: CacheBuildRequest, progress: BuildProgress, signal: AbortSignal): Promise<void> {
    const rows = scoreWithTeacher(scorer.decoder, seqs, { k: r.k, valueDType: r.valueDType, batchSize: r.batchSize, signal });
    return scoreRowsInto(build, rows, { batchSize: r.batchSize, k: r.k, flushMs: this.flushMs }, progress);
  }

  // ---- advantage, import, export, checks -----------------------------------------------------

  private async advantage(r: AdvantageRequest): Promise<TeacherCacheSummary> {
    const db = await this.deps.db();
    const name = async (id: string) => ((await db.get('teacherCaches', id)) as StoredTeacherCache | undefined)?.name ?? id;
    const names = { dpo: await name(r.dpoId), ref: await name(r.referenceId) };
    const cache = advantageCache(await loadTeacherCache(db, r.dpoId), await loadTeacherCache(db, r.referenceId), names);
    const id = `adv-${(await sha256Hex(new TextEncoder().encode(`${r.dpoId}|${r.referenceId}`))).slice(0, 16)}`;
    await saveTeacherCache(db, cache, { id, name: `advantage · ${names.dpo} | ${names.ref}` });
    return summaryOf(db, id);
  }

  /** What a cache must match: the data set, and (with a loaded model) its tokenizer and tokenisation. */
  private async expectation(datasetId: string, maxLength: number, slot: ModelSlot | null): Promise<{ against: string; expect: (c: TeacherCache) => CacheExpectation }> {
    whole('Max length', maxLength, 2);
    const m = slot ? this.need(slot, 'check the cache') : null;
    if (!m) {
      const { record, set } = await loadPreferenceSet(await this.deps.db(), datasetId);
      return { against: record.name, expect: () => ({ datasetSha256: set.sha256 }) };
    }
    const tok = m.model.files.tokenizer;
    const { record, set, pairs } = await this.renderedOf(datasetId, tok);
    const length = Math.min(maxLength, m.card.context);
    const fit = fitPairs(pairs, { maxLength: length, overLength: 'truncate' }).pairs;
    const ids = fit.map((p) => p.id);
    return {
      against: `${m.card.name} and ${record.name} at ${length} tokens`,
      expect: (c) => ({
        tokenizerSha256: tok.tokenizerSha256,
        vocabSize: m.model.decoder.config.vocabSize,
        tokenizerVocabSize: tok.vocabSize,
        datasetSha256: set.sha256,
        exampleIds: ids,
        // ŷ is not in the data: its tokens are the cache's own.
        tokens: c.meta.response === 'student' ? undefined : (e) => responseTokens(c.meta.response === 'chosen' ? fit[e].chosen : fit[e].rejected),
      }),
    };
  }

  private async importCache(r: ImportCacheRequest): Promise<TeacherCacheSummary> {
    const cache = decodeTeacherCache(r.bytes, r.fileName);
    const { expect } = await this.expectation(r.datasetId, r.maxLength, r.slot);
    checkCacheMatches(cache, expect(cache), r.fileName);
    const db = await this.deps.db();
    const id = `imp-${(await sha256Hex(r.bytes)).slice(0, 16)}`;
    await saveTeacherCache(db, cache, { id, name: r.fileName });
    return summaryOf(db, id);
  }

  private async check(r: CheckCachesRequest): Promise<CacheCheck[]> {
    const db = await this.deps.db();
    const { against, expect } = await this.expectation(r.datasetId, r.maxLength, r.slot);
    const out: CacheCheck[] = [];
    for (const id of r.ids) {
      const record = (await db.get('teacherCaches', id)) as StoredTeacherCache | undefined;
      const result = (integrity: CacheCheck['integrity'], message: string | null) => out.push({ id, integrity, message, against });
      if (!record) {
        result('damaged', 'The cache is no longer stored.');
        continue;
      }
      if (!record.complete) {
        result('incomplete', `${record.examplesDone} of ${record.meta.exampleIds.length} examples computed.`);
        continue;
      }
      let cache: TeacherCache;
      try {
        cache = await loadTeacherCache(db, id); // validates the stored values as it reassembles them
      } catch (err) {
        result('damaged', errorInfo(err).message);
        continue;
      }
      try {
        checkCacheMatches(cache, expect(cache), record.name);
        result('ok', null);
      } catch (err) {
        result('mismatch', withoutPrefix(errorInfo(err).message, record.name));
      }
    }
    return out;
  }
}

/**
 * Write a scorer's rows (one example each, in data order, from the build's next example) into the
 * build. Progress is written only at batch boundaries (counted from the first example, as the build
 * started there or at an earlier boundary), at most every flushMs or chunk size, and when it stops
 * early, so a resumed build forms the same batches. Shared with the ONNX teacher's builds
 * (workers/teacher-host.ts).
 */
export async function scoreRowsInto(build: TeacherCacheBuild, scored: AsyncIterable<TeacherRows>, o: { batchSize: number; k: number; flushMs: number }, progress: BuildProgress): Promise<void> {
  const start = build.nextExample;
  const atBoundary = () => (build.nextExample - start) % o.batchSize === 0 || build.nextExample === build.examplesTotal;
  const chunkPositions = Math.floor(TEACHER_CHUNK_BYTES / (o.k * 8));
  let lastFlush = performance.now();
  let unflushed = 0;
  progress.startScoring(start);
  try {
    for await (const rows of scored) {
      await build.add(rows);
      unflushed += rows.tokens.length;
      if (atBoundary() && (performance.now() - lastFlush >= o.flushMs || unflushed >= chunkPositions)) {
        await build.flush();
        lastFlush = performance.now();
        unflushed = 0;
      }
      progress.scored(build.nextExample, rows.tokens.length);
    }
  } catch (err) {
    // Keep what was computed (cancel, device loss…) when it ends on a batch boundary.
    if (atBoundary()) await build.flush().catch(() => undefined);
    throw err;
  }
}

/** The same settings, models and data give the same id: building them again resumes. */
export async function cacheIdOf(r: CacheBuildRequest, scorer: Pick<ModelCard, 'id'>, student: ModelIdentity | null): Promise<string> {
  const key = JSON.stringify([r.datasetId, r.response, scorer.id, student?.id ?? null, r.k, r.valueDType, r.maxLength, student ? r.maxNewTokens : 0, r.batchSize]);
  return `tc-${(await sha256Hex(new TextEncoder().encode(key))).slice(0, 16)}`;
}

async function summaryOf(db: LabDb, id: string): Promise<TeacherCacheSummary> {
  const s = (await listTeacherCaches(db)).find((c) => c.id === id);
  if (!s) throw new LabError('CacheBuildError', `Teacher cache ${id} was not stored.`);
  return s;
}

/** Throttled progress events with a rate and an ETA over this session of the build. */
export class BuildProgress {
  private last = -Infinity;
  private t0 = 0;
  private startedAt = 0;
  private positions: number;
  private sessionPositions = 0;

  constructor(
    private readonly sink: Sink<CacheBuildEvent>,
    private readonly total: number,
    positionsBefore: number,
    private readonly intervalMs: number,
  ) {
    this.positions = positionsBefore;
  }

  report(phase: CacheBuildPhase, done: number, total: number, etaSeconds: number | null = null): void {
    const now = performance.now();
    if (now - this.last < this.intervalMs && done < total) return;
    this.last = now;
    const seconds = (now - this.t0) / 1000;
    const positionsPerSecond = phase === 'scoring' && seconds > 0 ? this.sessionPositions / seconds : 0;
    void this.sink({ type: 'progress', phase, done, total, positions: this.positions, positionsPerSecond, etaSeconds });
  }

  startScoring(done: number): void {
    this.t0 = performance.now();
    this.startedAt = done;
    this.last = -Infinity;
    this.report('scoring', done, this.total);
  }

  scored(done: number, positions: number): void {
    this.positions += positions;
    this.sessionPositions += positions;
    const seconds = (performance.now() - this.t0) / 1000;
    const perExample = seconds / Math.max(1, done - this.startedAt);
    this.report('scoring', done, this.total, (this.total - done) * perExample);
  }
}
