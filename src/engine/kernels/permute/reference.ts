// Reference for permute: out axis a is x axis order[a], reading the first lengths[b] entries of x's axis b.

export function permuteRef(x: ArrayLike<number>, shape: readonly number[], order: readonly number[], lengths: readonly number[] = shape): Float64Array {
  const outShape = order.map((a) => lengths[a]);
  const count = outShape.reduce((p, n) => p * n, 1);
  const out = new Float64Array(count);
  const index = new Array<number>(shape.length);
  for (let o = 0; o < count; o++) {
    let rest = o;
    for (let a = outShape.length - 1; a >= 0; a--) {
      index[order[a]] = rest % outShape[a];
      rest = Math.floor(rest / outShape[a]);
    }
    let at = 0;
    for (let b = 0; b < shape.length; b++) at = at * shape[b] + index[b];
    out[o] = x[at];
  }
  return out;
}
