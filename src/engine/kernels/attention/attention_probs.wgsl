// Causal attention probabilities with GQA and a key mask, one workgroup per (batch, head, query).
//   q    [B, T, H, D]           the T new queries (query t sits at slot past + t)
//   k    [B, cap, Hkv, D]       keys by slot (a KV cache, or this batch's keys with cap = T)
//   mask [B, cap]               1 = slot holds a real token, 0 = padding / empty
//   p    [B, H, T, S]           softmax over slots s < S = past + T of scale · q·k, where masked or
//                               future slots count as -1e30 (a fully masked row becomes uniform,
//                               as Hugging Face's finfo.min mask does, and stays finite).
// Query head h reads kv head h / (H / Hkv) (Hugging Face repeat_kv order).
override WG: u32 = 128u;
override MAX_D: u32 = 256u;

struct P { B: u32, T: u32, H: u32, Hkv: u32, D: u32, S: u32, cap: u32, past: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

var<workgroup> qrow: array<f32, MAX_D>;
// One array per reduction: Mesa 22's GL route was seen moving workgroup loads past later barriers
// when one array served two reductions in a row.
var<workgroup> redMax: array<f32, WG>;
var<workgroup> redSum: array<f32, WG>;

const MASKED: f32 = -1e30;

fn reduce_max(lid: u32, v: f32) -> f32 {
  redMax[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { redMax[lid] = max(redMax[lid], redMax[lid + stride]); }
    workgroupBarrier();
  }
  return redMax[0];
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
  redSum[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { redSum[lid] += redSum[lid + stride]; }
    workgroupBarrier();
  }
  return redSum[0];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform control flow: every invocation of a workgroup takes the same branch here.
  if (row >= p.B * p.H * p.T) { return; }
  let t = row % p.T;
  let h = (row / p.T) % p.H;
  let b = row / (p.T * p.H);
  let kvh = h / (p.H / p.Hkv);
  let qbase = ((b * p.T + t) * p.H + h) * p.D;
  for (var d = lid; d < p.D; d += WG) { qrow[d] = q[qbase + d]; }
  workgroupBarrier();

  let slot = p.past + t;
  let pbase = row * p.S;
  var localMax = MASKED;
  for (var s = lid; s < p.S; s += WG) {
    var score = MASKED;
    if (s <= slot && mask[b * p.cap + s] > 0.5) {
      let kbase = ((b * p.cap + s) * p.Hkv + kvh) * p.D;
      var acc = 0.0;
      for (var d = 0u; d < p.D; d++) { acc += qrow[d] * k[kbase + d]; }
      score = acc * p.scale;
    }
    probs[pbase + s] = score;
    localMax = max(localMax, score);
  }
  let m = reduce_max(lid, localMax);
  var localSum = 0.0;
  for (var s = lid; s < p.S; s += WG) {
    let e = exp(probs[pbase + s] - m);
    probs[pbase + s] = e;
    localSum += e;
  }
  let inv = 1.0 / reduce_sum(lid, localSum);
  for (var s = lid; s < p.S; s += WG) { probs[pbase + s] *= inv; }
}
