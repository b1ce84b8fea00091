import { describe, expect, it } from 'vitest';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { planModelExport, type ModelExport } from '../../../src/formats/export.ts';
import { loadModelFiles, type ModelFiles } from '../../../src/formats/model-files.ts';
import { parseModelConfig } from '../../../src/formats/config.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { fixtureBytes, fixturePath, MODELS } from './fixtures.ts';

/** The weights file written the streamed way: header, then each tensor in plan order. */
async function writeWeights(ex: ModelExport, model: ModelFiles, edit = (_name: string, v: Float32Array) => v): Promise<Uint8Array> {
  const parts = [ex.plan.header];
  for (const t of ex.plan.order) parts.push(ex.encode(t.name, edit(t.name, tensorToFloat32(await model.weights.read(t.name)).slice())));
  const out = new Uint8Array(ex.plan.totalBytes);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  expect(o).toBe(ex.plan.totalBytes);
  return out;
}

describe('Hugging Face folder export', () => {
  it('an unchanged model exports to the very bytes it was loaded from (names, order, dtype), with its small files', async () => {
    for (const m of MODELS) {
      const model = await loadModelFiles(new NodeFolderSource(fixturePath(m)));
      const ex = planModelExport(model);
      expect(Buffer.compare(await writeWeights(ex, model), fixtureBytes(m, 'model.safetensors')), m).toBe(0);
      expect(ex.files.map((f) => f.path).sort()).toEqual(['config.json', 'generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
      for (const f of ex.files) expect(Buffer.compare(f.bytes, fixtureBytes(m, f.path)), `${m} ${f.path}`).toBe(0);
    }
  });

  it('a forced dtype converts the tensors and says so in config.json; changed values are written', async () => {
    const model = await loadModelFiles(new NodeFolderSource(fixturePath('llama-bf16')));
    const ex = planModelExport(model, { dtype: 'F32' });
    const bytes = await writeWeights(ex, model, (name, v) => (name === 'model.norm.weight' ? v.map((x) => x - 1) : v));
    const st = parseSafetensors(bytes, 'exported');
    const original = parseSafetensors(fixtureBytes('llama-bf16', 'model.safetensors'), 'original');
    for (const e of st.header.entries) {
      expect(e.dtype).toBe('F32');
      const want = tensorToFloat32(original.get(e.name)).map((x) => (e.name === 'model.norm.weight' ? x - 1 : x));
      expect(tensorToFloat32(st.get(e.name)), e.name).toEqual(want);
    }
    const config = JSON.parse(new TextDecoder().decode(ex.files.find((f) => f.path === 'config.json')!.bytes));
    expect(config.torch_dtype).toBe('float32');
    expect(parseModelConfig(config).dtype).toBe('float32');
    expect(() => ex.encode('model.norm.weight', new Float32Array(3))).toThrow(/tensor "model\.norm\.weight" \[64\] needs 64 values, got 3/);
  });
});
