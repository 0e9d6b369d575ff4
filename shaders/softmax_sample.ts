// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `softmax_sample.metal` in the catalogue: its kernel names (by dtype), written once here. It
 * imports nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `softmax_sample.metal`; each is a `host_name` or kernel function in the file. */
export const SOFTMAX_SAMPLE_KERNELS = { f32: "softmax_sample_f32" } as const;

/** `softmax_sample.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SOFTMAX_SAMPLE_SHADER = {
  file: "softmax_sample.metal",
  family: "core",
  kernels: SOFTMAX_SAMPLE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./softmax_sample.metal", { with: { type: "text" } }),
} as const;
