// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `rope.metal` in the catalogue: its kernel names (by pairing mode and dtype), written once here.
 * It imports nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `rope.metal`; each is a `host_name` or kernel function in the file. */
export const ROPE_KERNELS = {
  normal: { f32: "rope_f32", f16: "rope_f16", bf16: "rope_bf16" },
  neox: { f32: "rope_neox_f32", bf16: "rope_neox_bf16" },
} as const;

/** `rope.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const ROPE_SHADER = {
  file: "rope.metal",
  family: "core",
  kernels: ROPE_KERNELS,
  load: (): Promise<{ default: string }> => import("./rope.metal", { with: { type: "text" } }),
} as const;
