// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `sdpa_sliding.metal` in the catalogue: its kernel names (by I/O dtype), written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `sdpa_sliding.metal`; each is a `host_name` or kernel function in the file. */
export const SDPA_SLIDING_KERNELS = { f32: "sdpa_sliding", bf16: "sdpa_sliding_bf16" } as const;

/** `sdpa_sliding.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SDPA_SLIDING_SHADER = {
  file: "sdpa_sliding.metal",
  family: "quant-moe-attn",
  kernels: SDPA_SLIDING_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./sdpa_sliding.metal", { with: { type: "text" } }),
} as const;
