// RoPE reference (f64 rotation, tables as the kernel reads them).
import type { RopeTables } from './table.ts';

export function ropeRef(x: Float32Array, positions: Int32Array, heads: number, tables: RopeTables, sign = 1): Float32Array {
  const { half } = tables;
  const out = new Float32Array(x);
  const rows = positions.length;
  for (let row = 0; row < rows; row++) {
    const pos = Math.min(Math.max(positions[row], 0), tables.positions - 1);
    for (let h = 0; h < heads; h++) {
      const base = (row * heads + h) * 2 * half;
      for (let i = 0; i < half; i++) {
        const c = tables.cos[pos * half + i];
        const s = sign * tables.sin[pos * half + i];
        const x1 = x[base + i];
        const x2 = x[base + i + half];
        out[base + i] = x1 * c - x2 * s;
        out[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}
