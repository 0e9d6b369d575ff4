// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `scale_mask_softmax.metal` in the catalogue: its kernel names (by dtype), written once here. It
 * imports nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `scale_mask_softmax.metal`; each is a `host_name` or kernel function in the file. */
export const SCALE_MASK_SOFTMAX_KERNELS = { f32: "scale_mask_softmax_f32" } as const;

/** `scale_mask_softmax.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SCALE_MASK_SOFTMAX_SHADER = {
  file: "scale_mask_softmax.metal",
  family: "core",
  kernels: SCALE_MASK_SOFTMAX_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./scale_mask_softmax.metal", { with: { type: "text" } }),
} as const;
