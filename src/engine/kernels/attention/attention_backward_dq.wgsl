// Attention backward, query gradient: dq[b,t,h,d] = scale · Σ_s dS[b,h,t,s] · k[b,s,kvh,d].
// One output element per invocation; dq is written in the [B, T, H, D] layout of q.
override WG: u32 = 256u;

struct P { B: u32, T: u32, H: u32, Hkv: u32, D: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> dscores: array<f32>; // [B, H, T, T]
@group(0) @binding(1) var<storage, read> k: array<f32>;       // [B, T, Hkv, D]
@group(0) @binding(2) var<storage, read_write> dq: array<f32>;
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
  let sbase = ((b * p.H + h) * p.T + t) * p.T;
  var ki = (b * p.T * p.Hkv + kvh) * p.D + d;
  let kstride = p.Hkv * p.D;
  var acc = 0.0;
  for (var s = 0u; s <= t; s++) {   // causal: dS is zero for s > t
    acc += dscores[sbase + s] * k[ki];
    ki += kstride;
  }
  dq[idx] = acc * p.scale;
}
