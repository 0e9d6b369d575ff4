// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `fused_norm_add_bf16.metal` in the catalogue: its kernel names (by helper and dtype), written
 * once here. It imports nothing: the catalogue, the op modules and the tests derive their names
 * from it.
 *
 * @module
 */

/** The kernel names of `fused_norm_add_bf16.metal`; each is a `host_name` or kernel function in the file. */
export const FUSED_NORM_ADD_BF16_KERNELS = {
  normAdd: { bf16: "fused_norm_add_bf16" },
  normAddNoWeight: { bf16: "fused_norm_add_no_weight_bf16" },
} as const;

/** `fused_norm_add_bf16.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FUSED_NORM_ADD_BF16_SHADER = {
  file: "fused_norm_add_bf16.metal",
  family: "core",
  kernels: FUSED_NORM_ADD_BF16_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./fused_norm_add_bf16.metal", { with: { type: "text" } }),
} as const;
