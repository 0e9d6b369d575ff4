// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul.metal` in the catalogue: its kernel names, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul.metal`; each is a kernel function in the file. */
export const QUANTIZED_MATMUL_KERNELS = {
  scalar: "quantized_matmul",
  simd: "quantized_matmul_simd",
  simdBf16: "quantized_matmul_simd_bf16",
  simdBf16Expert: "quantized_matmul_simd_bf16_expert",
} as const;

/** `quantized_matmul.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_SHADER = {
  file: "quantized_matmul.metal",
  family: "quant-moe-attn",
  kernels: QUANTIZED_MATMUL_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul.metal", { with: { type: "text" } }),
} as const;
