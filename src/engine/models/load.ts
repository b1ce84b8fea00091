// From validated model files (src/formats/model-files.ts) to a Decoder on the GPU. Sizes are checked
// against the device before anything is allocated; tensors stream in one at a time (converted to
// f32 on the host); on any failure everything uploaded so far is freed, so a previously loaded model
// stays as it was.
import type { ModelFiles } from '../../formats/model-files.ts';
import { isIgnoredTensor, parameterCount } from '../../formats/config.ts';
import { tensorToFloat32 } from '../../formats/dtypes.ts';
import { AllocationError } from '../errors.ts';
import { formatBytes } from '../allocator.ts';
import type { Gpu } from '../gpu.ts';
import { Decoder } from './decoder.ts';
import { WeightUploader } from './weights.ts';

export interface LoadProgressEvent {
  tensors: number;
  totalTensors: number;
  name: string;
}

export interface LoadedModel {
  decoder: Decoder;
  files: ModelFiles;
  parameters: number;
  /** Bytes of weights on the GPU (f32). */
  weightBytes: number;
}

/**
 * Refuse a model this device cannot hold, before allocating: the vocabulary tables (embedding, LM
 * head) may span several storage bindings but must fit one buffer; every other tensor must fit one
 * storage binding.
 */
export function checkFitsDevice(gpu: Gpu, files: ModelFiles): number {
  const bindingLimit = gpu.limits.maxStorageBufferBindingSize;
  const bufferLimit = gpu.limits.maxBufferSize;
  const tiedHead = (name: string) => name === 'lm_head.weight' && files.config.tieWordEmbeddings;
  let total = 0;
  for (const t of files.weights.tensors.values()) {
    if (isIgnoredTensor(t.name) || tiedHead(t.name)) continue; // neither is uploaded
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    total += bytes;
    const vocabTable = t.name === 'model.embed_tokens.weight' || t.name === 'lm_head.weight';
    const limit = vocabTable ? bufferLimit : bindingLimit;
    if (bytes > limit) {
      throw new AllocationError(
        `This model does not fit the device: tensor "${t.name}" needs ${formatBytes(bytes)} as f32, over the ${formatBytes(limit)} ${vocabTable ? 'buffer' : 'per-binding'} limit (${vocabTable ? 'maxBufferSize' : 'maxStorageBufferBindingSize'}).`,
        'Choose a smaller model (e.g. SmolLM2-135M or 360M), or a browser/GPU with larger buffer limits.',
      );
    }
  }
  return total;
}

export async function loadDecoder(
  gpu: Gpu,
  files: ModelFiles,
  options: { onProgress?: (e: LoadProgressEvent) => void; signal?: AbortSignal } = {},
): Promise<LoadedModel> {
  const weightBytes = checkFitsDevice(gpu, files);
  const uploader = new WeightUploader(gpu, files.config);
  const totalTensors = files.weights.tensors.size;
  let count = 0;
  try {
    for await (const t of files.weights.stream({ signal: options.signal })) {
      uploader.add(t.name, t.shape, tensorToFloat32(t));
      options.onProgress?.({ tensors: ++count, totalTensors, name: t.name });
    }
    const weights = uploader.finish();
    await gpu.sync();
    return { decoder: new Decoder(gpu, files.config, weights), files, parameters: parameterCount(files.config), weightBytes };
  } catch (err) {
    uploader.discard();
    throw err;
  }
}
