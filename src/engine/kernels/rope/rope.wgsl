// Rotary position embedding in place on x [rows, heads, D] (rotate-half convention, as Hugging
// Face Llama/Qwen): for i < D/2, (x_i, x_{i+D/2}) -> (x_i c - x_{i+D/2} s, x_{i+D/2} c + x_i s),
// with c, s = cos, sin(position[row] · inv_freq_i) read from host-made tables [maxPos, D/2].
// SIGN = -1 rotates by -θ (the backward pass: the transpose of a rotation is its inverse).
override WG: u32 = 256u;
override SIGN: f32 = 1.0;

struct P { rows: u32, heads: u32, half: u32, maxPos: u32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> positions: array<i32>;
@group(0) @binding(2) var<storage, read> cosT: array<f32>;
@group(0) @binding(3) var<storage, read> sinT: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let perRow = p.heads * p.half;
  if (idx >= p.rows * perRow) { return; }
  let row = idx / perRow;
  let r = idx % perRow;
  let h = r / p.half;
  let i = r % p.half;
  let pos = u32(clamp(positions[row], 0, i32(p.maxPos) - 1));
  let c = cosT[pos * p.half + i];
  let s = SIGN * sinT[pos * p.half + i];
  let base = (row * p.heads + h) * 2u * p.half;
  let x1 = x[base + i];
  let x2 = x[base + i + p.half];
  x[base + i] = x1 * c - x2 * s;
  x[base + i + p.half] = x2 * c + x1 * s;
}
