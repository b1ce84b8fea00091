// The Gpu handle: device + limits + features, the allocator, the pipeline cache, and one open
// command encoder that collects dispatches until flush(). Only this module and adapter.ts touch
// the raw device; kernels describe a Dispatch and call gpu.run().
import { Allocator, alignTo4, type AllocatorStats } from './allocator.ts';
import { acquireDevice, likelySoftware, type AcquireOptions, type AdapterReport } from './adapter.ts';
import { DeviceLostError, GpuValidationError, ShapeError } from './errors.ts';
import { BYTES_PER_ELEMENT, Tensor, numelOf, shapeString, type DType, type Shape } from './tensor.ts';
import { float16ToFloat32, float32ToFloat16 } from './f16.ts';

/** A WGSL program. `name` identifies it in errors and must be unique per `code`. */
export interface KernelSource {
  name: string;
  code: string;
  entry?: string;
}

export interface Dispatch {
  kernel: KernelSource;
  /** Pipeline-overridable constants (`override X: u32;` in WGSL), part of the pipeline cache key. */
  constants?: Record<string, number>;
  /** Storage bindings 0..n-1 of group 0, in order. */
  bindings: readonly Tensor[];
  /** Uniform block at binding n (after the storage bindings): scalars only (see Params). */
  params?: Params;
  /** Workgroup counts; use grid() to stay within maxComputeWorkgroupsPerDimension. */
  workgroups: readonly [number, number?, number?];
}

/** Little builder for a uniform block of 32-bit scalars, in WGSL struct order. */
export class Params {
  private words: number[] = [];
  private kinds: ('u32' | 'i32' | 'f32')[] = [];
  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ShapeError(`uniform u32 out of range: ${v}`);
      this.words.push(v);
      this.kinds.push('u32');
    }
    return this;
  }
  i32(...values: number[]): this {
    for (const v of values) {
      this.words.push(v | 0);
      this.kinds.push('i32');
    }
    return this;
  }
  f32(...values: number[]): this {
    for (const v of values) {
      this.words.push(v);
      this.kinds.push('f32');
    }
    return this;
  }
  /** Bytes, padded to 16 (uniform struct size rule). */
  encode(): ArrayBuffer {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const buf = new ArrayBuffer(n * 4);
    const u = new Uint32Array(buf);
    const i = new Int32Array(buf);
    const f = new Float32Array(buf);
    this.words.forEach((w, k) => {
      if (this.kinds[k] === 'f32') f[k] = w;
      else if (this.kinds[k] === 'i32') i[k] = w;
      else u[k] = w;
    });
    return buf;
  }
}

export type HostArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint16Array;

export interface TensorOptions {
  /** May exceed maxStorageBufferBindingSize; bound in windows (src/engine/windows.ts). */
  windowed?: boolean;
}

const UNIFORM_CHUNK = 64 * 1024;
/** Dispatches per command buffer before an automatic submit (bounds encoder memory). */
const MAX_DISPATCHES_PER_SUBMIT = 4096;

/** Bind groups kept for reuse (see Gpu.bindGroup). */
const BIND_GROUP_CACHE = 4096;

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/** A stable number for a GPU object (cache keys). */
function idOf(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return id;
}

interface UniformChunk {
  buffer: GPUBuffer;
  data: Uint8Array;
  used: number;
}

export interface GpuCounters {
  dispatches: number;
  submits: number;
  readbacks: number;
}

export class Gpu {
  readonly allocator: Allocator;
  readonly limits: AdapterReport['limits'];
  readonly features: ReadonlySet<string>;
  /** Resolves when the device is lost (never rejects). */
  readonly lost: Promise<GPUDeviceLostInfo>;
  readonly counters: GpuCounters = { dispatches: 0, submits: 0, readbacks: 0 };

  private lostInfo: GPUDeviceLostInfo | null = null;
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private uniformChunks: UniformChunk[] = [];
  private chunkIndex = 0;
  private errors: Promise<GPUError | null>[] = [];
  private bindGroups = new Map<string, GPUBindGroup>();

  constructor(
    readonly device: GPUDevice,
    readonly report: AdapterReport,
  ) {
    this.limits = report.limits;
    this.features = new Set(report.features);
    this.allocator = new Allocator(device, report.limits);
    this.lost = device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
  }

  /** Acquire an adapter and device from a `navigator.gpu`-like object (page, worker or Node). */
  static async create(gpuApi: GPU | undefined, options?: AcquireOptions): Promise<Gpu> {
    const { device, report } = await acquireDevice(gpuApi, options);
    return new Gpu(device, report);
  }

  get hasF16(): boolean {
    return this.features.has('shader-f16');
  }

  get hasSubgroups(): boolean {
    return this.features.has('subgroups');
  }

  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  /** True on CPU rasterisers and software adapters, where register blocking beats tiling (likelySoftware). */
  get isSoftware(): boolean {
    return likelySoftware(this.report);
  }

  memory(): AllocatorStats {
    return this.allocator.snapshot();
  }

  private assertAlive(): void {
    if (this.lostInfo) {
      throw new DeviceLostError(
        `The GPU device was lost (${this.lostInfo.reason}): ${this.lostInfo.message}`,
        'Re-acquire the device; training resumes from its last checkpoint.',
      );
    }
  }

  // ---- tensors -------------------------------------------------------------------------------

  /**
   * An uninitialised tensor (pooled buffers are not zeroed). `windowed`: it may exceed one storage
   * binding and is then bound in windows by the code that uses it (src/engine/windows.ts).
   */
  empty(shape: Shape, dtype: DType = 'f32', label = 'tensor', opts: TensorOptions = {}): Tensor {
    this.assertAlive();
    this.checkDType(dtype, label);
    const buffer = this.allocator.storage(numelOf(shape) * BYTES_PER_ELEMENT[dtype], label, opts.windowed);
    return new Tensor(this, buffer, shape, dtype, label);
  }

  /** A tensor of zeros, cleared on the GPU in the current batch. */
  zeros(shape: Shape, dtype: DType = 'f32', label = 'zeros', opts: TensorOptions = {}): Tensor {
    const t = this.empty(shape, dtype, label, opts);
    this.clear(t);
    return t;
  }

  /** Upload host data. f16 tensors take Float32Array (converted) or raw Uint16Array bits. */
  upload(data: HostArray | readonly number[], shape: Shape, dtype: DType = 'f32', label = 'upload', opts: TensorOptions = {}): Tensor {
    const n = numelOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`upload "${label}": ${data.length} values for shape ${shapeString(shape)} (${n} elements).`);
    }
    const t = this.empty(shape, dtype, label, opts);
    this.write(t, data);
    return t;
  }

  /** Overwrite a tensor's contents from the host (ordered before later dispatches). */
  write(t: Tensor, data: HostArray | readonly number[]): void {
    this.assertAlive();
    if (data.length !== t.numel) {
      throw new ShapeError(`write "${t.label}": ${data.length} values for ${t.numel} elements.`);
    }
    const bytes = toBytes(data, t.dtype);
    // Keep order with dispatches already recorded: submit them first.
    this.flush();
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, bytes.buffer, bytes.byteOffset, alignTo4(bytes.byteLength));
  }

  /** Zero a tensor on the GPU, in order with recorded dispatches. */
  clear(t: Tensor): void {
    this.assertAlive();
    this.endPass();
    const size = alignTo4(t.byteLength);
    this.openEncoder().clearBuffer(t.buffer, t.byteOffset, size);
  }

  /** Copy src into dst (same byte length), in order with recorded dispatches. */
  copy(src: Tensor, dst: Tensor): void {
    this.assertAlive();
    if (src.byteLength !== dst.byteLength) {
      throw new ShapeError(`copy: "${src.label}" has ${src.byteLength} bytes, "${dst.label}" has ${dst.byteLength}.`);
    }
    this.endPass();
    this.openEncoder().copyBufferToBuffer(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset, alignTo4(src.byteLength));
  }

  releaseBuffer(buffer: GPUBuffer): void {
    this.allocator.release(buffer);
  }

  private checkDType(dtype: DType, label: string): void {
    if (dtype === 'f16' && !this.hasF16) {
      throw new ShapeError(`"${label}": f16 tensors need the shader-f16 feature, which this device lacks.`, 'Use f32.');
    }
  }

  // ---- dispatch ------------------------------------------------------------------------------

  /** Workgroup counts for `count` workgroups, folded into 2D when over the per-dimension limit. */
  grid(count: number): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension || 65535;
    if (count <= max) return [Math.max(1, count), 1, 1];
    const y = Math.ceil(count / max);
    if (y > max) throw new ShapeError(`dispatch of ${count} workgroups exceeds ${max}² (maxComputeWorkgroupsPerDimension).`);
    return [Math.ceil(count / y), y, 1];
  }

  pipeline(kernel: KernelSource, constants?: Record<string, number>): GPUComputePipeline {
    const key = `${kernel.name}|${kernel.entry ?? 'main'}|${constants ? JSON.stringify(constants) : ''}`;
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    let module = this.modules.get(kernel.code);
    this.device.pushErrorScope('validation');
    if (!module) {
      module = this.device.createShaderModule({ code: kernel.code, label: kernel.name });
      this.modules.set(kernel.code, module);
    }
    pipeline = this.device.createComputePipeline({
      label: kernel.name,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entry ?? 'main', constants },
    });
    this.errors.push(this.device.popErrorScope());
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Record one dispatch into the open batch. */
  run(d: Dispatch): void {
    this.assertAlive();
    for (const t of d.bindings) {
      if (t.isReleased) throw new ShapeError(`${d.kernel.name}: binding "${t.label}" was already released.`);
      if (alignTo4(t.byteLength) > this.limits.maxStorageBufferBindingSize) {
        throw new ShapeError(
          `${d.kernel.name}: "${t.label}" ${shapeString(t.shape)} is larger than one storage binding (${this.limits.maxStorageBufferBindingSize} bytes).`,
          'Bind it in windows (src/engine/windows.ts), or use a smaller batch or sequence length.',
        );
      }
    }
    const pipeline = this.pipeline(d.kernel, d.constants);
    const ranges: GPUBufferBinding[] = d.bindings.map((t) => ({ buffer: t.buffer, offset: t.byteOffset, size: alignTo4(t.byteLength) }));
    if (d.params) ranges.push(this.uniform(d.params.encode()));
    const bindGroup = this.bindGroup(pipeline, ranges, d.kernel.name);
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = d.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    if (++this.pending >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /**
   * The bind group for these buffer ranges, from a cache: steady loops (decode steps, train steps)
   * bind the same ranges in the same order every time (pooled buffers, uniforms at the same chunk
   * offsets), and creating a bind group plus its error scope is a large part of a small dispatch's
   * cost. Buffers are keyed by identity, so a destroyed buffer's entries can never match again;
   * the least recently used entries are dropped past BIND_GROUP_CACHE entries.
   */
  private bindGroup(pipeline: GPUComputePipeline, ranges: readonly GPUBufferBinding[], label: string): GPUBindGroup {
    let key = String(idOf(pipeline));
    for (const r of ranges) key += `|${idOf(r.buffer)}:${r.offset}:${r.size}`;
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key);
      this.bindGroups.set(key, group);
      return group;
    }
    const entries = ranges.map((resource, binding) => ({ binding, resource }));
    this.device.pushErrorScope('validation');
    group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    this.errors.push(this.device.popErrorScope());
    this.bindGroups.set(key, group);
    if (this.bindGroups.size > BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    return group;
  }

  private uniform(bytes: ArrayBuffer): GPUBufferBinding {
    const align = Math.max(this.limits.minUniformBufferOffsetAlignment || 256, 16);
    let chunk = this.uniformChunks[this.chunkIndex];
    const size = bytes.byteLength;
    if (chunk && alignUp(chunk.used, align) + size > UNIFORM_CHUNK) chunk = this.uniformChunks[++this.chunkIndex];
    if (!chunk) {
      chunk = {
        buffer: this.allocator.create(UNIFORM_CHUNK, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms'),
        data: new Uint8Array(UNIFORM_CHUNK),
        used: 0,
      };
      this.uniformChunks[this.chunkIndex] = chunk;
    }
    const offset = alignUp(chunk.used, align);
    chunk.data.set(new Uint8Array(bytes), offset);
    chunk.used = offset + size;
    return { buffer: chunk.buffer, offset, size };
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    return this.encoder;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.openEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submit everything recorded so far as one command buffer. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    // Uniform data of this batch goes first in queue order; chunks are reusable right after.
    for (let i = 0; i <= this.chunkIndex && i < this.uniformChunks.length; i++) {
      const c = this.uniformChunks[i];
      if (c.used > 0) this.device.queue.writeBuffer(c.buffer, 0, c.data.buffer, 0, alignTo4(c.used));
      c.used = 0;
    }
    this.chunkIndex = 0;
    this.device.pushErrorScope('validation');
    this.device.queue.submit([this.encoder.finish()]);
    this.errors.push(this.device.popErrorScope());
    this.allocator.collect();
    this.encoder = null;
    this.pending = 0;
    this.counters.submits++;
  }

  /** Flush, wait for the GPU, and throw the first validation error recorded since the last sync. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  private async checkErrors(): Promise<void> {
    const pending = this.errors;
    this.errors = [];
    const results = await Promise.all(pending);
    const first = results.find((e) => e);
    if (first) throw new GpuValidationError(`WebGPU validation failed: ${first.message}`);
    this.assertAlive();
  }

  /** Read a tensor back to the host (f16 is widened to f32). */
  async read(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array> {
    const raw = await this.readBytes(t);
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(raw);
      case 'i32':
        return new Int32Array(raw);
      case 'u32':
        return new Uint32Array(raw);
      case 'f16': {
        const bits = new Uint16Array(raw);
        const out = new Float32Array(t.numel);
        for (let i = 0; i < out.length; i++) out[i] = float16ToFloat32(bits[i]);
        return out;
      }
    }
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new ShapeError(`readF32: "${t.label}" is ${t.dtype}.`);
    return (await this.read(t)) as Float32Array;
  }

  /** Raw bytes of a tensor (exactly byteLength long). */
  async readBytes(t: Tensor): Promise<ArrayBuffer> {
    this.assertAlive();
    const size = alignTo4(t.byteLength);
    const staging = this.allocator.create(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.endPass();
    this.openEncoder().copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, size);
    this.flush();
    this.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (err) {
      this.allocator.release(staging);
      await this.checkErrors();
      throw err;
    }
    const out = staging.getMappedRange(0, size).slice(0, t.byteLength);
    staging.unmap();
    this.allocator.release(staging);
    await this.checkErrors();
    return out;
  }

  /** Finish outstanding work and error scopes (Dawn aborts on scopes left pending), then free everything. */
  async destroy(): Promise<void> {
    if (!this.lostInfo) {
      this.flush();
      await this.device.queue.onSubmittedWorkDone();
      await Promise.allSettled(this.errors);
      this.errors = [];
    }
    this.bindGroups.clear();
    this.allocator.destroyAll();
    this.device.destroy();
  }
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function toBytes(data: HostArray | readonly number[], dtype: DType): Uint8Array {
  let typed: ArrayBufferView;
  switch (dtype) {
    case 'f32':
      typed = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
      break;
    case 'i32':
      typed = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
      break;
    case 'u32':
      typed = data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
      break;
    case 'f16': {
      if (data instanceof Uint16Array) typed = data;
      else {
        const bits = new Uint16Array(data.length);
        for (let i = 0; i < data.length; i++) bits[i] = float32ToFloat16(data[i]);
        typed = bits;
      }
      break;
    }
  }
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (bytes.byteLength % 4 === 0) return bytes;
  const padded = new Uint8Array(alignTo4(bytes.byteLength));
  padded.set(bytes);
  return padded;
}
