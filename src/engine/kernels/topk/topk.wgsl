// Top-k along the last axis (k ≤ KMAX): values in descending order with their indices, equal
// values ordered by lower index. One workgroup per row, no sort of the row:
//  1. each invocation keeps a sorted list of the k best entries of its strided slice of the row
//     (an element only costs a comparison with the list's last entry unless it enters the list);
//  2. lists merge pairwise in a tree through workgroup memory (log2(WG) rounds, k steps each).
const KMAX = 64u;
override WG: u32 = 32u;

struct P { rows: u32, C: u32, k: u32, negInf: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> indices: array<i32>;
@group(0) @binding(3) var<uniform> p: P;

// Lists handed from invocation t + h to invocation t during the merge (at most WG/2 at a time).
var<workgroup> shareV: array<f32, KMAX * WG / 2u>;
var<workgroup> shareI: array<u32, KMAX * WG / 2u>;

// Empty list slots: below every element, -inf included (index NONE loses ties).
const NONE = 0xffffffffu;

// Whether (v, i) ranks before (w, j).
fn before(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= p.rows) { return; }
  let base = row * p.C;
  let k = p.k;
  var lv: array<f32, KMAX>;
  var li: array<u32, KMAX>;
  for (var j = 0u; j < k; j++) {
    lv[j] = p.negInf;
    li[j] = NONE;
  }
  for (var i = t; i < p.C; i += WG) {
    let v = x[base + i];
    if (before(v, i, lv[k - 1u], li[k - 1u])) {
      // Insertion: shift worse entries down one slot.
      var j = k - 1u;
      while (j > 0u && before(v, i, lv[j - 1u], li[j - 1u])) {
        lv[j] = lv[j - 1u];
        li[j] = li[j - 1u];
        j--;
      }
      lv[j] = v;
      li[j] = i;
    }
  }
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t >= h && t < 2u * h) {
      let o = (t - h) * KMAX;
      for (var j = 0u; j < k; j++) {
        shareV[o + j] = lv[j];
        shareI[o + j] = li[j];
      }
    }
    workgroupBarrier();
    if (t < h) {
      // Keep the k best of the two sorted lists.
      let o = t * KMAX;
      var mv: array<f32, KMAX>;
      var mi: array<u32, KMAX>;
      var a = 0u;
      var b = 0u;
      for (var j = 0u; j < k; j++) {
        if (before(lv[a], li[a], shareV[o + b], shareI[o + b])) {
          mv[j] = lv[a];
          mi[j] = li[a];
          a++;
        } else {
          mv[j] = shareV[o + b];
          mi[j] = shareI[o + b];
          b++;
        }
      }
      lv = mv;
      li = mi;
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    for (var j = 0u; j < k; j++) {
      values[row * k + j] = lv[j];
      indices[row * k + j] = i32(li[j]);
    }
  }
}
