// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `dense_gemv_bf16.metal` in the catalogue: its kernel names (by activation dtype (weights are
 * bf16)), written once here. It imports nothing: the catalogue, the op modules and the tests
 * derive their names from it.
 *
 * @module
 */

/** The kernel names of `dense_gemv_bf16.metal`; each is a `host_name` or kernel function in the file. */
export const DENSE_GEMV_BF16_KERNELS = { f32: "hf2q_dense_gemv_bf16_f32_4" } as const;

/** `dense_gemv_bf16.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const DENSE_GEMV_BF16_SHADER = {
  file: "dense_gemv_bf16.metal",
  family: "core",
  kernels: DENSE_GEMV_BF16_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./dense_gemv_bf16.metal", { with: { type: "text" } }),
} as const;
