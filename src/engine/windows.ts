// Windows of tensors larger than one storage binding. A buffer may be as large as maxBufferSize
// (2 GiB here) while one binding holds at most maxStorageBufferBindingSize (128 MiB here): a
// vocabulary-sized embedding or LM head is therefore one buffer that kernels bind a window at a time.
// Windows start at offsets the device can bind (minStorageBufferOffsetAlignment) and, for row
// windows, at row numbers that are multiples of `rowMultiple` (so a matching window of a [.., V]
// logits row is aligned too).
import type { Gpu } from './gpu.ts';
import { ShapeError } from './errors.ts';
import { BYTES_PER_ELEMENT, type Tensor } from './tensor.ts';

export interface RowWindow {
  /** First row of the window. */
  start: number;
  rows: number;
  /** [rows, ...rest] view of the tensor. */
  view: Tensor;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** Row windows of a [rows, ...] tensor, each bindable; one window when the tensor fits a binding. */
export function rowWindows(gpu: Gpu, t: Tensor, rowMultiple = 64): RowWindow[] {
  const rows = t.shape[0];
  const rest = t.shape.slice(1);
  const rowElems = t.numel / Math.max(1, rows);
  const rowBytes = rowElems * BYTES_PER_ELEMENT[t.dtype];
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (t.byteLength <= limit) return [{ start: 0, rows, view: t }];
  const align = gpu.limits.minStorageBufferOffsetAlignment || 256;
  const step = lcm(align / gcd(rowBytes, align), rowMultiple);
  const per = Math.floor(limit / rowBytes / step) * step;
  if (per < 1) throw new ShapeError(`"${t.label}": ${step} rows of ${rowBytes} bytes do not fit one storage binding of ${limit} bytes.`);
  const out: RowWindow[] = [];
  for (let start = 0; start < rows; start += per) {
    const n = Math.min(per, rows - start);
    out.push({ start, rows: n, view: t.view([n, ...rest], start * rowElems, `${t.label}[${start}:${start + n}]`) });
  }
  return out;
}

/** Flat windows of a tensor for elementwise work: views at the same offsets for every tensor given. */
export function flatWindows(gpu: Gpu, ...tensors: Tensor[]): Tensor[][] {
  const first = tensors[0];
  for (const t of tensors) {
    if (t.numel !== first.numel || t.dtype !== first.dtype) throw new ShapeError(`flatWindows: "${t.label}" does not match "${first.label}".`);
  }
  const bytes = BYTES_PER_ELEMENT[first.dtype];
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (first.byteLength <= limit) return [tensors];
  const align = gpu.limits.minStorageBufferOffsetAlignment || 256;
  const per = Math.floor(limit / align) * (align / bytes);
  const out: Tensor[][] = [];
  for (let start = 0; start < first.numel; start += per) {
    const n = Math.min(per, first.numel - start);
    out.push(tensors.map((t) => t.view([n], start, `${t.label}[${start}:${start + n}]`)));
  }
  return out;
}

/** Whether a tensor of this many bytes needs windows on this device. */
export function needsWindows(gpu: Gpu, bytes: number): boolean {
  return bytes > gpu.limits.maxStorageBufferBindingSize;
}
