// WebGPU in Node through the `webgpu` package (Dawn), for the CLI, the tests and headless runs.
// Follows docs/webgpu-on-cpu.md: a real GPU through Dawn's default backend (Vulkan / Metal / D3D12)
// first; on Linux without one, Mesa's OpenGL ES in compatibility mode, which needs
// EGL_PLATFORM=surfaceless (set here when unset).
import { existsSync, readdirSync } from 'node:fs';
import { AdapterRequestError, WebGpuUnavailableError } from './errors.ts';
import { Gpu } from './gpu.ts';

export type NodeBackend = 'auto' | 'default' | 'vulkan' | 'opengles';

export interface NodeGpuOptions {
  /** `auto`: the default backend, then OpenGL ES (compatibility). Env: STUDENT_LAB_WEBGPU_BACKEND. */
  backend?: NodeBackend;
  powerPreference?: GPUPowerPreference;
}

type DawnModule = { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
let dawn: DawnModule | null = null;
/** Dawn instances must outlive their devices: a collected instance crashes the process. */
const liveInstances: GPU[] = [];

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    throw new WebGpuUnavailableError(
      `The "webgpu" package (Dawn for Node) failed to load: ${(err as Error).message}`,
      'Run `npm ci` in the project folder; the package ships binaries for linux-x64, darwin and win32.',
    );
  }
  Object.assign(globalThis, dawn.globals);
  return dawn;
}

function hasVulkanDriver(): boolean {
  if (process.platform !== 'linux') return true;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

/** Acquire a Gpu in Node. Throws an AdapterRequestError that says what was tried and why it failed. */
export async function createNodeGpu(options: NodeGpuOptions = {}): Promise<Gpu> {
  const backend = options.backend ?? ((process.env.STUDENT_LAB_WEBGPU_BACKEND as NodeBackend | undefined) || 'auto');
  if (process.platform === 'linux' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const { create } = await loadDawn();
  const tried: string[] = [];

  const attempts: { flags: string[]; compatibilityOnly: boolean; what: string }[] = [];
  if (backend === 'default' || (backend === 'auto' && hasVulkanDriver())) {
    attempts.push({ flags: [], compatibilityOnly: false, what: 'default backend (core, then compatibility)' });
  }
  if (backend === 'vulkan') attempts.push({ flags: ['backend=vulkan'], compatibilityOnly: false, what: 'Vulkan' });
  if (backend === 'opengles' || (backend === 'auto' && process.platform === 'linux')) {
    attempts.push({ flags: ['backend=opengles'], compatibilityOnly: true, what: 'OpenGL ES (compatibility)' });
  }
  for (const attempt of attempts) {
    try {
      const instance = create(attempt.flags);
      liveInstances.push(instance);
      return await Gpu.create(instance, {
        compatibilityOnly: attempt.compatibilityOnly,
        powerPreference: options.powerPreference,
      });
    } catch (err) {
      tried.push(`${attempt.what}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const eglHint =
    process.platform === 'linux'
      ? ' On Debian/Ubuntu install the Mesa EGL/GLES drivers: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 (EGL_PLATFORM is ' +
        `${process.env.EGL_PLATFORM ?? 'unset'}; it must be "surfaceless" on machines without a display).`
      : '';
  throw new AdapterRequestError(`No WebGPU adapter in Node. Tried: ${tried.join('; ') || 'nothing'}.`, `Set STUDENT_LAB_WEBGPU_BACKEND=default|vulkan|opengles to force one.${eglHint}`);
}
