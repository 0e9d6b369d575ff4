// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `compute_g_beta.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `compute_g_beta.metal`; each is a kernel function in the file. */
export const COMPUTE_G_BETA_KERNELS = { f32: "compute_g_beta_f32" } as const;

/** `compute_g_beta.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const COMPUTE_G_BETA_SHADER = {
  file: "compute_g_beta.metal",
  family: "deltanet-tq-tensor",
  kernels: COMPUTE_G_BETA_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./compute_g_beta.metal", { with: { type: "text" } }),
} as const;
