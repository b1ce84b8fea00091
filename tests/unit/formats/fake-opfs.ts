// An in-memory stand-in for the Origin Private File System (Node has none): directories, files,
// createWritable with swap-file semantics (content replaced on close, discarded on abort) or, in
// `sync` mode, only createSyncAccessHandle (writes land in place) as in Safari workers; an optional
// byte quota that makes writes fail with QuotaExceededError, as browsers do.
import type { OpfsDirectoryHandle, OpfsFileHandle } from '../../../src/store/weight-cache.ts';

interface Entry {
  data: Uint8Array;
  lastModified: number;
}

export interface FakeOpfsOptions {
  mode?: 'writable' | 'sync';
  /** Total bytes the folder may hold (committed files plus pending writes). */
  quota?: number;
  now?: () => number;
}

const notFound = (name: string) => new DOMException(`${name} not found`, 'NotFoundError');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export class FakeOpfsDirectory implements OpfsDirectoryHandle {
  readonly kind = 'directory';
  readonly files = new Map<string, Entry>();
  readonly dirs = new Map<string, FakeOpfsDirectory>();
  pending = 0;

  constructor(
    private readonly options: FakeOpfsOptions = {},
    readonly name = '',
  ) {}

  private used(): number {
    let n = this.pending;
    for (const f of this.files.values()) n += f.data.byteLength;
    return n;
  }

  private reserve(bytes: number): void {
    if (this.options.quota !== undefined && this.used() + bytes > this.options.quota) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.pending += bytes;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<FakeOpfsDirectory> {
    let d = this.dirs.get(name);
    if (!d) {
      if (!options?.create) throw notFound(name);
      d = new FakeOpfsDirectory(this.options, name);
      this.dirs.set(name, d);
    }
    return d;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle> {
    if (!this.files.has(name)) {
      if (!options?.create) throw notFound(name);
      this.files.set(name, { data: new Uint8Array(0), lastModified: this.now() });
    }
    const dir = this;
    const handle: OpfsFileHandle = {
      kind: 'file',
      async getFile() {
        const f = dir.files.get(name);
        if (!f) throw notFound(name);
        return new File([f.data as Uint8Array<ArrayBuffer>], name, { lastModified: f.lastModified });
      },
    };
    if (this.options.mode === 'sync') {
      handle.createSyncAccessHandle = async () => ({
        write(data: Uint8Array, { at }: { at: number }) {
          dir.reserve(data.byteLength);
          dir.pending -= data.byteLength;
          const f = dir.files.get(name);
          if (!f) throw notFound(name);
          const grown = new Uint8Array(Math.max(f.data.byteLength, at + data.byteLength));
          grown.set(f.data);
          grown.set(data, at);
          dir.files.set(name, { data: grown, lastModified: dir.now() });
          return data.byteLength;
        },
        truncate(size: number) {
          const f = dir.files.get(name);
          if (!f) throw notFound(name);
          dir.files.set(name, { data: f.data.slice(0, size), lastModified: dir.now() });
        },
        flush() {},
        close() {},
      });
    } else {
      handle.createWritable = async () => {
        const parts: Uint8Array[] = [];
        let reserved = 0;
        const release = () => {
          dir.pending -= reserved;
          reserved = 0;
        };
        return {
          async write(data: Uint8Array) {
            dir.reserve(data.byteLength);
            reserved += data.byteLength;
            parts.push(data.slice());
          },
          async close() {
            release();
            if (!dir.files.has(name)) throw notFound(name);
            dir.files.set(name, { data: concat(parts), lastModified: dir.now() });
          },
          async abort() {
            release();
          },
        };
      };
    }
    return handle;
  }

  async removeEntry(name: string): Promise<void> {
    if (!this.files.delete(name) && !this.dirs.delete(name)) throw notFound(name);
  }

  async *entries(): AsyncGenerator<[string, { kind: 'file' | 'directory' }]> {
    for (const name of [...this.files.keys()]) yield [name, { kind: 'file' }];
    for (const name of [...this.dirs.keys()]) yield [name, { kind: 'directory' }];
  }
}
