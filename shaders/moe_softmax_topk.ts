// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `moe_softmax_topk.metal` in the catalogue: its kernel name, written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel name of `moe_softmax_topk.metal`; a kernel function in the file. */
export const MOE_SOFTMAX_TOPK_KERNELS = { f32: "moe_softmax_topk_f32" } as const;

/** `moe_softmax_topk.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const MOE_SOFTMAX_TOPK_SHADER = {
  file: "moe_softmax_topk.metal",
  family: "quant-moe-attn",
  kernels: MOE_SOFTMAX_TOPK_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./moe_softmax_topk.metal", { with: { type: "text" } }),
} as const;
