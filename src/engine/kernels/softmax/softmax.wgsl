// Softmax or log-softmax of s·x along the last axis, one workgroup per row of any length.
// Pass 1: each invocation keeps an online (max m, sum of exp(v - m)) over a strided slice of the
// row; the pairs merge in a tree in workgroup memory. Pass 2 writes the outputs. Nothing is ever
// exponentiated above 0, so large inputs cannot overflow; -inf inputs contribute exp(-inf) = 0.
override LOG: bool = false;
override WG: u32 = 64u;

struct P { rows: u32, C: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> partM: array<f32, WG>;
var<workgroup> partS: array<f32, WG>;

// Lowest finite f32: the starting max, so that no inf - inf (NaN) arises from -inf inputs.
const LOWEST = -3.4028234663852886e38;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.C;
  var m = LOWEST;
  var s = 0.0;
  for (var i = t; i < p.C; i += WG) {
    let v = p.scale * x[base + i];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  partM[t] = m;
  partS[t] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t < h) {
      let m2 = partM[t + h];
      let mm = max(partM[t], m2);
      partS[t] = partS[t] * exp(partM[t] - mm) + partS[t + h] * exp(m2 - mm);
      partM[t] = mm;
    }
    workgroupBarrier();
  }
  let rowMax = partM[0];
  let rowSum = partS[0];
  let logSum = log(rowSum);
  let inv = 1.0 / rowSum;
  for (var i = t; i < p.C; i += WG) {
    let v = p.scale * x[base + i] - rowMax;
    if (LOG) { y[base + i] = v - logSum; } else { y[base + i] = exp(v) * inv; }
  }
}
