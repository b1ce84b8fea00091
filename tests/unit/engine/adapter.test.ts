// likelySoftware: which adapter reports the lab treats as a software renderer (the welcome card's
// hint and the kernels' defaults follow it), from the names where the browser shows them and from
// the feature level where it hides them.
import { describe, expect, it } from 'vitest';
import { likelySoftware, type AdapterReport } from '../../../src/engine/adapter.ts';

function report(over: Partial<AdapterReport>): AdapterReport {
  return { vendor: '', architecture: '', device: '', description: '', featureLevel: 'core', isFallbackAdapter: false, features: [], limits: {} as AdapterReport['limits'], ...over };
}

describe('likelySoftware', () => {
  it('recognises software renderers by name, by the fallback flag and by Dawn GL on Mesa', () => {
    expect(likelySoftware(report({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }))).toBe(true);
    expect(likelySoftware(report({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' }))).toBe(true);
    expect(likelySoftware(report({ vendor: 'nvidia', description: 'whatever', isFallbackAdapter: true }))).toBe(true);
    expect(likelySoftware(report({ description: 'OpenGL ES 3.2 Mesa 22.3.6', featureLevel: 'compatibility' }))).toBe(true);
  });

  it('takes a nameless adapter for software only in compatibility mode', () => {
    expect(likelySoftware(report({ featureLevel: 'compatibility' }))).toBe(true);
    expect(likelySoftware(report({ featureLevel: 'core' }))).toBe(false);
  });

  it('leaves real GPUs alone, named or in compatibility mode with a name', () => {
    expect(likelySoftware(report({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' }))).toBe(false);
    expect(likelySoftware(report({ vendor: 'intel', architecture: 'gen-12lp', featureLevel: 'compatibility' }))).toBe(false);
    expect(likelySoftware(report({ vendor: 'apple', architecture: 'metal-3' }))).toBe(false);
  });
});
