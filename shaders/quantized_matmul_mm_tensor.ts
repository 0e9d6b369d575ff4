// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul_mm_tensor.metal` in the catalogue: its kernel names (by input layout, then
 * GGML block type), written once here. It imports nothing: the catalogue, the op modules and the
 * tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul_mm_tensor.metal`; each is a `host_name`. */
export const QUANTIZED_MATMUL_MM_TENSOR_KERNELS = {
  /** f32 `[m, k]` input: the tensor twins of `kernel_mul_mm_<type>_f32`. */
  f32: {
    "q4_0": "kernel_mul_mm_q4_0_tensor_f32",
    "q8_0": "kernel_mul_mm_q8_0_tensor_f32",
    "q6_K": "kernel_mul_mm_q6_K_tensor_f32",
  },
  /** bf16 input laid out `[heads, m, headDim]` (permuted 0-2-1 as it is read). */
  bf16Perm021: {
    "q4_0": "kernel_mul_mm_q4_0_tensor_bf16_perm021",
    "q6_K": "kernel_mul_mm_q6_K_tensor_bf16_perm021",
  },
} as const;

/** `quantized_matmul_mm_tensor.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_MM_TENSOR_SHADER = {
  file: "quantized_matmul_mm_tensor.metal",
  family: "deltanet-tq-tensor",
  kernels: QUANTIZED_MATMUL_MM_TENSOR_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul_mm_tensor.metal", { with: { type: "text" } }),
} as const;
