// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `dense_mm_f32_f32.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `dense_mm_f32_f32.metal`; each is a kernel function in the file. */
export const DENSE_MM_F32_F32_KERNELS = { f32: "hf2q_dense_mm_f32_f32_tensor" } as const;

/** `dense_mm_f32_f32.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const DENSE_MM_F32_F32_SHADER = {
  file: "dense_mm_f32_f32.metal",
  family: "deltanet-tq-tensor",
  kernels: DENSE_MM_F32_F32_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./dense_mm_f32_f32.metal", { with: { type: "text" } }),
} as const;
