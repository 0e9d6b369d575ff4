// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/quantized_matmul_id.metal`: a mixture-of-experts projection with
 * MLX-affine weights. Every token has `topK` routed rows; row `(t, s)` is token `t`'s
 * activations times the weights of expert `ids[t · topK + s]`, all experts stacked in one set
 * of buffers (`formats/affine.ts` packs them, e.g. an `[experts · n, k]` matrix). One dispatch
 * serves every token and slot; experts that get no token cost nothing. The f64 reference is
 * `ops/quantized_matmul_id_ref.ts`.
 *
 * Expert ids are read on the device (a router kernel usually writes them in the same command
 * buffer), so the host cannot check them: a routed row whose id is not below `experts` is
 * left unwritten.
 *
 * Bindings: `buffer(0)` x f32 `[m, k]`, `buffer(1)` weights, `buffer(2)` scales, `buffer(3)`
 * biases (stacked experts), `buffer(4)` ids `uint[m, topK]`, `buffer(5)` output f32
 * `[m, topK, n]`, `buffer(6)` `constant QuantizedMatmulIdParams { uint M, K, N, group_size,
 * bits, n_expert_used, num_experts, expert_weight_stride, expert_scales_stride,
 * expert_biases_stride; }`. Grid: `(ceil(n / 8), m · topK)` threadgroups of 64 threads.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine } from "../mod.ts";
 * import { quantizedMatmulId } from "./quantized_matmul_id.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Three experts of one row of 32 values: expert e is all e + 1.
 * const w = quantizeAffine(
 *   Float32Array.from({ length: 96 }, (_, i) => Math.floor(i / 32) + 1),
 *   { rows: 3, cols: 32, bits: 4, groupSize: 32 },
 * );
 * using x = device.newBuffer(new Float32Array(32).fill(1));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using ids = device.newBuffer(new Uint32Array([2, 0])); // one token, top 2
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulId(encoder, {
 *   registry, x, weights, scales, biases, ids, output,
 *   m: 1, topK: 2, n: 1, k: 32, bits: 4, groupSize: 32, experts: 3,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [96, 32]);
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import {
  AFFINE_BITS,
  AFFINE_GROUP_SIZES,
  type AffineBits,
  type AffineGroupSize,
} from "../formats/affine.ts";
import type { KernelRegistry } from "../registry.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import { QUANTIZED_MATMUL_ID_KERNELS } from "../shaders/quantized_matmul_id.ts";

/** The catalogue name of `quantized_matmul_id.metal` (its table: `shaders/quantized_matmul_id.ts`). */
export { QUANTIZED_MATMUL_ID_KERNELS };

/** Weight rows per threadgroup of `quantized_matmul_id` (`QMV_ID_ROWS_PER_TG`). */
export const QMV_ID_ROWS_PER_TG = 8;
/** SIMD-groups per threadgroup of `quantized_matmul_id` (`QMV_ID_SIMDGROUPS`). */
export const QMV_ID_SIMDGROUPS = 2;

/** Options of {@linkcode quantizedMatmulId}. */
export interface QuantizedMatmulIdOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[m, k]` f32 activations, one row per token. */
  x: DeviceBuffer;
  /** Packed codes of all experts: expert `e`'s `n` rows of `k · bits / 8` bytes follow expert `e − 1`'s. */
  weights: DeviceBuffer;
  /** bf16 scales of all experts, `[experts · n, k / groupSize]`. */
  scales: DeviceBuffer;
  /** bf16 biases of all experts, `[experts · n, k / groupSize]`. */
  biases: DeviceBuffer;
  /** `uint[m, topK]` expert ids (rows with an id not below `experts` are not written). */
  ids: DeviceBuffer;
  /** `[m, topK, n]` f32 result; must not overlap `x`. */
  output: DeviceBuffer;
  /** Tokens. */
  m: number;
  /** Routed rows per token. */
  topK: number;
  /** Weight rows per expert (output features). */
  n: number;
  /** Reduction length; a multiple of `groupSize`. */
  k: number;
  /** Bits per code. */
  bits: AffineBits;
  /** Values per scale/bias pair. */
  groupSize: AffineGroupSize;
  /** Experts stacked in the weight buffers. */
  experts: number;
}

const F32 = bytesPerElement("f32");
const U32 = bytesPerElement("u32");
// Scales and biases: bf16 bit patterns.
const BF16 = bytesPerElement("bf16");

function quantizedMatmulIdPlan(options: QuantizedMatmulIdOptions): KernelPlan {
  checkRegistry("quantizedMatmulId", options.registry);
  const kernel = QUANTIZED_MATMUL_ID_KERNELS.f32;
  const m = checkCount(kernel, "m", options.m);
  const topK = checkCount(kernel, "topK", options.topK);
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
  const experts = checkCount(kernel, "experts", options.experts);
  const { bits, groupSize } = options;
  if (!AFFINE_BITS.includes(bits)) {
    throw new RangeError(`Cannot encode ${kernel}: "bits" is ${bits}, expected 4, 6 or 8`);
  }
  if (!AFFINE_GROUP_SIZES.includes(groupSize)) {
    throw new RangeError(
      `Cannot encode ${kernel}: "groupSize" is ${groupSize}, expected 32, 64 or 128`,
    );
  }
  if (k % groupSize !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "k" is ${k}, expected a multiple of the group size ${groupSize}`,
    );
  }
  const rowBytes = k * bits / 8;
  const weightStride = n * rowBytes;
  const scaleStride = n * (k / groupSize);
  if (weightStride > U32_MAX || m * k > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: one expert's ${weightStride} weight bytes or m ${m} × k ${k} exceed the kernel's 32-bit strides`,
    );
  }
  checkBuffer(kernel, "x", options.x, m * k * F32, sizeDetail([["m", m], ["k", k]], F32));
  checkBuffer(
    kernel,
    "weights",
    options.weights,
    experts * weightStride,
    `experts ${experts} × n ${n} × k ${k} × ${bits} bits / 8`,
  );
  const groups = sizeDetail(
    [["experts", experts], ["n", n], ["k / groupSize", k / groupSize]],
    BF16,
  );
  checkBuffer(kernel, "scales", options.scales, experts * scaleStride * BF16, groups);
  checkBuffer(kernel, "biases", options.biases, experts * scaleStride * BF16, groups);
  checkBuffer(
    kernel,
    "ids",
    options.ids,
    m * topK * U32,
    sizeDetail([["m", m], ["topK", topK]], U32),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    m * topK * n * F32,
    sizeDetail([["m", m], ["topK", topK], ["n", n]], F32),
  );
  checkDistinct(
    kernel,
    ["x", "output"],
    options.x,
    options.output,
    "the kernel reads x while writing",
  );
  // struct QuantizedMatmulIdParams { uint M, K, N, group_size, bits, n_expert_used,
  //   num_experts, expert_weight_stride, expert_scales_stride, expert_biases_stride; }
  const params = packParams([
    ["u32", m],
    ["u32", k],
    ["u32", n],
    ["u32", groupSize],
    ["u32", bits],
    ["u32", topK],
    ["u32", experts],
    ["u32", weightStride],
    ["u32", scaleStride],
    ["u32", scaleStride],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [
      options.x,
      options.weights,
      options.scales,
      options.biases,
      options.ids,
      options.output,
      params,
    ],
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(n / QMV_ID_ROWS_PER_TG), m * topK, 1],
      threadgroup: [SIMD_WIDTH * QMV_ID_SIMDGROUPS, 1, 1],
    }),
  };
}

/**
 * Encodes the expert-routed product `output[t][s][j] = Σ_l W_e[j][l] · x[t][l]`,
 * `e = ids[t · topK + s]` (`quantized_matmul_id`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format and expert count.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, bits or group size, `k` not a multiple of the group
 * size, a buffer too small for its shape, or `output` the same buffer as `x`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmulId } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const w = quantizeAffine(new Float32Array(64).fill(0.5), { rows: 2, cols: 32, bits: 8, groupSize: 32 });
 * using x = device.newBuffer(new Float32Array(64).fill(2)); // two tokens
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using ids = device.newBuffer(new Uint32Array([1, 9])); // 9 is no expert: row left as is
 * using output = device.newBuffer(new Float32Array([-1, -1]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulId(encoder, {
 *   registry, x, weights, scales, biases, ids, output,
 *   m: 2, topK: 1, n: 1, k: 32, bits: 8, groupSize: 32, experts: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [32, -1]);
 * ```
 */
export async function quantizedMatmulId(
  encoder: ComputeEncoder,
  options: QuantizedMatmulIdOptions,
): Promise<void> {
  await encodePlan(encoder, quantizedMatmulIdPlan(options));
}

/**
 * {@linkcode quantizedMatmulId}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format and expert count.
 * @throws {TypeError | RangeError} As {@linkcode quantizedMatmulId}.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmulIdSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const w = quantizeAffine(new Float32Array(32).fill(1), { rows: 1, cols: 32, bits: 6, groupSize: 32 });
 * using x = device.newBuffer(new Float32Array(32).fill(1));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using ids = device.newBuffer(new Uint32Array([0]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * quantizedMatmulIdSync(encoder, {
 *   registry, x, weights, scales, biases, ids, output,
 *   m: 1, topK: 1, n: 1, k: 32, bits: 6, groupSize: 32, experts: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 32);
 * ```
 */
export function quantizedMatmulIdSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulIdOptions,
): void {
  encodePlanSync(encoder, quantizedMatmulIdPlan(options));
}
