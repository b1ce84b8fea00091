// Attention output: out[b, t, h, d] = Σ_s p[b, h, t, s] · v[b, s, h / (H / Hkv), d], written in the
// [B·T, H·D] layout that o_proj reads. One output element per invocation.
//   p [B, H, T, S], v [B, cap, Hkv, D]
override WG: u32 = 256u;

struct P { B: u32, T: u32, H: u32, Hkv: u32, D: u32, S: u32, cap: u32 }

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.B * p.T * p.H * p.D) { return; }
  let d = idx % p.D;
  let h = (idx / p.D) % p.H;
  let t = (idx / (p.D * p.H)) % p.T;
  let b = idx / (p.D * p.H * p.T);
  let kvh = h / (p.H / p.Hkv);
  let pbase = ((b * p.H + h) * p.T + t) * p.S;
  let vstride = p.Hkv * p.D;
  var vi = (b * p.cap * p.Hkv + kvh) * p.D + d;
  var acc = 0.0;
  for (var s = 0u; s < p.S; s++) {
    acc += probs[pbase + s] * v[vi];
    vi += vstride;
  }
  out[idx] = acc;
}
