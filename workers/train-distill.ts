// Distillation runs in the worker (docs/distillation.md): the objective's stages (ADPA+ is DCKD,
// then ADPA from the DCKD student), the preference data set read from the data-set store and cut
// as training cuts it, the teacher caches picked in the Train panel read from the caches store and
// checked against the student and the data like the CLI's (`loadCache`), each stage's batches, and
// ADPA's data built here from the teacher and reference slots with ŷ written by the current student
// (stored in the caches store: an advantage cache's tokens are ŷ, so a resume rebuilds nothing).
import type { ModelCard } from '../src/engine/api.ts';
import { errorInfo } from '../src/engine/api.ts';
import type { CacheChoice, CacheRole, CacheVerdict, DistillPlan, Objective, SlotUse, StageInfo, TrainOptions, TrainPlan } from '../src/engine/train-api.ts';
import { LabError } from '../src/engine/errors.ts';
import type { LoadedModel } from '../src/engine/models/load.ts';
import { fitPairs, readPreferenceData, renderPairs, responseTokens, type PreferenceSet, type TokenizedPair } from '../src/distill/data/preference.ts';
import { DataError } from '../src/distill/data/records.ts';
import type { LossOptions } from '../src/distill/losses/definitions.ts';
import type { LossName, LossWeights } from '../src/distill/losses/recipes.ts';
import { prepareAdpaData, studentResponsesFromCache, type ScoringModel } from '../src/distill/pipeline.ts';
import { DistillBatches, type DistillData } from '../src/distill/trainer/preference-batches.ts';
import { checkCacheMatches, type CacheExpectation, type CacheKind, type CacheResponse, type TeacherCache } from '../src/formats/teacher-cache.ts';
import type { Tokenizer } from '../src/formats/tokenizer.ts';
import { loadDatasetText } from '../src/store/datasets.ts';
import type { LabDb } from '../src/store/db.ts';
import { loadTeacherCache, saveTeacherCache, type StoredTeacherCache } from '../src/store/teacher-caches.ts';
import { memoryPlan, stepsPerEpoch, trainConfigOf, TrainOptionsError, type DeviceLimits } from './train-plan.ts';
import type { MemoryPlanError } from '../src/distill/trainer/memory.ts';

const PREVIEW_PAIRS = 3;
/** Caches kept in memory between plans: chosen, rejected and advantage. */
const KEPT_CACHES = 3;

/** A model loaded in a worker slot. */
export type SlotModelRef = { model: LoadedModel; card: ModelCard };

/** The objective of options stored before distillation existed is SFT. */
export function objectiveOf(o: TrainOptions): Objective {
  return o.loss?.objective ?? 'sft';
}

/** The stages of an objective over `pairs` examples: one, or DCKD then ADPA (ADPA+), each `length` long. */
export function stagesOf(o: TrainOptions, pairs: number): StageInfo[] {
  const objective = objectiveOf(o);
  const steps = trainConfigOf(o, pairs).steps;
  const losses: LossName[] = objective === 'adpa+' ? ['dckd', 'adpa'] : [objective];
  return losses.map((loss, i) => ({ loss, steps, offset: i * steps, advantageCacheId: null }));
}

/** Sequences per pair in a micro-batch: DCKD adds the rejected response, ADPA the student's ŷ. */
export function rowsOf(loss: LossName): number {
  return loss === 'dckd' || loss === 'adpa' ? 2 : 1;
}

export function weightsOf(loss: LossName, o: TrainOptions): LossWeights {
  const w = o.loss.weights;
  if (loss === 'dckd') return { ...w.dckd };
  if (loss === 'adpa') return { ...w.adpa };
  if (loss === 'sft') return { sft: 1 };
  return { ...w.kd };
}

export function lossOptionsOf(o: TrainOptions): LossOptions {
  const l = o.loss;
  return { skewLambda: l.skewLambda, jsdBeta: l.jsdBeta, advantage: l.advantage === 'signed' ? { mode: 'signed', beta: l.advantageBeta } : { mode: 'parity' } };
}

/** An ADPA stage of this objective builds its data here (ADPA+ always: ŷ must come from the DCKD student). */
export function buildsAdpaData(objective: Objective, caches: CacheChoice): boolean {
  return objective === 'adpa+' || (objective === 'adpa' && caches.advantage === null);
}

interface CacheNeed {
  role: CacheRole;
  kind: CacheKind;
  response: CacheResponse;
}

const NEED: Record<CacheRole, CacheNeed> = {
  chosen: { role: 'chosen', kind: 'probs', response: 'chosen' },
  rejected: { role: 'rejected', kind: 'probs', response: 'rejected' },
  advantage: { role: 'advantage', kind: 'advantage', response: 'student' },
};

/** The picked caches an objective reads. */
export function cacheNeeds(objective: Objective, caches: CacheChoice): CacheNeed[] {
  switch (objective) {
    case 'sft':
      return [];
    case 'dckd':
    case 'adpa+':
      return [NEED.chosen, NEED.rejected];
    case 'adpa':
      return caches.advantage === null ? [] : [NEED.advantage];
    default:
      return [NEED.chosen];
  }
}

/** A preference data set rendered with one tokenizer (uncut). */
export interface RenderedSet {
  name: string;
  text: string;
  set: PreferenceSet;
  rendered: TokenizedPair[];
}

/** The pairs training sees: cut (or skipped) at the max length, as at most the model's context. */
export interface FittedPairs {
  source: RenderedSet;
  pairs: TokenizedPair[];
  truncated: number;
  skipped: number;
  maxLength: number;
}

export function fit(source: RenderedSet, o: TrainOptions, context: number): FittedPairs {
  const maxLength = Math.min(o.maxLength, context);
  const report = fitPairs(source.rendered, { maxLength, overLength: o.overLength });
  if (report.pairs.length === 0) {
    throw new DataError(source.name, '', `has no pair whose prompt fits in ${maxLength} tokens (${report.skipped} skipped).`, o.overLength === 'skip' ? 'Raise the max length, or truncate over-long pairs instead of skipping them.' : 'Raise the max length.');
  }
  return { source, pairs: report.pairs, truncated: report.truncated, skipped: report.skipped, maxLength };
}

function expectation(need: CacheNeed, data: FittedPairs, tok: Tokenizer, vocabSize: number): CacheExpectation {
  const { pairs } = data;
  return {
    kind: need.kind,
    response: need.response,
    tokenizerSha256: tok.tokenizerSha256,
    vocabSize,
    tokenizerVocabSize: tok.vocabSize,
    datasetSha256: data.source.set.sha256,
    exampleIds: pairs.map((p) => p.id),
    // ŷ is not in the data: its tokens are the cache's own.
    tokens: need.response === 'student' ? undefined : (e) => responseTokens(need.response === 'chosen' ? pairs[e].chosen : pairs[e].rejected),
  };
}

/** A mismatch message without the "<name>: " prefix (the verdict names the cache). */
function withoutPrefix(message: string, name: string): string {
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}

/**
 * The distillation inputs of the worker's training runs. Rendering thousands of pairs takes seconds
 * and a cache can be tens of MB: the last data set per tokenizer and the last caches read are kept.
 */
export class DistillInputs {
  private readonly rendered = new WeakMap<Tokenizer, RenderedSet & { datasetId: string }>();
  private readonly loaded = new Map<string, { updatedAt: number; cache: TeacherCache }>();

  constructor(private readonly db: () => Promise<LabDb>) {}

  /** A data set of the data-set store, rendered with the tokenizer. */
  async dataset(datasetId: string, tok: Tokenizer): Promise<RenderedSet> {
    const last = this.rendered.get(tok);
    if (last?.datasetId === datasetId) return last;
    const { record, text } = await loadDatasetText(await this.db(), datasetId);
    const out = { datasetId, ...(await this.fromText(record.name, text, tok)) };
    this.rendered.set(tok, out);
    return out;
  }

  /** A run's own copy of its data (after a reload). */
  async fromText(name: string, text: string, tok: Tokenizer): Promise<RenderedSet> {
    const set = await readPreferenceData(text, name);
    return { name, text, set, rendered: renderPairs(set, tok) };
  }

  private async record(id: string): Promise<StoredTeacherCache | undefined> {
    return (await (await this.db()).get('teacherCaches', id)) as StoredTeacherCache | undefined;
  }

  /** A complete stored cache (kept while its record is unchanged; the last few read, as many as one run reads). */
  private async cache(id: string, record: StoredTeacherCache): Promise<TeacherCache> {
    const hit = this.loaded.get(id);
    if (hit && hit.updatedAt === record.updatedAt) return hit.cache;
    const cache = await loadTeacherCache(await this.db(), id);
    this.loaded.delete(id);
    this.loaded.set(id, { updatedAt: record.updatedAt, cache });
    while (this.loaded.size > KEPT_CACHES) this.loaded.delete(this.loaded.keys().next().value!);
    return cache;
  }

  /** Each cache the objective reads, checked against the student and the data (what start() would refuse). */
  async verdicts(objective: Objective, caches: CacheChoice, data: FittedPairs, tok: Tokenizer, vocabSize: number): Promise<CacheVerdict[]> {
    const out: CacheVerdict[] = [];
    for (const need of cacheNeeds(objective, caches)) {
      const id = caches[need.role];
      const verdict = (integrity: CacheVerdict['integrity'], name: string | null, message: string | null) => out.push({ role: need.role, id, name, integrity, message });
      if (id === null) {
        verdict('unpicked', null, `Pick a cache of the ${need.role === 'advantage' ? 'advantage on ŷ' : `teacher on the ${need.role} responses`}.`);
        continue;
      }
      const record = await this.record(id);
      if (!record) {
        verdict('damaged', null, 'The cache is no longer stored.');
        continue;
      }
      if (!record.complete) {
        verdict('incomplete', record.name, `${record.examplesDone} of ${record.meta.exampleIds.length} examples computed: resume its build in the Data & teacher cache panel.`);
        continue;
      }
      let cache: TeacherCache;
      try {
        cache = await this.cache(id, record);
      } catch (err) {
        verdict('damaged', record.name, errorInfo(err).message);
        continue;
      }
      try {
        checkCacheMatches(cache, expectation(need, data, tok, vocabSize), record.name);
        verdict('ok', record.name, null);
      } catch (err) {
        verdict('mismatch', record.name, withoutPrefix(errorInfo(err).message, record.name));
      }
    }
    return out;
  }

  /** A picked cache for training: loaded and checked (a mismatch throws, naming it). */
  async load(role: CacheRole, id: string, data: FittedPairs, tok: Tokenizer, vocabSize: number): Promise<TeacherCache> {
    const record = await this.record(id);
    if (!record) throw new LabError('TeacherCacheStoreError', `The ${role} cache of this run (${id}) is no longer stored.`, 'Build or import it again (Data & teacher cache panel), or start a new run.');
    const cache = await this.cache(id, record);
    checkCacheMatches(cache, expectation(NEED[role], data, tok, vocabSize), record.name);
    return cache;
  }

  /** The batches of one stage (ADPA: with its advantage cache, whose tokens are ŷ). */
  batches(stage: StageInfo, o: TrainOptions, data: FittedPairs, d: DistillData, vocab: number, padId: number): DistillBatches {
    return new DistillBatches(data.pairs, stage.loss, weightsOf(stage.loss, o), d, o.batchSize, vocab, padId, o.seed, lossOptionsOf(o));
  }
}

/** ADPA's data for the loss: the advantage cache and the ŷ sequences rebuilt from it. */
export function adpaData(pairs: readonly TokenizedPair[], advantage: TeacherCache): DistillData {
  return { advantage, student: studentResponsesFromCache(pairs, advantage) };
}

/** A slot's model as a scorer that stays loaded (the slot owns it). */
function scorer(m: SlotModelRef): ScoringModel {
  return { decoder: m.model.decoder, name: m.card.name, release: async () => undefined };
}

export interface BuildAdpaArgs {
  student: LoadedModel;
  teacher: SlotModelRef;
  reference: SlotModelRef;
  data: FittedPairs;
  o: TrainOptions;
  signal: AbortSignal;
  onProgress: (phase: 'responses' | 'teacher' | 'reference', done: number, total: number) => void;
}

/** ŷ by the student as it is now, the teacher's and the reference's caches on it, their advantage. */
export async function buildAdpaData(a: BuildAdpaArgs): Promise<TeacherCache> {
  const tok = a.student.files.tokenizer;
  const prepared = await prepareAdpaData({
    student: a.student.decoder,
    eosTokenIds: a.student.files.stopTokenIds,
    loadTeacher: async () => scorer(a.teacher),
    loadReference: async () => scorer(a.reference),
    pairs: a.data.pairs,
    tokenizerSha256: tok.tokenizerSha256,
    datasetSha256: a.data.source.set.sha256,
    k: a.o.loss.k,
    valueDType: 'F16',
    maxNewTokens: a.o.loss.maxNewTokens,
    signal: a.signal,
    onProgress: a.onProgress,
  });
  return prepared.advantage;
}

/** Store a run's ADPA data (its id is fixed per run and stage: a retry replaces it). */
export async function storeAdpaData(db: LabDb, runId: string, runName: string, stage: number, advantage: TeacherCache): Promise<string> {
  const id = `adv-${runId}-s${stage}`;
  await saveTeacherCache(db, advantage, { id, name: `advantage on ŷ · ${runName}${stage > 0 ? ` · stage ${stage + 1}` : ''}` });
  return id;
}

/** Whether a slot can score the student's ŷ, and why not. */
export function slotUse(slot: 'teacher' | 'reference', m: SlotModelRef | null, student: Pick<ModelCard, 'tokenizerSha256'>): SlotUse {
  if (!m) return { slot, name: null, problem: `No model is loaded as the ${slot === 'teacher' ? 'DPO teacher' : 'reference model'}: load it in the Data & teacher cache panel.` };
  if (m.card.tokenizerSha256 !== student.tokenizerSha256) return { slot, name: m.card.name, problem: `${m.card.name} has another tokenizer than the student; the caches index the student's vocabulary.` };
  return { slot, name: m.card.name, problem: null };
}

/** The slots an ADPA stage needs, refused with what to do when one is missing or unfit. */
export function requireSlots(teacher: SlotModelRef | null, reference: SlotModelRef | null, student: Pick<ModelCard, 'tokenizerSha256'>): { teacher: SlotModelRef; reference: SlotModelRef } {
  for (const use of [slotUse('teacher', teacher, student), slotUse('reference', reference, student)]) {
    if (use.problem) throw new LabError('AdpaDataError', `ADPA builds ŷ and its caches now, and ${use.problem.charAt(0).toLowerCase()}${use.problem.slice(1)}`, 'Load the DPO teacher and the reference model (Data & teacher cache panel), or pick a stored advantage cache.');
  }
  return { teacher: teacher!, reference: reference! };
}

/** Longest sequence of the stages' batches: responses, or the prompt plus ŷ. */
export function seqLenOf(stages: readonly StageInfo[], data: FittedPairs, o: TrainOptions, advantage: TeacherCache | null): number {
  let n = 0;
  for (const p of data.pairs) {
    for (const s of stages) {
      n = Math.max(n, p.chosen.ids.length);
      if (s.loss === 'dckd') n = Math.max(n, p.rejected.ids.length);
    }
  }
  if (stages.some((s) => s.loss === 'adpa')) {
    if (advantage) for (const y of studentResponsesFromCache(data.pairs, advantage).values()) n = Math.max(n, y.ids.length);
    else n = Math.max(n, ...data.pairs.map((p) => p.promptIds.length + o.loss.maxNewTokens));
  }
  return n;
}

export interface DistillPlanArgs {
  inputs: DistillInputs;
  data: FittedPairs;
  caches: CacheChoice;
  o: TrainOptions;
  student: { model: LoadedModel; card: Pick<ModelCard, 'tokenizerSha256'> };
  teacher: SlotModelRef | null;
  reference: SlotModelRef | null;
  limits: DeviceLimits;
}

/** Everything the Train panel shows before a distillation run: data, stages, caches, slots, memory. */
export async function planDistill(a: DistillPlanArgs): Promise<TrainPlan & { error: MemoryPlanError | null }> {
  const { data, o, caches } = a;
  const { model, card } = a.student;
  const tok = model.files.tokenizer;
  const config = model.decoder.config;
  const objective = objectiveOf(o);
  const stages = stagesOf(o, data.pairs.length);
  const verdicts = await a.inputs.verdicts(objective, caches, data, tok, config.vocabSize);
  const builds = buildsAdpaData(objective, caches);
  if (builds) {
    const longest = Math.max(...data.pairs.map((p) => p.promptIds.length));
    if (longest + o.loss.maxNewTokens > config.maxPositionEmbeddings) {
      throw new TrainOptionsError('ŷ length', `a prompt of ${longest} tokens + ${o.loss.maxNewTokens} new tokens exceeds the student's context of ${config.maxPositionEmbeddings}.`);
    }
  }
  const advantage = caches.advantage !== null && verdicts.some((v) => v.role === 'advantage' && v.integrity === 'ok') ? await a.inputs.load('advantage', caches.advantage, data, tok, config.vocabSize) : null;
  const seqLen = seqLenOf(stages, data, o, advantage);
  const rows = Math.max(...stages.map((s) => rowsOf(s.loss)));
  const { memory, refusal, error } = memoryPlan(config, o, seqLen, a.limits, rows);
  const positions = (side: 'chosen' | 'rejected') => data.pairs.reduce((n, p) => n + responseTokens(p[side]).length, 0);
  const distill: DistillPlan = {
    datasetName: data.source.name,
    positions: { chosen: positions('chosen'), rejected: positions('rejected') },
    stages,
    caches: verdicts,
    builds: builds ? [slotUse('teacher', a.teacher, card), slotUse('reference', a.reference, card)] : [],
  };
  const lengths = data.pairs.map((p) => Math.max(p.chosen.ids.length, p.rejected.ids.length));
  const prompt = (p: TokenizedPair) => tok.decode(p.promptIds);
  const after = (e: TokenizedPair['chosen'], p: TokenizedPair) => tok.decode(e.ids.slice(p.promptIds.length));
  return {
    data: {
      file: data.source.name,
      bytes: new TextEncoder().encode(data.source.text).byteLength,
      examples: data.pairs.length,
      truncated: data.truncated,
      skipped: data.skipped,
      empty: 0,
      maxTokens: Math.max(...lengths),
      meanTokens: lengths.reduce((x, y) => x + y, 0) / lengths.length,
      responseTokens: distill.positions.chosen,
      preview: data.pairs.slice(0, PREVIEW_PAIRS).map((p) => ({
        where: p.chosen.where,
        prompt: prompt(p),
        response: after(p.chosen, p),
        rejected: after(p.rejected, p),
        tokens: p.chosen.ids.length,
        responseTokens: responseTokens(p.chosen).length,
      })),
    },
    memory,
    refusal,
    error,
    steps: stages.reduce((n, s) => n + s.steps, 0),
    stepsPerEpoch: stepsPerEpoch(data.pairs.length, o),
    seqLen,
    distill,
  };
}
