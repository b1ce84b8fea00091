// Attention backward, key and value gradients, summed over the query heads that share a kv head:
//   dk[b,s,kvh,d] = scale · Σ_{h→kvh} Σ_t dS[b,h,t,s] · q[b,t,h,d]
//   dv[b,s,kvh,d] =         Σ_{h→kvh} Σ_t  P[b,h,t,s] · dOut[b,t,h,d]
// One (s, kvh, d) element of both per invocation; written in the [B, T, Hkv, D] layout of k and v.
override WG: u32 = 256u;

struct P { B: u32, T: u32, H: u32, Hkv: u32, D: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> dscores: array<f32>; // [B, H, T, T]
@group(0) @binding(1) var<storage, read> probs: array<f32>;   // [B, H, T, T]
@group(0) @binding(2) var<storage, read> q: array<f32>;       // [B, T, H, D]
@group(0) @binding(3) var<storage, read> dout: array<f32>;    // [B, T, H, D]
@group(0) @binding(4) var<storage, read_write> dk: array<f32>;
@group(0) @binding(5) var<storage, read_write> dv: array<f32>;
@group(0) @binding(6) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.B * p.T * p.Hkv * p.D) { return; }
  let d = idx % p.D;
  let kvh = (idx / p.D) % p.Hkv;
  let s = (idx / (p.D * p.Hkv)) % p.T;
  let b = idx / (p.D * p.Hkv * p.T);
  let group = p.H / p.Hkv;
  var ak = 0.0;
  var av = 0.0;
  for (var g = 0u; g < group; g++) {
    let h = kvh * group + g;
    for (var t = s; t < p.T; t++) {   // causal: only queries at or after s saw key s
      let si = ((b * p.H + h) * p.T + t) * p.T + s;
      let qi = ((b * p.T + t) * p.H + h) * p.D + d;
      ak += dscores[si] * q[qi];
      av += probs[si] * dout[qi];
    }
  }
  dk[idx] = ak * p.scale;
  dv[idx] = av;
}
