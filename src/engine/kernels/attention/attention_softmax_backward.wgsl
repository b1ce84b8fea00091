// Softmax backward of attention, in place, one workgroup per (batch, head, query) row:
//   grad  [rows, S]   in: dP = dOut·vᵀ; out: dS = scale · P ∘ (dP − Σ_s P·dP), the gradient of the
//                     raw scores q·k (the forward applied the scale inside the softmax)
//   probs [rows, S]   the forward's probabilities (0 on masked and future slots, so their dS is 0)
override WG: u32 = 8u;

struct P { rows: u32, S: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.S;
  var local = 0.0;
  for (var s = lid; s < p.S; s += WG) { local += probs[base + s] * grad[base + s]; }
  red[lid] = local;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  let rowdot = red[0];
  for (var s = lid; s < p.S; s += WG) {
    grad[base + s] = p.scale * probs[base + s] * (grad[base + s] - rowdot);
  }
}
