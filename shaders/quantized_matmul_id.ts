// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `quantized_matmul_id.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `quantized_matmul_id.metal`; each is a kernel function in the file. */
export const QUANTIZED_MATMUL_ID_KERNELS = { f32: "quantized_matmul_id" } as const;

/** `quantized_matmul_id.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const QUANTIZED_MATMUL_ID_SHADER = {
  file: "quantized_matmul_id.metal",
  family: "quant-moe-attn",
  kernels: QUANTIZED_MATMUL_ID_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./quantized_matmul_id.metal", { with: { type: "text" } }),
} as const;
