// Sharded checkpoints: model.safetensors.index.json = {"metadata": {"total_size": n},
// "weight_map": {tensor name: shard file}}. parseShardIndex validates the index itself;
// checkShards validates the shards' headers against it (every indexed tensor is in the shard the
// index names, no shard holds a tensor the index does not give it, no tensor is in two shards).
import { SafetensorsError } from './errors.ts';
import type { SafetensorsHeader } from './safetensors.ts';

export const SHARD_INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_WEIGHTS_FILE = 'model.safetensors';

export interface ShardIndex {
  file: string;
  /** Shard files in name order (model-00001-of-0000n.safetensors, ...). */
  shards: string[];
  weightMap: Map<string, string>;
  totalSize: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseShardIndex(json: unknown, file = SHARD_INDEX_FILE): ShardIndex {
  if (!isRecord(json) || !isRecord(json.weight_map)) throw new SafetensorsError(file, 'has no "weight_map" object.');
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || !/^[^/\\]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new SafetensorsError(file, `weight_map["${tensor}"] = ${JSON.stringify(shard)} is not a .safetensors file name in the same folder.`);
    }
    weightMap.set(tensor, shard);
  }
  if (weightMap.size === 0) throw new SafetensorsError(file, 'weight_map is empty.');
  const total = isRecord(json.metadata) ? json.metadata.total_size : undefined;
  const totalSize = typeof total === 'number' && Number.isSafeInteger(total) && total >= 0 ? total : null;
  return { file, shards: [...new Set(weightMap.values())].sort(), weightMap, totalSize };
}

/** Throws a SafetensorsError naming the tensor and both shards at the first disagreement. */
export function checkShards(index: ShardIndex, headers: ReadonlyMap<string, SafetensorsHeader>): void {
  const seen = new Map<string, string>();
  for (const shard of index.shards) {
    const header = headers.get(shard);
    if (!header) throw new SafetensorsError(index.file, `names shard ${shard}, which was not read.`);
    for (const e of header.entries) {
      const other = seen.get(e.name);
      if (other) throw new SafetensorsError(shard, `tensor "${e.name}" is also in ${other}.`);
      seen.set(e.name, shard);
      const named = index.weightMap.get(e.name);
      if (named === undefined) throw new SafetensorsError(shard, `holds tensor "${e.name}", which ${index.file} does not list.`);
      if (named !== shard) throw new SafetensorsError(shard, `holds tensor "${e.name}", which ${index.file} places in ${named}.`);
    }
  }
  for (const [tensor, shard] of index.weightMap) {
    if (!seen.has(tensor)) throw new SafetensorsError(shard, `has no tensor "${tensor}", which ${index.file} places there.`);
  }
}
