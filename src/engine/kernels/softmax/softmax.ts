// Softmax and log-softmax along the last axis: y = softmax(scale · x), same shape as x. Rows of any
// length (a vocabulary of 150k included); numerically stable (max-subtracted). A row of only -inf
// has no defined softmax and gives NaN, as in PyTorch.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { expectDType, type Tensor } from '../../tensor.ts';
import { ROW_WG, rowOutput, rowShape } from '../reduce/reduce.ts';
import code from './softmax.wgsl?raw';

const KERNEL: KernelSource = { name: 'softmax', code };

export interface SoftmaxOptions {
  /** Multiplies the inputs before the softmax (e.g. 1/temperature, 1/sqrt(d)). Default 1. */
  scale?: number;
  out?: Tensor;
}

function launch(gpu: Gpu, op: 'softmax' | 'logSoftmax', x: Tensor, opts: SoftmaxOptions): Tensor {
  expectDType(op, 'x', x, 'f32');
  const { rows, C } = rowShape(op, x);
  const y = rowOutput(gpu, op, x, x.shape, opts.out);
  if (rows === 0) return y;
  gpu.run({
    kernel: KERNEL,
    constants: { LOG: op === 'logSoftmax' ? 1 : 0, WG: ROW_WG },
    bindings: [x, y],
    params: new Params().u32(rows, C).f32(opts.scale ?? 1),
    workgroups: gpu.grid(rows),
  });
  return y;
}

export const softmax = (gpu: Gpu, x: Tensor, opts: SoftmaxOptions = {}): Tensor => launch(gpu, 'softmax', x, opts);
export const logSoftmax = (gpu: Gpu, x: Tensor, opts: SoftmaxOptions = {}): Tensor => launch(gpu, 'logSoftmax', x, opts);
