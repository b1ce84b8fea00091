// Per-term sums of the per-row partials (ce value·norm, teacher value·norm): one workgroup per term,
// out[t] = Σ_rows partial of the rows whose ce or teacher term is t (+ out[t] when accumulating
// over micro-batches).
struct P { rows: u32, terms: u32, accumulate: u32 }

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<Row>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let term = wid.x;
  if (term >= p.terms) { return; }
  var acc = 0.0;
  for (var i = lid; i < p.rows; i += WG) {
    let r = rows[i];
    if (r.ce_term == term) { acc += partials[2u * i]; }
    if (r.teacher_term == term) { acc += partials[2u * i + 1u]; }
  }
  let s = sum4(lid, vec4<f32>(acc, 0.0, 0.0, 0.0)).x;
  if (lid == 0u) {
    out[term] = select(0.0, out[term], p.accumulate != 0u) + s;
  }
}
