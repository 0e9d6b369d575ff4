// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `sigmoid_mul.metal` in the catalogue: its kernel names (by dtype), written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `sigmoid_mul.metal`; each is a `host_name` or kernel function in the file. */
export const SIGMOID_MUL_KERNELS = { f32: "sigmoid_mul_f32", bf16: "sigmoid_mul_bf16" } as const;

/** `sigmoid_mul.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SIGMOID_MUL_SHADER = {
  file: "sigmoid_mul.metal",
  family: "core",
  kernels: SIGMOID_MUL_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./sigmoid_mul.metal", { with: { type: "text" } }),
} as const;
