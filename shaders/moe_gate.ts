// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `moe_gate.metal` in the catalogue: its kernel name, written once here. It imports nothing:
 * the catalogue, the op modules and the tests derive their names from it.
 *
 * @module
 */

/** The kernel name of `moe_gate.metal`; a kernel function in the file (bf16 hidden states). */
export const MOE_GATE_KERNELS = { gate: "moe_gate" } as const;

/** `moe_gate.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const MOE_GATE_SHADER = {
  file: "moe_gate.metal",
  family: "quant-moe-attn",
  kernels: MOE_GATE_KERNELS,
  load: (): Promise<{ default: string }> => import("./moe_gate.metal", { with: { type: "text" } }),
} as const;
