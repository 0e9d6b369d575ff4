// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `argsort.metal` in the catalogue: its kernel names (by dtype (descending order)), written once
 * here. It imports nothing: the catalogue, the op modules and the tests derive their names from
 * it.
 *
 * @module
 */

/** The kernel names of `argsort.metal`; each is a `host_name` or kernel function in the file. */
export const ARGSORT_KERNELS = { f32: "argsort_desc_f32" } as const;

/** `argsort.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const ARGSORT_SHADER = {
  file: "argsort.metal",
  family: "core",
  kernels: ARGSORT_KERNELS,
  load: (): Promise<{ default: string }> => import("./argsort.metal", { with: { type: "text" } }),
} as const;
