// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `copy.metal` in the catalogue: its kernel names (by helper), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `copy.metal`; each is a `host_name` or kernel function in the file. */
export const COPY_METAL_KERNELS = {
  stridedCopy: "strided_copy_f32",
  offsetCopy: "offset_copy_f32",
} as const;

/** `copy.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const COPY_SHADER = {
  file: "copy.metal",
  family: "core",
  kernels: COPY_METAL_KERNELS,
  load: (): Promise<{ default: string }> => import("./copy.metal", { with: { type: "text" } }),
} as const;
