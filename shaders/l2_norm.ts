// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `l2_norm.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `l2_norm.metal`; each is a `host_name` or kernel function in the file. */
export const L2_NORM_KERNELS = {
  f32: "l2_norm_f32",
  f16: "l2_norm_f16",
  bf16: "l2_norm_bf16",
} as const;

/** `l2_norm.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const L2_NORM_SHADER = {
  file: "l2_norm.metal",
  family: "deltanet-tq-tensor",
  kernels: L2_NORM_KERNELS,
  load: (): Promise<{ default: string }> => import("./l2_norm.metal", { with: { type: "text" } }),
} as const;
