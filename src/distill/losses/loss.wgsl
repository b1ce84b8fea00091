// Fused bin loss (docs/distillation.md) + cross-entropy, one workgroup per logit row, gradient
// written in place over the logits. Per row:
//   1. S_t (the row's valid teacher ids) into a hash set in workgroup memory;
//   2. one read of the row: online max and Σ exp (all ids, and the ids outside S_t);
//   3. the K slots: q_k from the cached ids, teacher values, the K+1 bins with the parity clamps,
//      ℓ and g_b = ∂ℓ/∂bin (0 where a clamp or floor changed the bin), ḡ = Σ_b Q_b g_b;
//   4. the gradient w_t·q_j (ĝ_j − ḡ) + w_ce·(q_j − [j = y]), ids outside S_t by a strided loop
//      (ĝ_j = g_rest), ids in S_t by their slot.
// No V-sized teacher vector exists anywhere. The student rest bin 1 − Σ_{S_t} q is evaluated as the
// sum over the complement (step 2), which is the same number in exact arithmetic; the plain f32
// subtraction would carry an absolute error of ~1e-7, i.e. 1e-4 relative at a rest mass of 1e-3.
// The upper clamp (q > 1 − 1e-8, not representable in f32) is tested on the complement 1 − q, which
// the online state gives exactly for the maximum. Ids outside [0, vocab) count in the rest bin
// (their teacher mass is added to it; ADPA drops them). Rows with teacher = −1 get no bin term.
override MODE: u32 = 0u; // 0 fkl, 1 rkl, 2 skew-fkl, 3 skew-rkl, 4 jsd, 5 tvd, 6 adpa

const HT: u32 = 512u; // hash slots; K <= 256 keeps the load factor <= 1/2
const LO: f32 = 1e-8;
const FLOOR: f32 = 1e-7;
const LN_HI: f32 = -1e-8; // ln(1 − 1e-8); 1 − 1e-8 itself rounds to 1.0 in f32
const ADPA_REST: f32 = 1e-8;

struct P { rows: u32, vocab: u32, k: u32, signed_adv: u32, param: f32 }

@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<Row>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read> vals: array<f32>;
@group(0) @binding(4) var<storage, read> rest: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;
@group(0) @binding(6) var<uniform> p: P;

var<workgroup> table: array<i32, HT>;

fn hash_slot(j: i32) -> u32 {
  return (u32(j) * 2654435761u) >> 23u; // top 9 bits: [0, 512)
}

fn in_s(j: i32) -> bool {
  var h = hash_slot(j);
  loop {
    let v = table[h];
    if (v == j) { return true; }
    if (v < 0) { return false; }
    h = (h + 1u) & (HT - 1u);
  }
}

// A student bin after the parity clamp (+ floor for divergences): (value, ln value, passes 0|1).
// comp = 1 − q computed without cancellation.
fn student(q: f32, lnq: f32, comp: f32) -> vec3<f32> {
  let lo = select(FLOOR, LO, MODE == 6u);
  if (q < lo) { return vec3<f32>(lo, log(lo), 0.0); }
  if (comp < LO) { return vec3<f32>(1.0, LN_HI, 0.0); }
  return vec3<f32>(q, lnq, 1.0);
}

// The teacher value of a slot: clamped probability, or the ADPA advantage (clamped, or β·Â signed).
fn teacher_value(v: f32) -> f32 {
  if (MODE == 6u && p.signed_adv != 0u) { return p.param * v; }
  return clamp(v, LO, 1.0);
}

// (value, ∂value/∂Q) of one bin; P teacher value, Q clamped student bin, lnQ = ln Q.
fn bin(P: f32, Q: f32, lnQ: f32) -> vec2<f32> {
  switch MODE {
    case 0u: { return vec2<f32>(P * (log(P) - lnQ), -P / Q); }
    case 1u: {
      let d = lnQ - log(P);
      return vec2<f32>(Q * d, d + 1.0);
    }
    case 2u: {
      let l = p.param;
      let m = l * P + (1.0 - l) * Q;
      return vec2<f32>(P * (log(P) - log(m)), -(1.0 - l) * P / m);
    }
    case 3u: {
      let l = p.param;
      let m = (1.0 - l) * P + l * Q;
      let d = lnQ - log(m);
      return vec2<f32>(Q * d, d + 1.0 - l * Q / m);
    }
    case 4u: {
      let b = p.param;
      let lm = log(b * P + (1.0 - b) * Q);
      let d = lnQ - lm;
      return vec2<f32>(b * P * (log(P) - lm) + (1.0 - b) * Q * d, (1.0 - b) * d);
    }
    case 5u: { return vec2<f32>(0.5 * abs(P - Q), 0.5 * sign(Q - P)); }
    default: { return vec2<f32>(Q * P, P); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let r = rows[row];
  let V = p.vocab;
  let base = row * V;
  let has_ce = r.label >= 0;
  let has_t = r.teacher >= 0;
  if (!has_ce && !has_t) {
    for (var j = lid; j < V; j += WG) { z[base + j] = 0.0; }
    if (lid == 0u) {
      partials[2u * row] = 0.0;
      partials[2u * row + 1u] = 0.0;
    }
    return;
  }

  // 1. S_t as a hash set (K <= 256 inserts by one invocation: a few probes each).
  for (var i = lid; i < HT; i += WG) { table[i] = -1; }
  workgroupBarrier();
  let tbase = u32(max(r.teacher, 0)) * p.k;
  if (has_t && lid == 0u) {
    for (var k = 0u; k < p.k; k++) {
      let id = ids[tbase + k];
      if (id >= 0 && u32(id) < V) {
        var h = hash_slot(id);
        while (table[h] >= 0) { h = (h + 1u) & (HT - 1u); }
        table[h] = id;
      }
    }
  }
  workgroupBarrier();

  // 2. One read of the row: max, Σ exp, Σ exp over the complement of S_t.
  var st = vec4<f32>(0.0);
  for (var j = lid; j < V; j += WG) {
    st = online_push(st, z[base + j], !(has_t && in_s(i32(j))));
  }
  let sm = online_reduce(lid, st);
  let M = sm.x;
  let S = 1.0 + sm.y;
  let logS = log(S);

  // 3. Slots (invocation k holds slot k).
  var valid = false;
  var id = 0;
  var q = 0.0;
  var lnq = 0.0;
  var comp = 1.0;
  var pk = 0.0;
  var dropped = 0.0;
  if (has_t && lid < p.k) {
    id = ids[tbase + lid];
    let v = vals[tbase + lid];
    valid = id >= 0 && u32(id) < V;
    if (valid) {
      let zk = z[base + u32(id)];
      lnq = (zk - M) - logS;
      q = exp(zk - M) / S;
      comp = select(1.0 - q, sm.y / S, zk >= M);
      pk = teacher_value(v);
    } else {
      dropped = v;
    }
  }
  var zy = 0.0;
  if (has_ce) { zy = z[base + u32(r.label)]; }
  let a = sum4(lid, vec4<f32>(q, dropped, 0.0, 0.0));

  var p_rest = ADPA_REST;
  if (MODE != 6u && has_t) { p_rest = clamp(rest[u32(r.teacher)] + a.y, LO, 1.0); }
  let q_rest = sm.z / S;
  let sr = student(q_rest, log(sm.z) - logS, a.x);
  let br = bin(p_rest, sr.x, sr.y);
  let g_rest = br.y * sr.z;

  var vk = 0.0;
  var gk = 0.0;
  if (valid) {
    let s = student(q, lnq, comp);
    let b = bin(pk, s.x, s.y);
    vk = b.x;
    gk = b.y * s.z;
  }
  let bs = sum4(lid, vec4<f32>(vk, q * gk, 0.0, 0.0));
  let value = bs.x + br.x;
  let gbar = bs.y + q_rest * g_rest;

  // 4. Gradient, in place (all reads of the row above happen before any write).
  storageBarrier();
  workgroupBarrier();
  let wce = r.ce_coef * r.ce_norm;
  let wt = select(0.0, r.teacher_coef * r.teacher_norm, has_t);
  let label = select(V, u32(r.label), has_ce);
  let grest = select(0.0, g_rest - gbar, has_t);
  for (var j = lid; j < V; j += WG) {
    if (has_t && in_s(i32(j))) { continue; }
    let qj = exp(z[base + j] - M) / S;
    var g = (wt * grest + wce) * qj;
    if (j == label) { g -= wce; }
    z[base + j] = g;
  }
  if (valid) {
    var g = (wt * (gk - gbar) + wce) * q;
    if (u32(id) == label) { g -= wce; }
    z[base + u32(id)] = g;
  }
  if (lid == 0u) {
    partials[2u * row] = select(0.0, (M + logS - zy) * r.ce_norm, has_ce);
    partials[2u * row + 1u] = select(0.0, value * r.teacher_norm, has_t);
  }
}
