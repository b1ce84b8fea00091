// Workgroup-tiled matmul (after matmul_common.wgsl), the layout GPUs like: 16×16 invocations compute
// a 64×64 tile of C, 4×4 outputs each, staging 16-deep slices of A and B in workgroup memory.
// Out-of-range elements are stored as zeros, so the inner loop needs no masks.
const T = 64u;
const BK = 16u;
const T4 = T / 4u;

// as_[kk·T4 + g] = A(m0 + 4g .. m0 + 4g + 3, k0 + kk); bs_[kk·T4 + g] = B(k0 + kk, n0 + 4g .. + 3).
var<workgroup> as_: array<vec4f, BK * T4>;
var<workgroup> bs_: array<vec4f, BK * T4>;

// Each of the 256 invocations stages one vec4 of A and one of B per slice.
fn stage(bt: u32, m0: u32, n0: u32, k0: u32, t: u32) {
  if (TRANS_A) {
    // contiguous along m: a vec4 is four rows of one column
    let kk = t / T4;
    let g = t % T4;
    let m = m0 + 4u * g;
    let v = loadA4(idxA(bt, min(m, p.M - 1u), min(k0 + kk, p.K - 1u)));
    as_[kk * T4 + g] = select(vec4f(0.0), keepFirst(v, p.M - min(m, p.M)), k0 + kk < p.K);
  } else {
    // contiguous along k: a vec4 is four columns of one row
    let m = t / 4u;
    let kq = (t % 4u) * 4u;
    let v = loadA4(idxA(bt, min(m0 + m, p.M - 1u), min(k0 + kq, p.K - 1u)));
    let w = select(vec4f(0.0), keepFirst(v, p.K - min(k0 + kq, p.K)), m0 + m < p.M);
    for (var r = 0u; r < 4u; r++) { as_[(kq + r) * T4 + m / 4u][m % 4u] = w[r]; }
  }
  if (TRANS_B) {
    // contiguous along k
    let n = t / 4u;
    let kq = (t % 4u) * 4u;
    let v = loadB4(idxB(bt, min(k0 + kq, p.K - 1u), min(n0 + n, p.N - 1u)));
    let w = select(vec4f(0.0), keepFirst(v, p.K - min(k0 + kq, p.K)), n0 + n < p.N);
    for (var r = 0u; r < 4u; r++) { bs_[(kq + r) * T4 + n / 4u][n % 4u] = w[r]; }
  } else {
    // contiguous along n
    let kk = t / T4;
    let g = t % T4;
    let n = n0 + 4u * g;
    let v = loadB4(idxB(bt, min(k0 + kk, p.K - 1u), min(n, p.N - 1u)));
    bs_[kk * T4 + g] = select(vec4f(0.0), keepFirst(v, p.N - min(n, p.N)), k0 + kk < p.K);
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let tile = tileOf(wid, nwg);
  let bt = tile.z;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (bt >= p.batch) { return; }
  let m0 = tile.x * T;
  let n0 = tile.y * T;
  let tx = t % 16u;
  let ty = t / 16u;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    stage(bt, m0, n0, k0, t);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = as_[kk * T4 + ty];
      let bv = bs_[kk * T4 + tx];
      for (var r = 0u; r < 4u; r++) { acc[r] = fma(vec4f(av[r]), bv, acc[r]); }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    for (var j = 0u; j < 4u; j++) { writeOut(bt, m0 + 4u * ty + r, n0 + 4u * tx + j, acc[r][j]); }
  }
}
