// Where an export's files go. The worker streams each file piece by piece (src/engine/train-api.ts,
// ExportEvent); the page writes them:
// - `folder`: into a folder the person picks (File System Access API, Chromium browsers). Pieces go
//   straight to disk, so even a large model is never held whole in the page's memory.
// - `download`: one download per file, each assembled as a Blob (browsers keep large Blobs on disk).
//   Works everywhere; a zip would add a dependency and a second copy of the model for no gain.
import type { ExportEvent, ExportResult } from '../../engine/train-api.ts';

export type ExportTarget = 'folder' | 'download';

type DirectoryPicker = (options?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;

function directoryPicker(): DirectoryPicker | null {
  if (typeof window === 'undefined') return null;
  const w = window as unknown as { showDirectoryPicker?: DirectoryPicker };
  return w.showDirectoryPicker ? w.showDirectoryPicker.bind(window) : null;
}

export function canPickFolder(): boolean {
  return directoryPicker() !== null;
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started by then; the URL only keeps the Blob alive.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

type Run = (onPiece: (e: ExportEvent) => Promise<void>) => Promise<ExportResult>;

/** Run an export into `target`. Resolves with the files written, or null when the person closed the folder picker. */
export async function saveExport(target: ExportTarget, run: Run): Promise<ExportResult['files'] | null> {
  if (target === 'folder') {
    const pick = directoryPicker();
    if (!pick) throw new Error('This browser cannot write into a folder; use "Download files".');
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await pick({ mode: 'readwrite', id: 'student-lab-export' });
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') return null;
      throw err;
    }
    const open = new Map<string, FileSystemWritableFileStream>();
    try {
      const result = await run(async ({ path, bytes, last }) => {
        let w = open.get(path);
        if (!w) {
          w = await (await dir.getFileHandle(path, { create: true })).createWritable();
          open.set(path, w);
        }
        await w.write(bytes as Uint8Array<ArrayBuffer>);
        if (last) {
          await w.close();
          open.delete(path);
        }
      });
      return result.files;
    } finally {
      // A failed export leaves no half-written file behind (abort discards the pending write).
      for (const w of open.values()) await w.abort().catch(() => undefined);
    }
  }
  const parts = new Map<string, Uint8Array<ArrayBuffer>[]>();
  const result = await run(async ({ path, bytes, last }) => {
    const list = parts.get(path) ?? [];
    list.push(bytes as Uint8Array<ArrayBuffer>);
    parts.set(path, list);
    if (last) {
      download(path, new Blob(list, { type: path.endsWith('.json') ? 'application/json' : 'application/octet-stream' }));
      parts.delete(path);
    }
  });
  return result.files;
}
