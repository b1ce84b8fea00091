// RMSNorm backward, weight gradient: dw_i += Σ_rows dy[row, i] · x[row, i] · rstd[row].
// One invocation per column, looping over rows (deterministic, no atomics).
override WG: u32 = 64u;

struct P { rows: u32, dim: u32 }

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.dim) { return; }
  var acc = 0.0;
  for (var row = 0u; row < p.rows; row++) {
    acc += dy[row * p.dim + i] * x[row * p.dim + i] * rstd[row];
  }
  dw[i] += acc;
}
