// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul_id_ggml.metal` in the catalogue: its kernel names (by GGML block type),
 * written once here. It imports nothing: the catalogue, the op modules and the tests derive
 * their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul_id_ggml.metal` by block type; each is a `host_name`. */
export const QUANTIZED_MATMUL_ID_GGML_KERNELS = {
  "q4_0": "kernel_mul_mv_id_q4_0_f32",
  "q8_0": "kernel_mul_mv_id_q8_0_f32",
  "q5_K": "kernel_mul_mv_id_q5_K_f32",
  "q6_K": "kernel_mul_mv_id_q6_K_f32",
} as const;

/** `quantized_matmul_id_ggml.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_ID_GGML_SHADER = {
  file: "quantized_matmul_id_ggml.metal",
  family: "quant-moe-attn",
  kernels: QUANTIZED_MATMUL_ID_GGML_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul_id_ggml.metal", { with: { type: "text" } }),
} as const;
