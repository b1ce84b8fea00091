// `student-lab train` end to end on the llama fixture: metrics lines, the exported model after one
// SGD step with lr 1 equals weights minus the reference gradients, LoRA exports a PEFT adapter that
// loads back, resume continues from the checkpoint, and bad data names its line.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { readPeftAdapter } from '../../../src/formats/peft.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { relativeL2 } from '../../helpers/close.ts';
import { fixture } from '../../helpers/fixtures.ts';

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), write: (t) => out.push(t) });
  return { code, out, err };
}

async function lossData(dir: string): Promise<string> {
  const f = fixture('llama');
  const file = join(dir, 'data.jsonl');
  await writeFile(file, JSON.stringify({ input_ids: Array.from(f.i32('loss.input_ids')), labels: Array.from(f.i32('loss.labels')) }) + '\n');
  return file;
}

describe('student-lab train', () => {
  it('one SGD step with lr 1 exports weights minus gradients, with a metrics line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'train-'));
    const f = fixture('llama');
    const r = await cli(['train', '--model', f.dir, '--data', await lossData(dir), '--optimizer', 'sgd', '--lr', '1', '--steps', '1', '--max-grad-norm', '0', '--out', join(dir, 'out')]);
    expect(r.code, r.err.join('\n')).toBe(0);
    const line = JSON.parse(r.out[0]);
    expect(line.step).toBe(1);
    expect(Math.abs(line.loss - f.f32('loss')[0])).toBeLessThan(1e-5);
    const exported = parseSafetensors(await readFile(join(dir, 'out/model.safetensors')), 'model.safetensors');
    for (const e of f.weights.header.entries) {
      const w1 = tensorToFloat32(exported.get(e.name));
      const w0 = f.weight(e.name);
      const g = f.f32(`grad.${e.name}`);
      expect(relativeL2(w1.map((x, i) => x - w0[i]), g.map((x) => -x)), e.name).toBeLessThan(1e-4);
    }
    expect(JSON.parse(await readFile(join(dir, 'out/config.json'), 'utf8')).architectures).toEqual(['LlamaForCausalLM']);
    await readFile(join(dir, 'out/tokenizer.json'));
  });

  it('LoRA training exports a PEFT adapter that loads back, and --resume continues', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'train-'));
    const f = fixture('llama');
    const data = await lossData(dir);
    const out = join(dir, 'out');
    const args = ['train', '--model', f.dir, '--data', data, '--lr', '1e-2', '--lora', 'r=2,alpha=4,dropout=0.1,targets=q_proj,v_proj,down_proj', '--checkpoint-every', '1', '--out', out];
    const first = await cli([...args, '--steps', '2']);
    expect(first.code, first.err.join('\n')).toBe(0);
    expect(first.out.length).toBe(2);
    const adapter = readPeftAdapter(JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')), await readFile(join(out, 'adapter_model.safetensors')));
    expect(adapter.config.r).toBe(2);
    expect(adapter.config.targetModules.sort()).toEqual(['down_proj', 'q_proj', 'v_proj']);
    expect(adapter.modules.length).toBe(2 * 3);
    expect(adapter.modules.some((m) => m.b.some((x) => x !== 0))).toBe(true);
    const resumed = await cli([...args, '--steps', '4', '--resume']);
    expect(resumed.code, resumed.err.join('\n')).toBe(0);
    expect(resumed.out.map((l) => JSON.parse(l).step)).toEqual([3, 4]);
  });

  it('malformed data names the file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'train-'));
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, '{"prompt": "hi", "response": "hello"}\n{"prompt": "oops"\n');
    const r = await cli(['train', '--model', fixture('llama').dir, '--data', file, '--out', join(dir, 'o')]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/bad\.jsonl line 2: is not valid JSON/);
  });
});
