// Plain TypeScript reference for matmul (f64 accumulation).

export interface MatmulRefArgs {
  a: Float32Array;
  b: Float32Array;
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  /** true when b is one matrix shared by every batch entry */
  broadcastB?: boolean;
  alpha?: number;
  bias?: Float32Array;
  /** initial C for accumulation */
  c?: Float32Array;
}

export function matmulRef(args: MatmulRefArgs): Float32Array {
  const { a, b, M, N, K, batch = 1, transA = false, transB = false, broadcastB = false, alpha = 1, bias, c } = args;
  const out = new Float32Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    const ao = t * M * K;
    const bo = broadcastB ? 0 : t * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[ao + k * M + m] : a[ao + m * K + k];
          const bv = transB ? b[bo + n * K + k] : b[bo + k * N + n];
          acc += av * bv;
        }
        const i = t * M * N + m * N + n;
        out[i] = alpha * acc + (bias ? bias[n] : 0) + (c ? c[i] : 0);
      }
    }
  }
  return out;
}
