// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `dense_mm_bf16_tensor.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `dense_mm_bf16_tensor.metal`; each is a kernel function in the file. */
export const DENSE_MM_BF16_TENSOR_KERNELS = { f32: "hf2q_dense_mm_bf16_f32_tensor" } as const;

/** `dense_mm_bf16_tensor.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const DENSE_MM_BF16_TENSOR_SHADER = {
  file: "dense_mm_bf16_tensor.metal",
  family: "deltanet-tq-tensor",
  kernels: DENSE_MM_BF16_TENSOR_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./dense_mm_bf16_tensor.metal", { with: { type: "text" } }),
} as const;
