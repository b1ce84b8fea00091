// Plain TypeScript reference for the row gather.

/** out[r] = table[ids[r] - rowOffset] for ids in [rowOffset, rowOffset + R); other rows keep `init`. */
export function gatherRowsRef(table: Float32Array, D: number, ids: Int32Array, init: Float32Array, rowOffset = 0): Float32Array {
  const R = table.length / D;
  const out = Float32Array.from(init);
  ids.forEach((id, r) => {
    const local = id - rowOffset;
    if (local >= 0 && local < R) out.set(table.subarray(local * D, (local + 1) * D), r * D);
  });
  return out;
}
