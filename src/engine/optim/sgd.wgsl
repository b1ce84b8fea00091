// SGD step in place with torch.optim.SGD semantics (dampening 0, no Nesterov; without momentum
// the buffer is bound but untouched):
//   g ← g·gscale + wd·p;  buf ← g on the first step, else μ·buf + g;  p ← p − lr·(μ > 0 ? buf : g)
override WG: u32 = 256u;
override MOMENTUM: bool = false;

struct P { n: u32, lr: f32, wd: f32, momentum: f32, first: u32, gscale: f32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> buf: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let w = param[i];
  var g = grad[i] * p.gscale + p.wd * w;
  if (MOMENTUM) {
    var b = g;
    if (p.first == 0u) { b = p.momentum * buf[i] + g; }
    buf[i] = b;
    g = b;
  }
  param[i] = w - p.lr * g;
}
