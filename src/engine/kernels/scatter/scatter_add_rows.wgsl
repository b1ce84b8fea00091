// Backward of a row gather (embedding lookup): table[ids[n] − rowOffset, :] += src[n, :] for ids in
// [rowOffset, rowOffset + rows). One invocation per column walks every token, so repeated ids
// accumulate without atomics and the sum order is fixed (deterministic).
override WG: u32 = 64u;

struct P { n: u32, dim: u32, rows: u32, rowOffset: i32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;     // [n, dim]
@group(0) @binding(1) var<storage, read> ids: array<i32>;     // [n]
@group(0) @binding(2) var<storage, read_write> table: array<f32>; // [rows, dim]
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let d = gid.x + gid.y * nwg.x * WG;
  if (d >= p.dim) { return; }
  for (var i = 0u; i < p.n; i++) {
    let row = ids[i] - p.rowOffset;
    if (row >= 0 && u32(row) < p.rows) {
      table[u32(row) * p.dim + d] += src[i * p.dim + d];
    }
  }
}
