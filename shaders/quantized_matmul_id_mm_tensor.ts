// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul_id_mm_tensor.metal` in the catalogue: its kernel names (by GGML block type),
 * written once here. It imports nothing: the catalogue, the op modules and the tests derive
 * their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul_id_mm_tensor.metal` by block type; each is a `host_name`. */
export const QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS = {
  "q4_0": "kernel_mul_mm_id_q4_0_tensor_f32",
  "q8_0": "kernel_mul_mm_id_q8_0_tensor_f32",
  "q6_K": "kernel_mul_mm_id_q6_K_tensor_f32",
} as const;

/** `quantized_matmul_id_mm_tensor.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_ID_MM_TENSOR_SHADER = {
  file: "quantized_matmul_id_mm_tensor.metal",
  family: "deltanet-tq-tensor",
  kernels: QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul_id_mm_tensor.metal", { with: { type: "text" } }),
} as const;
