// Operand loads for matmul on any shape: four scalar loads of elements i..i+3. Elements past the
// end of a row belong to the next row (or are clamped by WebGPU's bounds checks); the kernels
// mask them where they would enter a sum.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

fn loadA4(i: u32) -> vec4f { return vec4f(a[i], a[i + 1u], a[i + 2u], a[i + 3u]); }
fn loadB4(i: u32) -> vec4f { return vec4f(b[i], b[i + 1u], b[i + 2u], b[i + 3u]); }
