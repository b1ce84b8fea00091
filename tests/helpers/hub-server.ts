// A local stand-in for the Hugging Face hub: serves folders (the fixtures) under the hub's URL layout
//   GET/HEAD /<org>/<name>/resolve/<revision>/<file>     with Content-Length, ETag, Accept-Ranges, Range
//   GET      /api/models/<org>/<name>/revision/<rev>     {siblings: [{rfilename, size, lfs: {sha256}}]}
// LFS-like files (*.safetensors, *.onnx, *.bin) announce their SHA-256 in ETag and X-Linked-ETag as
// the hub does; other files get a git-style 40-hex ETag. CORS headers let a page on another origin
// (e2e tests) use it. Faults per file: an HTTP status, a connection dropped after N bytes, corrupt
// bytes (headers still announce the true sha256), slow chunks, a missing Content-Length.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FileFault {
  /** Answer with this status (e.g. 404, 500) instead of the file. */
  status?: number;
  /** Send the headers for the whole body, then this many body bytes, then drop the connection. */
  dropAfterBytes?: number;
  /** Flip the byte at this offset of the body (the headers still announce the true sha256). */
  corruptAt?: number;
  /** Pause between body chunks. */
  delayMs?: number;
  /** Body chunk size (default 16 KiB). */
  chunkBytes?: number;
  /** Omit Content-Length (chunked transfer). */
  noContentLength?: boolean;
  /** Ignore Range headers (answer 200 with the whole file). */
  ignoreRange?: boolean;
  /** Only the first `times` requests are faulty (default: all). */
  times?: number;
}

export interface RepoSpec {
  /** Folder whose files are served (recursively). */
  folder?: string;
  /** Files served in addition to (or instead of) the folder's. */
  files?: Record<string, Uint8Array | string>;
  /** Files of the folder to hide. */
  hide?: string[];
  /** Serve the listing API (default true). */
  listing?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | null;
  status: number;
}

export interface HubServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (pass as hubBase). */
  url: string;
  repos: Map<string, RepoSpec>;
  setRepo(repo: string, spec: RepoSpec): void;
  /** Set (or clear, with null) the fault of one file of one repo. */
  fault(repo: string, file: string, fault: FileFault | null): void;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

const LFS_RE = /\.(safetensors|onnx|bin)$/;

function listFolder(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(relative(folder, full).split('\\').join('/'));
    }
  };
  walk(folder);
  return out.sort();
}

function repoFiles(spec: RepoSpec): Map<string, () => Uint8Array> {
  const files = new Map<string, () => Uint8Array>();
  if (spec.folder) {
    const folder = spec.folder;
    for (const path of listFolder(folder)) files.set(path, () => readFileSync(join(folder, path)));
  }
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    files.set(path, () => (typeof content === 'string' ? new TextEncoder().encode(content) : content));
  }
  for (const path of spec.hide ?? []) files.delete(path);
  return files;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range, Authorization',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Linked-ETag, X-Linked-Size',
};

export async function startHubServer(repos: Record<string, RepoSpec> = {}): Promise<HubServer> {
  const specs = new Map(Object.entries(repos));
  const faults = new Map<string, FileFault & { used: number }>();
  const requests: LoggedRequest[] = [];

  const send = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body?: Uint8Array | string) => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '', range: req.headers.range ?? null, status });
    res.writeHead(status, { ...CORS, ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const serveFile = async (req: IncomingMessage, res: ServerResponse, repo: string, path: string) => {
    const spec = specs.get(repo);
    const load = spec && repoFiles(spec).get(path);
    const f = faults.get(`${repo}\0${path}`);
    const fault = f && (f.times === undefined || f.used < f.times) ? f : undefined;
    if (fault) fault.used++;
    if (!load || fault?.status === 404) return send(req, res, 404, { 'X-Error-Code': 'EntryNotFound' }, 'Entry not found');
    if (fault?.status) return send(req, res, fault.status, {}, `fault ${fault.status}`);
    const full = load();
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (LFS_RE.test(path)) {
      const sha = sha256(full);
      Object.assign(headers, { ETag: `"${sha}"`, 'X-Linked-ETag': `"${sha}"`, 'X-Linked-Size': String(full.byteLength) });
    } else headers.ETag = `"${gitSha1(full)}"`;
    let body = full;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !fault?.ignoreRange) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]) + 1, full.byteLength) : full.byteLength;
      if (start >= full.byteLength) return send(req, res, 416, { 'Content-Range': `bytes */${full.byteLength}` });
      body = full.subarray(start, end);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end - 1}/${full.byteLength}`;
    }
    if (fault?.corruptAt !== undefined && fault.corruptAt < body.byteLength) {
      body = body.slice();
      body[fault.corruptAt] ^= 0xff;
    }
    if (!fault?.noContentLength) headers['Content-Length'] = String(body.byteLength);
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '', range: req.headers.range ?? null, status });
    res.writeHead(status, { ...CORS, ...headers });
    if (req.method === 'HEAD') return res.end();
    const chunk = fault?.chunkBytes ?? 16 * 1024;
    const limit = fault?.dropAfterBytes ?? Infinity;
    for (let i = 0; i < body.byteLength; i += chunk) {
      if (res.destroyed) return;
      const part = body.subarray(i, Math.min(body.byteLength, i + chunk, limit));
      if (part.byteLength > 0 && !res.write(part)) await new Promise((r) => res.once('drain', r));
      if (i + chunk >= limit) {
        await sleep(10); // let the bytes leave before the connection breaks
        res.destroy();
        return;
      }
      if (fault?.delayMs) await sleep(fault.delayMs);
    }
    res.end();
  };

  const serveListing = (req: IncomingMessage, res: ServerResponse, repo: string, revision: string) => {
    const spec = specs.get(repo);
    if (!spec || spec.listing === false) return send(req, res, spec ? 404 : 401, { 'Content-Type': 'application/json' }, '{"error":"Repository not found"}');
    const siblings = [...repoFiles(spec)].map(([rfilename, load]) => {
      const bytes = load();
      return { rfilename, size: bytes.byteLength, blobId: gitSha1(bytes), ...(LFS_RE.test(rfilename) ? { lfs: { sha256: sha256(bytes), size: bytes.byteLength } } : {}) };
    });
    send(req, res, 200, { 'Content-Type': 'application/json' }, JSON.stringify({ id: repo, sha: revision, siblings }));
  };

  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') return send(req, res, 204, {});
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision' && parts.length === 6) return serveListing(req, res, `${parts[2]}/${parts[3]}`, parts[5]);
    if (parts[2] === 'resolve' && parts.length >= 5) {
      serveFile(req, res, `${parts[0]}/${parts[1]}`, parts.slice(4).join('/')).catch(() => res.destroy());
      return;
    }
    send(req, res, 404, {}, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    repos: specs,
    setRepo: (repo, spec) => specs.set(repo, spec),
    fault(repo, file, fault) {
      if (fault) faults.set(`${repo}\0${file}`, { ...fault, used: 0 });
      else faults.delete(`${repo}\0${file}`);
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every fixture model folder under the hub layout as fixtures/<name>. */
export function fixtureRepos(fixturesDir: string, names: readonly string[]): Record<string, RepoSpec> {
  return Object.fromEntries(names.map((n) => [`fixtures/${n}`, { folder: join(fixturesDir, n) }]));
}
