import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModelFiles } from '../../../src/formats/model-files.ts';
import { BrowserFilesSource, DirectoryHandleSource, filesFromEntries, type PickedFile } from '../../../src/formats/source.ts';
import { FakeOpfsDirectory } from './fake-opfs.ts';
import { fixtureBytes, fixturePath } from './fixtures.ts';

/** The files of a fixture folder as the browser hands them over, under a top folder "qwen2". */
function picked(model: string): PickedFile[] {
  const out: PickedFile[] = [];
  for (const name of readdirSync(fixturePath(model), { withFileTypes: true })) {
    if (name.isFile()) out.push({ path: `${model}/${name.name}`, file: new File([readFileSync(fixturePath(model, name.name))], name.name) });
  }
  for (const name of readdirSync(fixturePath(model, 'lora'))) out.push({ path: `${model}/lora/${name}`, file: new File([readFileSync(fixturePath(model, 'lora', name))], name) });
  return out;
}

/** Minimal FileSystemEntry fakes (what webkitGetAsEntry returns for a dropped folder). */
function entryTree(files: PickedFile[]): FileSystemEntry {
  const dir = (name: string, children: FileSystemEntry[]) => {
    let served = false;
    return {
      name,
      isFile: false,
      isDirectory: true,
      createReader: () => ({
        // Like Chrome, hand the children out in batches, then an empty batch.
        readEntries(ok: (e: FileSystemEntry[]) => void) {
          ok(served ? [] : children);
          served = true;
        },
      }),
    } as unknown as FileSystemEntry;
  };
  const file = (f: PickedFile) => ({ name: f.path.split('/').pop(), isFile: true, isDirectory: false, file: (ok: (file: File) => void) => ok(f.file) }) as unknown as FileSystemEntry;
  const top = files.filter((f) => f.path.split('/').length === 2).map(file);
  const lora = files.filter((f) => f.path.includes('/lora/')).map(file);
  return dir('qwen2', [...top, dir('lora', lora)]);
}

describe('browser folder sources (File objects and directory handles)', () => {
  it('loads a model from picked files (paths inside the chosen folder)', async () => {
    const source = new BrowserFilesSource(picked('qwen2'));
    expect(source.id).toBe('local:qwen2');
    expect((await source.listFiles()).map((f) => f.path)).toContain('lora/adapter_config.json');
    const files = await loadModelFiles(source);
    expect(files.config.architecture).toBe('qwen2');
    expect(files.files.every((f) => f.from === 'local')).toBe(true);
    const norm = await files.weights.read('model.norm.weight');
    expect(norm.data.byteLength).toBe(256);
  });

  it('walks a dropped folder into picked files with relative paths', async () => {
    const files = await filesFromEntries([entryTree(picked('qwen2'))]);
    expect(files.map((f) => f.path).sort()).toEqual(picked('qwen2').map((f) => f.path).sort());
    const source = new BrowserFilesSource(files);
    expect(Buffer.compare(new Uint8Array(await (await source.blob('lora/adapter_model.safetensors')).arrayBuffer()), fixtureBytes('qwen2', 'lora', 'adapter_model.safetensors'))).toBe(0);
  });

  it('loads a model from a directory handle, and names a missing file', async () => {
    const root = new FakeOpfsDirectory();
    const dir = await root.getDirectoryHandle('llama', { create: true });
    for (const f of picked('llama')) {
      const parts = f.path.split('/').slice(1);
      const parent = parts.length === 2 ? await dir.getDirectoryHandle(parts[0], { create: true }) : dir;
      parent.files.set(parts[parts.length - 1], { data: new Uint8Array(await f.file.arrayBuffer()), lastModified: 0 });
    }
    const source = new DirectoryHandleSource(dir);
    expect((await source.listFiles()).map((f) => f.path)).toContain('lora/adapter_model.safetensors');
    const files = await loadModelFiles(source);
    expect(files.weights.tensors.size).toBe(20);
    dir.files.delete('tokenizer.json');
    await expect(loadModelFiles(source)).rejects.toThrow(/^tokenizer\.json is not in local folder llama/);
  });
});
