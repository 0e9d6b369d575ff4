// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `dense_gemm.metal` and `dense_gemv_bf16.metal`: the dense projection
 * `C = A · Bᵀ` with weights `B` stored `[N, K]`, and its batched form with a broadcast weight
 * batch, in plain loops. Inputs are the exact values the kernel reads (already rounded to
 * their storage dtype); results are exact-ish f64 sums, to compare kernel output against
 * within a tolerance.
 *
 * @example Usage
 * ```ts
 * import { matmulRef } from "./matmul_ref.ts";
 * import assert from "node:assert";
 *
 * // A [1, 2] · B[2, 2]ᵀ: C[0][n] = Σ_k A[0][k] · B[n][k]
 * const c = matmulRef([1, 2], [3, 4, 5, 6], 1, 2, 2);
 * assert.deepStrictEqual([...c], [11, 17]);
 * ```
 *
 * @module
 */

function checkLength(subject: string, name: string, values: ArrayLike<number>, needed: number) {
  if (values.length < needed) {
    throw new RangeError(
      `Cannot compute ${subject}: ${name} holds ${values.length} values, expected at least ${needed}`,
    );
  }
}

/** The first `length` values as a Float64Array (absolute values if `abs`): one array type in
 * the hot loops. */
function toFloat64(values: ArrayLike<number>, length: number, abs: boolean): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = abs ? Math.abs(values[i]) : values[i];
  return out;
}

/**
 * `C[m][n] = Σ_k A[m][k] · B[n][k]` in f64, for row-major `A` `[M, K]`, weights `B` `[N, K]`
 * and `C` `[M, N]` (what every `dense_matvec_*` kernel and `dense_gemm_f16` compute).
 *
 * @param a Activations, `M × K` values.
 * @param b Weights, `N × K` values (one output feature per row).
 * @param m Rows of `A` and `C`.
 * @param n Rows of `B`, columns of `C`.
 * @param k The reduction length.
 * @returns `C`, `M × N` values.
 * @throws {RangeError} When `a` or `b` is too short.
 *
 * @example Usage
 * ```ts
 * import { matmulRef } from "./matmul_ref.ts";
 * import assert from "node:assert";
 *
 * const c = matmulRef([1, 0, 0, 1], [2, 3, 4, 5, 6, 7], 2, 3, 2);
 * assert.deepStrictEqual([...c], [2, 4, 6, 3, 5, 7]);
 * ```
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
): Float64Array {
  checkLength("matmulRef", "a", a, m * k);
  checkLength("matmulRef", "b", b, n * k);
  const x = toFloat64(a, m * k, false);
  const w = toFloat64(b, n * k, false);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += x[i * k + p] * w[j * k + p];
      c[i * n + j] = sum;
    }
  }
  return c;
}

/** Shape and weight layout of {@linkcode gemvBatchedRef}. */
export interface GemvBatchedRefShape {
  /** Activation and output batches (`B`). */
  batches: number;
  /** Weight batches; `batches` is a multiple of it (batch `b` reads weight batch `b / r2`). */
  weightBatches: number;
  /** Activation rows per batch. */
  m: number;
  /** Weight rows per batch (output columns). */
  n: number;
  /** Reduction length. */
  k: number;
  /** Elements between weight rows. @default k */
  weightRowStride?: number;
  /** Elements between weight batches. @default n * weightRowStride */
  weightBatchStride?: number;
}

/**
 * `dst[b][m][n] = Σ_k src0[b / r2][n][k] · src1[b][m][k]` in f64, with `r2 = batches /
 * weightBatches` (what `hf2q_dense_gemv_bf16_f32_4` computes). `src0` rows may be strided
 * (a KV cache with spare capacity); `src1` `[batches, m, k]` and `dst` `[batches, m, n]` are
 * contiguous.
 *
 * @param src0 The weights, read at `w · weightBatchStride + row · weightRowStride + k`.
 * @param src1 The activations, `batches × m × k` values.
 * @param shape Sizes and weight strides.
 * @returns `dst`, `batches × m × n` values.
 * @throws {RangeError} When an array is too short or `batches` is not a multiple of
 * `weightBatches`.
 *
 * @example Usage
 * ```ts
 * import { gemvBatchedRef } from "./matmul_ref.ts";
 * import assert from "node:assert";
 *
 * // Two query heads share one key head (r2 = 2); one key of length 2.
 * const dst = gemvBatchedRef([1, 2], [1, 1, 2, 0], { batches: 2, weightBatches: 1, m: 1, n: 1, k: 2 });
 * assert.deepStrictEqual([...dst], [3, 2]);
 * ```
 */
export function gemvBatchedRef(
  src0: ArrayLike<number>,
  src1: ArrayLike<number>,
  shape: GemvBatchedRefShape,
): Float64Array {
  const { batches, weightBatches, m, n, k } = shape;
  const rowStride = shape.weightRowStride ?? k;
  const batchStride = shape.weightBatchStride ?? n * rowStride;
  if (weightBatches < 1 || batches % weightBatches !== 0) {
    throw new RangeError(
      `Cannot compute gemvBatchedRef: batches ${batches} is not a multiple of weightBatches ${weightBatches}`,
    );
  }
  const r2 = batches / weightBatches;
  checkLength(
    "gemvBatchedRef",
    "src0",
    src0,
    (weightBatches - 1) * batchStride + (n - 1) * rowStride + k,
  );
  checkLength("gemvBatchedRef", "src1", src1, batches * m * k);
  const w0 = toFloat64(src0, (weightBatches - 1) * batchStride + (n - 1) * rowStride + k, false);
  const x1 = toFloat64(src1, batches * m * k, false);
  const dst = new Float64Array(batches * m * n);
  for (let b = 0; b < batches; b++) {
    const w = Math.floor(b / r2) * batchStride;
    for (let i = 0; i < m; i++) {
      const x = (b * m + i) * k;
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += w0[w + j * rowStride + p] * x1[x + p];
        dst[(b * m + i) * n + j] = sum;
      }
    }
  }
  return dst;
}

/**
 * `Σ_k |A[m][k]| · |B[n][k]|` per output: the scale of the rounding error of a dot product
 * (a sum of `K` products accumulated in f32 has error at most about `γ_K · Σ|a·b|`, and for
 * random data typically `√K · u · Σ|a·b|`). Tests use it to bound the absolute error of each
 * output instead of its relative error, which is meaningless where the sum cancels.
 *
 * @param a Activations, `M × K` values.
 * @param b Weights, `N × K` values.
 * @param m Rows of `A`.
 * @param n Rows of `B`.
 * @param k The reduction length.
 * @returns `M × N` magnitudes.
 * @throws {RangeError} When `a` or `b` is too short.
 *
 * @example Usage
 * ```ts
 * import { matmulAbsRef } from "./matmul_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...matmulAbsRef([1, -2], [3, 4], 1, 1, 2)], [11]);
 * ```
 */
export function matmulAbsRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
): Float64Array {
  checkLength("matmulAbsRef", "a", a, m * k);
  checkLength("matmulAbsRef", "b", b, n * k);
  return matmulRef(toFloat64(a, m * k, true), toFloat64(b, n * k, true), m, n, k);
}
