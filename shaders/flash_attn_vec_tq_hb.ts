// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `flash_attn_vec_tq_hb.metal` in the catalogue: the TurboQuant decode-attention kernel names
 * (by head dimension), written once here. It imports nothing.
 *
 * @module
 */

/** The kernel names of `flash_attn_vec_tq_hb.metal`; each is a `host_name` in the file. */
export const FLASH_ATTN_VEC_TQ_HB_KERNELS = {
  256: "flash_attn_vec_tq_hb_dk256",
  512: "flash_attn_vec_tq_hb_dk512",
} as const;

/** `flash_attn_vec_tq_hb.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const FLASH_ATTN_VEC_TQ_HB_SHADER = {
  file: "flash_attn_vec_tq_hb.metal",
  family: "deltanet-tq-tensor",
  kernels: FLASH_ATTN_VEC_TQ_HB_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./flash_attn_vec_tq_hb.metal", { with: { type: "text" } }),
} as const;
