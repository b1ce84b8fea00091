// WGSL for the register-blocked matmul, generated for one tile shape and transpose pair (after
// matmul_common.wgsl). Generated rather than written with loops over private arrays: WGSL has no
// unroll directive, and arrays kept in registers only by the driver's unroller ran 2-10× slower
// through Chromium's GL path (ANGLE) than the same code with one named variable per value.
//
// Each invocation computes a TM×TN block of C: TM rows shared by the whole workgroup (so every A
// load has the same address across the workgroup: one load, broadcast, on SIMD CPU backends) and
// TN columns of its own (TN/4 vec4 accumulators per row), with WG invocations side by side along N.
// K advances 4 at a time; the last step zeroes both operands past K (0 · inf would be NaN).

export interface BlockedTile {
  /** rows per workgroup: 1, or a multiple of 4 */
  TM: number;
  /** columns per invocation, a multiple of 4 */
  TN: number;
}

export function blockedBody(tile: BlockedTile, transA: boolean, transB: boolean): string {
  const { TM, TN } = tile;
  const TN4 = TN / 4;
  if (TN % 4 !== 0 || (TM !== 1 && TM % 4 !== 0)) throw new Error(`matmul: bad register tile ${TM}x${TN}.`);
  const rows = [...Array(TM).keys()];
  const groups = [...Array(TN4).keys()];
  const quads = [0, 1, 2, 3];
  const L: string[] = [];
  const emit = (indent: number, line: string) => L.push(`${'  '.repeat(indent)}${line}`);

  emit(0, 'override WG: u32 = 16u;');
  emit(0, '@compute @workgroup_size(WG)');
  emit(0, 'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {');
  emit(1, 'let tile = tileOf(wid, nwg);');
  emit(1, 'let bt = tile.z;');
  emit(1, 'if (bt >= p.batch) { return; }');
  emit(1, `let m0 = tile.x * ${TM}u;`);
  emit(1, `let n0 = (tile.y * WG + lid.x) * ${TN}u;`);
  emit(1, 'let mLast = p.M - 1u;');
  emit(1, 'let nLast = p.N - 1u;');
  emit(1, 'let kLast = p.K - 1u;');
  for (const i of rows) for (const j of groups) emit(1, `var c${i}_${j} = vec4f(0.0);`);
  emit(1, 'for (var k = 0u; k < p.K; k += 4u) {');

  // A: a<i> = A(m0 + i, k..k+3), one vec4 over k per row.
  if (transA && TM > 1) {
    // Contiguous along m: load four rows of Aᵀ (one per k), TM/4 vec4 each, and regroup.
    for (const q of quads) {
      for (let g = 0; g < TM / 4; g++) emit(2, `let at${q}_${g} = loadA4(idxA(bt, min(m0 + ${4 * g}u, mLast), min(k + ${q}u, kLast)));`);
    }
    for (const i of rows) emit(2, `var a${i} = vec4f(${quads.map((q) => `at${q}_${i >> 2}[${i & 3}]`).join(', ')});`);
  } else {
    for (const i of rows) emit(2, `var a${i} = loadA4(idxA(bt, min(m0 + ${i}u, mLast), k));`);
  }

  // B: b<q>_<j> = B(k + q, n0 + 4j .. n0 + 4j + 3), one vec4 over n per k.
  if (transB) {
    // Contiguous along k: one vec4 over k per column, regrouped.
    for (let jj = 0; jj < TN; jj++) emit(2, `let bt${jj} = loadB4(idxB(bt, k, min(n0 + ${jj}u, nLast)));`);
    for (const q of quads) {
      for (const j of groups) emit(2, `var b${q}_${j} = vec4f(${quads.map((r) => `bt${4 * j + r}[${q}]`).join(', ')});`);
    }
  } else {
    for (const q of quads) {
      for (const j of groups) emit(2, `var b${q}_${j} = loadB4(idxB(bt, min(k + ${q}u, kLast), min(n0 + ${4 * j}u, nLast)));`);
    }
  }

  emit(2, 'if (k + 4u > p.K) {');
  emit(3, 'let kv = p.K - k;');
  for (const i of rows) emit(3, `a${i} = keepFirst(a${i}, kv);`);
  for (const q of quads.slice(1)) {
    for (const j of groups) emit(3, `b${q}_${j} = select(vec4f(0.0), b${q}_${j}, ${q}u < kv);`);
  }
  emit(2, '}');

  for (const i of rows) {
    for (const q of quads) {
      for (const j of groups) emit(2, `c${i}_${j} = fma(vec4f(a${i}[${q}]), b${q}_${j}, c${i}_${j});`);
    }
  }
  emit(1, '}');
  for (const i of rows) {
    for (const j of groups) {
      for (const r of quads) emit(1, `writeOut(bt, m0 + ${i}u, n0 + ${4 * j + r}u, c${i}_${j}[${r}]);`);
    }
  }
  emit(0, '}');
  return L.join('\n');
}
