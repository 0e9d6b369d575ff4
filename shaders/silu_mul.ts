// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `silu_mul.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `silu_mul.metal`; each is a `host_name` or kernel function in the file. */
export const SILU_MUL_KERNELS = { f32: "silu_mul_f32" } as const;

/** `silu_mul.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SILU_MUL_SHADER = {
  file: "silu_mul.metal",
  family: "core",
  kernels: SILU_MUL_KERNELS,
  load: (): Promise<{ default: string }> => import("./silu_mul.metal", { with: { type: "text" } }),
} as const;
