// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `softmax.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `softmax.metal`; each is a `host_name` or kernel function in the file. */
export const SOFTMAX_KERNELS = {
  f32: "softmax_f32",
  f16: "softmax_f16",
  bf16: "softmax_bf16",
} as const;

/** `softmax.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SOFTMAX_SHADER = {
  file: "softmax.metal",
  family: "core",
  kernels: SOFTMAX_KERNELS,
  load: (): Promise<{ default: string }> => import("./softmax.metal", { with: { type: "text" } }),
} as const;
