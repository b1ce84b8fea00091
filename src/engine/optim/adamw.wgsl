// AdamW step in place, with torch's operation order (torch.optim.AdamW, amsgrad off):
//   p ← p·(1 − lr·wd);  g ← g·gscale;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   p ← p − (lr / bc1) · m / (√v / √bc2 + ε),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
// gscale folds gradient clipping and loss-scale unscaling into one multiply. 1 − β arrives from the
// host (computed in f64, as torch does): in f32, 1 − 0.999 loses four digits.
override WG: u32 = 256u;

struct P { n: u32, lr: f32, beta1: f32, beta2: f32, oneMinusBeta1: f32, oneMinusBeta2: f32, eps: f32, wd: f32, bc1: f32, sqrtBc2: f32, gscale: f32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  var w = param[i] * (1.0 - p.lr * p.wd);
  let g = grad[i] * p.gscale;
  let mi = p.beta1 * m[i] + p.oneMinusBeta1 * g;
  let vi = p.beta2 * v[i] + p.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  w -= (p.lr / p.bc1) * mi / (sqrt(vi) / p.sqrtBc2 + p.eps);
  param[i] = w;
}
