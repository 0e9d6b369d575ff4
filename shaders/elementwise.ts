// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `elementwise.metal` in the catalogue: its kernel names (by helper and dtype(s)), written once
 * here. It imports nothing: the catalogue, the op modules and the tests derive their names from
 * it.
 *
 * @module
 */

/** The kernel names of `elementwise.metal`; each is a `host_name` or kernel function in the file. */
export const ELEMENTWISE_KERNELS = {
  add: { f32: "elementwise_add_f32", f16: "elementwise_add_f16", bf16: "elementwise_add_bf16" },
  mul: { f32: "elementwise_mul_f32", f16: "elementwise_mul_f16", bf16: "elementwise_mul_bf16" },
  /** `cast[from][to]`. */
  cast: {
    f16: { f32: "cast_f16_to_f32" },
    bf16: { f32: "cast_bf16_to_f32" },
    f32: { f16: "cast_f32_to_f16", bf16: "cast_f32_to_bf16" },
  },
  scalarMul: { f32: "scalar_mul_f32", bf16: "scalar_mul_bf16" },
  embeddingGatherScale: { f32: "embedding_gather_scale_f32" },
  embeddingGatherScaleBatch: { f32: "embedding_gather_scale_batch_f32" },
  /** `permute021[inputDType][outputDType]`. */
  permute021: {
    f32: { f32: "permute_021_f32" },
    bf16: { bf16: "permute_021_bf16", f32: "permute_021_bf16_to_f32" },
  },
  transposeLast2: { bf16: "transpose_last2_bf16" },
  transpose2d: { f32: "transpose_2d_f32", f16: "transpose_2d_f16" },
} as const;

/** `elementwise.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const ELEMENTWISE_SHADER = {
  file: "elementwise.metal",
  family: "core",
  kernels: ELEMENTWISE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./elementwise.metal", { with: { type: "text" } }),
} as const;
