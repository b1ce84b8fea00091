// Plain TypeScript references for the elementwise kernels and the SwiGLU backward (f64 arithmetic).

export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => x + b[i % b.length]);
}

export function mulRef(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => x * b[i % b.length]);
}

export function scaleRef(a: Float32Array, alpha: number): Float32Array {
  return a.map((x) => x * alpha);
}

export function siluRef(a: Float32Array): Float32Array {
  return a.map((x) => x / (1 + Math.exp(-x)));
}

export function siluMulRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((x, i) => (x / (1 + Math.exp(-x))) * up[i % up.length]);
}

/** Exact GELU: x·Φ(x). */
export function geluRef(a: Float32Array): Float32Array {
  return a.map((x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
}

export function geluTanhRef(a: Float32Array): Float32Array {
  return a.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
}

/** erf to ~1e-15 (series for small |x|, continued fraction otherwise). */
export function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 2.5) {
    // Maclaurin series.
    let term = z;
    let sum = z;
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz).
    let f = z;
    for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

/** Gradients of Σ dy ⊙ silu(gate) ⊙ up (f64). */
export function siluMulBackwardRef(dy: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const s = 1 / (1 + Math.exp(-gate[i]));
    dgate[i] = dy[i] * up[i] * s * (1 + gate[i] * (1 - s));
    dup[i] = dy[i] * gate[i] * s;
  }
  return { dgate, dup };
}

/** The dropout kernel's hash (u32 arithmetic as in WGSL). */
export function dropoutHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

export function dropoutRef(x: ArrayLike<number>, rate: number, seed: number): Float64Array {
  const threshold = Math.min(0xffffffff, Math.floor(rate * 4294967296));
  const seedHash = dropoutHash(seed);
  return Float64Array.from(x, (v, i) => (dropoutHash((i ^ seedHash) >>> 0) >= threshold ? v / (1 - rate) : 0));
}
