// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `fused_head_norm_rope_f32.metal` in the catalogue: its kernel names (by position source),
 * written once here. It imports nothing: the catalogue, the op modules and the tests derive their
 * names from it.
 *
 * @module
 */

/** The kernel names of `fused_head_norm_rope_f32.metal`; each is a `host_name` or kernel function in the file. */
export const FUSED_HEAD_NORM_ROPE_F32_KERNELS = { positions: "fused_head_norm_rope_f32" } as const;

/** `fused_head_norm_rope_f32.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FUSED_HEAD_NORM_ROPE_F32_SHADER = {
  file: "fused_head_norm_rope_f32.metal",
  family: "core",
  kernels: FUSED_HEAD_NORM_ROPE_F32_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./fused_head_norm_rope_f32.metal", { with: { type: "text" } }),
} as const;
