// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `gated_delta_net.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `gated_delta_net.metal`; each is a kernel function in the file. */
export const GATED_DELTA_NET_KERNELS = { f32: "gated_delta_net_f32" } as const;

/** `gated_delta_net.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const GATED_DELTA_NET_SHADER = {
  file: "gated_delta_net.metal",
  family: "deltanet-tq-tensor",
  kernels: GATED_DELTA_NET_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./gated_delta_net.metal", { with: { type: "text" } }),
} as const;
