// C[b] = alpha * op(A[b]) · op(B[b]) (+ bias[n]) (+ C[b] when ACCUMULATE), one output per invocation.
// Transposes are strides: A(m, k) = a[aOff(b) + m*sam + k*sak], B(k, n) = b[bOff(b) + k*sbk + n*sbn].
// Batch offsets: aOff = batch * sab (0 broadcasts one matrix over the batch).
override WG: u32 = 256u;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;

struct P {
  M: u32, N: u32, K: u32, batch: u32,
  sam: u32, sak: u32, sab: u32,
  sbk: u32, sbn: u32, sbb: u32,
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let per = p.M * p.N;
  if (idx >= per * p.batch) { return; }
  let bt = idx / per;
  let r = idx % per;
  let m = r / p.N;
  let n = r % p.N;
  var acc = 0.0;
  let ab = bt * p.sab + m * p.sam;
  let bb = bt * p.sbb + n * p.sbn;
  for (var k = 0u; k < p.K; k++) {
    acc += a[ab + k * p.sak] * b[bb + k * p.sbk];
  }
  var v = p.alpha * acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (ACCUMULATE) { v += c[idx]; }
  c[idx] = v;
}
