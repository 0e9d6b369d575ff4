// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `sdpa.metal` in the catalogue: its kernel names (by I/O dtype), written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `sdpa.metal`; each is a `host_name` or kernel function in the file. */
export const SDPA_KERNELS = { f32: "sdpa", bf16: "sdpa_bf16" } as const;

/** `sdpa.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SDPA_SHADER = {
  file: "sdpa.metal",
  family: "quant-moe-attn",
  kernels: SDPA_KERNELS,
  load: (): Promise<{ default: string }> => import("./sdpa.metal", { with: { type: "text" } }),
} as const;
