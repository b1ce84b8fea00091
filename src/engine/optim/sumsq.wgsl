// Sum of squares of a gradient, reduced per workgroup into partials[slot + workgroup]; a second
// pass (sum_partials) adds a tensor's partials into totals[tensor]. Non-finite values propagate
// (a NaN or Inf gradient makes its norm non-finite, which the trainer detects).
override WG: u32 = 256u;
override PER_THREAD: u32 = 16u;

struct P { n: u32, slot: u32 }

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let start = group * WG * PER_THREAD + lid;
  var acc = 0.0;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = start + j * WG;
    if (i < p.n) { acc += grad[i] * grad[i]; }
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[p.slot + group] = red[0]; }
}
