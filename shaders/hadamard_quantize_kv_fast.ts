// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `hadamard_quantize_kv_fast.metal` in the catalogue: the TurboQuant encoders' kernel names
 * (by codebook width and head dimension), written once here. It imports nothing.
 *
 * @module
 */

/** The kernel names of `hadamard_quantize_kv_fast.metal`; each is a `host_name` in the file. */
export const TQ_ENCODE_KERNELS = {
  nibble: { 256: "hadamard_quantize_kv_fast_d256", 512: "hadamard_quantize_kv_fast_d512" },
  byte: { 256: "hadamard_quantize_kv_hb_d256", 512: "hadamard_quantize_kv_hb_d512" },
} as const;

/** `hadamard_quantize_kv_fast.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const HADAMARD_QUANTIZE_KV_FAST_SHADER = {
  file: "hadamard_quantize_kv_fast.metal",
  family: "deltanet-tq-tensor",
  kernels: TQ_ENCODE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./hadamard_quantize_kv_fast.metal", { with: { type: "text" } }),
} as const;
