// A tensor is a shape, a dtype and a range of one GPU buffer. Views (reshape, slices of a
// preallocated buffer) share the buffer and never free it; only the owner releases.
import { ShapeError } from './errors.ts';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export type Shape = readonly number[];

export function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${what}: invalid shape ${shapeString(shape)}.`);
  }
}

export interface TensorOwner {
  releaseBuffer(buffer: GPUBuffer): void;
}

export class Tensor {
  private released = false;

  constructor(
    private readonly owner: TensorOwner,
    readonly buffer: GPUBuffer,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly label: string,
    /** Byte offset into `buffer` (a multiple of minStorageBufferOffsetAlignment for bound views). */
    readonly byteOffset = 0,
    private readonly ownsBuffer = true,
  ) {
    checkShape(shape, label);
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get byteLength(): number {
    return this.numel * BYTES_PER_ELEMENT[this.dtype];
  }

  get rank(): number {
    return this.shape.length;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** A view with another shape and the same elements. */
  reshape(shape: Shape): Tensor {
    if (numelOf(shape) !== this.numel) {
      throw new ShapeError(`reshape of "${this.label}": ${shapeString(this.shape)} has ${this.numel} elements, ${shapeString(shape)} has ${numelOf(shape)}.`);
    }
    return new Tensor(this.owner, this.buffer, shape, this.dtype, this.label, this.byteOffset, false);
  }

  /**
   * A view of `shape` starting `elementOffset` elements in (for chunks of preallocated buffers such
   * as a KV cache). Binding it needs the byte offset to meet the device's storage offset alignment.
   */
  view(shape: Shape, elementOffset: number, label = this.label): Tensor {
    const bytes = BYTES_PER_ELEMENT[this.dtype];
    if (elementOffset < 0 || elementOffset + numelOf(shape) > this.numel) {
      throw new ShapeError(`view of "${this.label}": ${shapeString(shape)} at element ${elementOffset} runs past ${shapeString(this.shape)}.`);
    }
    return new Tensor(this.owner, this.buffer, shape, this.dtype, label, this.byteOffset + elementOffset * bytes, false);
  }

  /** Return the buffer to the allocator's pool. Views only mark themselves released. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.ownsBuffer) this.owner.releaseBuffer(this.buffer);
  }
}

/** Throw a ShapeError at the launcher unless `t` has exactly `expected` (null = any size). */
export function expectShape(op: string, name: string, t: Tensor, expected: readonly (number | null)[]): void {
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    const want = `[${expected.map((d) => (d === null ? '*' : d)).join(', ')}]`;
    throw new ShapeError(`${op}: ${name} ("${t.label}") has shape ${shapeString(t.shape)}, expected ${want}.`);
  }
}

export function expectDType(op: string, name: string, t: Tensor, ...dtypes: DType[]): void {
  if (!dtypes.includes(t.dtype)) {
    throw new ShapeError(`${op}: ${name} ("${t.label}") has dtype ${t.dtype}, expected ${dtypes.join(' or ')}.`);
  }
}
