// Shared by the loss kernels (prepended to loss.wgsl, full-kl.wgsl and reduce-terms.wgsl): the row
// table of batch.ts and the workgroup reductions. WG must be a power of two (tree reductions).
override WG: u32 = 256u;

// One logit row (batch.ts ROW_WORDS). norm = 1 / (tokens of the term in its sequence · sequences),
// coef = the term's weight in the loss; both 0 when the row has no such term.
struct Row {
  label: i32,
  teacher: i32,
  ce_term: u32,
  teacher_term: u32,
  ce_norm: f32,
  teacher_norm: f32,
  ce_coef: f32,
  teacher_coef: f32,
}

var<workgroup> red: array<vec4<f32>, WG>;

// Sum of v over the workgroup (every invocation gets it). Call in uniform control flow.
fn sum4(lid: u32, v: vec4<f32>) -> vec4<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Online softmax state over a stream of logits x_j: (m, o, t, w) with m the running max,
// o = Σ exp(x_j − m) over every element except one maximum (so the total is 1 + o and 1 − q_max
// = o / (1 + o) is exact even when q_max rounds to 1), t = Σ exp(x_j − m) over the elements
// flagged `tail`, w = 1 once any element was seen (0: empty state).
fn online_push(st: vec4<f32>, x: f32, tail: bool) -> vec4<f32> {
  let t = select(0.0, 1.0, tail);
  if (st.w == 0.0) { return vec4<f32>(x, 0.0, t, 1.0); }
  if (x > st.x) {
    let f = exp(st.x - x);
    return vec4<f32>(x, (st.y + 1.0) * f, st.z * f + t, 1.0);
  }
  let e = exp(x - st.x);
  return vec4<f32>(st.x, st.y + e, st.z + e * t, 1.0);
}

fn online_merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  if (b.w == 0.0) { return a; }
  if (a.w == 0.0) { return b; }
  if (a.x >= b.x) {
    let f = exp(b.x - a.x);
    return vec4<f32>(a.x, a.y + (1.0 + b.y) * f, a.z + b.z * f, 1.0);
  }
  let f = exp(a.x - b.x);
  return vec4<f32>(b.x, b.y + (1.0 + a.y) * f, b.z + a.z * f, 1.0);
}

fn online_reduce(lid: u32, v: vec4<f32>) -> vec4<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = online_merge(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
