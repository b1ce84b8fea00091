// The weight cache on disk for Node (the CLI): same logic and integrity rules as the browser's
// OPFS cache (./weight-cache.ts), in $STUDENT_LAB_CACHE/weights or ~/.cache/student-lab/weights.
// A file is written under a temporary name and renamed into place on close (atomic on one disk).
import { openAsBlob } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WeightCache, type CacheStore, type CacheWriter, type StoredFile } from './weight-cache.ts';

export function defaultCacheDir(): string {
  return process.env.STUDENT_LAB_CACHE || join(homedir(), '.cache', 'student-lab');
}

const TMP = '.tmp-';

/** A full disk looks like a browser quota error to the cache. */
function asQuota(err: unknown): unknown {
  if ((err as NodeJS.ErrnoException)?.code === 'ENOSPC' || (err as NodeJS.ErrnoException)?.code === 'EDQUOT') {
    return Object.assign(new Error((err as Error).message), { name: 'QuotaExceededError' });
  }
  return err;
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export class DiskCacheStore implements CacheStore {
  constructor(readonly dir: string) {}

  async create(name: string): Promise<CacheWriter> {
    const dir = this.dir;
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${name}${TMP}${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fh: FileHandle = await open(tmp, 'wx');
    let closed = false;
    return {
      async write(chunk) {
        try {
          await fh.write(chunk);
        } catch (err) {
          throw asQuota(err);
        }
      },
      async close() {
        try {
          await fh.sync();
          await fh.close();
        } catch (err) {
          throw asQuota(err);
        } finally {
          closed = true;
        }
        await rename(tmp, join(dir, name));
      },
      async abort() {
        if (!closed) await fh.close().catch(() => undefined);
        closed = true;
        await ignoreMissing(unlink(tmp));
      },
    };
  }

  async open(name: string): Promise<Blob | null> {
    const path = join(this.dir, name);
    try {
      if (!(await stat(path)).isFile()) return null;
      return await openAsBlob(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    await ignoreMissing(unlink(join(this.dir, name)));
  }

  async list(): Promise<StoredFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredFile[] = [];
    for (const name of names) {
      const s = await stat(join(this.dir, name)).catch(() => null);
      if (s?.isFile()) out.push({ name, size: s.size, lastModified: s.mtimeMs });
    }
    return out;
  }
}

export function openDiskWeightCache(dir = join(defaultCacheDir(), 'weights')): WeightCache {
  return new WeightCache(new DiskCacheStore(dir));
}
