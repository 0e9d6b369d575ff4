// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `rope_multi.metal` in the catalogue: its kernel names, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `rope_multi.metal`; each is a `host_name` in the file. */
export const ROPE_MULTI_KERNELS = { f32: "rope_multi_f32", bf16: "rope_multi_bf16" } as const;

/** `rope_multi.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const ROPE_MULTI_SHADER = {
  file: "rope_multi.metal",
  family: "deltanet-tq-tensor",
  kernels: ROPE_MULTI_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./rope_multi.metal", { with: { type: "text" } }),
} as const;
