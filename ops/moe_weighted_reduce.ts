// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/moe_weighted_reduce.metal`: the end of a mixture-of-experts
 * block, `out[t] = Σ_k w[t][k]·y[t][k] (+ σ(sharedGate[t])·yShared[t]) (+ residual[t])`, with an
 * optional sigmoid-gated shared expert (Qwen2-MoE, Qwen3-Next) and an optional residual. f32.
 * The f64 reference is `ops/moe_weighted_reduce_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { moeWeightedReduce } from "./moe_weighted_reduce.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, two experts, hidden 2.
 * using weights = device.newBuffer(new Float32Array([0.75, 0.25]));
 * using y = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeWeightedReduce(encoder, { registry, weights, y, out, tokens: 1, topK: 2, hidden: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(out.contents)); // [1.5, 2.5]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { MOE_WEIGHTED_REDUCE_KERNELS } from "../shaders/moe_weighted_reduce.ts";

/** The catalogue name of `moe_weighted_reduce.metal` (its table: `shaders/moe_weighted_reduce.ts`). */
export { MOE_WEIGHTED_REDUCE_KERNELS };

/** Every kernel name of `moe_weighted_reduce.metal`. */
export type MoeWeightedReduceKernelName = TableNames<typeof MOE_WEIGHTED_REDUCE_KERNELS>;

/** Options of {@linkcode moeWeightedReduce}. All buffers hold f32. */
export interface MoeWeightedReduceOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Routing weights `[tokens, topK]`. */
  weights: DeviceBuffer;
  /** Expert outputs `[tokens, topK, hidden]`. */
  y: DeviceBuffer;
  /** `[tokens, hidden]` results; may be `residual` or `shared.y`. */
  out: DeviceBuffer;
  /** Tokens. */
  tokens: number;
  /** Experts per token. */
  topK: number;
  /** Row length. */
  hidden: number;
  /** A shared expert: its output `y` `[tokens, hidden]` and raw gate logits `gate` `[tokens]`. */
  shared?: { y: DeviceBuffer; gate: DeviceBuffer };
  /** Added to every output, `[tokens, hidden]`. */
  residual?: DeviceBuffer;
}

const F32 = 4;

function moeWeightedReducePlan(options: MoeWeightedReduceOptions): KernelPlan {
  checkRegistry("moeWeightedReduce", options.registry);
  const kernel = MOE_WEIGHTED_REDUCE_KERNELS.f32;
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const topK = checkCount(kernel, "topK", options.topK);
  const hidden = checkCount(kernel, "hidden", options.hidden);
  const rowDetail = sizeDetail([["tokens", tokens], ["hidden", hidden]], F32);
  checkBuffer(
    kernel,
    "weights",
    options.weights,
    tokens * topK * F32,
    sizeDetail([["tokens", tokens], ["topK", topK]], F32),
  );
  checkBuffer(
    kernel,
    "y",
    options.y,
    tokens * topK * hidden * F32,
    sizeDetail([["tokens", tokens], ["topK", topK], ["hidden", hidden]], F32),
  );
  checkBuffer(kernel, "out", options.out, tokens * hidden * F32, rowDetail);
  const { shared, residual } = options;
  if (shared !== undefined) {
    if (typeof shared !== "object" || shared === null) {
      throw new TypeError(
        `Cannot encode ${kernel}: "shared" is not an object, expected { y, gate } buffers`,
      );
    }
    checkBuffer(kernel, "shared.y", shared.y, tokens * hidden * F32, rowDetail);
    checkBuffer(
      kernel,
      "shared.gate",
      shared.gate,
      tokens * F32,
      sizeDetail([["tokens", tokens]], F32),
    );
  }
  if (residual !== undefined) {
    checkBuffer(kernel, "residual", residual, tokens * hidden * F32, rowDetail);
  }
  // struct MoeWeightedReduceParams { uint tokens; uint top_k; uint hidden; uint flags; }
  const flags = (residual !== undefined ? 1 : 0) | (shared !== undefined ? 2 : 0);
  const params = packParams([["u32", tokens], ["u32", topK], ["u32", hidden], ["u32", flags]]);
  // Unused slots are bound to `out`; the kernel does not read them.
  return {
    registry: options.registry,
    kernel,
    args: [
      params,
      options.weights,
      options.y,
      shared?.gate ?? options.out,
      shared?.y ?? options.out,
      residual ?? options.out,
      options.out,
    ],
    geometry: (pipeline) => blockDims(pipeline, [hidden, tokens, 1]),
  };
}

/**
 * Encodes the weighted reduction of expert outputs (`moe_weighted_reduce_f32`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes, and the optional shared expert and residual.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a malformed `shared`.
 * @throws {RangeError} For sizes that are not positive integers or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedReduce } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // A shared expert with gate logit 0 (σ = 1/2) and a residual added in place.
 * using weights = device.newBuffer(new Float32Array([1]));
 * using y = device.newBuffer(new Float32Array([2]));
 * using sharedY = device.newBuffer(new Float32Array([4]));
 * using gate = device.newBuffer(new Float32Array([0]));
 * using residual = device.newBuffer(new Float32Array([10]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeWeightedReduce(encoder, {
 *   registry, weights, y, out: residual, tokens: 1, topK: 1, hidden: 1,
 *   shared: { y: sharedY, gate }, residual,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(residual.contents)], [14]);
 * ```
 */
export async function moeWeightedReduce(
  encoder: ComputeEncoder,
  options: MoeWeightedReduceOptions,
): Promise<void> {
  await encodePlan(encoder, moeWeightedReducePlan(options));
}

/**
 * {@linkcode moeWeightedReduce}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes, and the optional shared expert and residual.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedReduceSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weights = device.newBuffer(new Float32Array([0.5, 0.5]));
 * using y = device.newBuffer(new Float32Array([2, 6]));
 * using out = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeWeightedReduceSync(encoder, { registry, weights, y, out, tokens: 1, topK: 2, hidden: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [4]);
 * ```
 */
export function moeWeightedReduceSync(
  encoder: ComputeEncoder,
  options: MoeWeightedReduceOptions,
): void {
  encodePlanSync(encoder, moeWeightedReducePlan(options));
}
