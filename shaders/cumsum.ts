// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `cumsum.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `cumsum.metal`; each is a `host_name` or kernel function in the file. */
export const CUMSUM_KERNELS = { f32: "cumsum_f32", bf16: "cumsum_bf16" } as const;

/** `cumsum.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const CUMSUM_SHADER = {
  file: "cumsum.metal",
  family: "deltanet-tq-tensor",
  kernels: CUMSUM_KERNELS,
  load: (): Promise<{ default: string }> => import("./cumsum.metal", { with: { type: "text" } }),
} as const;
