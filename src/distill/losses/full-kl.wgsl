// Full-vocabulary forward KL(p ‖ q) with p = softmax(teacher logits) (when full teacher logits are
// at hand) + cross-entropy, one workgroup per row, gradient w_t·(q − p) + w_ce·(q − onehot(y))
// written in place over the student logits. One read of both rows for the two log-sum-exps and
// Σ p (t − z); KL = Σ p (t − z) − lse_t + lse_z.
struct P { rows: u32, vocab: u32 }

@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<Row>;
@group(0) @binding(2) var<storage, read> tl: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

// Teacher state (max, Σ exp(t − max), Σ exp(t − max)·(t − z), non-empty).
fn teacher_push(st: vec4<f32>, t: f32, d: f32) -> vec4<f32> {
  if (st.w == 0.0) { return vec4<f32>(t, 1.0, d, 1.0); }
  if (t > st.x) {
    let f = exp(st.x - t);
    return vec4<f32>(t, st.y * f + 1.0, st.z * f + d, 1.0);
  }
  let e = exp(t - st.x);
  return vec4<f32>(st.x, st.y + e, st.z + e * d, 1.0);
}

fn teacher_merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  if (b.w == 0.0) { return a; }
  if (a.w == 0.0) { return b; }
  let m = max(a.x, b.x);
  let fa = exp(a.x - m);
  let fb = exp(b.x - m);
  return vec4<f32>(m, a.y * fa + b.y * fb, a.z * fa + b.z * fb, 1.0);
}

fn teacher_reduce(lid: u32, v: vec4<f32>) -> vec4<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = teacher_merge(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
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
  let tbase = u32(max(r.teacher, 0)) * V;

  var ss = vec4<f32>(0.0);
  var ts = vec4<f32>(0.0);
  for (var j = lid; j < V; j += WG) {
    let x = z[base + j];
    ss = online_push(ss, x, false);
    if (has_t) {
      let t = tl[tbase + j];
      ts = teacher_push(ts, t, t - x);
    }
  }
  let sm = online_reduce(lid, ss);
  let tm = teacher_reduce(lid, ts);
  let M = sm.x;
  let S = 1.0 + sm.y;
  let lse = M + log(S);
  var zy = 0.0;
  if (has_ce) { zy = z[base + u32(r.label)]; }

  storageBarrier();
  workgroupBarrier();
  let wce = r.ce_coef * r.ce_norm;
  let wt = select(0.0, r.teacher_coef * r.teacher_norm, has_t);
  let label = select(V, u32(r.label), has_ce);
  for (var j = lid; j < V; j += WG) {
    let qj = exp(z[base + j] - M) / S;
    var g = wce * qj;
    if (has_t) { g += wt * (qj - exp(tl[tbase + j] - tm.x) / tm.y); }
    if (j == label) { g -= wce; }
    z[base + j] = g;
  }
  if (lid == 0u) {
    partials[2u * row] = select(0.0, (lse - zy) * r.ce_norm, has_ce);
    let kl = tm.z / tm.y - (tm.x + log(tm.y)) + lse;
    partials[2u * row + 1u] = select(0.0, kl * r.teacher_norm, has_t);
  }
}
