// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `embedding.metal` in the catalogue: its kernel names, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `embedding.metal`, by bits per code; each is a kernel function in the file. */
export const EMBEDDING_KERNELS = {
  4: "embedding_gather_4bit",
  6: "embedding_gather_6bit",
} as const;

/** `embedding.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const EMBEDDING_SHADER = {
  file: "embedding.metal",
  family: "quant-moe-attn",
  kernels: EMBEDDING_KERNELS,
  load: (): Promise<{ default: string }> => import("./embedding.metal", { with: { type: "text" } }),
} as const;
