// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `gather.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `gather.metal`; each is a `host_name` or kernel function in the file. */
export const GATHER_KERNELS = { f32: "gather_f32" } as const;

/** `gather.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const GATHER_SHADER = {
  file: "gather.metal",
  family: "core",
  kernels: GATHER_KERNELS,
  load: (): Promise<{ default: string }> => import("./gather.metal", { with: { type: "text" } }),
} as const;
