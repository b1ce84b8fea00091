// A fresh, randomly initialised decoder (for models trained from scratch, such as the built-in
// demo models), initialised as Hugging Face does for Llama: every linear and embedding weight from
// N(0, initializerRange²), biases zero, RMSNorm weights one. Seeded, so a build is reproducible.
import type { ModelConfig } from '../../formats/config.ts';
import { expectedTensors } from '../../formats/config.ts';
import type { Gpu } from '../gpu.ts';
import { Rng } from '../rng.ts';
import { Decoder } from './decoder.ts';
import { WeightUploader } from './weights.ts';

function normal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-12);
    const v = rng.next();
    const r = std * Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function initialTensor(name: string, shape: readonly number[], rng: Rng, std: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (name.endsWith('norm.weight')) return new Float32Array(n).fill(1);
  if (name.endsWith('.bias')) return new Float32Array(n);
  return normal(rng, n, std);
}

export function initDecoder(gpu: Gpu, config: ModelConfig, seed: number, initializerRange = 0.02): Decoder {
  const rng = Rng.fromSeed(seed);
  const up = new WeightUploader(gpu, config);
  try {
    for (const [name, shape] of expectedTensors(config)) up.add(name, shape, initialTensor(name, shape, rng, initializerRange));
    return new Decoder(gpu, config, up.finish());
  } catch (err) {
    up.discard();
    throw err;
  }
}
