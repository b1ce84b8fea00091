// Permute the axes of a tensor (torch's x.permute(order) made contiguous), optionally reading only
// the first lengths[a] entries of each source axis a. Attention uses it to bring every head's rows
// together for the batched matmul ([B, T, H, D] → [B, H, T, D]; the first S slots of a KV cache
// [B, cap, Hkv, D] → [B, Hkv, S, D]) and to put transposed per-head results back.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './permute.wgsl?raw';

const KERNEL: KernelSource = { name: 'permute', code };
const WG = 256;
const MAX_RANK = 6; // permute.wgsl

export interface PermuteOptions {
  /** Entries of each source axis to read, from the start (default: all, x.shape). */
  lengths?: readonly number[];
  /** Write here (any shape holding the result's values); else a new tensor. */
  out?: Tensor;
}

/** out[i_0, …] = x[…] with out axis a = x axis order[a]; out shape order.map((a) => lengths[a]). */
export function permute(gpu: Gpu, x: Tensor, order: readonly number[], opts: PermuteOptions = {}): Tensor {
  expectDType('permute', 'x', x, 'f32');
  const rank = x.rank;
  const what = `permute("${x.label}" ${shapeString(x.shape)}, [${order.join(', ')}])`;
  if (rank > MAX_RANK) throw new ShapeError(`${what}: rank ${rank} exceeds ${MAX_RANK}.`);
  if (order.length !== rank || [...order].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new ShapeError(`${what}: the order must list each of the ${rank} axes once.`);
  }
  const lengths = opts.lengths ?? x.shape;
  if (lengths.length !== rank || lengths.some((n, a) => !Number.isInteger(n) || n < 0 || n > x.shape[a])) {
    throw new ShapeError(`${what}: lengths [${lengths.join(', ')}] must be whole numbers within the shape.`);
  }
  const shape = order.map((a) => lengths[a]);
  const out = opts.out ?? gpu.empty(shape, 'f32', `${x.label}.permuted`);
  expectDType('permute', 'out', out, 'f32');
  const count = shape.reduce((p, n) => p * n, 1);
  if (out.numel !== count) throw new ShapeError(`${what}: out "${out.label}" ${shapeString(out.shape)} does not hold ${shapeString(shape)}.`);
  if (out.buffer === x.buffer) throw new ShapeError(`${what}: out "${out.label}" must not share a buffer with the input.`);
  if (count === 0) return out;
  const srcStride = x.shape.map((_, a) => x.shape.slice(a + 1).reduce((p, n) => p * n, 1));
  const pad = MAX_RANK - rank;
  const extents = [...Array<number>(pad).fill(1), ...shape];
  const strides = [...Array<number>(pad).fill(0), ...order.map((a) => srcStride[a])];
  gpu.run({
    kernel: KERNEL,
    constants: { WG },
    bindings: [x, out],
    params: new Params().u32(count, ...extents.slice(1), ...strides),
    workgroups: gpu.grid(Math.ceil(count / WG)),
  });
  return out;
}
