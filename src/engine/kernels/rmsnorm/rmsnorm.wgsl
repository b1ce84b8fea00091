// RMSNorm over the last axis, one workgroup per row: y = x · rsqrt(mean(x²) + eps) · w.
// Also writes rstd[row] = rsqrt(mean(x²) + eps), which the backward pass reuses.
override WG: u32 = 128u;

struct P { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var ss = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    y[base + i] = x[base + i] * r * w[i];
  }
  if (lid == 0u) { rstd[row] = r; }
}
