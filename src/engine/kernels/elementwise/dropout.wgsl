// Inverted dropout with a counter-based hash, so the same (seed, index) always keeps or drops the
// same element: the backward pass re-applies the mask to the gradient by running this again.
//   y_i = x_i / (1 − rate) if hash(seed, i) ≥ rate·2³², else 0
override WG: u32 = 256u;

struct P { n: u32, seed: u32, threshold: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

// PCG-style integer hash (one round of the PCG output permutation).
fn hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let keep = hash(i ^ hash(p.seed)) >= p.threshold;
  y[i] = select(0.0, x[i] * p.scale, keep);
}
