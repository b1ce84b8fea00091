// Export of a (trained) model as a Hugging Face folder: config.json, generation_config.json and the
// tokenizer files as they were loaded, and one model.safetensors with the original tensor names, in
// the original order and, unless told otherwise, each tensor's original dtype. The header is known
// from shapes alone, so a large model is written tensor by tensor:
//
//   const ex = planModelExport(model);                 // model: the ModelFiles it was loaded from
//   write('config.json', ...ex.files)                  // small files, bytes
//   write(ex.weightsFile, ex.plan.header)
//   for (const t of ex.plan.order) write(ex.weightsFile, ex.encode(t.name, await readF32(t.name)))
//
// A PEFT adapter is exported with writePeftAdapter (./peft.ts).
import { expectedTensors } from './config.ts';
import { encodeFloat32 } from './dtypes.ts';
import type { ModelFiles } from './model-files.ts';
import { planSafetensors, type SafetensorsPlan } from './safetensors-writer.ts';
import { SINGLE_WEIGHTS_FILE } from './shard-index.ts';

export type ExportDType = 'F32' | 'F16' | 'BF16';

export interface ModelExport {
  /** Small files, copied (config.json's dtype changed when the export dtype is forced). */
  files: { path: string; bytes: Uint8Array }[];
  weightsFile: string;
  plan: SafetensorsPlan;
  /** One tensor's bytes in its export dtype; refuses a value count that does not fit its shape. */
  encode(name: string, values: Float32Array): Uint8Array;
}

const TORCH_NAME: Record<ExportDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const FROM_CONFIG: Record<string, ExportDType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

export function planModelExport(model: Pick<ModelFiles, 'config' | 'weights' | 'rawFiles'>, options: { dtype?: ExportDType } = {}): ModelExport {
  const expected = expectedTensors(model.config);
  // The loaded order first (so an unchanged model is written byte for byte as it came), then any
  // expected tensor the checkpoint did not list.
  const names = [...[...model.weights.tensors.keys()].filter((n) => expected.has(n)), ...[...expected.keys()].filter((n) => !model.weights.tensors.has(n))];
  const dtypeOf = (name: string): ExportDType => {
    if (options.dtype) return options.dtype;
    const original = model.weights.tensors.get(name)?.dtype;
    return original === 'F32' || original === 'F16' || original === 'BF16' ? original : FROM_CONFIG[model.config.dtype];
  };
  const plan = planSafetensors(
    names.map((name) => ({ name, dtype: dtypeOf(name), shape: expected.get(name)! })),
    { format: 'pt' },
  );
  const specs = new Map(plan.order.map((t) => [t.name, t]));

  const files: { path: string; bytes: Uint8Array }[] = [];
  for (const [path, bytes] of model.rawFiles) {
    if (path === 'config.json' && options.dtype) {
      const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
      json['dtype' in json ? 'dtype' : 'torch_dtype'] = TORCH_NAME[options.dtype];
      files.push({ path, bytes: new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`) });
    } else files.push({ path, bytes });
  }

  return {
    files,
    weightsFile: SINGLE_WEIGHTS_FILE,
    plan,
    encode(name, values) {
      const spec = specs.get(name);
      if (!spec) throw new RangeError(`export: "${name}" is not a tensor of this model.`);
      const n = spec.shape.reduce((a, b) => a * b, 1);
      if (values.length !== n) throw new RangeError(`export: tensor "${name}" [${spec.shape.join(', ')}] needs ${n} values, got ${values.length}.`);
      return encodeFloat32(values, spec.dtype as ExportDType);
    },
  };
}
