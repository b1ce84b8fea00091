// Row reductions along the last axis: y[r] = sum or max of x[r, 0..C-1]. One workgroup per row:
// each invocation folds a strided slice of the row, then a tree reduction in workgroup memory.
// OP: 0 sum, 1 max.
override OP: u32 = 0u;
override WG: u32 = 64u;

struct P { rows: u32, C: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

fn combine(u: f32, v: f32) -> f32 {
  if (OP == 0u) { return u + v; }
  return max(u, v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.C;
  // Max starts from an element of the row (so a row of -inf gives -inf); sum from zero.
  var acc = select(0.0, x[base], OP == 1u);
  for (var i = t; i < p.C; i += WG) { acc = combine(acc, x[base + i]); }
  part[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { part[t] = combine(part[t], part[t + s]); }
    workgroupBarrier();
  }
  if (t == 0u) { y[row] = part[0]; }
}
