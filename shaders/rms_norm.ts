// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `rms_norm.metal` in the catalogue: its kernel names (by helper and dtype), written once here. It
 * imports nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `rms_norm.metal`; each is a `host_name` or kernel function in the file. */
export const RMS_NORM_KERNELS = {
  rmsNorm: { f32: "rms_norm_f32", f16: "rms_norm_f16", bf16: "rms_norm_bf16" },
  noScale: { f32: "rms_norm_no_scale_f32", bf16: "rms_norm_no_scale_bf16" },
  mul: { f32: "rms_norm_mul_f32", f16: "rms_norm_mul_f16", bf16: "rms_norm_mul_bf16" },
  triple: { f32: "rms_norm_f32_triple" },
  noScaleDual: { f32: "rms_norm_no_scale_f32_dual" },
  noScaleDualPerm: { f32: "rms_norm_no_scale_f32_dual_perm" },
  postAttnTriple: { f32: "fused_post_attn_triple_norm_f32" },
} as const;

/** `rms_norm.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const RMS_NORM_SHADER = {
  file: "rms_norm.metal",
  family: "core",
  kernels: RMS_NORM_KERNELS,
  load: (): Promise<{ default: string }> => import("./rms_norm.metal", { with: { type: "text" } }),
} as const;
