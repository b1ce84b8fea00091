// A learning check that fails when any part of training is broken: the fixture llama (124k
// parameters) memorises six sentences; the loss must fall to a small fraction of where it started.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SftBatches } from '../../../src/distill/trainer/batches.ts';
import { Trainer } from '../../../src/distill/trainer/trainer.ts';
import { loadTokenizer } from '../../../src/formats/tokenizer.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';
import { loadFixtureDecoder } from '../models/load-fixture.ts';

describe('training drives the loss down', () => {
  it('overfits six sentences in 150 AdamW steps', async () => {
    const gpu = await testGpu();
    const dir = join(FIXTURES_DIR, 'tokenizer');
    const tok = await loadTokenizer({ tokenizerJson: readFileSync(join(dir, 'tokenizer.json')), tokenizerConfig: readFileSync(join(dir, 'tokenizer_config.json')) });
    const lines = readFileSync(join(dir, 'corpus.txt'), 'utf8').split('\n').filter(Boolean).slice(0, 6);
    const examples = lines.map((text, i) => {
      const ids = tok.encode(text);
      return { ids, labels: ids.slice(), where: `line ${i + 1}` };
    });
    const decoder = loadFixtureDecoder(gpu, 'llama');
    const trainer = new Trainer(gpu, decoder, new SftBatches(examples, 3, 512, 0, 11), {
      mode: 'full',
      optimizer: { kind: 'adamw', weightDecay: 0 },
      lr: 1e-2,
      schedule: 'constant',
      warmup: 5,
      steps: 150,
      gradAccum: 1,
      maxGradNorm: 1,
      seed: 11,
    });
    const losses: number[] = [];
    while (!trainer.done) losses.push((await trainer.trainStep()).loss);
    const start = (losses[0] + losses[1]) / 2;
    const end = (losses.at(-1)! + losses.at(-2)!) / 2;
    // Memorising six short sentences: from ~6.5 nats (random init over 512 tokens) to well under 1.
    expect(end, `loss ${start.toFixed(3)} -> ${end.toFixed(3)}`).toBeLessThan(Math.min(1, start * 0.15));
    trainer.release();
  });
});
