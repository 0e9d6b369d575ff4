// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `ssm_norm_gate.metal` in the catalogue: its kernel name, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `ssm_norm_gate.metal`; each is a kernel function in the file. */
export const SSM_NORM_GATE_KERNELS = { f32: "ssm_norm_gate_f32" } as const;

/** `ssm_norm_gate.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SSM_NORM_GATE_SHADER = {
  file: "ssm_norm_gate.metal",
  family: "deltanet-tq-tensor",
  kernels: SSM_NORM_GATE_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./ssm_norm_gate.metal", { with: { type: "text" } }),
} as const;
