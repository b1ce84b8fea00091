// Where a model's files come from. One interface, four kinds (browser-safe; the Node folder source
// is in ./source.node.ts):
//
//   hubSource('org/name', {revision})     https://huggingface.co/<repo>/resolve/<revision>/<file>, listing
//                                         (sizes, LFS sha256) from /api/models/<repo>/revision/<revision>
//   urlSource('https://host/dir/')        any base URL laid out like a repository folder
//   browserFilesSource(files)             File objects (input webkitdirectory, drag and drop)
//   directoryHandleSource(handle)         a FileSystemDirectoryHandle from showDirectoryPicker()
//   sourceFromString(text)                'org/name[@rev]', a hub page URL, or any http(s) URL
//
// open(file) gives a stream and what the source announces (size, sha256). HTTP errors become
// MissingFileError (404) or DownloadError; a body that breaks off or ends short becomes a
// DownloadError that names the file and the byte position. Abort through `signal`.
import { blobBytes, streamChunks, type RandomAccessBytes } from './bytes.ts';
import { DownloadError, MissingFileError } from './errors.ts';
import { LabError } from '../engine/errors.ts';

export interface SourceFileInfo {
  path: string;
  size: number | null;
  /** Hex SHA-256 when the source publishes it (hub LFS files). */
  sha256: string | null;
}

export interface OpenedFile {
  stream: ReadableStream<Uint8Array>;
  /** Bytes in `stream` (the range's length for ranged opens), when known for certain. */
  size: number | null;
  /** Size of the whole file, when known. */
  totalSize: number | null;
  sha256: string | null;
}

export interface OpenOptions {
  signal?: AbortSignal;
  /** Bytes [start, end) of the file; end omitted = to the end. */
  range?: { start: number; end?: number };
}

export type SourceKind = 'hub' | 'url' | 'browser-folder' | 'node-folder';

export interface ModelSource {
  /** Stable identity for caches and records: 'hf:org/name', 'url:https://…/', 'local:folder'. */
  readonly id: string;
  /** Revision for the cache key ('main', a commit); '' where a source has none. */
  readonly revision: string;
  readonly kind: SourceKind;
  /** Bytes come over the network (so they are worth caching). */
  readonly remote: boolean;
  /** For messages: "Hugging Face repository org/name (main)". */
  describe(): string;
  /** Every file with what is known about it; null when the source cannot list (plain URLs). */
  listFiles(signal?: AbortSignal): Promise<SourceFileInfo[] | null>;
  open(path: string, options?: OpenOptions): Promise<OpenedFile>;
  /** Random access to a file without reading what precedes the wanted bytes. */
  randomAccess(path: string, signal?: AbortSignal): Promise<RandomAccessBytes>;
}

/** A model location the lab cannot interpret. */
export class ModelLocationError extends LabError {
  constructor(text: string) {
    super(
      'ModelLocationError',
      `"${text}" is not a model location.`,
      'Give a Hugging Face repository id (org/name or org/name@revision), an http(s) URL of a model folder, or a local folder.',
    );
  }
}

export const HUB_BASE = 'https://huggingface.co';

const SHA256_RE = /^[0-9a-f]{64}$/;

/** The sha256 a hub response announces for an LFS file (X-Linked-ETag, or ETag), if any. */
export function announcedSha256(headers: Headers): string | null {
  for (const name of ['x-linked-etag', 'etag']) {
    const v = headers.get(name)?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    if (v && SHA256_RE.test(v)) return v;
  }
  return null;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function parseLength(v: string | null): number | null {
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

/**
 * A response body as a stream that fails with a DownloadError naming the file and the absolute
 * byte position when the connection breaks or the body is shorter than announced. `skip` drops
 * leading bytes (a server that ignored our Range header), `limit` stops after that many bytes.
 */
function guardedBody(body: ReadableStream<Uint8Array>, file: string, start: number, expected: number | null, total: number | null, signal: AbortSignal | undefined, skip = 0): ReadableStream<Uint8Array> {
  const chunks = streamChunks(body, signal);
  let position = start;
  let toSkip = skip;
  let left = expected;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await chunks.next();
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          throw new DownloadError(file, position, total, `the connection broke (${(err as Error).message}).`);
        }
        if (r.done) {
          if (left !== null && left > 0) throw new DownloadError(file, position, total, `the server closed the connection ${left} bytes early.`);
          controller.close();
          return;
        }
        let chunk = r.value;
        if (toSkip > 0) {
          const n = Math.min(toSkip, chunk.byteLength);
          toSkip -= n;
          chunk = chunk.subarray(n);
          if (chunk.byteLength === 0) continue;
        }
        if (left !== null && chunk.byteLength >= left) {
          chunk = chunk.subarray(0, left);
          left = 0;
          position += chunk.byteLength;
          if (chunk.byteLength > 0) controller.enqueue(chunk);
          await chunks.return(undefined);
          controller.close();
          return;
        }
        if (left !== null) left -= chunk.byteLength;
        position += chunk.byteLength;
        controller.enqueue(chunk);
        return;
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

export interface HttpSourceOptions {
  id: string;
  revision?: string;
  kind?: SourceKind;
  description?: string;
  /** Headers sent with every request (e.g. Authorization for gated hub repositories). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  /** Lists the files (hub API); omitted for plain URLs. */
  list?: (signal?: AbortSignal) => Promise<SourceFileInfo[] | null>;
}

/** Files under a base URL: `${base}${file}`. */
export class HttpSource implements ModelSource {
  readonly id: string;
  readonly revision: string;
  readonly kind: SourceKind;
  readonly remote = true;
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(
    base: string,
    private readonly options: HttpSourceOptions,
  ) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.id = options.id;
    this.revision = options.revision ?? '';
    this.kind = options.kind ?? 'url';
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  describe(): string {
    return this.options.description ?? this.base;
  }

  url(path: string): string {
    return new URL(encodePath(path), this.base).toString();
  }

  async listFiles(signal?: AbortSignal): Promise<SourceFileInfo[] | null> {
    return this.options.list ? this.options.list(signal) : null;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    const { signal, range } = options;
    const headers: Record<string, string> = { ...this.options.headers };
    if (range) headers.Range = `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}`;
    let response: Response;
    try {
      response = await this.doFetch(this.url(path), { signal, headers });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new DownloadError(path, range?.start ?? 0, null, `the request failed (${(err as Error).message}).`);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new MissingFileError(path, this.describe());
    }
    if (!response.ok) {
      await response.body?.cancel();
      const why = response.status === 401 || response.status === 403 ? ' (the repository does not exist, or it is private or gated)' : '';
      throw new DownloadError(path, range?.start ?? 0, null, `HTTP ${response.status} ${response.statusText}${why}.`, why ? 'Check the repository id; gated models need an access token.' : undefined);
    }
    const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    // Content-Length counts the bytes on the wire, and text may travel compressed while we read it
    // decoded (browsers hide Content-Encoding from cross-origin pages), so a length is trusted only
    // for binary bodies without an encoding.
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const textual = /json|text|javascript|xml/i.test(response.headers.get('content-type') ?? '');
    const length = encoded || textual ? null : parseLength(response.headers.get('content-length'));
    const sha256 = announcedSha256(response.headers);
    if (range && response.status === 206) {
      const total = parseLength(response.headers.get('content-range')?.split('/')[1] ?? null);
      const size = length ?? (range.end !== undefined ? range.end - range.start : total !== null ? total - range.start : null);
      return { stream: guardedBody(body, path, range.start, size, total, signal), size, totalSize: total, sha256 };
    }
    // A full body: either no range was asked for or the server ignored it (then skip and cut).
    const start = range?.start ?? 0;
    const end = range?.end ?? length;
    const size = end === null ? null : end - start;
    return { stream: guardedBody(body, path, start, size, length, signal, start), size, totalSize: length, sha256 };
  }

  async randomAccess(path: string, signal?: AbortSignal): Promise<RandomAccessBytes> {
    const first = await this.open(path, { signal, range: { start: 0, end: 1 } });
    await first.stream.cancel();
    const size = first.totalSize;
    if (size === null) throw new DownloadError(path, 0, null, 'the server did not say how large the file is (no Content-Length or Content-Range).');
    const read = async (start: number, end: number) => {
      const opened = await this.open(path, { signal, range: { start, end } });
      const out = new Uint8Array(end - start);
      let offset = 0;
      for await (const c of streamChunks(opened.stream, signal)) {
        out.set(c, offset);
        offset += c.byteLength;
      }
      return out.subarray(0, offset);
    };
    const self = this;
    return {
      size,
      slice: (start, end) => (end <= start ? Promise.resolve(new Uint8Array(0)) : read(start, Math.min(end, size))),
      async *chunks(start, chunkSignal) {
        if (start >= size) return;
        const opened = await self.open(path, { signal: chunkSignal ?? signal, range: { start } });
        yield* streamChunks(opened.stream, chunkSignal ?? signal);
      },
    };
  }
}

export function urlSource(base: string, options: Omit<HttpSourceOptions, 'id'> = {}): HttpSource {
  const normalized = base.endsWith('/') ? base : `${base}/`;
  return new HttpSource(normalized, { description: normalized, ...options, id: `url:${normalized}`, kind: 'url' });
}

export interface HubOptions {
  revision?: string;
  /** Base of the hub (tests point it at a local server). */
  hubBase?: string;
  /** Hugging Face access token for gated or private repositories. */
  token?: string;
  fetch?: typeof fetch;
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function hubSource(repo: string, options: HubOptions = {}): HttpSource {
  if (!REPO_RE.test(repo)) throw new ModelLocationError(repo);
  const revision = options.revision ?? 'main';
  const hub = (options.hubBase ?? HUB_BASE).replace(/\/+$/, '');
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const list = async (signal?: AbortSignal): Promise<SourceFileInfo[] | null> => {
    try {
      const r = await doFetch(`${hub}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`, { signal, headers });
      if (!r.ok) {
        await r.body?.cancel();
        return null;
      }
      const info = (await r.json()) as { siblings?: { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown } }[] };
      if (!Array.isArray(info.siblings)) return null;
      return info.siblings
        .filter((s) => typeof s.rfilename === 'string')
        .map((s) => ({
          path: s.rfilename as string,
          size: typeof s.size === 'number' ? s.size : null,
          sha256: typeof s.lfs?.sha256 === 'string' && SHA256_RE.test(s.lfs.sha256) ? s.lfs.sha256 : null,
        }));
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return null; // offline or blocked: the loader falls back to its cached listing or to probing
    }
  };
  return new HttpSource(`${hub}/${repo}/resolve/${encodeURIComponent(revision)}/`, {
    id: `hf:${repo}`,
    revision,
    kind: 'hub',
    description: `Hugging Face repository ${repo} (${revision})`,
    headers,
    fetch: doFetch,
    list,
  });
}

/** 'org/name', 'org/name@rev', 'hf:org/name', a huggingface.co page or resolve URL, or any http(s) base URL. */
export function sourceFromString(text: string, options: HubOptions = {}): ModelSource {
  const t = text.trim();
  const hub = (options.hubBase ?? HUB_BASE).replace(/\/+$/, '');
  if (t.startsWith(`${hub}/`) && !t.startsWith(`${hub}/api/`)) {
    const m = /^([^/]+\/[^/]+)(?:\/(?:tree|resolve|blob)\/([^/]+))?\/?$/.exec(t.slice(hub.length + 1));
    if (m) return hubSource(m[1], { ...options, revision: m[2] ? decodeURIComponent(m[2]) : options.revision });
  }
  if (/^https?:\/\//i.test(t)) return urlSource(t, { fetch: options.fetch });
  const repo = t.replace(/^hf:/, '');
  const at = repo.lastIndexOf('@');
  if (at > 0) return hubSource(repo.slice(0, at), { ...options, revision: repo.slice(at + 1) });
  if (REPO_RE.test(repo) && repo.includes('/')) return hubSource(repo, options);
  throw new ModelLocationError(text);
}

/** A source over files already at hand (browser folders, Node folders): everything is a Blob. */
export abstract class BlobFolderSource implements ModelSource {
  readonly revision = '';
  readonly remote = false;
  abstract readonly id: string;
  abstract readonly kind: SourceKind;
  abstract describe(): string;
  abstract listFiles(signal?: AbortSignal): Promise<SourceFileInfo[]>;
  /** The file as a Blob; MissingFileError when absent. */
  abstract blob(path: string): Promise<Blob>;

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    const blob = await this.blob(path);
    const start = options.range?.start ?? 0;
    const end = options.range?.end ?? blob.size;
    const part = start === 0 && end === blob.size ? blob : blob.slice(start, end);
    return { stream: part.stream() as ReadableStream<Uint8Array>, size: part.size, totalSize: blob.size, sha256: null };
  }

  async randomAccess(path: string): Promise<RandomAccessBytes> {
    return blobBytes(await this.blob(path));
  }
}

/** A file picked in the browser with its path inside the chosen folder. */
export interface PickedFile {
  path: string;
  file: File;
}

/**
 * Files from `<input type="file" webkitdirectory>` (paths from webkitRelativePath, the top folder
 * stripped), from a drop (see filesFromDrop), or a plain multi-file selection (paths = names).
 */
export class BrowserFilesSource extends BlobFolderSource {
  readonly kind = 'browser-folder';
  readonly id: string;
  private readonly files = new Map<string, File>();

  constructor(files: Iterable<File | PickedFile>, name?: string) {
    super();
    const picked = [...files].map((f) => (f instanceof File ? { path: f.webkitRelativePath || f.name, file: f } : f));
    const roots = new Set(picked.map((p) => (p.path.includes('/') ? p.path.split('/')[0] : '')));
    const root = roots.size === 1 ? [...roots][0] : '';
    for (const p of picked) this.files.set(root ? p.path.slice(root.length + 1) : p.path, p.file);
    this.id = `local:${name ?? (root || 'files')}`;
  }

  describe(): string {
    return `local folder ${this.id.slice('local:'.length)}`;
  }

  async listFiles(): Promise<SourceFileInfo[]> {
    return [...this.files].map(([path, f]) => ({ path, size: f.size, sha256: null }));
  }

  async blob(path: string): Promise<Blob> {
    const f = this.files.get(path);
    if (!f) throw new MissingFileError(path, this.describe());
    return f;
  }
}

/** The parts of FileSystemDirectoryHandle used here (a real handle has them; tests use fakes). */
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string): Promise<DirectoryHandleLike>;
  getFileHandle(name: string): Promise<{ getFile(): Promise<File> }>;
  entries(): AsyncIterable<[string, { kind: 'file' | 'directory' }]>;
}

/** A folder chosen with showDirectoryPicker() (or dropped, via getAsFileSystemHandle()). */
export class DirectoryHandleSource extends BlobFolderSource {
  readonly kind = 'browser-folder';
  readonly id: string;

  constructor(private readonly root: DirectoryHandleLike | FileSystemDirectoryHandle) {
    super();
    this.id = `local:${root.name}`;
  }

  private get dir(): DirectoryHandleLike {
    return this.root as unknown as DirectoryHandleLike;
  }

  describe(): string {
    return `local folder ${this.root.name}`;
  }

  async listFiles(): Promise<SourceFileInfo[]> {
    const out: SourceFileInfo[] = [];
    const walk = async (dir: DirectoryHandleLike, prefix: string, depth: number) => {
      for await (const [name, handle] of dir.entries()) {
        if (handle.kind === 'file') out.push({ path: prefix + name, size: (await (await dir.getFileHandle(name)).getFile()).size, sha256: null });
        else if (depth < 2 && !name.startsWith('.')) await walk(await dir.getDirectoryHandle(name), `${prefix}${name}/`, depth + 1);
      }
    };
    await walk(this.dir, '', 0);
    return out;
  }

  async blob(path: string): Promise<Blob> {
    const parts = path.split('/');
    try {
      let dir = this.dir;
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part);
      return await (await dir.getFileHandle(parts[parts.length - 1])).getFile();
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NotFoundError' || name === 'TypeMismatchError') throw new MissingFileError(path, this.describe());
      throw err;
    }
  }
}

/**
 * The files of a drop (DataTransfer items) with their paths inside the dropped folder. Reads the
 * entries before the event handler returns (the browser clears the items afterwards): call it
 * synchronously from the drop handler with `event.dataTransfer.items`.
 */
export function filesFromDrop(items: DataTransferItemList): Promise<PickedFile[]> {
  const entries = Array.from(items, (item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  return filesFromEntries(entries);
}

export async function filesFromEntries(entries: readonly FileSystemEntry[]): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const visit = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns the entries in batches until an empty batch.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await visit(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await visit(e, '');
  return out;
}
