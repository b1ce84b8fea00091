// Backward of y = silu(gate) · up, elementwise:
//   dgate = dy · up · σ(gate) · (1 + gate · (1 − σ(gate))),   dup = dy · silu(gate)   (both written)
override WG: u32 = 256u;

struct P { n: u32 }

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(4) var<storage, read_write> dup: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = gate[i];
  let s = 1.0 / (1.0 + exp(-g));
  dgate[i] = dy[i] * up[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = dy[i] * g * s;
}
