// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `moe_weighted_reduce.metal` in the catalogue: its kernel name, written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel name of `moe_weighted_reduce.metal`; a kernel function in the file. */
export const MOE_WEIGHTED_REDUCE_KERNELS = { f32: "moe_weighted_reduce_f32" } as const;

/** `moe_weighted_reduce.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const MOE_WEIGHTED_REDUCE_SHADER = {
  file: "moe_weighted_reduce.metal",
  family: "quant-moe-attn",
  kernels: MOE_WEIGHTED_REDUCE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./moe_weighted_reduce.metal", { with: { type: "text" } }),
} as const;
