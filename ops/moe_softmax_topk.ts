// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/moe_softmax_topk.metal`: MoE routing from router logits — a
 * softmax over all experts, the `topK` most probable (best first, ties to the lower index),
 * and, unless `renormalize: false`, their probabilities rescaled to sum to 1 (Qwen3-MoE,
 * `norm_topk_prob`; Qwen2-MoE keeps the raw probabilities). Renormalised, this equals a
 * softmax over the selected logits only (`ops/moe_gate.ts`' rule) up to rounding. f32. The
 * f64 reference is `ops/moe_softmax_topk_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { moeSoftmaxTopk } from "./moe_softmax_topk.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([0, 2, 1, -1]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeSoftmaxTopk(encoder, { registry, logits, ids, weights, tokens: 1, nExperts: 4, topK: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Uint32Array(ids.contents), new Float32Array(weights.contents)); // [1, 2] [0.731, 0.269]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkRouting, logitScratchBytes } from "./_moe.ts";
import { checkBuffer, checkCount, checkDistinct, checkRegistry, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { MOE_SOFTMAX_TOPK_KERNELS } from "../shaders/moe_softmax_topk.ts";

/** The catalogue name of `moe_softmax_topk.metal` (its table: `shaders/moe_softmax_topk.ts`). */
export { MOE_SOFTMAX_TOPK_KERNELS };

/** Every kernel name of `moe_softmax_topk.metal`. */
export type MoeSoftmaxTopkKernelName = TableNames<typeof MOE_SOFTMAX_TOPK_KERNELS>;

/** Options of {@linkcode moeSoftmaxTopk}. */
export interface MoeSoftmaxTopkOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 router logits `[tokens, nExperts]`. */
  logits: DeviceBuffer;
  /** u32 output `[tokens, topK]`: the chosen experts, best first. */
  ids: DeviceBuffer;
  /** f32 output `[tokens, topK]`: their weights. */
  weights: DeviceBuffer;
  /** Tokens. */
  tokens: number;
  /** Experts (at most 4096). */
  nExperts: number;
  /** Experts kept per token (at most `nExperts`). */
  topK: number;
  /**
   * Rescale the kept probabilities to sum to 1 (skipped when their sum is below 1e-9).
   * @default true
   */
  renormalize?: boolean;
}

const F32 = 4;

function moeSoftmaxTopkPlan(options: MoeSoftmaxTopkOptions): KernelPlan {
  checkRegistry("moeSoftmaxTopk", options.registry);
  const kernel = MOE_SOFTMAX_TOPK_KERNELS.f32;
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const [nExperts, topK] = checkRouting(kernel, options.nExperts, options.topK);
  const renormalize = options.renormalize ?? true;
  if (typeof renormalize !== "boolean") {
    throw new TypeError(
      `Cannot encode ${kernel}: "renormalize" is ${typeof renormalize}, expected a boolean`,
    );
  }
  checkBuffer(
    kernel,
    "logits",
    options.logits,
    tokens * nExperts * F32,
    sizeDetail([["tokens", tokens], ["nExperts", nExperts]], F32),
  );
  const outDetail = sizeDetail([["tokens", tokens], ["topK", topK]], F32);
  checkBuffer(kernel, "ids", options.ids, tokens * topK * F32, outDetail);
  checkBuffer(kernel, "weights", options.weights, tokens * topK * F32, outDetail);
  checkDistinct(kernel, ["ids", "weights"], options.ids, options.weights, "expected two outputs");
  // struct MoeSoftmaxTopkParams { uint n_tokens; uint n_experts; uint top_k; uint renormalize; }
  const params = packParams([
    ["u32", tokens],
    ["u32", nExperts],
    ["u32", topK],
    ["u32", renormalize ? 1 : 0],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [params, options.logits, options.ids, options.weights],
    threadgroupMemory: [logitScratchBytes(nExperts)],
    geometry: () => ({
      kind: "threadgroups",
      grid: [tokens, 1, 1],
      threadgroup: [SIMD_WIDTH, 1, 1],
    }),
  };
}

/**
 * Encodes softmax-then-top-k routing (`moe_softmax_topk_f32`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a non-boolean `renormalize`.
 * @throws {RangeError} For sizes that are not positive integers, more than 4096 experts,
 * `topK > nExperts`, a too small buffer, or `ids` = `weights`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeSoftmaxTopk } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Without renormalisation the kept weights are the full-softmax probabilities.
 * using logits = device.newBuffer(new Float32Array([0, 0, 0, 0]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeSoftmaxTopk(encoder, {
 *   registry, logits, ids, weights, tokens: 1, nExperts: 4, topK: 2, renormalize: false,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [0, 1]);
 * assert.deepStrictEqual([...new Float32Array(weights.contents)], [0.25, 0.25]);
 * ```
 */
export async function moeSoftmaxTopk(
  encoder: ComputeEncoder,
  options: MoeSoftmaxTopkOptions,
): Promise<void> {
  await encodePlan(encoder, moeSoftmaxTopkPlan(options));
}

/**
 * {@linkcode moeSoftmaxTopk}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `ids` = `weights`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeSoftmaxTopkSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 5, 3]));
 * using ids = device.newBuffer(4);
 * using weights = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeSoftmaxTopkSync(encoder, { registry, logits, ids, weights, tokens: 1, nExperts: 3, topK: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [1]);
 * assert.deepStrictEqual([...new Float32Array(weights.contents)], [1]);
 * ```
 */
export function moeSoftmaxTopkSync(encoder: ComputeEncoder, options: MoeSoftmaxTopkOptions): void {
  encodePlanSync(encoder, moeSoftmaxTopkPlan(options));
}
