// Adapter and device acquisition, the same in the page's worker and in Node.
// Order (architecture.md): a core adapter first; where none, or only a fallback adapter, is offered,
// ask for `featureLevel: 'compatibility'`; the report says which one is in use.
import { AdapterRequestError, WebGpuUnavailableError } from './errors.ts';

export type FeatureLevel = 'core' | 'compatibility';

/** Limits the engine asks for (up to what the adapter offers) and reports. */
export const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'minUniformBufferOffsetAlignment',
  'minStorageBufferOffsetAlignment',
  'maxBindGroups',
] as const;
export type KeyLimit = (typeof KEY_LIMITS)[number];

const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** Plain data describing the adapter in use: safe to send across the worker boundary. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  featureLevel: FeatureLevel;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<KeyLimit, number>;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Skip the core request (e.g. a backend known to offer compatibility only). */
  compatibilityOnly?: boolean;
}

export interface Acquired {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
}

/**
 * Whether an adapter is, by all signs, a software renderer (a CPU rasteriser such as llvmpipe or
 * SwiftShader): a guess from its report, since browsers may hide the names (calibrateMatmul measures).
 */
export function likelySoftware(report: AdapterReport): boolean {
  const text = `${report.vendor} ${report.architecture} ${report.device} ${report.description}`.toLowerCase();
  if (report.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|softpipe/.test(text)) return true;
  // Dawn's GL backend reports no vendor, only "OpenGL ES ... Mesa x.y": on GPU-less Linux that is llvmpipe.
  if (report.vendor === '' && /opengl es .*mesa/.test(text)) return true;
  // Browsers hide the adapter's names; a nameless compatibility-only adapter is, in practice, the
  // GL route of a machine without a usable GPU (real GPUs get core adapters).
  return report.featureLevel === 'compatibility' && text.trim() === '';
}

function isFallback(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return Boolean(info?.isFallbackAdapter ?? legacy);
}

async function request(gpu: GPU, options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  try {
    return await gpu.requestAdapter(options);
  } catch {
    // Some implementations throw for an unknown option instead of returning null.
    return null;
  }
}

/** Pick an adapter per architecture.md and report its feature level. */
export async function pickAdapter(
  gpu: GPU | undefined,
  options: AcquireOptions = {},
): Promise<{ adapter: GPUAdapter; featureLevel: FeatureLevel }> {
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available here (navigator.gpu is undefined).',
      'Use a recent Chrome, Edge or Chromium (113+), Safari 26+ or Firefox 141+, served over http://localhost or https. ' +
        'On Linux Chromium, start it with --enable-unsafe-webgpu --use-angle=gl-egl --use-webgpu-adapter=opengles.',
    );
  }
  const { powerPreference } = options;
  const core = options.compatibilityOnly ? null : await request(gpu, { powerPreference });
  if (core && !isFallback(core)) return { adapter: core, featureLevel: 'core' };
  const compat = await request(gpu, {
    powerPreference,
    featureLevel: 'compatibility',
  } as GPURequestAdapterOptions);
  if (compat && !isFallback(compat)) {
    const level = (compat as GPUAdapter & { featureLevel?: string }).featureLevel;
    return { adapter: compat, featureLevel: level === 'core' ? 'core' : 'compatibility' };
  }
  if (core) return { adapter: core, featureLevel: 'core' };
  if (compat) return { adapter: compat, featureLevel: 'compatibility' };
  throw new AdapterRequestError(
    'The browser has WebGPU but offered no adapter (core and compatibility requests both returned null).',
    'WebGPU may be disabled or blocklisted for this GPU. In Chrome open chrome://gpu to see why; on Linux try ' +
      '--enable-unsafe-webgpu --use-angle=gl-egl --use-webgpu-adapter=opengles, or --enable-unsafe-webgpu alone for the software adapter.',
  );
}

function limitsOf(source: GPUSupportedLimits): Record<KeyLimit, number> {
  const out = {} as Record<KeyLimit, number>;
  for (const key of KEY_LIMITS) out[key] = Number((source as unknown as Record<string, number>)[key] ?? 0);
  return out;
}

/** Request a device with the adapter's best key limits and the optional features it offers. */
export async function acquireDevice(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<Acquired> {
  const { adapter, featureLevel } = await pickAdapter(gpu, options);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const key of KEY_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[key];
    if (typeof value === 'number' && !key.startsWith('min')) requiredLimits[key] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (err) {
    throw new AdapterRequestError(
      `The adapter refused a device: ${(err as Error).message}`,
      'Close other tabs using the GPU, or reload the page.',
    );
  }
  const info = adapter.info;
  const report: AdapterReport = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    featureLevel,
    isFallbackAdapter: isFallback(adapter),
    features: [...device.features].sort(),
    limits: limitsOf(device.limits),
  };
  return { adapter, device, report };
}

/** One line for logs and the status bar. */
export function describeAdapter(report: AdapterReport): string {
  const name = [report.vendor, report.architecture, report.description].filter(Boolean).join(' · ') || 'unknown adapter';
  const flags = [report.featureLevel, report.isFallbackAdapter ? 'fallback' : ''].filter(Boolean).join(', ');
  return `${name} (${flags})`;
}
