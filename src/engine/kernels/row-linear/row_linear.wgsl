// One-row linear layers for decode steps (M = 1), fused with their neighbours in a decoder layer so
// that a step needs few dispatches (on small models a dispatch's fixed cost outweighs its math):
//   y_s[j] = r · Σ_k W_s[j, k] · x[k] · g[k]  (+ b_s[j])      W_s [N_s, K], Hugging Face's [out, in]
// With NORM, r = rsqrt(mean(x²) + eps) and g is an RMSNorm weight (the norm before the projection,
// folded in); otherwise r = 1, g = 1. What is written (variants, see wgsl-variants.ts):
//   (default)  out = [y_0 | y_1 | y_2]    1 to 3 segments (SEG2, SEG3): q, k, v in one dispatch
//   RESIDUAL   out += y_0                 o_proj and down_proj add into the residual stream
//   SWIGLU     out = silu(y_0) · y_1      gate and up projections and the SwiGLU product (SEG2)
// A workgroup computes WG / SPLIT outputs; the SPLIT invocations of one output each sum every
// SPLIT-th vec4 along K, then add up in workgroup memory. SPLIT = 1 (one invocation per output, no
// reduction) suits CPU rasterisers; a larger SPLIT keeps a workgroup's loads together on GPUs.
// K is a multiple of 4 (vec4 loads); the launcher checks it.
override WG: u32 = 64u;
override SPLIT: u32 = 1u;

// K4 = K / 4; n0, n1 = rows of segments 0 and 1 (concatenated output); N = outputs in all.
struct P { K4: u32, n0: u32, n1: u32, N: u32, eps: f32 }

@group(0) @binding(#) var<storage, read> x: array<vec4f>;
//#if NORM
@group(0) @binding(#) var<storage, read> g: array<vec4f>;
//#endif
@group(0) @binding(#) var<storage, read> w0: array<vec4f>;
//#if SEG2
@group(0) @binding(#) var<storage, read> w1: array<vec4f>;
//#endif
//#if SEG3
@group(0) @binding(#) var<storage, read> w2: array<vec4f>;
//#endif
//#if BIAS
@group(0) @binding(#) var<storage, read> b0: array<f32>;
//#if SEG2
@group(0) @binding(#) var<storage, read> b1: array<f32>;
//#endif
//#if SEG3
@group(0) @binding(#) var<storage, read> b2: array<f32>;
//#endif
//#endif
@group(0) @binding(#) var<storage, read_write> out: array<f32>;
@group(0) @binding(#) var<uniform> p: P;

// Separate arrays for the norm's sum and the split sums: the shader compilers on the GL route
// (Mesa 22) may move a workgroup load below later barriers, so no location is reused in a dispatch.
var<workgroup> redNorm: array<f32, WG>;
var<workgroup> redY: array<vec2f, WG>;

fn xAt(i: u32) -> vec4f {
//#if NORM
  return x[i] * g[i];
//#else
  return x[i];
//#endif
}

// This invocation's share of Σ_k W_s[row, k] x[k] g[k]: one function per weight binding.
fn dot0(row: u32, part: u32) -> f32 {
  var a = 0.0;
  let base = row * p.K4;
  for (var i = part; i < p.K4; i += SPLIT) { a += dot(w0[base + i], xAt(i)); }
  return a;
}
//#if SEG2
fn dot1(row: u32, part: u32) -> f32 {
  var a = 0.0;
  let base = row * p.K4;
  for (var i = part; i < p.K4; i += SPLIT) { a += dot(w1[base + i], xAt(i)); }
  return a;
}
//#endif
//#if SEG3
fn dot2(row: u32, part: u32) -> f32 {
  var a = 0.0;
  let base = row * p.K4;
  for (var i = part; i < p.K4; i += SPLIT) { a += dot(w2[base + i], xAt(i)); }
  return a;
}
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x + wid.y * nwg.x) * (WG / SPLIT) + lid / SPLIT;
  let part = lid % SPLIT;
  var r = 1.0;
//#if NORM
  // The workgroup shares Σx² through a tree reduction. (Measured on llvmpipe: as fast as every
  // invocation summing all of x itself, or as one barrier and redundant sums of the partials.)
  var ss = 0.0;
  for (var i = lid; i < p.K4; i += WG) {
    let v = x[i];
    ss += dot(v, v);
  }
  redNorm[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { redNorm[lid] += redNorm[lid + s]; }
    workgroupBarrier();
  }
  ss = redNorm[0];
  r = inverseSqrt(ss / f32(4u * p.K4) + p.eps);
//#endif
  var y0 = 0.0;
  var y1 = 0.0;
  if (j < p.N) {
//#if SWIGLU
    y0 = dot0(j, part);
    y1 = dot1(j, part);
//#else
    if (j < p.n0) {
      y0 = dot0(j, part);
    }
//#if SEG2
    else if (j < p.n0 + p.n1) {
      y0 = dot1(j - p.n0, part);
    }
//#endif
//#if SEG3
    else {
      y0 = dot2(j - p.n0 - p.n1, part);
    }
//#endif
//#endif
  }
  if (SPLIT > 1u) {
    redY[lid] = vec2f(y0, y1);
    workgroupBarrier();
    for (var s = SPLIT / 2u; s > 0u; s >>= 1u) {
      if (part < s) { redY[lid] += redY[lid + s]; }
      workgroupBarrier();
    }
    y0 = redY[lid].x;
    y1 = redY[lid].y;
  }
  if (part != 0u || j >= p.N) { return; }
  var a = r * y0;
//#if SWIGLU
  var u = r * y1;
//#if BIAS
  a += b0[j];
  u += b1[j];
//#endif
  out[j] = a / (1.0 + exp(-a)) * u;
//#else
//#if BIAS
  if (j < p.n0) {
    a += b0[j];
  }
//#if SEG2
  else if (j < p.n0 + p.n1) {
    a += b1[j - p.n0];
  }
//#endif
//#if SEG3
  else {
    a += b2[j - p.n0 - p.n1];
  }
//#endif
//#endif
//#if RESIDUAL
  out[j] += a;
//#else
  out[j] = a;
//#endif
//#endif
}
