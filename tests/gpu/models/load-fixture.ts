// Builds a Decoder on the GPU straight from a fixture folder (tests only; the product loads
// through src/formats sources).
import { parseModelConfig } from '../../../src/formats/config.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { Decoder } from '../../../src/engine/models/decoder.ts';
import { WeightUploader } from '../../../src/engine/models/weights.ts';
import { fixture, type FixtureModel } from '../../helpers/fixtures.ts';

export function loadFixtureDecoder(gpu: Gpu, name: FixtureModel): Decoder {
  const f = fixture(name);
  const config = parseModelConfig(f.config, `${name}/config.json`);
  const up = new WeightUploader(gpu, config);
  for (const e of f.weights.header.entries) up.add(e.name, e.shape, tensorToFloat32(f.weights.get(e.name)));
  return new Decoder(gpu, config, up.finish());
}

/** Host cross-entropy (mean over labelled positions, labels shifted by one) and its gradient, f64. */
export function crossEntropyRef(logits: Float32Array, labels: Int32Array, vocab: number): { loss: number; grad: Float32Array } {
  const T = labels.length;
  const grad = new Float32Array(T * vocab);
  let count = 0;
  for (let t = 0; t + 1 < T; t++) if (labels[t + 1] !== -100) count++;
  let loss = 0;
  for (let t = 0; t + 1 < T; t++) {
    const y = labels[t + 1];
    if (y === -100) continue;
    const row = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    loss += lse - row[y];
    for (let j = 0; j < vocab; j++) grad[t * vocab + j] = (Math.exp(row[j] - lse) - (j === y ? 1 : 0)) / count;
  }
  return { loss: loss / count, grad };
}
