// Matrix-vector product for M = 1 (after matmul_common.wgsl; decode steps), the layout GPUs like:
// a workgroup computes 4 outputs, its WG invocations split K in strides of 4 and combine their
// partial sums with a tree reduction in workgroup memory. (On CPU backends the barriers cost more
// than they save; the launcher uses the register-blocked kernel there.)
override WG: u32 = 64u;

var<workgroup> partial: array<vec4f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let tile = tileOf(wid, nwg);
  let bt = tile.z;
  if (bt >= p.batch) { return; }
  let n0 = tile.y * 4u;
  var acc = vec4f(0.0);
  for (var k = 4u * t; k < p.K; k += 4u * WG) {
    let valid = p.K - k;
    // With M = 1, A(0, k) is a[sab·bt + k] whether or not A is transposed.
    let av = keepFirst(loadA4(bt * p.sab + k), valid);
    if (TRANS_B) {
      for (var j = 0u; j < 4u; j++) {
        acc[j] += dot(av, keepFirst(loadB4(idxB(bt, k, min(n0 + j, p.N - 1u))), valid));
      }
    } else {
      for (var q = 0u; q < 4u; q++) {
        let row = keepFirst(loadB4(idxB(bt, min(k + q, p.K - 1u), n0)), p.N - n0);
        acc += select(vec4f(0.0), av[q] * row, q < valid);
      }
    }
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { partial[t] += partial[t + s]; }
    workgroupBarrier();
  }
  if (t < 4u) { writeOut(bt, 0u, n0 + t, partial[0][t]); }
}
