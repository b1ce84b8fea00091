// `--model <dir|url|repo-id>` for the CLI commands that run a model (generate, forward): resolves the
// source, loads the files (remote ones through the on-disk weight cache, so a second run is offline),
// acquires a GPU and uploads the weights. Download progress goes to stderr, one line per file.
import { stat } from 'node:fs/promises';
import { formatBytes } from '../engine/allocator.ts';
import type { Gpu } from '../engine/gpu.ts';
import { loadDecoder, type LoadedModel } from '../engine/models/load.ts';
import { createNodeGpu } from '../engine/node-gpu.ts';
import { loadModelFiles } from '../formats/model-files.ts';
import { sourceFromArg } from '../formats/source.node.ts';
import { openDiskWeightCache } from '../store/weight-cache.node.ts';
import { UsageError } from './args.ts';
import type { CliIo } from './command.ts';

/** Looks like a path on disk rather than a repo id or URL. */
function looksLikePath(arg: string): boolean {
  return /^(\.{1,2}([/\\]|$)|[/\\~]|[A-Za-z]:[/\\])/.test(arg) || arg.split('/').length > 2;
}

export async function loadModelArg(arg: string, io: CliIo): Promise<{ gpu: Gpu; model: LoadedModel }> {
  if (looksLikePath(arg) && !(await stat(arg).catch(() => null))) {
    throw new UsageError(`--model: there is no folder at ${arg}.`, 'Give a model folder (with config.json, tokenizer.json and .safetensors weights), a Hugging Face repo id (org/name) or an http(s) URL.');
  }
  const source = await sourceFromArg(arg);
  const files = await loadModelFiles(source, {
    cache: source.remote ? openDiskWeightCache() : null,
    onProgress: (p) => {
      if (p.done && p.phase === 'download') io.err(`downloaded ${p.file} (${formatBytes(p.fileLoadedBytes)})`);
    },
  });
  const gpu = await createNodeGpu();
  try {
    return { gpu, model: await loadDecoder(gpu, files) };
  } catch (err) {
    await gpu.destroy();
    throw err;
  }
}
