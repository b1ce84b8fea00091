// Row gather (embedding lookup): out[r, :] = table[ids[r] - rowOffset, :] for ids inside
// [rowOffset, rowOffset + R); other rows of `out` are left as they are, so a table split into row
// chunks is gathered chunk by chunk into one output. One element per invocation.
override WG: u32 = 256u;

struct P { n: u32, D: u32, R: u32, rowOffset: u32 }

@group(0) @binding(0) var<storage, read> table: array<f32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.n * p.D) { return; }
  let r = e / p.D;
  let id = ids[r];
  // As u32, negative ids wrap to huge values and fall outside the chunk too.
  let local = u32(id) - p.rowOffset;
  if (id < 0 || u32(id) < p.rowOffset || local >= p.R) { return; }
  out[e] = table[local * p.D + e % p.D];
}
