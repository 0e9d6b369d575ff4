// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `fused_head_norm_rope_bf16.metal` in the catalogue: its kernel names (by position source (one
 * per row, or one for every row)), written once here. It imports nothing: the catalogue, the op
 * modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `fused_head_norm_rope_bf16.metal`; each is a `host_name` or kernel function in the file. */
export const FUSED_HEAD_NORM_ROPE_BF16_KERNELS = {
  positions: "fused_head_norm_rope_batch_bf16",
  position: "fused_head_norm_rope_bf16",
} as const;

/** `fused_head_norm_rope_bf16.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FUSED_HEAD_NORM_ROPE_BF16_SHADER = {
  file: "fused_head_norm_rope_bf16.metal",
  family: "core",
  kernels: FUSED_HEAD_NORM_ROPE_BF16_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./fused_head_norm_rope_bf16.metal", { with: { type: "text" } }),
} as const;
