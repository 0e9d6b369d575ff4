// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `moe_dispatch.metal` in the catalogue: its kernel names, written once here. It imports
 * nothing: the catalogue, the op modules and the tests derive their names from it.
 *
 * The keys say what each kernel computes: the three `moe_swiglu_*` names compute GeGLU
 * (`gelu(gate)·up`), not SwiGLU, and are filed under `geglu*`.
 *
 * @module
 */

/** The kernel names of `moe_dispatch.metal`, by helper (and dtype); each is a kernel in the file. */
export const MOE_DISPATCH_KERNELS = {
  geluMul: { f32: "fused_gelu_mul", bf16: "fused_gelu_mul_bf16" },
  gegluFused: "moe_swiglu_fused",
  gegluBatch: "moe_swiglu_batch",
  gegluSeq: { f32: "moe_swiglu_seq", bf16: "moe_swiglu_seq_bf16" },
  accumulate: "moe_accumulate",
  zero: "zero_buffer",
  weightedSum: "moe_weighted_sum",
  weightedSumSeq: { f32: "moe_weighted_sum_seq", bf16: "moe_weighted_sum_seq_bf16_input" },
  matvec: "naive_matvec_f32",
  gatherTopkWeights: "moe_gather_topk_weights",
} as const;

/** `moe_dispatch.metal` for the catalogue: its kernel names, its family and a lazy loader of its text. */
export const MOE_DISPATCH_SHADER = {
  file: "moe_dispatch.metal",
  family: "quant-moe-attn",
  kernels: MOE_DISPATCH_KERNELS,
  load: (): Promise<{ default: string }> =>
    import("./moe_dispatch.metal", { with: { type: "text" } }),
} as const;
