// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `fwht_standalone.metal` in the catalogue: its kernel names (by sign placement and head
 * dimension), written once here. It imports nothing: the catalogue, the op modules and the
 * tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `fwht_standalone.metal`; each is a `host_name` in the file. */
export const FWHT_KERNELS = {
  none: { 256: "fwht_standalone_f32_d256", 512: "fwht_standalone_f32_d512" },
  premultiply: { 256: "fwht_sign_premult_f32_d256", 512: "fwht_sign_premult_f32_d512" },
  undo: { 256: "fwht_sign_undo_f32_d256", 512: "fwht_sign_undo_f32_d512" },
} as const;

/** `fwht_standalone.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FWHT_STANDALONE_SHADER = {
  file: "fwht_standalone.metal",
  family: "deltanet-tq-tensor",
  kernels: FWHT_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./fwht_standalone.metal", { with: { type: "text" } }),
} as const;
