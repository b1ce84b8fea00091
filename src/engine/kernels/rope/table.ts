// Host-made cos/sin tables for RoPE, computed as Hugging Face does in float32: the angle is the
// f32 product of the f32 inverse frequency and the position, then cos/sin rounded to f32.
// (WGSL's cos/sin only promise 2^-11 absolute error near ±π, so the GPU never evaluates them.)

export interface RopeTables {
  cos: Float32Array; // [positions, half]
  sin: Float32Array;
  positions: number;
  half: number;
}

export function ropeTables(invFreq: ArrayLike<number>, positions: number, attentionScaling = 1): RopeTables {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(invFreq[i]) * p);
      cos[p * half + i] = Math.cos(angle) * attentionScaling;
      sin[p * half + i] = Math.sin(angle) * attentionScaling;
    }
  }
  return { cos, sin, positions, half };
}
