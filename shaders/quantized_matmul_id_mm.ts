// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul_id_mm.metal` in the catalogue: its kernel names (the token-list pass by
 * top-k, the mat-mat pass by GGML block type), written once here. It imports nothing: the
 * catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul_id_mm.metal`; each is a `host_name`. */
export const QUANTIZED_MATMUL_ID_MM_KERNELS = {
  /** Pass 1, the per-expert token lists, by experts per token. */
  map: { top1: "kernel_mul_mm_id_map0_ne20_1", top8: "kernel_mul_mm_id_map0_ne20_8" },
  /** Pass 2, one mat-mat per expert, by block type. */
  matmul: {
    "q4_0": "kernel_mul_mm_id_q4_0_f32",
    "q8_0": "kernel_mul_mm_id_q8_0_f32",
    "q6_K": "kernel_mul_mm_id_q6_K_f32",
  },
} as const;

/** `quantized_matmul_id_mm.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_ID_MM_SHADER = {
  file: "quantized_matmul_id_mm.metal",
  family: "quant-moe-attn",
  kernels: QUANTIZED_MATMUL_ID_MM_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul_id_mm.metal", { with: { type: "text" } }),
} as const;
