// Shared by every matmul variant; a loads_*.wgsl prelude comes first (bindings 0, 1: a, b).
// C[bt] = alpha · op(A[bt]) · op(B[bt]) (+ bias) (+ C[bt] when ACCUMULATE).
// A(m, k) is a[sab·bt + m·K + k], or a[sab·bt + k·M + m] with TRANS_A;
// B(k, n) is b[sbb·bt + k·N + n], or b[sbb·bt + n·K + k] with TRANS_B. sbb = 0 broadcasts B.
override TRANS_A: bool = false;
override TRANS_B: bool = false;

const HAS_BIAS = 1u;
const ACCUMULATE = 2u;

struct P {
  M: u32, N: u32, K: u32, batch: u32,
  sab: u32, sbb: u32,
  // Output tiles per matrix along M and N (the grid is tilesM · tilesN · batch workgroups).
  tilesM: u32, tilesN: u32,
  alpha: f32,
  flags: u32, // HAS_BIAS | ACCUMULATE
}

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

fn idxA(bt: u32, m: u32, k: u32) -> u32 {
  if (TRANS_A) { return bt * p.sab + k * p.M + m; }
  return bt * p.sab + m * p.K + k;
}

fn idxB(bt: u32, k: u32, n: u32) -> u32 {
  if (TRANS_B) { return bt * p.sbb + n * p.K + k; }
  return bt * p.sbb + k * p.N + n;
}

// (tile along M, tile along N, batch entry) of a workgroup, from the possibly 2D-folded grid.
// M tiles vary fastest, so neighbouring workgroups share a panel of B while it is in cache.
fn tileOf(wid: vec3u, nwg: vec3u) -> vec3u {
  let w = wid.x + wid.y * nwg.x;
  let perMatrix = p.tilesM * p.tilesN;
  return vec3u(w % p.tilesM, (w % perMatrix) / p.tilesM, w / perMatrix);
}

// Lanes 0..3 of `v` where `valid` (count from the start) exceeds the lane index, zeros elsewhere.
fn keepFirst(v: vec4f, valid: u32) -> vec4f {
  return select(vec4f(0.0), v, vec4u(0u, 1u, 2u, 3u) < vec4u(valid));
}

fn writeOut(bt: u32, m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let i = (bt * p.M + m) * p.N + n;
  var r = p.alpha * v;
  if ((p.flags & HAS_BIAS) != 0u) { r += bias[n]; }
  if ((p.flags & ACCUMULATE) != 0u) { r += c[i]; }
  c[i] = r;
}
