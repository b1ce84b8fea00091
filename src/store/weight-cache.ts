// Offline cache of model files (weights, configs, tokenizers), keyed by (source id, revision, file).
//
// Where the bytes live: the Origin Private File System (OPFS), chosen over the Cache API and
// IndexedDB because
//   - a download is written to a file as it streams (FileSystemWritableFileStream, or a sync access
//     handle in workers where createWritable is missing) and read back as a File, a disk-backed Blob:
//     slice() gives random access and stream() a streamed pass, so a 1 GB checkpoint is never held
//     twice in memory (IndexedDB needs the bytes as in-memory values, chunked by hand; the Cache API
//     can only hand back whole Responses, with no random access to read a header first);
//   - quota errors surface on the write that hits them (QuotaExceededError), and we drop the
//     unfinished file at once;
//   - listing and deleting are plain directory operations; sizes come from the files.
// In Node (the CLI) the same logic runs over a folder on disk (./weight-cache.node.ts).
//
// Integrity: an entry is a data file plus a small manifest {size, sha256, ...}, written only after
// every byte arrived, the size matched and the SHA-256 (computed while streaming) matched the
// announced one (hub LFS files announce it). The manifest is the commit point: a partial or corrupt
// download never gets one, so it is never used, and a previously cached copy stays valid until the
// new one is committed. Reads check the data file's size against the manifest; verify() re-hashes.
// Data files carry a random suffix, so a new download never overwrites a file someone is reading.
//
// E2E (browser) entry points: `await openBrowserWeightCache()` then `cache.list()`, `cache.get(key)`,
// `cache.delete(key)`, `cache.deleteSource(id)`; loadModelFiles(source, { cache }) fills it.
import { Sha256 } from '../formats/sha256.ts';
import { IntegrityError } from '../formats/errors.ts';
import { isQuotaError, StorageQuotaError } from './db.ts';

/** The file name under which a source's file listing is cached (no real file has an empty path). */
export const LISTING_FILE = '';

export interface CacheKey {
  sourceId: string;
  revision: string;
  file: string;
}

export interface CacheEntry extends CacheKey {
  size: number;
  sha256: string;
  storedAt: number;
  /** Name of the data file in the store. */
  dataName: string;
}

export interface CachedFile {
  entry: CacheEntry;
  /** The bytes, disk-backed where the store allows (OPFS File, Node openAsBlob). */
  blob: Blob;
}

export interface PutExpectations {
  size?: number | null;
  sha256?: string | null;
  signal?: AbortSignal;
}

/** The storage primitive under the cache: one flat folder of files. */
export interface CacheStore {
  create(name: string): Promise<CacheWriter>;
  /** The file, or null when absent. */
  open(name: string): Promise<Blob | null>;
  /** Removes the file (no error when absent). */
  remove(name: string): Promise<void>;
  list(): Promise<StoredFile[]>;
}

export interface CacheWriter {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface StoredFile {
  name: string;
  size: number;
  lastModified: number;
}

const MANIFEST = '.json';
const DATA = '.bin';

interface Manifest extends CacheEntry {
  v: 1;
}

function keyText(key: CacheKey): string {
  return `${key.file} of ${key.sourceId}${key.revision ? ` (${key.revision})` : ''}`;
}

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where a cache entry lives: a fixed-length name derived from the key (safe in any file system). */
export function entryStem(key: CacheKey): string {
  return new Sha256().update(new TextEncoder().encode(JSON.stringify([key.sourceId, key.revision, key.file]))).hex().slice(0, 40);
}

function isManifest(v: unknown, key?: CacheKey): v is Manifest {
  const m = v as Partial<Manifest> | null;
  return (
    !!m &&
    m.v === 1 &&
    typeof m.sourceId === 'string' &&
    typeof m.revision === 'string' &&
    typeof m.file === 'string' &&
    typeof m.size === 'number' &&
    typeof m.sha256 === 'string' &&
    typeof m.dataName === 'string' &&
    typeof m.storedAt === 'number' &&
    (!key || (m.sourceId === key.sourceId && m.revision === key.revision && m.file === key.file))
  );
}

function withoutVersion(m: Manifest): CacheEntry {
  const { v: _v, ...entry } = m;
  return entry;
}

export class WeightCache {
  constructor(
    readonly store: CacheStore,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private async readManifest(stem: string, key?: CacheKey): Promise<Manifest | null> {
    const blob = await this.store.open(stem + MANIFEST);
    if (!blob) return null;
    try {
      const parsed: unknown = JSON.parse(await blob.text());
      if (isManifest(parsed, key)) return parsed;
    } catch {
      // torn or foreign manifest: treated as absent below
    }
    await this.store.remove(stem + MANIFEST);
    return null;
  }

  /** A committed entry whose data file is present and of the recorded size; null otherwise (and a broken entry is removed). */
  async get(key: CacheKey): Promise<CachedFile | null> {
    const stem = entryStem(key);
    const m = await this.readManifest(stem, key);
    if (!m) return null;
    const blob = await this.store.open(m.dataName);
    if (!blob || blob.size !== m.size) {
      await this.store.remove(stem + MANIFEST);
      if (blob) await this.store.remove(m.dataName);
      return null;
    }
    return { entry: withoutVersion(m), blob };
  }

  /**
   * Streams `chunks` into a new entry, hashing as it goes. Commits only when the input ended
   * normally and matches `expect` (size, sha256); otherwise the partial file is removed and the
   * error (DownloadError, AbortError, IntegrityError, StorageQuotaError) is thrown. An existing entry
   * for the key stays valid until the new one is committed.
   */
  async put(key: CacheKey, chunks: AsyncIterable<Uint8Array>, expect: PutExpectations = {}): Promise<CachedFile> {
    const stem = entryStem(key);
    const dataName = `${stem}.${nonce()}${DATA}`;
    const hash = new Sha256();
    let size = 0;
    let writer: CacheWriter | null = null;
    try {
      writer = await this.store.create(dataName);
      for await (const chunk of chunks) {
        expect.signal?.throwIfAborted();
        hash.update(chunk);
        await writer.write(chunk);
        size += chunk.byteLength;
      }
      expect.signal?.throwIfAborted();
      await writer.close();
      writer = null;
      const sha256 = hash.hex();
      if (expect.size !== undefined && expect.size !== null && size !== expect.size) {
        throw new IntegrityError(key.file, `received ${size} bytes but ${expect.size} were announced.`);
      }
      if (expect.sha256 && sha256 !== expect.sha256.toLowerCase()) {
        throw new IntegrityError(key.file, `SHA-256 ${sha256} differs from the announced ${expect.sha256}: the download is corrupt.`);
      }
      const previous = await this.readManifest(stem, key);
      const entry: CacheEntry = { ...key, size, sha256, storedAt: this.now(), dataName };
      await this.writeManifest(stem, { v: 1, ...entry });
      if (previous && previous.dataName !== dataName) await this.store.remove(previous.dataName);
      const blob = await this.store.open(dataName);
      if (!blob) throw new IntegrityError(key.file, 'the cached file vanished right after it was written.');
      return { entry, blob };
    } catch (err) {
      if (writer) await writer.abort().catch(() => undefined);
      await this.store.remove(dataName).catch(() => undefined);
      if (isQuotaError(err) || isQuotaError((err as { cause?: unknown })?.cause)) throw new StorageQuotaError(keyText(key));
      throw err;
    }
  }

  private async writeManifest(stem: string, m: Manifest): Promise<void> {
    const w = await this.store.create(stem + MANIFEST);
    try {
      await w.write(new TextEncoder().encode(JSON.stringify(m)));
      await w.close();
    } catch (err) {
      await w.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Every committed entry whose data file is present with the recorded size. */
  async list(): Promise<CacheEntry[]> {
    const files = await this.store.list();
    const sizes = new Map(files.map((f) => [f.name, f.size]));
    const out: CacheEntry[] = [];
    for (const f of files) {
      if (!f.name.endsWith(MANIFEST)) continue;
      const m = await this.readManifest(f.name.slice(0, -MANIFEST.length));
      if (m && sizes.get(m.dataName) === m.size) out.push(withoutVersion(m));
    }
    return out.sort((a, b) => a.sourceId.localeCompare(b.sourceId) || a.revision.localeCompare(b.revision) || a.file.localeCompare(b.file));
  }

  /** Removes an entry (manifest first, so it is never seen half-deleted). True when it existed. */
  async delete(key: CacheKey): Promise<boolean> {
    const stem = entryStem(key);
    const m = await this.readManifest(stem, key);
    if (!m) return false;
    await this.store.remove(stem + MANIFEST);
    await this.store.remove(m.dataName);
    return true;
  }

  /** Removes every entry of a source (one revision, or all when omitted); returns the count. */
  async deleteSource(sourceId: string, revision?: string): Promise<number> {
    let n = 0;
    for (const e of await this.list()) {
      if (e.sourceId === sourceId && (revision === undefined || e.revision === revision)) n += (await this.delete(e)) ? 1 : 0;
    }
    return n;
  }

  /** Re-hashes an entry's data; a mismatch removes the entry. */
  async verify(key: CacheKey): Promise<boolean> {
    const cached = await this.get(key);
    if (!cached) return false;
    const hash = new Sha256();
    const reader = (cached.blob.stream() as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      hash.update(r.value);
    }
    if (hash.hex() === cached.entry.sha256) return true;
    await this.delete(key);
    return false;
  }

  /**
   * Removes data files no manifest refers to (left by a crash or a closed tab mid-download), when
   * older than `graceMs` (younger ones may be downloads in progress in another tab or process).
   */
  async sweep(graceMs = 60 * 60 * 1000): Promise<number> {
    const files = await this.store.list();
    const used = new Set((await this.list()).map((e) => e.dataName));
    const cutoff = this.now() - graceMs;
    let n = 0;
    for (const f of files) {
      if (f.name.endsWith(MANIFEST) || used.has(f.name) || f.lastModified > cutoff) continue;
      await this.store.remove(f.name);
      n++;
    }
    return n;
  }
}

// --- OPFS -----------------------------------------------------------------------------------

/** The parts of the OPFS handles used here (real handles have them; unit tests use a fake). */
export interface OpfsFileHandle {
  readonly kind: 'file';
  getFile(): Promise<File>;
  createWritable?(): Promise<{ write(data: Uint8Array): Promise<void>; close(): Promise<void>; abort(): Promise<void> }>;
  createSyncAccessHandle?(): Promise<{ write(data: Uint8Array, options: { at: number }): number; truncate(size: number): void; flush(): void; close(): void }>;
}

export interface OpfsDirectoryHandle {
  readonly kind: 'directory';
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectoryHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  removeEntry(name: string): Promise<void>;
  entries(): AsyncIterable<[string, { kind: 'file' | 'directory' }]>;
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

export class OpfsCacheStore implements CacheStore {
  constructor(private readonly dir: OpfsDirectoryHandle) {}

  async create(name: string): Promise<CacheWriter> {
    const handle = await this.dir.getFileHandle(name, { create: true });
    if (handle.createWritable) {
      // Writes go to a swap file that replaces the file only on close(); abort() discards it.
      const w = await handle.createWritable();
      return { write: (c) => w.write(c), close: () => w.close(), abort: () => w.abort() };
    }
    if (handle.createSyncAccessHandle) {
      // Workers of browsers without createWritable (older Safari).
      // Writes land in place, so an existing file (a replaced manifest) is emptied first.
      const h = await handle.createSyncAccessHandle();
      h.truncate(0);
      let at = 0;
      return {
        async write(c) {
          const n = h.write(c, { at });
          if (n !== c.byteLength) throw new DOMException(`wrote ${n} of ${c.byteLength} bytes`, 'QuotaExceededError');
          at += n;
        },
        async close() {
          h.flush();
          h.close();
        },
        async abort() {
          h.close();
        },
      };
    }
    throw new Error('This browser cannot write to its private file system (OPFS); models cannot be cached for offline use.');
  }

  async open(name: string): Promise<Blob | null> {
    try {
      return await (await this.dir.getFileHandle(name)).getFile();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.dir.removeEntry(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async list(): Promise<StoredFile[]> {
    const out: StoredFile[] = [];
    for await (const [name, handle] of this.dir.entries()) {
      if (handle.kind !== 'file') continue;
      const file = await this.open(name);
      if (file) out.push({ name, size: file.size, lastModified: (file as File).lastModified ?? 0 });
    }
    return out;
  }
}

/** The browser's weight cache: OPFS folder student-lab/weights (page or worker). */
export async function openBrowserWeightCache(root?: OpfsDirectoryHandle): Promise<WeightCache> {
  const top = root ?? ((await navigator.storage.getDirectory()) as unknown as OpfsDirectoryHandle);
  const lab = await top.getDirectoryHandle('student-lab', { create: true });
  return new WeightCache(new OpfsCacheStore(await lab.getDirectoryHandle('weights', { create: true })));
}

/** Asks the browser to keep the cache under storage pressure (true when granted). */
export async function requestPersistentStorage(): Promise<boolean> {
  return (await navigator.storage?.persist?.()) ?? false;
}
