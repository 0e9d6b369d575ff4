// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `tri_solve.metal` in the catalogue: its kernel names (by dtype), written once here. It
 * imports nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `tri_solve.metal`; each is a `host_name` in the file. */
export const TRI_SOLVE_KERNELS = {
  f32: "tri_solve_lower_unit_f32",
  bf16: "tri_solve_lower_unit_bf16",
} as const;

/** `tri_solve.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const TRI_SOLVE_SHADER = {
  file: "tri_solve.metal",
  family: "deltanet-tq-tensor",
  kernels: TRI_SOLVE_KERNELS,
  load: (): Promise<{ default: string }> => import("./tri_solve.metal", { with: { type: "text" } }),
} as const;
