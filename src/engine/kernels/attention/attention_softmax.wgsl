// Attention probabilities from raw scores, in place, one workgroup per (batch, head, query) row:
//   scores [B, H, T, S]   q·k of query t (at slot past + t) with slot s < S = past + T
//   mask   [B, cap]       1 = slot holds a real token, 0 = padding / empty
// p = softmax over s of scale · score, where future slots (s > past + t) and masked slots count as
// -1e30: a fully masked row becomes uniform (as Hugging Face's finfo.min mask does) and stays finite.
// Pass 1 keeps an online (max m, Σ exp(v - m)) per invocation over a strided slice of the row and
// merges the pairs in workgroup memory; pass 2 overwrites each score with its probability (every
// invocation rewrites only the elements it read, so in place is safe).
override WG: u32 = 8u;

struct P { B: u32, H: u32, T: u32, S: u32, cap: u32, past: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> mask: array<f32>;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> partM: array<f32, WG>;
var<workgroup> partS: array<f32, WG>;

const MASKED: f32 = -1e30;
// Lowest finite f32: the starting max of an invocation that sees no slot.
const LOWEST = -3.4028234663852886e38;

fn logit(b: u32, t: u32, base: u32, s: u32) -> f32 {
  if (s <= p.past + t && mask[b * p.cap + s] > 0.5) { return p.scale * scores[base + s]; }
  return MASKED;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.B * p.H * p.T) { return; }
  let t = row % p.T;
  let b = row / (p.H * p.T);
  let base = row * p.S;
  var m = LOWEST;
  var sum = 0.0;
  for (var s = lid; s < p.S; s += WG) {
    let v = logit(b, t, base, s);
    if (v > m) {
      sum = sum * exp(m - v) + 1.0;
      m = v;
    } else {
      sum += exp(v - m);
    }
  }
  partM[lid] = m;
  partS[lid] = sum;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (lid < h) {
      let m2 = partM[lid + h];
      let mm = max(partM[lid], m2);
      partS[lid] = partS[lid] * exp(partM[lid] - mm) + partS[lid + h] * exp(m2 - mm);
      partM[lid] = mm;
    }
    workgroupBarrier();
  }
  let rowMax = partM[0];
  let inv = 1.0 / partS[0];
  for (var s = lid; s < p.S; s += WG) {
    scores[base + s] = exp(logit(b, t, base, s) - rowMax) * inv;
  }
}
