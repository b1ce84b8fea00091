// Byte plumbing shared by the readers: any input (ReadableStream, Blob/File, fetch Response, async
// iterable) as an async iterable of chunks, a reader that takes exact byte counts from such chunks
// without gathering the whole input, and random access over a Blob or an in-memory buffer.
//
// Works the same in browsers and Node 20 (no node: imports). ReadableStreams are read through
// getReader() because async iteration of streams is missing in some browsers.

export type ByteInput = ReadableStream<Uint8Array> | Blob | Response | AsyncIterable<Uint8Array>;

/** Bytes that can be read at any offset without reading what comes before. */
export interface RandomAccessBytes {
  readonly size: number;
  /** Bytes [start, end) in a fresh buffer. */
  slice(start: number, end: number): Promise<Uint8Array>;
  /** The bytes from `start` to the end, as chunks. */
  chunks(start: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** The chunks of a ReadableStream; cancels the stream when the consumer stops early. */
export async function* streamChunks(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      if (r.value.byteLength > 0) yield r.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

export function byteChunks(input: ByteInput, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return streamChunks(input.stream(), signal);
  if (typeof Response !== 'undefined' && input instanceof Response) {
    if (!input.body) return (async function* () {})();
    return streamChunks(input.body, signal);
  }
  if (typeof (input as ReadableStream).getReader === 'function') return streamChunks(input as ReadableStream<Uint8Array>, signal);
  return input as AsyncIterable<Uint8Array>;
}

/** The size of an input when it is known before reading it. */
export function byteInputSize(input: ByteInput): number | null {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return input.size;
  if (typeof Response !== 'undefined' && input instanceof Response) {
    const length = input.headers.get('content-length');
    return length !== null && /^\d+$/.test(length) ? Number(length) : null;
  }
  return null;
}

/**
 * Takes bytes from a chunk iterator in exact amounts. `position` counts the bytes consumed.
 * Holds at most one chunk of the input at a time.
 */
export class ChunkReader {
  position = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private ended = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /** The next up to `max` bytes as a view of the input chunk (no copy), or null at the end. */
  async next(max: number): Promise<Uint8Array | null> {
    while (this.offset >= this.current.byteLength) {
      if (this.ended) return null;
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        return null;
      }
      this.current = r.value;
      this.offset = 0;
    }
    const n = Math.min(max, this.current.byteLength - this.offset);
    const out = this.current.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return out;
  }

  /** Fills `target`; returns how many bytes it got (less than its length only at the end of input). */
  async readInto(target: Uint8Array): Promise<number> {
    let filled = 0;
    while (filled < target.byteLength) {
      const part = await this.next(target.byteLength - filled);
      if (!part) break;
      target.set(part, filled);
      filled += part.byteLength;
    }
    return filled;
  }

  /** True when the input has no bytes left (reads ahead one chunk if needed). */
  async atEnd(): Promise<boolean> {
    if (this.offset < this.current.byteLength) return false;
    if (this.ended) return true;
    const r = await this.iterator.next();
    if (r.done) {
      this.ended = true;
      return true;
    }
    this.current = r.value;
    this.offset = 0;
    return r.value.byteLength === 0 ? this.atEnd() : false;
  }

  /** Stops reading (cancels the underlying stream). */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }
}

export function blobBytes(blob: Blob): RandomAccessBytes {
  return {
    size: blob.size,
    async slice(start, end) {
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    },
    chunks(start, signal) {
      return streamChunks(blob.slice(start).stream(), signal);
    },
  };
}

/** Random access over bytes already in memory; `chunkBytes` bounds the size of each chunk. */
export function memoryBytes(bytes: Uint8Array, chunkBytes = 1 << 20): RandomAccessBytes {
  return {
    size: bytes.byteLength,
    async slice(start, end) {
      return bytes.slice(start, end);
    },
    async *chunks(start, signal) {
      for (let i = start; i < bytes.byteLength; i += chunkBytes) {
        signal?.throwIfAborted();
        yield bytes.subarray(i, Math.min(bytes.byteLength, i + chunkBytes));
      }
    },
  };
}

export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of chunks) {
    parts.push(c);
    total += c.byteLength;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
