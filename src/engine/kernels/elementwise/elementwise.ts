// Launchers for the elementwise family: add, mul (b may broadcast over trailing dims), scale,
// silu, gelu, gelu_tanh, and silu_mul (the SwiGLU product silu(gate) · up). One WGSL program, the op chosen by a pipeline constant.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './elementwise.wgsl?raw';
import swigluBackwardCode from './swiglu_backward.wgsl?raw';
import dropoutCode from './dropout.wgsl?raw';

const KERNEL: KernelSource = { name: 'elementwise', code };
const WG = 256;

const OPS = { add: 0, mul: 1, scale: 2, silu: 3, gelu: 4, gelu_tanh: 5, silu_mul: 6 } as const;
type Op = keyof typeof OPS;

function launch(gpu: Gpu, op: Op, a: Tensor, b: Tensor, alpha: number, out?: Tensor): Tensor {
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  if (b.numel === 0 || a.numel % b.numel !== 0) {
    throw new ShapeError(`${op}: b ${shapeString(b.shape)} does not broadcast onto a ${shapeString(a.shape)} (its size must divide a's).`);
  }
  const y = out ?? gpu.empty(a.shape, 'f32', `${op}.out`);
  if (y.numel !== a.numel) throw new ShapeError(`${op}: out ${shapeString(y.shape)} does not match a ${shapeString(a.shape)}.`);
  if (y.buffer === a.buffer || y.buffer === b.buffer) throw new ShapeError(`${op}: out must not alias an input (use a fresh tensor).`);
  if (a.numel === 0) return y;
  gpu.run({
    kernel: KERNEL,
    constants: { OP: OPS[op], WG },
    bindings: [a, b, y],
    params: new Params().u32(a.numel, b.numel).f32(alpha),
    workgroups: gpu.grid(Math.ceil(a.numel / WG)),
  });
  return y;
}

export const add = (gpu: Gpu, a: Tensor, b: Tensor, out?: Tensor) => launch(gpu, 'add', a, b, 0, out);
export const mul = (gpu: Gpu, a: Tensor, b: Tensor, out?: Tensor) => launch(gpu, 'mul', a, b, 0, out);
export const scale = (gpu: Gpu, a: Tensor, alpha: number, out?: Tensor) => launch(gpu, 'scale', a, a, alpha, out);
export const silu = (gpu: Gpu, a: Tensor, out?: Tensor) => launch(gpu, 'silu', a, a, 0, out);
export const gelu = (gpu: Gpu, a: Tensor, out?: Tensor) => launch(gpu, 'gelu', a, a, 0, out);
export const geluTanh = (gpu: Gpu, a: Tensor, out?: Tensor) => launch(gpu, 'gelu_tanh', a, a, 0, out);
export const siluMul = (gpu: Gpu, gate: Tensor, up: Tensor, out?: Tensor) => launch(gpu, 'silu_mul', gate, up, 0, out);

const SWIGLU_BACKWARD: KernelSource = { name: 'swiglu_backward', code: swigluBackwardCode };

/** Backward of siluMul: returns new tensors dgate and dup. */
export function siluMulBackward(gpu: Gpu, dy: Tensor, gate: Tensor, up: Tensor): { dgate: Tensor; dup: Tensor } {
  if (dy.numel !== gate.numel || up.numel !== gate.numel) {
    throw new ShapeError(`siluMulBackward: dy ${shapeString(dy.shape)}, gate ${shapeString(gate.shape)} and up ${shapeString(up.shape)} must match.`);
  }
  const dgate = gpu.empty(gate.shape, 'f32', 'swiglu.dgate');
  const dup = gpu.empty(gate.shape, 'f32', 'swiglu.dup');
  if (gate.numel > 0) {
    gpu.run({
      kernel: SWIGLU_BACKWARD,
      constants: { WG },
      bindings: [dy, gate, up, dgate, dup],
      params: new Params().u32(gate.numel),
      workgroups: gpu.grid(Math.ceil(gate.numel / WG)),
    });
  }
  return { dgate, dup };
}

const DROPOUT: KernelSource = { name: 'dropout', code: dropoutCode };

/** Inverted dropout keyed by `seed`: the same seed reproduces the same mask (for the backward). */
export function dropout(gpu: Gpu, x: Tensor, rate: number, seed: number, out?: Tensor): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}.`);
  const y = out ?? gpu.empty(x.shape, 'f32', 'dropout.out');
  if (x.numel === 0) return y;
  gpu.run({
    kernel: DROPOUT,
    constants: { WG },
    bindings: [x, y],
    params: new Params().u32(x.numel, seed >>> 0, Math.min(0xffffffff, Math.floor(rate * 4294967296))).f32(1 / (1 - rate)),
    workgroups: gpu.grid(Math.ceil(x.numel / WG)),
  });
  return y;
}
