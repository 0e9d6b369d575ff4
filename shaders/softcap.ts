// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `softcap.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `softcap.metal`; each is a `host_name` or kernel function in the file. */
export const SOFTCAP_KERNELS = {
  f32: "softcap_f32",
  f16: "softcap_f16",
  bf16: "softcap_bf16",
} as const;

/** `softcap.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SOFTCAP_SHADER = {
  file: "softcap.metal",
  family: "core",
  kernels: SOFTCAP_KERNELS,
  load: (): Promise<{ default: string }> => import("./softcap.metal", { with: { type: "text" } }),
} as const;
