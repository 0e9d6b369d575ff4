// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `sdpa_decode.metal` in the catalogue: its kernel names (f32 only), written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `sdpa_decode.metal`; each is a `host_name` or kernel function in the file. */
export const SDPA_DECODE_KERNELS = { f32: "sdpa_decode" } as const;

/** `sdpa_decode.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SDPA_DECODE_SHADER = {
  file: "sdpa_decode.metal",
  family: "quant-moe-attn",
  kernels: SDPA_DECODE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./sdpa_decode.metal", { with: { type: "text" } }),
} as const;
