// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `kv_cache_copy.metal` in the catalogue: its kernel names (by helper, source dtype and cache
 * dtype), written once here. It imports nothing: the catalogue, the op modules and the tests
 * derive their names from it.
 *
 * @module
 */

/** The kernel names of `kv_cache_copy.metal`; each is a `host_name` or kernel function in the file. */
export const KV_CACHE_COPY_KERNELS = {
  flat: { f16: "kv_cache_copy", f32: "kv_cache_copy_f32" },
  batch: { f32: { f32: "kv_cache_copy_batch_f32", f16: "kv_cache_copy_batch_f32_to_f16" } },
  seq: {
    f32: { f32: "kv_cache_copy_seq_f32", f16: "kv_cache_copy_seq_f32_to_f16" },
    bf16: { f32: "kv_cache_copy_seq_bf16" },
  },
  seqDual: {
    f32: { f32: "kv_cache_copy_seq_f32_kv_dual", f16: "kv_cache_copy_seq_f32_to_f16_kv_dual" },
  },
} as const;

/** `kv_cache_copy.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const KV_CACHE_COPY_SHADER = {
  file: "kv_cache_copy.metal",
  family: "core",
  kernels: KV_CACHE_COPY_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./kv_cache_copy.metal", { with: { type: "text" } }),
} as const;
