// One WebGPU device per test file (Dawn in Node, per docs/webgpu-on-cpu.md).
import { afterAll } from 'vitest';
import { createNodeGpu } from '../../src/engine/node-gpu.ts';
import type { Gpu } from '../../src/engine/gpu.ts';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  if (!shared) shared = createNodeGpu();
  return shared;
}

afterAll(async () => {
  if (shared) await (await shared).destroy();
  shared = null;
});

/** Run `fn` with a lowered per-dimension dispatch limit, to exercise 2D grid folding cheaply. */
export async function withFoldLimit<T>(gpu: Gpu, limit: number, fn: () => Promise<T>): Promise<T> {
  const limits = gpu.limits as { maxComputeWorkgroupsPerDimension: number };
  const saved = limits.maxComputeWorkgroupsPerDimension;
  limits.maxComputeWorkgroupsPerDimension = limit;
  try {
    return await fn();
  } finally {
    limits.maxComputeWorkgroupsPerDimension = saved;
  }
}

/** Run `fn` with a lowered storage-binding limit, so vocabulary tables are bound in windows. */
export async function withBindingLimit<T>(gpu: Gpu, bytes: number, fn: () => Promise<T>): Promise<T> {
  const limits = gpu.limits as { maxStorageBufferBindingSize: number };
  const saved = limits.maxStorageBufferBindingSize;
  limits.maxStorageBufferBindingSize = bytes;
  try {
    return await fn();
  } finally {
    limits.maxStorageBufferBindingSize = saved;
  }
}
