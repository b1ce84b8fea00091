// Rotary-embedding inverse frequencies of a ModelConfig, after any rope scaling.
// cos/sin at position p are cos/sin(p * invFreq[i]) for i < headDim / 2, each used for the pair of
// dimensions (i, i + headDim / 2) (the rotate_half convention of Hugging Face Llama/Qwen).
//
// Scalings: linear divides every frequency by `factor`. llama3 (Llama 3.1+) leaves frequencies whose
// wavelength is shorter than originalMax / highFreqFactor unchanged, divides those with a wavelength
// longer than originalMax / lowFreqFactor by `factor`, and in between blends the two with a weight
// that rises linearly in originalMax / wavelength from lowFreqFactor to highFreqFactor.
// dynamic (NTK) only changes frequencies beyond maxPositionEmbeddings, so within it they are plain.
import type { ModelConfig } from './config.ts';

export function ropeInvFreq(c: ModelConfig): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / c.ropeTheta ** ((2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s || s.type === 'default' || s.type === 'dynamic') return inv;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  if (s.type === 'llama3') {
    const original = s.originalMaxPositionEmbeddings!;
    const low = s.lowFreqFactor!;
    const high = s.highFreqFactor!;
    return inv.map((f) => {
      const wavelength = (2 * Math.PI) / f;
      if (wavelength < original / high) return f;
      if (wavelength > original / low) return f / s.factor;
      const t = (original / wavelength - low) / (high - low);
      return (1 - t) * (f / s.factor) + t * f;
    });
  }
  throw new Error(`ropeInvFreq: RoPE type ${s.type} is not supported (parseModelConfig refuses it).`);
}
