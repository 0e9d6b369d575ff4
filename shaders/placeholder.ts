// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `placeholder.metal` in the catalogue: its kernel names (the placeholder kernel (function
 * constants demo)), written once here. It imports nothing: the catalogue, the op modules and the
 * tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `placeholder.metal`; each is a `host_name` or kernel function in the file. */
export const PLACEHOLDER_KERNELS = "placeholder" as const;

/** `placeholder.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const PLACEHOLDER_SHADER = {
  file: "placeholder.metal",
  family: "core",
  kernels: PLACEHOLDER_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./placeholder.metal", { with: { type: "text" } }),
} as const;
