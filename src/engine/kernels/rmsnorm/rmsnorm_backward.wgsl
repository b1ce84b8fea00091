// RMSNorm backward, input gradient, one workgroup per row. With r = rstd[row] and g_i = w_i·dy_i:
//   dx_i = r·g_i − x_i · r³/dim · Σ_j g_j·x_j        (written)
override WG: u32 = 128u;

struct P { rows: u32, dim: u32 }

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var dot = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    dot += w[i] * dy[base + i] * x[base + i];
  }
  partial[lid] = dot;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let r = rstd[row];
  let c = partial[0] * r * r * r / f32(p.dim);
  for (var i = lid; i < p.dim; i += WG) {
    dx[base + i] = r * w[i] * dy[base + i] - x[base + i] * c;
  }
}
