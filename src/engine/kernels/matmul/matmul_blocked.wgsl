// Register-blocked matmul (after matmul_common.wgsl; the launcher defines `const TM` and `const TN`,
// TN a multiple of 4). Each invocation computes a TM×TN block of C; WG invocations sit side by side
// along N and share their TM rows, so every A load has the same address across the workgroup (one
// load, broadcast, on SIMD CPU backends) and only B loads differ per invocation. No workgroup memory.
// K advances 8 at a time: with B transposed, each invocation then reads 32 contiguous bytes of every
// B row it uses before moving on, which keeps those rows in L1 even when K is a power of two.
const TN4 = TN / 4u;
const KV = 2u; // vec4 groups along k per step

struct Step {
  // a[u][i] = A(m0 + i, k + 4u .. k + 4u + 3)
  a: array<array<vec4f, TM>, KV>,
  // b[u][q][j] = B(k + 4u + q, n0 + 4j .. n0 + 4j + 3)
  b: array<array<array<vec4f, TN4>, 4>, KV>,
}

override WG: u32 = 16u;

// Operands for k .. k + 4·KV - 1 of this block; entries with k + e ≥ K are zero.
fn loadStep(bt: u32, m0: u32, n0: u32, k: u32) -> Step {
  var s: Step;
  for (var u = 0u; u < KV; u++) {
    let ku = k + 4u * u;
    if (TRANS_A) {
      // A is contiguous along m: one row of A per k gives TM/4 vec4.
      for (var q = 0u; q < 4u; q++) {
        let kq = min(ku + q, p.K - 1u);
        for (var g = 0u; g < TM / 4u; g++) {
          let v = loadA4(idxA(bt, min(m0 + 4u * g, p.M - 1u), kq));
          for (var r = 0u; r < 4u; r++) { s.a[u][4u * g + r][q] = v[r]; }
        }
      }
    } else {
      for (var i = 0u; i < TM; i++) { s.a[u][i] = loadA4(idxA(bt, min(m0 + i, p.M - 1u), min(ku, p.K - 1u))); }
    }
    if (TRANS_B) {
      // B is contiguous along k: one vec4 over k per column.
      for (var jj = 0u; jj < TN; jj++) {
        let v = loadB4(idxB(bt, min(ku, p.K - 1u), min(n0 + jj, p.N - 1u)));
        for (var q = 0u; q < 4u; q++) { s.b[u][q][jj / 4u][jj % 4u] = v[q]; }
      }
    } else {
      for (var q = 0u; q < 4u; q++) {
        let kq = min(ku + q, p.K - 1u);
        for (var j = 0u; j < TN4; j++) { s.b[u][q][j] = loadB4(idxB(bt, kq, min(n0 + 4u * j, p.N - 1u))); }
      }
    }
  }
  if (k + 4u * KV > p.K) {
    // Tail step: zero both operands past K (zeroing one is not enough: 0 · inf is NaN).
    for (var u = 0u; u < KV; u++) {
      let valid = select(p.K - (k + 4u * u), 0u, k + 4u * u >= p.K);
      for (var i = 0u; i < TM; i++) { s.a[u][i] = keepFirst(s.a[u][i], valid); }
      for (var q = 0u; q < 4u; q++) {
        for (var j = 0u; j < TN4; j++) { s.b[u][q][j] = select(vec4f(0.0), s.b[u][q][j], q < valid); }
      }
    }
  }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tile = tileOf(wid, nwg);
  let bt = tile.z;
  if (bt >= p.batch) { return; }
  let m0 = tile.x * TM;
  let n0 = (tile.y * WG + lid.x) * TN;
  var acc: array<array<vec4f, TN4>, TM>;
  for (var k = 0u; k < p.K; k += 4u * KV) {
    let s = loadStep(bt, m0, n0, k);
    for (var u = 0u; u < KV; u++) {
      for (var i = 0u; i < TM; i++) {
        for (var q = 0u; q < 4u; q++) {
          let av = vec4f(s.a[u][i][q]);
          for (var j = 0u; j < TN4; j++) { acc[i][j] = fma(av, s.b[u][q][j], acc[i][j]); }
        }
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) { writeOut(bt, m0 + i, n0 + j, acc[i][j / 4u][j % 4u]); }
  }
}
