// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/moe_gate.metal`: the router of a mixture-of-experts block in one
 * dispatch: per token, RMS-norm the (bf16) hidden state, score each expert with the router,
 * keep the `topK` best, softmax over those `topK` logits only, multiply by a per-expert scale
 * and renormalise. Any number of experts (up to 4096) and any `topK ≤ nExperts`. The f64
 * reference is `ops/moe_gate_ref.ts`; `ops/moe_softmax_topk.ts` is the other rule (softmax
 * over all experts first).
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { toDTypeArray } from "../dtype.ts";
 * import { moeGate } from "./moe_gate.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, hidden 2, three experts, keep 2.
 * using hidden = device.newBuffer(toDTypeArray("bf16", [1, -1]));
 * using router = device.newBuffer(new Float32Array([1, 0, 0, 1, 1, -1]));
 * using normWeight = device.newBuffer(new Float32Array([1, 1]));
 * using expertScale = device.newBuffer(new Float32Array([1, 1, 1]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGate(encoder, {
 *   registry, hidden, router, normWeight, expertScale, ids, weights,
 *   tokens: 1, hiddenDim: 2, nExperts: 3, topK: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Uint32Array(ids.contents)); // [2, 0]: logits 2, 1, -1
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import { MOE_GATE_GPU_THREADS, SIMD_WIDTH } from "./_defines.ts";
import { checkRouting, logitScratchBytes } from "./_moe.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkEps,
  checkRegistry,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { MOE_GATE_KERNELS } from "../shaders/moe_gate.ts";

/** The catalogue name of `moe_gate.metal` (its table: `shaders/moe_gate.ts`). */
export { MOE_GATE_KERNELS };

/** Every kernel name of `moe_gate.metal`. */
export type MoeGateKernelName = TableNames<typeof MOE_GATE_KERNELS>;

/** Options of {@linkcode moeGate}. */
export interface MoeGateOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** bf16 hidden states `[tokens, hiddenDim]` (before the norm). */
  hidden: DeviceBuffer;
  /** f32 router weights `[nExperts, hiddenDim]`. */
  router: DeviceBuffer;
  /** f32 RMS-norm weights `[hiddenDim]`. */
  normWeight: DeviceBuffer;
  /** f32 per-expert output scales `[nExperts]` (all ones for models without them). */
  expertScale: DeviceBuffer;
  /** u32 output `[tokens, topK]`: the chosen experts, best first. */
  ids: DeviceBuffer;
  /** f32 output `[tokens, topK]`: their weights (summing to 1). */
  weights: DeviceBuffer;
  /** Tokens. */
  tokens: number;
  /** Hidden size. */
  hiddenDim: number;
  /** Experts (at most {@linkcode MOE_MAX_EXPERTS}, 4096). */
  nExperts: number;
  /** Experts kept per token (at most `nExperts`). */
  topK: number;
  /** Added to the mean of squares inside the root (≥ 0). */
  eps: number;
}

const F32 = 4;

function moeGatePlan(options: MoeGateOptions): KernelPlan {
  checkRegistry("moeGate", options.registry);
  const kernel = MOE_GATE_KERNELS.gate;
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const hiddenDim = checkCount(kernel, "hiddenDim", options.hiddenDim);
  const [nExperts, topK] = checkRouting(kernel, options.nExperts, options.topK);
  const eps = checkEps(kernel, options.eps);
  checkBuffer(
    kernel,
    "hidden",
    options.hidden,
    tokens * hiddenDim * 2,
    sizeDetail([["tokens", tokens], ["hiddenDim", hiddenDim]], 2),
  );
  checkBuffer(
    kernel,
    "router",
    options.router,
    nExperts * hiddenDim * F32,
    sizeDetail([["nExperts", nExperts], ["hiddenDim", hiddenDim]], F32),
  );
  checkBuffer(
    kernel,
    "normWeight",
    options.normWeight,
    hiddenDim * F32,
    sizeDetail([["hiddenDim", hiddenDim]], F32),
  );
  checkBuffer(
    kernel,
    "expertScale",
    options.expertScale,
    nExperts * F32,
    sizeDetail([["nExperts", nExperts]], F32),
  );
  const outDetail = sizeDetail([["tokens", tokens], ["topK", topK]], F32);
  checkBuffer(kernel, "ids", options.ids, tokens * topK * F32, outDetail);
  checkBuffer(kernel, "weights", options.weights, tokens * topK * F32, outDetail);
  checkDistinct(kernel, ["ids", "weights"], options.ids, options.weights, "expected two outputs");
  // struct MoeGateParams { uint hidden_dim; uint n_experts; uint top_k; float eps; }
  const params = packParams([["u32", hiddenDim], ["u32", nExperts], ["u32", topK], [
    "f32",
    eps,
  ]]);
  return {
    registry: options.registry,
    kernel,
    args: [
      options.hidden,
      options.router,
      options.normWeight,
      options.expertScale,
      options.ids,
      options.weights,
      params,
    ],
    usesBfloat16: true,
    threadgroupMemory: [logitScratchBytes(nExperts)],
    geometry: (pipeline, backend) => {
      const limit = Math.min(
        pipeline.maxTotalThreadsPerThreadgroup,
        backend === "cpu" ? SIMD_WIDTH : MOE_GATE_GPU_THREADS,
      );
      const width = Math.max(SIMD_WIDTH, limit - (limit % SIMD_WIDTH));
      return { kind: "threadgroups", grid: [tokens, 1, 1], threadgroup: [width, 1, 1] };
    },
  };
}

/**
 * Encodes the fused router (`moe_gate`): per token `h = x·rsqrt(mean(x²) + eps)·normWeight`,
 * logits `ℓ = router·h`, the `topK` largest (ties to the lower index), `p = softmax` over
 * those, `w = p·expertScale / Σ(p·expertScale)`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat16.
 * @throws {RangeError} For sizes that are not positive integers, more than 4096 experts,
 * `topK > nExperts`, a negative `eps`, a too small buffer, or `ids` = `weights`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGate } from "../mod.ts";
 * import { toDTypeArray } from "../dtype.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two experts with equal logits: a tie, both kept with weight 1/2, the lower index first.
 * using hidden = device.newBuffer(toDTypeArray("bf16", [2]));
 * using router = device.newBuffer(new Float32Array([3, 3]));
 * using normWeight = device.newBuffer(new Float32Array([1]));
 * using expertScale = device.newBuffer(new Float32Array([1, 1]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGate(encoder, {
 *   registry, hidden, router, normWeight, expertScale, ids, weights,
 *   tokens: 1, hiddenDim: 1, nExperts: 2, topK: 2, eps: 0,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [0, 1]);
 * assert.deepStrictEqual([...new Float32Array(weights.contents)], [0.5, 0.5]);
 * ```
 */
export async function moeGate(encoder: ComputeEncoder, options: MoeGateOptions): Promise<void> {
  await encodePlan(encoder, moeGatePlan(options));
}

/**
 * {@linkcode moeGate}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat16.
 * @throws {RangeError} For bad sizes, a too small buffer, or `ids` = `weights`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGateSync } from "../mod.ts";
 * import { toDTypeArray } from "../dtype.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using hidden = device.newBuffer(toDTypeArray("bf16", [1]));
 * using router = device.newBuffer(new Float32Array([0, 5, 1]));
 * using normWeight = device.newBuffer(new Float32Array([1]));
 * using expertScale = device.newBuffer(new Float32Array([1, 1, 1]));
 * using ids = device.newBuffer(4);
 * using weights = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeGateSync(encoder, {
 *   registry, hidden, router, normWeight, expertScale, ids, weights,
 *   tokens: 1, hiddenDim: 1, nExperts: 3, topK: 1, eps: 0,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [1]);
 * assert.deepStrictEqual([...new Float32Array(weights.contents)], [1]);
 * ```
 */
export function moeGateSync(encoder: ComputeEncoder, options: MoeGateOptions): void {
  encodePlanSync(encoder, moeGatePlan(options));
}
