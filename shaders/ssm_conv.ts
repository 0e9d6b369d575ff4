// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `ssm_conv.metal` in the catalogue: its kernel names, written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel names of `ssm_conv.metal`, by step and dtype; each is a `host_name` in the file. */
export const SSM_CONV_KERNELS = {
  forward: { f32: "ssm_conv_forward_f32", bf16: "ssm_conv_forward_bf16" },
  stateUpdate: { f32: "ssm_conv_state_update_f32", bf16: "ssm_conv_state_update_bf16" },
} as const;

/** `ssm_conv.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const SSM_CONV_SHADER = {
  file: "ssm_conv.metal",
  family: "deltanet-tq-tensor",
  kernels: SSM_CONV_KERNELS,
  load: (): Promise<{ default: string }> => import("./ssm_conv.metal", { with: { type: "text" } }),
} as const;
