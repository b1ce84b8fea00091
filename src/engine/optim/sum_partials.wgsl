// totals[t] = Σ partials[start_t … start_t + count_t), one invocation per tensor (few partials each).
override WG: u32 = 64u;

struct P { tensors: u32 }

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> ranges: array<u32>;   // [tensors, 2]: start, count
@group(0) @binding(2) var<storage, read_write> totals: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= p.tensors) { return; }
  let start = ranges[2u * t];
  let count = ranges[2u * t + 1u];
  var acc = 0.0;
  for (var i = 0u; i < count; i++) { acc += partials[start + i]; }
  totals[t] = acc;
}
