// Permuted, optionally cropped copy of a tensor of rank ≤ 6 (padded with leading unit axes):
//   dst[i0, …, i5] = src[i0·s0 + … + i5·s5]
// dst is contiguous with extents n0 … n5; s_a is the source stride of the axis dst axis a reads.
// One output element per invocation.
override WG: u32 = 256u;

struct P { count: u32, n1: u32, n2: u32, n3: u32, n4: u32, n5: u32, s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= p.count) { return; }
  var rest = o;
  var at = (rest % p.n5) * p.s5;
  rest /= p.n5;
  at += (rest % p.n4) * p.s4;
  rest /= p.n4;
  at += (rest % p.n3) * p.s3;
  rest /= p.n3;
  at += (rest % p.n2) * p.s2;
  rest /= p.n2;
  at += (rest % p.n1) * p.s1;
  rest /= p.n1;
  dst[o] = src[at + rest * p.s0];
}
