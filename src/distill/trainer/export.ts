// Export of a trained student: a Hugging Face folder (the files it was loaded from, with the
// trained weights in model.safetensors under the original names and dtypes; LoRA merged first), or
// a PEFT adapter. Files go to a writer callback one piece at a time, so the page can stream them
// into a download and the CLI into files, without one big copy of the model.
import { planModelExport, type ExportDType } from '../../formats/export.ts';
import type { ModelFiles } from '../../formats/model-files.ts';
import { moduleBaseName, writePeftAdapter, type LoraAdapter, type LoraModule, type LoraTarget } from '../../formats/peft.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import { loraScale, mergeLora, type LoraConfig } from '../../engine/models/lora.ts';
import { PROJECTIONS } from '../../engine/models/weights.ts';
import { weightsByName } from './trainer.ts';

/** Receives file pieces in order; `last` marks the final piece of a file. */
export type FileWriter = (path: string, bytes: Uint8Array, last: boolean) => Promise<void>;

/**
 * Write the model as a Hugging Face folder. With adapters attached they are merged into the base
 * weights first (the decoder then holds the merged model and no adapters).
 */
export async function exportModelFolder(decoder: Decoder, files: Pick<ModelFiles, 'config' | 'weights' | 'rawFiles'>, write: FileWriter, options: { dtype?: ExportDType } = {}): Promise<void> {
  const { gpu } = decoder;
  mergeLora(gpu, decoder.weights);
  const ex = planModelExport(files, options);
  for (const f of ex.files) await write(f.path, f.bytes, true);
  const byName = weightsByName(decoder);
  await write(ex.weightsFile, ex.plan.header, ex.plan.order.length === 0);
  for (let i = 0; i < ex.plan.order.length; i++) {
    const { name } = ex.plan.order[i];
    const tensor = byName.get(name === 'lm_head.weight' && decoder.weights.tied ? 'model.embed_tokens.weight' : name);
    if (!tensor) throw new RangeError(`export: the model has no tensor "${name}".`);
    await write(ex.weightsFile, ex.encode(name, await gpu.readF32(tensor)), i === ex.plan.order.length - 1);
  }
}

/** The attached adapters as a PEFT LoraAdapter (host copies). */
export async function adapterOf(decoder: Decoder, config: LoraConfig, baseModelNameOrPath: string | null): Promise<LoraAdapter> {
  const modules: LoraModule[] = [];
  for (let layer = 0; layer < decoder.weights.layers.length; layer++) {
    for (const target of PROJECTIONS) {
      const lin = decoder.weights.layers[layer].proj[target];
      if (!lin.lora) continue;
      const [outFeatures, inFeatures] = lin.weight.shape;
      modules.push({
        layer,
        target: target as LoraTarget,
        baseName: moduleBaseName(layer, target as LoraTarget),
        inFeatures,
        outFeatures,
        a: await decoder.gpu.readF32(lin.lora.a),
        b: await decoder.gpu.readF32(lin.lora.b),
      });
    }
  }
  return {
    config: {
      r: config.rank,
      loraAlpha: config.alpha,
      loraDropout: config.dropout,
      targetModules: [...config.targets] as LoraTarget[],
      useRslora: Boolean(config.useRslora),
      scaling: loraScale(config),
      baseModelNameOrPath,
      raw: {},
    },
    modules,
  };
}

export async function exportAdapter(decoder: Decoder, config: LoraConfig, write: FileWriter, baseModelNameOrPath: string | null = null): Promise<void> {
  const written = writePeftAdapter(await adapterOf(decoder, config, baseModelNameOrPath));
  await write('adapter_config.json', new TextEncoder().encode(written.adapterConfig), true);
  await write('adapter_model.safetensors', written.adapterModel, true);
}

/** A PEFT adapter's values keyed by linear name, plus its LoRA config, for attachLora. */
export function initialFromAdapter(adapter: LoraAdapter): { config: LoraConfig; initial: Map<string, { a: Float32Array; b: Float32Array }> } {
  const c = adapter.config;
  return {
    config: { rank: c.r, alpha: c.loraAlpha, dropout: c.loraDropout, targets: c.targetModules, useRslora: c.useRslora },
    initial: new Map(adapter.modules.map((m) => [m.baseName, { a: m.a, b: m.b }])),
  };
}
