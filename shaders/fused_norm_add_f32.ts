// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `fused_norm_add_f32.metal` in the catalogue: its kernel names (by helper and dtype (or
 * variant)), written once here. It imports nothing: the catalogue, the op modules and the tests
 * derive their names from it.
 *
 * @module
 */

/** The kernel names of `fused_norm_add_f32.metal`; each is a `host_name` or kernel function in the file. */
export const FUSED_NORM_ADD_F32_KERNELS = {
  normAdd: { f32: "fused_norm_add_f32" },
  normAddScalar: { f32: "fused_norm_add_scalar_f32" },
  residualNorm: { f32: "fused_residual_norm_f32" },
  residualNormScalar: { f32: "fused_residual_norm_scalar_f32" },
  moeWsumNormAdd: { f32: "fused_moe_wsum_norm_add_f32" },
  moeWsumDnormAdd: { f32: "fused_moe_wsum_dnorm_add_f32" },
  /** `single` for one token, `batch` for several (one threadgroup each). */
  moeRouting: { single: "fused_moe_routing_f32", batch: "fused_moe_routing_batch_f32" },
} as const;

/** `fused_norm_add_f32.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FUSED_NORM_ADD_F32_SHADER = {
  file: "fused_norm_add_f32.metal",
  family: "core",
  kernels: FUSED_NORM_ADD_F32_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./fused_norm_add_f32.metal", { with: { type: "text" } }),
} as const;
