// Operand loads for matmul when each operand's contiguous dimension is a multiple of 4:
// one aligned vec4 load per call. `i` is an element index, a multiple of 4.
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;

fn loadA4(i: u32) -> vec4f { return a[i >> 2u]; }
fn loadB4(i: u32) -> vec4f { return b[i >> 2u]; }
