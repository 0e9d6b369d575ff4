// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `dense_gemm.metal` in the catalogue: its kernel names (by helper and dtype(s)), written once
 * here. It imports nothing: the catalogue, the op modules and the tests derive their names from
 * it.
 *
 * @module
 */

/** The kernel names of `dense_gemm.metal`; each is a `host_name` or kernel function in the file. */
export const DENSE_GEMM_KERNELS = {
  /** `matvec[weightDType][dtype]` (`dtype`: activations and output). */
  matvec: {
    f32: { f32: "dense_matvec_f32" },
    f16: { f16: "dense_matvec_f16", f32: "dense_matvec_f16w_f32io" },
    bf16: { f32: "dense_matvec_bf16w_f32io" },
  },
  /** `gemm[dtype]`. */
  gemm: { f16: "dense_gemm_f16" },
} as const;

/** `dense_gemm.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const DENSE_GEMM_SHADER = {
  file: "dense_gemm.metal",
  family: "core",
  kernels: DENSE_GEMM_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./dense_gemm.metal", { with: { type: "text" } }),
} as const;
