// Argmax along the last axis: idx[r] = the lowest i with x[r, i] = max of the row. One workgroup
// per row: each invocation scans a strided slice, then (value, index) pairs merge in a tree.
override WG: u32 = 64u;

struct P { rows: u32, C: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> idx: array<i32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> partV: array<f32, WG>;
var<workgroup> partI: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.C;
  // Start from a real element (invocations past a short row repeat the last one).
  var bi = min(t, p.C - 1u);
  var bv = x[base + bi];
  // Indices only grow along the slice, so strictly greater keeps the first of equal values.
  for (var i = t + WG; i < p.C; i += WG) {
    let v = x[base + i];
    if (v > bv) { bv = v; bi = i; }
  }
  partV[t] = bv;
  partI[t] = bi;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t < h) {
      let v = partV[t + h];
      let i = partI[t + h];
      if (v > partV[t] || (v == partV[t] && i < partI[t])) {
        partV[t] = v;
        partI[t] = i;
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) { idx[row] = i32(partI[0]); }
}
