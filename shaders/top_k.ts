// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `top_k.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `top_k.metal`; each is a `host_name` or kernel function in the file. */
export const TOP_K_KERNELS = { f32: "top_k_f32" } as const;

/** `top_k.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const TOP_K_SHADER = {
  file: "top_k.metal",
  family: "core",
  kernels: TOP_K_KERNELS,
  load: (): Promise<{ default: string }> => import("./top_k.metal", { with: { type: "text" } }),
} as const;
