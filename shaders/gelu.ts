// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `gelu.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `gelu.metal`; each is a `host_name` or kernel function in the file. */
export const GELU_KERNELS = { f32: "gelu_f32", f16: "gelu_f16", bf16: "gelu_bf16" } as const;

/** `gelu.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const GELU_SHADER = {
  file: "gelu.metal",
  family: "core",
  kernels: GELU_KERNELS,
  load: (): Promise<{ default: string }> => import("./gelu.metal", { with: { type: "text" } }),
} as const;
