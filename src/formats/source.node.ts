// Node-only model sources (the CLI and tests): a local folder read through fs, and the CLI's
// `--model <dir|url|repo-id>` resolution. Files are opened as lazy Blobs (fs.openAsBlob), so reads
// are streamed or random-access and a large checkpoint is never read whole.
import { openAsBlob } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MissingFileError } from './errors.ts';
import { BlobFolderSource, sourceFromString, type HubOptions, type ModelSource, type SourceFileInfo } from './source.ts';

export class NodeFolderSource extends BlobFolderSource {
  readonly kind = 'node-folder';
  readonly id: string;
  readonly folder: string;

  constructor(folder: string) {
    super();
    this.folder = resolve(folder);
    this.id = `local:${this.folder}`;
  }

  describe(): string {
    return `folder ${this.folder}`;
  }

  async listFiles(): Promise<SourceFileInfo[]> {
    const out: SourceFileInfo[] = [];
    const walk = async (dir: string, prefix: string, depth: number) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isFile()) out.push({ path: prefix + entry.name, size: (await stat(join(dir, entry.name))).size, sha256: null });
        else if (entry.isDirectory() && depth < 2 && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
          await walk(join(dir, entry.name), `${prefix}${entry.name}/`, depth + 1);
        }
      }
    };
    await walk(this.folder, '', 0);
    return out;
  }

  async blob(path: string): Promise<Blob> {
    const full = join(this.folder, ...path.split('/'));
    if (!full.startsWith(this.folder)) throw new MissingFileError(path, this.describe());
    try {
      if (!(await stat(full)).isFile()) throw new MissingFileError(path, this.describe());
      return await openAsBlob(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingFileError(path, this.describe());
      throw err;
    }
  }
}

/** The CLI's --model: an existing folder, else a repo id or URL (see sourceFromString). */
export async function sourceFromArg(arg: string, options: HubOptions = {}): Promise<ModelSource> {
  const info = await stat(arg).catch(() => null);
  if (info?.isDirectory()) return new NodeFolderSource(arg);
  if (info?.isFile() && basename(arg) === 'config.json') return new NodeFolderSource(resolve(arg, '..'));
  return sourceFromString(arg, options);
}
