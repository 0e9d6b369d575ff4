// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `flash_attn_vec.metal` in the catalogue: its kernel names (the vec pass by K/V dtype and head
 * dimension, the reduce pass by head dimension), written once here. It imports nothing: the
 * catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `flash_attn_vec.metal`; each is a `host_name` in the file. */
export const FLASH_ATTN_VEC_KERNELS = {
  vec: {
    f32: { 256: "flash_attn_vec_dk256", 512: "flash_attn_vec_dk512" },
    f16: { 256: "flash_attn_vec_f16kv_dk256", 512: "flash_attn_vec_f16kv_dk512" },
  },
  reduce: { 256: "flash_attn_vec_reduce_dk256", 512: "flash_attn_vec_reduce_dk512" },
} as const;

/** `flash_attn_vec.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FLASH_ATTN_VEC_SHADER = {
  file: "flash_attn_vec.metal",
  family: "quant-moe-attn",
  kernels: FLASH_ATTN_VEC_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./flash_attn_vec.metal", { with: { type: "text" } }),
} as const;
