// A checkpoint's tensors across one or several safetensors files, with every header read (and
// checked against the shard index) before any tensor data is read: the engine can check shapes and
// plan memory before it allocates, then stream tensors in file order or read them by name.
import type { TensorData } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';
import type { SafetensorsDType } from './dtypes.ts';
import type { SafetensorsFile, StreamOptions, TensorPiece } from './safetensors.ts';
import { checkShards, type ShardIndex } from './shard-index.ts';

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  file: string;
  byteLength: number;
}

export interface WeightSet {
  /** Weight files in load order. */
  readonly files: readonly string[];
  readonly index: ShardIndex | null;
  /** Every tensor, in load order (file by file, in file order). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Bytes of tensor data over all files. */
  readonly totalBytes: number;
  read(name: string): Promise<TensorData>;
  /** One tensor at a time, in load order. */
  stream(options?: StreamOptions): AsyncIterable<TensorData>;
  /** Pieces of at most maxPieceBytes, in load order (for uploads that never hold a whole tensor). */
  pieces(maxPieceBytes: number, options?: StreamOptions): AsyncIterable<TensorPiece>;
}

export function weightSet(files: readonly SafetensorsFile[], index: ShardIndex | null): WeightSet {
  if (index) checkShards(index, new Map(files.map((f) => [f.header.file, f.header])));
  const tensors = new Map<string, TensorInfo>();
  const owner = new Map<string, SafetensorsFile>();
  let totalBytes = 0;
  for (const f of files) {
    for (const e of f.header.entries) {
      if (tensors.has(e.name)) throw new SafetensorsError(f.header.file, `tensor "${e.name}" is also in ${tensors.get(e.name)!.file}.`);
      tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, file: f.header.file, byteLength: e.end - e.begin });
      owner.set(e.name, f);
      totalBytes += e.end - e.begin;
    }
  }
  return {
    files: files.map((f) => f.header.file),
    index,
    tensors,
    totalBytes,
    read(name) {
      const f = owner.get(name);
      if (!f) throw new SafetensorsError(files.map((x) => x.header.file).join(', '), `has no tensor "${name}".`);
      return f.read(name);
    },
    async *stream(options) {
      for (const f of files) yield* f.tensors(options);
    },
    async *pieces(maxPieceBytes, options) {
      for (const f of files) yield* f.pieces(maxPieceBytes, options);
    },
  };
}
