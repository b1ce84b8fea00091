// Copy a block of columns between a narrow matrix and a wide one (the logits of one vocabulary
// window and the full logits): INSERT: wide[n, offset + c] = narrow[n, c];
// else EXTRACT: narrow[n, c] = wide[n, offset + c]. One element per invocation.
override WG: u32 = 256u;
override INSERT: bool = true;

struct P { rows: u32, cols: u32, wideCols: u32, offset: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows * p.cols) { return; }
  let n = i / p.cols;
  let c = i % p.cols;
  let wide = n * p.wideCols + p.offset + c;
  if (INSERT) {
    dst[wide] = src[i];
  } else {
    dst[i] = src[wide];
  }
}
