// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `tq_dequantize_kv.metal` in the catalogue: the TurboQuant decoders' kernel names (by codebook
 * width), written once here. It imports nothing.
 *
 * @module
 */

/** The kernel names of `tq_dequantize_kv.metal`; each is a kernel function in the file. */
export const TQ_DEQUANTIZE_KERNELS = {
  nibble: "tq_dequantize_kv",
  byte: "tq_dequantize_hb_kv",
} as const;

/** `tq_dequantize_kv.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const TQ_DEQUANTIZE_KV_SHADER = {
  file: "tq_dequantize_kv.metal",
  family: "deltanet-tq-tensor",
  kernels: TQ_DEQUANTIZE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./tq_dequantize_kv.metal", { with: { type: "text" } }),
} as const;
