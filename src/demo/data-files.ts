// Every committed file of the demo data and tokenizer, as text, from the corpus and the BPE trainer.
// Pure (no file system): build-data.ts writes the files (`npm run demo:data`, ~10–20 s here), the
// tests compare them with the committed ones byte for byte.
//
// As committed (manifest.json has the live numbers): 1800 training pairs, 252 held-out pairs (84
// held-out environments × 3 messages), 1920 SFT examples (1440 scenario messages, about half in each
// style, + 480 general chat); with the demo tokenizer an example (prompt + response + <|im_end|>\n)
// has on average ~145 tokens with the chosen and ~163 with the rejected response (max 233), SFT ~133
// (max 242), all within the 256-token context (checked at build). Sizes: pairs.train 1.67 MB,
// pairs.heldout 0.24 MB, sft.train 1.29 MB, scenarios + dialogues 0.12 MB, tokenizer.json 0.12 MB;
// 3.45 MB in all.
//
//   public/demo/data/pairs.train.jsonl       preference pairs {id, prompt, chosen, rejected, meta}
//   public/demo/data/pairs.heldout.jsonl     held-out pairs (slot combinations never seen in training)
//   public/demo/data/sft.train.jsonl         SFT examples {id, prompt, response, meta}, both styles
//   public/demo/data/scenarios.heldout.json  held-out environments (official item schema + domain)
//   public/demo/data/dialogues.heldout.jsonl the good dialogues of those environments (user replies included)
//   public/demo/data/manifest.json           counts, token statistics, sizes and SHA-256 of the files
//   public/demo/tokenizer/{tokenizer.json, tokenizer_config.json, special_tokens_map.json}
import type { ChatMessage } from '../formats/tokenizer.ts';
import { loadTokenizer, sha256Hex, type Tokenizer } from '../formats/tokenizer.ts';
import { specialTokensMapJson, tokenizerConfigJson, tokenizerJson, trainBpe, type ChatSpecials } from './bpe.ts';
import { buildDemoCorpus, DEMO_GUIDANCE_MODEL, DEMO_SEED, DEMO_START_CUE, scenarioFileItems, type DemoCorpus } from './corpus.ts';

export const DEMO_SPECIALS: ChatSpecials = { endOfText: '<|endoftext|>', imStart: '<|im_start|>', imEnd: '<|im_end|>' };
export const DEMO_VOCAB_SIZE = 2048;
/** The demo models' context length (tokenizer_config model_max_length); every example must fit. */
export const DEMO_CONTEXT = 256;

/** ChatML text of a conversation, as the demo chat template renders it (no generation prompt). */
export function renderChatml(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${DEMO_SPECIALS.imStart}${m.role}\n${m.content}${DEMO_SPECIALS.imEnd}\n`).join('');
}

/** The texts the tokenizer learns from: the training splits as the models will see them (held-out excluded). */
export function tokenizerTrainingTexts(corpus: DemoCorpus): string[] {
  const texts: string[] = [];
  for (const p of corpus.trainPairs) {
    texts.push(renderChatml([...p.prompt, { role: 'assistant', content: p.chosen }]));
    texts.push(renderChatml([...p.prompt, { role: 'assistant', content: p.rejected }]));
  }
  for (const s of corpus.sft) texts.push(renderChatml([...s.prompt, { role: 'assistant', content: s.response }]));
  return texts;
}

export function trainDemoTokenizer(corpus: DemoCorpus): Record<'tokenizer.json' | 'tokenizer_config.json' | 'special_tokens_map.json', string> {
  const specials = [DEMO_SPECIALS.endOfText, DEMO_SPECIALS.imStart, DEMO_SPECIALS.imEnd];
  const bpe = trainBpe(tokenizerTrainingTexts(corpus), { vocabSize: DEMO_VOCAB_SIZE, specialTokens: specials });
  return {
    'tokenizer.json': tokenizerJson(bpe),
    'tokenizer_config.json': tokenizerConfigJson(bpe, DEMO_SPECIALS, DEMO_CONTEXT),
    'special_tokens_map.json': specialTokensMapJson(DEMO_SPECIALS),
  };
}

const jsonl = (records: readonly unknown[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

export interface TokenStats {
  mean: number;
  max: number;
}

function stats(values: readonly number[]): TokenStats {
  return { mean: Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10, max: Math.max(...values) };
}

/** Token lengths of prompt (with the generation prompt), response (with <|im_end|>\n) and the whole example. */
export function exampleLengths(tok: Tokenizer, prompt: readonly ChatMessage[], response: string): { prompt: number; response: number; total: number } {
  const head = tok.applyChatTemplate(prompt, { addGenerationPrompt: true }).ids.length;
  const total = tok.applyChatTemplate([...prompt, { role: 'assistant', content: response }]).ids.length;
  return { prompt: head, response: total - head, total };
}

export async function demoDataFiles(seed = DEMO_SEED): Promise<Map<string, string>> {
  const corpus = buildDemoCorpus(seed);
  const tokenizerFiles = trainDemoTokenizer(corpus);
  const tok = await loadTokenizer({
    tokenizerJson: tokenizerFiles['tokenizer.json'],
    tokenizerConfig: tokenizerFiles['tokenizer_config.json'],
    specialTokensMap: tokenizerFiles['special_tokens_map.json'],
  });

  const dialogues = corpus.scenarios.heldout.map((s) => ({ id: s.id, domain: s.domain, item: s.item, turns: s.turns }));
  const data: { name: string; records: number; text: string }[] = [
    { name: 'pairs.train.jsonl', records: corpus.trainPairs.length, text: jsonl(corpus.trainPairs) },
    { name: 'pairs.heldout.jsonl', records: corpus.heldoutPairs.length, text: jsonl(corpus.heldoutPairs) },
    { name: 'sft.train.jsonl', records: corpus.sft.length, text: jsonl(corpus.sft) },
    { name: 'scenarios.heldout.json', records: dialogues.length, text: `${JSON.stringify(scenarioFileItems(corpus.scenarios.heldout), null, 2)}\n` },
    { name: 'dialogues.heldout.jsonl', records: dialogues.length, text: jsonl(dialogues) },
  ];

  // Token lengths of every example, checked against the context and summarised in the manifest.
  type Lengths = ReturnType<typeof exampleLengths>;
  const pairLengths = (pairs: DemoCorpus['trainPairs']) =>
    pairs.map((p) => ({ id: p.id, chosen: exampleLengths(tok, p.prompt, p.chosen), rejected: exampleLengths(tok, p.prompt, p.rejected) }));
  const train = pairLengths(corpus.trainPairs);
  const heldout = pairLengths(corpus.heldoutPairs);
  const sft = corpus.sft.map((s) => ({ id: s.id, response: exampleLengths(tok, s.prompt, s.response) }));
  const tooLong = [
    ...[...train, ...heldout].filter((e) => Math.max(e.chosen.total, e.rejected.total) > DEMO_CONTEXT),
    ...sft.filter((e) => e.response.total > DEMO_CONTEXT),
  ].map((e) => e.id);
  if (tooLong.length > 0) {
    throw new Error(`${tooLong.length} demo examples exceed the ${DEMO_CONTEXT}-token context (${tooLong.slice(0, 3).join(', ')}…): shorten the templates or lower PIECE_BUDGET in corpus.ts.`);
  }
  const summary = (ls: readonly Lengths[]) => ({ prompt: stats(ls.map((l) => l.prompt)), response: stats(ls.map((l) => l.response)), total: stats(ls.map((l) => l.total)) });
  const pairSummary = (ls: typeof train) => ({ chosen: summary(ls.map((l) => l.chosen)), rejected: summary(ls.map((l) => l.rejected)) });

  const files: Record<string, { records?: number; bytes: number; sha256: string }> = {};
  const describe = async (path: string, text: string, count?: number) => {
    const bytes = new TextEncoder().encode(text);
    files[path] = { ...(count === undefined ? {} : { records: count }), bytes: bytes.length, sha256: await sha256Hex(bytes) };
  };
  for (const { name, text, records } of data) await describe(`data/${name}`, text, records);
  for (const [name, text] of Object.entries(tokenizerFiles)) await describe(`tokenizer/${name}`, text);

  const manifest = {
    format: 'student-lab/demo-data',
    version: 1,
    regenerate: 'npm run demo:data',
    seed,
    prompts: { 'guidance.model': DEMO_GUIDANCE_MODEL, 'guidance.start': DEMO_START_CUE },
    tokenizer: { vocab_size: tok.vocabSize, context: DEMO_CONTEXT, sha256: tok.tokenizerSha256 },
    tokens: {
      'pairs.train.jsonl': pairSummary(train),
      'pairs.heldout.jsonl': pairSummary(heldout),
      'sft.train.jsonl': summary(sft.map((l) => l.response)),
    },
    files,
  };

  const out = new Map<string, string>();
  for (const { name, text } of data) out.set(`data/${name}`, text);
  out.set('data/manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [name, text] of Object.entries(tokenizerFiles)) out.set(`tokenizer/${name}`, text);
  return out;
}
