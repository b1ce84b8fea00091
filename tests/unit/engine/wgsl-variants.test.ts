import { describe, expect, it } from 'vitest';
import { variantName, wgslVariant } from '../../../src/engine/kernels/wgsl-variants.ts';

const CODE = [
  '@group(0) @binding(#) var<storage, read> x: array<f32>;',
  '//#if NORM',
  '@group(0) @binding(#) var<storage, read> g: array<f32>;',
  '//#if BIAS',
  '@group(0) @binding(#) var<storage, read> b: array<f32>;',
  '//#endif',
  '//#else',
  'const NO_NORM = 1;',
  '//#endif',
  '@group(0) @binding(#) var<uniform> p: P;',
].join('\n');

describe('wgslVariant', () => {
  it('keeps the chosen branches, nested, and numbers the bindings in order', () => {
    expect(wgslVariant(CODE, { NORM: true, BIAS: true }).split('\n')).toEqual([
      '@group(0) @binding(0) var<storage, read> x: array<f32>;',
      '@group(0) @binding(1) var<storage, read> g: array<f32>;',
      '@group(0) @binding(2) var<storage, read> b: array<f32>;',
      '@group(0) @binding(3) var<uniform> p: P;',
    ]);
    expect(wgslVariant(CODE, { NORM: true, BIAS: false }).split('\n')).toEqual([
      '@group(0) @binding(0) var<storage, read> x: array<f32>;',
      '@group(0) @binding(1) var<storage, read> g: array<f32>;',
      '@group(0) @binding(2) var<uniform> p: P;',
    ]);
    // An inner #if of a dropped branch stays dropped whatever its flag.
    expect(wgslVariant(CODE, { NORM: false, BIAS: true }).split('\n')).toEqual([
      '@group(0) @binding(0) var<storage, read> x: array<f32>;',
      'const NO_NORM = 1;',
      '@group(0) @binding(1) var<uniform> p: P;',
    ]);
  });

  it('names a flag that was not given, and unbalanced directives', () => {
    expect(() => wgslVariant(CODE, { NORM: true })).toThrowError(/line 4 tests "BIAS", which has no flag/);
    expect(() => wgslVariant('//#if A\nx', { A: true })).toThrowError(/not closed/);
    expect(() => wgslVariant('x\n//#endif', {})).toThrowError(/line 2 has #endif without #if/);
  });

  it('names variants by the flags that are on', () => {
    expect(variantName('row_linear', { NORM: true, BIAS: false, SEG2: true })).toBe('row_linear[NORM,SEG2]');
    expect(variantName('row_linear', { NORM: false })).toBe('row_linear');
  });
});
