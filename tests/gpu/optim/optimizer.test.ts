import { describe, expect, it } from 'vitest';
import { clipCoefficient, decayByDefault, gradSquares, Optimizer } from '../../../src/engine/optim/optimizer.ts';
import { adamwRef, sgdRef, sumOfSquaresRef } from '../../../src/engine/optim/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { fixture, FIXTURE_MODELS } from '../../helpers/fixtures.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// One update of f32 values against the f64 reference: each step moves a weight by ≈ lr; 1e-7 abs
// is ~1e-4 of the step, well above f32 rounding of O(1) weights (6e-8).
const STEP_TOL = { atol: 2e-7, rtol: 1e-6 };

describe('optimisers', () => {
  it('AdamW: three steps with weight decay and gradient scaling match the reference', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const n = 1037;
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    let p = normal(rng, n) as ArrayLike<number>;
    let m: ArrayLike<number> = new Float64Array(n);
    let v: ArrayLike<number> = new Float64Array(n);
    const param = gpu.upload(p as Float32Array, [n], 'f32', 'w');
    const grad = gpu.zeros([n], 'f32', 'g');
    const opt = new Optimizer(gpu, { kind: 'adamw', ...hyper });
    for (let step = 1; step <= 3; step++) {
      const g = normal(rng, n, 0.1);
      gpu.write(grad, g);
      const gscale = step === 2 ? 0.5 : 1;
      opt.apply([{ name: 'w', param, grad, decay: true }], hyper.lr, gscale);
      ({ param: p, m, v } = adamwRef(p, g, m, v, step, hyper, gscale));
    }
    expectClose(await gpu.readF32(param), p, STEP_TOL, `seed=${rng.seed}`);
    const state = await opt.exportState();
    expect(state.step).toBe(3);
    expectClose(state.slots.w[0], m, { atol: 1e-8, rtol: 1e-5 }, 'm');
    expectClose(state.slots.w[1], v, { atol: 1e-10, rtol: 1e-5 }, 'v');
  });

  it('SGD with and without momentum matches the reference over two steps', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const n = 333;
    for (const momentum of [0, 0.9]) {
      const hyper = { lr: 0.1, weightDecay: 0.01, momentum };
      let p: ArrayLike<number> = normal(rng, n);
      let buf: ArrayLike<number> | null = null;
      const param = gpu.upload(p as Float32Array, [n]);
      const grad = gpu.zeros([n]);
      const opt = new Optimizer(gpu, { kind: 'sgd', ...hyper });
      for (let step = 0; step < 2; step++) {
        const g = normal(rng, n);
        gpu.write(grad, g);
        opt.apply([{ name: 'w', param, grad, decay: true }], hyper.lr);
        const r = sgdRef(p, g, buf, hyper);
        p = r.param;
        buf = r.buf;
      }
      expectClose(await gpu.readF32(param), p, { atol: 1e-6, rtol: 1e-6 }, `momentum=${momentum} seed=${rng.seed}`);
    }
  });

  it('gradient squares of many tensors in one pass, NaN propagates', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const sizes = [1, 255, 4096 + 17, 70000];
    const host = sizes.map((n) => normal(rng, n));
    host[1][100] = NaN;
    const got = await gradSquares(gpu, host.map((h, i) => gpu.upload(h, [h.length], 'f32', `g${i}`)));
    expect(Number.isNaN(got[1])).toBe(true);
    for (const i of [0, 2, 3]) expectClose([got[i]], [sumOfSquaresRef(host[i])], { atol: 1e-6, rtol: 1e-5 }, `tensor ${i} seed=${rng.seed}`);
  });

  it('clip coefficient and default parameter groups', () => {
    expect(clipCoefficient(0.5, 1)).toBe(1);
    expect(clipCoefficient(4, 1)).toBeCloseTo(1 / (4 + 1e-6), 12);
    expect(clipCoefficient(4, 0)).toBe(1);
    expect(decayByDefault('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(decayByDefault('model.layers.0.input_layernorm.weight')).toBe(false);
    expect(decayByDefault('model.layers.0.self_attn.q_proj.bias')).toBe(false);
  });

  for (const name of FIXTURE_MODELS) {
    it(`one AdamW step reproduces transformers' adamw.after.* (${name})`, async () => {
      const gpu = await testGpu();
      const f = fixture(name);
      const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
      for (const pname of f.info.adamw.params as string[]) {
        const gradName = f.reference.has(`grad.${pname}`) ? `grad.${pname}` : 'grad.model.embed_tokens.weight';
        const p0 = f.weight(f.weights.has(pname) ? pname : 'model.embed_tokens.weight');
        const g = f.f32(gradName);
        const param = gpu.upload(p0, [p0.length]);
        const opt = new Optimizer(gpu, { kind: 'adamw', ...hyper });
        opt.apply([{ name: pname, param, grad: gpu.upload(g, [g.length]), decay: true }], hyper.lr);
        // README: compare to 1e-4 absolute (near-zero gradients amplify f32 noise by lr/eps).
        expectClose(await gpu.readF32(param), f.f32(`adamw.after.${pname}`), { atol: 1e-4, rtol: 0 }, `${name} ${pname}`);
      }
    });
  }
});
