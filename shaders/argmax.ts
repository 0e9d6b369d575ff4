// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `argmax.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `argmax.metal`; each is a `host_name` or kernel function in the file. */
export const ARGMAX_KERNELS = { f32: "argmax_f32" } as const;

/** `argmax.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const ARGMAX_SHADER = {
  file: "argmax.metal",
  family: "core",
  kernels: ARGMAX_KERNELS,
  load: (): Promise<{ default: string }> => import("./argmax.metal", { with: { type: "text" } }),
} as const;
