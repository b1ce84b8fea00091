// Attention of one new token over a KV cache (a decode step, batch 1), fused with what comes between
// the q/k/v projections and o_proj: Qwen3's per-head RMSNorm of q and k (QK_NORM), RoPE at `pos`,
// storing the new key and value in cache slot `slot` and marking that slot valid in the key mask.
// One workgroup per query head h; query head h reads kv head h / (H / Hkv) (Hugging Face repeat_kv).
//   qkv   [H·D | Hkv·D | Hkv·D]   the new token's projections (biases included): q, k, v
//   rope  [2, L, D/2]             the cos table, then the sin table (host-made, rope/table.ts)
//   kc, vc [cap, Hkv, D]          the cache: slots < slot are read, slot is written
//   mask  [cap]                   1 = the slot holds a real token; slots < slot with 0 are skipped
//   out   [H·D]                   the o_proj input
// Scores scale · q·k over slots ≤ slot (masked ones count as -1e30, as in attention_softmax.wgsl), then
// softmax and the weighted sum of values in one pass over the slots, TILE at a time, with a running
// maximum (online softmax): no probabilities leave the workgroup, so only the cache bounds the
// context. Vectors are handled as vec4 (D a multiple of 8, so RoPE's halves are whole vec4s).
override WG: u32 = 64u;
const MAX_D4: u32 = 64u;
const TILE: u32 = 1024u;
const MASKED: f32 = -1e30;

struct P { H: u32, Hkv: u32, D4: u32, slot: u32, pos: u32, L: u32, scale: f32, eps: f32 }

@group(0) @binding(#) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(#) var<storage, read> rope: array<vec4f>;
//#if QK_NORM
@group(0) @binding(#) var<storage, read> qNorm: array<vec4f>;
@group(0) @binding(#) var<storage, read> kNorm: array<vec4f>;
//#endif
@group(0) @binding(#) var<storage, read_write> kc: array<vec4f>;
@group(0) @binding(#) var<storage, read_write> vc: array<vec4f>;
@group(0) @binding(#) var<storage, read_write> mask: array<f32>;
@group(0) @binding(#) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(#) var<uniform> p: P;

var<workgroup> qrow: array<vec4f, MAX_D4>;
var<workgroup> knew: array<vec4f, MAX_D4>;
// Each reduction has its own workgroup array: the shader compilers on the GL route (Mesa 22) may
// move a workgroup load below later barriers, so a location is never rewritten while a value
// read from it may still be in use (a shared scratch array gave wrong maxima there).
var<workgroup> redQK: array<vec2f, WG>;
var<workgroup> redMax: array<f32, WG>;
var<workgroup> redSum: array<f32, WG>;
var<workgroup> partial: array<vec4f, WG>;
var<workgroup> tile: array<f32, TILE>;

fn reduceMax(lid: u32, v: f32) -> f32 {
  redMax[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redMax[lid] = max(redMax[lid], redMax[lid + s]); }
    workgroupBarrier();
  }
  return redMax[0];
}

fn reduceSum(lid: u32, v: f32) -> f32 {
  redSum[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redSum[lid] += redSum[lid + s]; }
    workgroupBarrier();
  }
  return redSum[0];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let kvh = h / (p.H / p.Hkv);
  let D4 = p.D4;
  let half4 = D4 / 2u;
  let owns = lid < D4;
  let vOwn = select(vec4f(0.0), qkv[(p.H + p.Hkv) * D4 + kvh * D4 + lid % D4], owns);
  if (owns) {
    qrow[lid] = qkv[h * D4 + lid];
    knew[lid] = qkv[p.H * D4 + kvh * D4 + lid];
  }
  workgroupBarrier();

//#if QK_NORM
  let qv = select(vec4f(0.0), qrow[lid % D4], owns);
  let kv = select(vec4f(0.0), knew[lid % D4], owns);
  redQK[lid] = vec2f(dot(qv, qv), dot(kv, kv));
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redQK[lid] += redQK[lid + s]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(redQK[0] / f32(4u * D4) + p.eps);
  if (owns) {
    qrow[lid] = qv * r.x * qNorm[lid];
    knew[lid] = kv * r.y * kNorm[lid];
  }
  workgroupBarrier();
//#endif

  // RoPE (rotate-half): invocation j < D/8 turns the vec4 pairs (j, j + D/8) of q and of the new key.
  let at = min(p.pos, p.L - 1u) * half4 + lid;
  if (lid < half4) {
    let c = rope[at];
    let s = rope[p.L * half4 + at];
    let q1 = qrow[lid];
    let q2 = qrow[lid + half4];
    qrow[lid] = q1 * c - q2 * s;
    qrow[lid + half4] = q2 * c + q1 * s;
    let k1 = knew[lid];
    let k2 = knew[lid + half4];
    knew[lid] = k1 * c - k2 * s;
    knew[lid + half4] = k2 * c + k1 * s;
  }
  workgroupBarrier();

  // The first query head of each kv group stores the new key and value; head 0 marks the slot.
  if (owns && h % (p.H / p.Hkv) == 0u) {
    let c = (p.slot * p.Hkv + kvh) * D4 + lid;
    kc[c] = knew[lid];
    vc[c] = vOwn;
  }
  if (h == 0u && lid == 0u) { mask[p.slot] = 1.0; }

  // Cached slots 0 … slot-1, TILE at a time: scores (one slot per invocation, strided) into `tile`,
  // the tile's maximum, weights exp(score - max) in place and their sum; then the weighted values,
  // with invocations split into `groups` of D/4: invocation (g, c) sums vec4 c over every
  // groups-th slot. The partial sums meet once, at the end.
  let groups = WG / D4;
  let col = lid % D4;
  let grp = lid / D4;
  var m = MASKED;
  var l = 0.0;
  var acc = vec4f(0.0);
  for (var t0 = 0u; t0 < p.slot; t0 += TILE) {
    let n = min(TILE, p.slot - t0);
    var localMax = MASKED;
    for (var i = lid; i < n; i += WG) {
      let s = t0 + i;
      var score = MASKED;
      if (mask[s] > 0.5) {
        let kb = (s * p.Hkv + kvh) * D4;
        var dotqk = 0.0;
        for (var d = 0u; d < D4; d++) { dotqk += dot(qrow[d], kc[kb + d]); }
        score = dotqk * p.scale;
      }
      tile[i] = score;
      localMax = max(localMax, score);
    }
    let mNew = max(m, reduceMax(lid, localMax));
    var localSum = 0.0;
    for (var i = lid; i < n; i += WG) {
      let e = exp(tile[i] - mNew);
      tile[i] = e;
      localSum += e;
    }
    let alpha = exp(m - mNew);
    l = l * alpha + reduceSum(lid, localSum);
    m = mNew;
    acc *= alpha;
    if (grp < groups) {
      for (var i = grp; i < n; i += groups) {
        acc += tile[i] * vc[((t0 + i) * p.Hkv + kvh) * D4 + col];
      }
    }
    workgroupBarrier();
  }

  // The new token's own slot (counted once, by group 0).
  var dotNew = 0.0;
  for (var d = 0u; d < D4; d++) { dotNew += dot(qrow[d], knew[d]); }
  let sNew = dotNew * p.scale;
  let mNew = max(m, sNew);
  let alpha = exp(m - mNew);
  let e = exp(sNew - mNew);
  l = l * alpha + e;
  acc *= alpha;
  if (grp == 0u) { acc += e * vOwn; }
  partial[lid] = acc;
  workgroupBarrier();
  if (owns) {
    var sum = vec4f(0.0);
    for (var g = 0u; g < groups; g++) { sum += partial[g * D4 + lid]; }
    out[h * D4 + lid] = sum / l;
  }
}
