// Attention backward, score gradients, one workgroup per (batch, head, query) row (training: no
// past, S = T keys). With dP_s = dOut[b,t,h,:]·v[b,s,kvh,:]:
//   dS_s = P_s · (dP_s − Σ_s' P_s' dP_s')      written to dscores [B, H, T, T]
override WG: u32 = 128u;
override MAX_D: u32 = 256u;

struct P { B: u32, T: u32, H: u32, Hkv: u32, D: u32 }

@group(0) @binding(0) var<storage, read> dout: array<f32>;   // [B, T, H, D]
@group(0) @binding(1) var<storage, read> v: array<f32>;      // [B, T, Hkv, D]
@group(0) @binding(2) var<storage, read> probs: array<f32>;  // [B, H, T, T]
@group(0) @binding(3) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

var<workgroup> grow: array<f32, MAX_D>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.B * p.H * p.T) { return; }
  let t = row % p.T;
  let h = (row / p.T) % p.H;
  let b = row / (p.T * p.H);
  let kvh = h / (p.H / p.Hkv);
  let gbase = ((b * p.T + t) * p.H + h) * p.D;
  for (var d = lid; d < p.D; d += WG) { grow[d] = dout[gbase + d]; }
  workgroupBarrier();
  let pbase = row * p.T;
  var local = 0.0;
  for (var s = lid; s < p.T; s += WG) {
    let ps = probs[pbase + s];
    var dp = 0.0;
    if (ps != 0.0) {
      let vbase = ((b * p.T + s) * p.Hkv + kvh) * p.D;
      for (var d = 0u; d < p.D; d++) { dp += grow[d] * v[vbase + d]; }
    }
    dscores[pbase + s] = dp;
    local += ps * dp;
  }
  red[lid] = local;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  let rowdot = red[0];
  for (var s = lid; s < p.T; s += WG) {
    dscores[pbase + s] = probs[pbase + s] * (dscores[pbase + s] - rowdot);
  }
}
