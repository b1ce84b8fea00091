// `npm run demo:measure`: what the one-click demo does to the demo student, measured on held-out data.
// For the teacher, its SFT checkpoint, the student before distillation and the student after the
// one-click DCKD run (settings: DEMO_DISTILL in src/demo/models/configs.ts; override with --steps,
// --batch, --lr, --weights for tuning), it reports (src/demo/models/evaluate.ts):
//   - the mean per-token log-probability margin between the chosen and the rejected responses of
//     every held-out pair (and how often the chosen one is the more likely);
//   - the rule-check pass rates of greedy replies to the held-out opening prompts (message 1 of
//     each held-out scenario), and of replies sampled at temperature 1 to every held-out prompt;
// and the demo's training time here. With --adpa it then runs ADPA+'s second stage (ADPA from the
// DCKD student, DEMO_ADPA) and measures that student too. Prints a table; writes
// public/demo/measurements.json (unless --no-write).
import { register } from 'node:module';
import { parseArgs } from 'node:util';

// The engine imports its WGSL as Vite `?raw` modules: the CLI's loader serves them in Node.
register('../../bin/raw-loader.mjs', import.meta.url);
const { createNodeGpu } = await import('../engine/node-gpu.ts');
const { DEMO_ADPA, DEMO_DISTILL, DEMO_TOKEN_IDS, MEASURE_MAX_NEW_TOKENS, MEASURE_SAMPLING_SEED } = await import('./models/configs.ts');
const { loadTrainingData, releaseDecoder } = await import('./models/build.ts');
const { adpaDemoStudent, distillDemoStudent } = await import('./models/distill.ts');
const { pairIdsAtStep, scoreModel } = await import('./models/evaluate.ts');
const { demoText, loadDemoDistillData, loadDemoModel, MEASUREMENTS_FILE, modelDir, writeAtomically } = await import('./models/files.node.ts');
const { formatDuration } = await import('./models/stage.ts');
type ModelScores = Awaited<ReturnType<typeof scoreModel>>;

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    weights: { type: 'string' },
    adpa: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const settings = {
  ...DEMO_DISTILL,
  ...(values.steps ? { steps: Number(values.steps) } : {}),
  ...(values.batch ? { batchSize: Number(values.batch) } : {}),
  ...(values.lr ? { lr: Number(values.lr) } : {}),
  ...(values.weights ? { weights: values.weights } : {}),
};

const started = performance.now();
const stamp = () => new Date().toISOString().slice(11, 19);
const log = (line: string) => console.log(`${stamp()} ${line}`);
const gpu = await createNodeGpu();
try {
  const data = await loadTrainingData();
  const openers = pairIdsAtStep(demoText('data/pairs.heldout.jsonl'), 'pairs.heldout.jsonl', 1);
  const held = { marginPairs: data.heldoutPairs, greedyPrompts: data.heldoutPairs.filter((p) => openers.has(p.id)), sampledPrompts: data.heldoutPairs };
  const generation = { maxNewTokens: MEASURE_MAX_NEW_TOKENS, eosTokenIds: [DEMO_TOKEN_IDS.eos], sample: { seed: MEASURE_SAMPLING_SEED } };
  log(
    `held-out: ${held.marginPairs.length} pairs for the margin, ${held.greedyPrompts.length} opening prompts for greedy replies, ` +
      `${held.sampledPrompts.length} prompts for sampled replies (≤ ${generation.maxNewTokens} tokens)`,
  );

  const results: Record<string, ModelScores> = {};
  const score = async (name: string, decoder: Parameters<typeof scoreModel>[0]) => {
    const t0 = performance.now();
    results[name] = await scoreModel(decoder, data.tok, held, generation);
    const r = results[name];
    log(`${name}: margin ${r.margin.margin.toFixed(3)}, rules greedy ${(r.greedy.rules.all * 100).toFixed(1)} %, sampled ${(r.sampled.rules.all * 100).toFixed(1)} % (${formatDuration((performance.now() - t0) / 1000)})`);
  };
  for (const name of ['teacher', 'teacher-sft'] as const) {
    const m = await loadDemoModel(gpu, modelDir(name));
    try {
      await score(name, m.decoder);
    } finally {
      releaseDecoder(m.decoder);
    }
  }

  let dckd: Awaited<ReturnType<typeof distillDemoStudent>> | undefined;
  let adpa: Awaited<ReturnType<typeof adpaDemoStudent>> | undefined;
  const student = await loadDemoModel(gpu, modelDir('student'));
  try {
    await score('student (before)', student.decoder);
    const distill = await loadDemoDistillData(data.tok, student.decoder.config.vocabSize);
    log(`DCKD: ${settings.steps} steps × ${settings.batchSize} pairs of the ${distill.pairs.length}-pair demo subset, lr ${settings.lr} (${settings.schedule}, warm-up ${settings.warmup}), weights ${settings.weights ?? 'DCKD defaults'}`);
    const outcome = await distillDemoStudent(student.decoder, distill, settings, (m) => {
      if (m.step % 5 === 0 || m.step === settings.steps) log(`  step ${m.step}/${settings.steps} loss ${m.loss.toFixed(3)} ${JSON.stringify(Object.fromEntries(Object.entries(m.terms).map(([k, v]) => [k, +v.toFixed(3)])))} ${(m.ms / 1000).toFixed(1)} s`);
    });
    log(`DCKD took ${formatDuration(outcome.seconds)} here`);
    dckd = outcome;
    await score('student (after DCKD)', student.decoder);
    if (values.adpa) {
      const teacher = await loadDemoModel(gpu, modelDir('teacher'));
      const reference = await loadDemoModel(gpu, modelDir('teacher-sft'));
      try {
        log(`ADPA (ADPA+ stage 2): ${DEMO_ADPA.steps} steps × ${DEMO_ADPA.batchSize} pairs, lr ${DEMO_ADPA.lr}; ŷ and the caches on ŷ first`);
        adpa = await adpaDemoStudent(student.decoder, { teacher: teacher.decoder, reference: reference.decoder }, { tok: data.tok, datasetSha256: distill.set.sha256, pairs: distill.pairs }, DEMO_ADPA, (m) => {
          if (m.step % 5 === 0 || m.step === DEMO_ADPA.steps) log(`  step ${m.step}/${DEMO_ADPA.steps} loss ${m.loss.toFixed(3)} ${JSON.stringify(Object.fromEntries(Object.entries(m.terms).map(([k, v]) => [k, +v.toFixed(3)])))} ${(m.ms / 1000).toFixed(1)} s`);
        });
        log(`ADPA took ${formatDuration(adpa.prepareSeconds)} to prepare (ŷ for ${adpa.pairs} pairs, 2 caches) and ${formatDuration(adpa.seconds)} to train`);
      } finally {
        releaseDecoder(teacher.decoder);
        releaseDecoder(reference.decoder);
      }
      await score('student (after ADPA+)', student.decoder);
    }
  } finally {
    releaseDecoder(student.decoder);
  }

  const pct = (x: number) => `${(x * 100).toFixed(1)} %`.padStart(8);
  const num = (x: number) => x.toFixed(3).padStart(7);
  const rules = (r: ModelScores['greedy']) => `${pct(r.rules.all)} ${pct(r.rules.engagement)} ${pct(r.rules.naturalness)} ${pct(r.rules.tone)} ${pct(r.finished)}`;
  const ruleHead = ['all', 'engag.', 'natur.', 'tone', 'ended'].map((h) => h.padStart(8)).join(' ');
  console.log('');
  console.log(`${''.padEnd(22)} ${'held-out margin (nats/token)'.padEnd(31)} | ${'greedy, opening prompts'.padEnd(44)} | sampled (T=1), all prompts`);
  console.log(`${'model'.padEnd(22)} ${'margin'.padStart(7)} ${'acc.'.padStart(8)} ${'chosen'.padStart(7)} ${'rejec.'.padStart(7)} | ${ruleHead} | ${ruleHead}`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(22)} ${num(r.margin.margin)} ${pct(r.margin.accuracy)} ${num(r.margin.chosen)} ${num(r.margin.rejected)} | ${rules(r.greedy)} | ${rules(r.sampled)}`);
  }
  console.log('');
  const summary = (r: ModelScores['greedy']) => ({ rules: r.rules, finished: r.finished, examples: r.replies.slice(0, 6).map((x) => x.text) });
  const out = {
    format: 'student-lab/demo-measurements',
    version: 1,
    regenerate: 'npm run demo:measure',
    heldout: { marginPairs: held.marginPairs.length, greedyPrompts: held.greedyPrompts.length, sampledPrompts: held.sampledPrompts.length, maxNewTokens: generation.maxNewTokens, samplingSeed: generation.sample.seed },
    distillation: { settings, outcome: dckd },
    ...(adpa ? { adpa: { settings: DEMO_ADPA, outcome: adpa } } : {}),
    models: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, { margin: r.margin, greedy: summary(r.greedy), sampled: summary(r.sampled) }])),
    seconds: (performance.now() - started) / 1000,
  };
  if (!values['no-write']) writeAtomically(MEASUREMENTS_FILE, `${JSON.stringify(out, null, 2)}\n`);
  log(`measured in ${formatDuration(out.seconds)}${values['no-write'] ? '' : `; wrote ${MEASUREMENTS_FILE}`}`);
} finally {
  await gpu.destroy();
}
