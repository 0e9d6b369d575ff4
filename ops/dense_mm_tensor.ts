// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the dense tensor-API mat-mats, `shaders/dense_mm_f32_f32.metal`
 * (`hf2q_dense_mm_f32_f32_tensor`, f32 weights, all f32) and `shaders/dense_mm_bf16_tensor.metal`
 * (`hf2q_dense_mm_bf16_f32_tensor`, bf16 weights, activations rounded to bf16 at staging):
 * batched `dst[b] = src1[b] · src0[b / r2]ᵀ` with f32 accumulation by MetalPerformancePrimitives'
 * `matmul2d` (`r2 = batches / weightBatches`, the GQA broadcast of attention scores). The f64
 * reference is `gemvBatchedRef` (`ops/matmul_ref.ts`), the same contract.
 *
 * These kernels need Metal 4's tensor API and have no SIMD-group twin: the helpers ask
 * `ops/tensor_api.ts`'s probe first and throw {@linkcode TensorApiUnsupportedError} on a device
 * without it (Metal before macOS 26), before anything is encoded.
 *
 * Bindings: `buffer(0)` `constant DenseMmTensorParams { uint K, N, M, r2; }`, `buffer(1)` src0
 * (weights `[weightBatches, n, k]`), `buffer(2)` src1 f32 `[batches, m, k]`, `buffer(3)` dst f32
 * `[batches, m, n]`; `threadgroup(0)` 12288 bytes (f32) or 8192 (bf16). Grid: `(ceil(m / 32),
 * ceil(n / 64), batches)` threadgroups of 128 threads.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { denseMmTensor } from "./dense_mm_tensor.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // src1 [1, 2] (m 1, k 2) times src0 [3, 2]ᵀ (n 3).
 * using weight = device.newBuffer(new Float32Array([1, 0, 0, 1, 1, 1]));
 * using input = device.newBuffer(new Float32Array([2, 3]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseMmTensor(encoder, {
 *   registry, weight, input, output, weightDType: "f32", m: 1, n: 3, k: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [2, 3, 5]);
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  pickKernel,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import { chooseTensorKernel, chooseTensorKernelSync } from "./tensor_api.ts";
import { DENSE_MM_BF16_TENSOR_KERNELS } from "../shaders/dense_mm_bf16_tensor.ts";
import { DENSE_MM_F32_F32_KERNELS } from "../shaders/dense_mm_f32_f32.ts";

/** The catalogue names of the two dense tensor-API files (their tables: `shaders/dense_mm_*.ts`). */
export { DENSE_MM_BF16_TENSOR_KERNELS, DENSE_MM_F32_F32_KERNELS };

/** Output rows (m) per threadgroup (`DENSE_MM_TILE_M`). */
export const DENSE_MM_TILE_M = 32;
/** Output columns (n) per threadgroup (`DENSE_MM_TILE_N`). */
export const DENSE_MM_TILE_N = 64;
/** Threads per threadgroup (`DENSE_MM_THREADS`): 4 SIMD-groups. */
export const DENSE_MM_THREADS = 4 * SIMD_WIDTH;

const KERNELS = {
  f32: DENSE_MM_F32_F32_KERNELS.f32,
  bf16: DENSE_MM_BF16_TENSOR_KERNELS.f32,
} as const;
const THREADGROUP_BYTES = { f32: 12288, bf16: 8192 } as const;

/** Options of {@linkcode denseMmTensor}. */
export interface DenseMmTensorOptions {
  /** The registry that compiles and caches the pipeline (and the probe). */
  registry: KernelRegistry;
  /** `[weightBatches, n, k]` weights (src0), f32 or bf16. */
  weight: DeviceBuffer;
  /** `[batches, m, k]` f32 activations (src1). */
  input: DeviceBuffer;
  /** `[batches, m, n]` f32 result; must not overlap the operands. */
  output: DeviceBuffer;
  /** The weights' dtype: `"f32"` or `"bf16"` (activations are then rounded to bf16). */
  weightDType: "f32" | "bf16";
  /** Activation rows per batch. */
  m: number;
  /** Weight rows per batch (output columns). */
  n: number;
  /** Reduction length. */
  k: number;
  /**
   * Activation and output batches.
   *
   * @default {1}
   */
  batches?: number;
  /**
   * Weight batches; `batches` must be a multiple (batch `b` reads weight batch
   * `b / (batches / weightBatches)`).
   *
   * @default {batches}
   */
  weightBatches?: number;
}

const F32 = bytesPerElement("f32");

function denseMmTensorPlan(options: DenseMmTensorOptions): KernelPlan {
  checkRegistry("denseMmTensor", options.registry);
  const kernel = pickKernel("denseMmTensor", KERNELS, "weightDType", options.weightDType);
  const m = checkCount(kernel, "m", options.m);
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
  const batches = checkCount(kernel, "batches", options.batches ?? 1);
  const weightBatches = checkCount(kernel, "weightBatches", options.weightBatches ?? batches);
  if (batches % weightBatches !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "batches" ${batches} is not a multiple of "weightBatches" ${weightBatches}`,
    );
  }
  if (batches * m * Math.max(n, k) > U32_MAX || weightBatches * n * k > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: batches ${batches} × m ${m} × n ${n} × k ${k} exceeds the kernel's 32-bit indices`,
    );
  }
  const wSize = bytesPerElement(options.weightDType);
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    weightBatches * n * k * wSize,
    sizeDetail([["weightBatches", weightBatches], ["n", n], ["k", k]], wSize),
  );
  checkBuffer(
    kernel,
    "input",
    options.input,
    batches * m * k * F32,
    sizeDetail([["batches", batches], ["m", m], ["k", k]], F32),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    batches * m * n * F32,
    sizeDetail([["batches", batches], ["m", m], ["n", n]], F32),
  );
  const why = "the kernel reads the operands while writing";
  checkDistinct(kernel, ["input", "output"], options.input, options.output, why);
  checkDistinct(kernel, ["weight", "output"], options.weight, options.output, why);
  // struct DenseMmTensorParams { uint K, N, M, r2; }
  const params = packParams([["u32", k], ["u32", n], ["u32", m], ["u32", batches / weightBatches]]);
  return {
    registry: options.registry,
    kernel,
    args: [params, options.weight, options.input, options.output],
    usesBfloat16: options.weightDType === "bf16",
    threadgroupMemory: [THREADGROUP_BYTES[options.weightDType]],
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(m / DENSE_MM_TILE_M), Math.ceil(n / DENSE_MM_TILE_N), batches],
      threadgroup: [DENSE_MM_THREADS, 1, 1],
    }),
  };
}

/**
 * Encodes `output[b][i][j] = Σ_l weight[b / r2][j][l] · input[b][i][l]` on the tensor API
 * (f32 accumulation; bf16 weights take bf16-rounded activations).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, weight dtype and shape.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or an unknown weight dtype.
 * @throws {RangeError} For bad sizes, batches not a multiple of weight batches, a buffer too
 * small for its shape, or an output overlapping an operand.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import { Device, denseMmTensor, KernelRegistry } from "../mod.ts";
 * import { toBf16Array } from "../dtype.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two query heads share one key head (GQA): batches 2, weightBatches 1.
 * using weight = device.newBuffer(toBf16Array([1, 2]));
 * using input = device.newBuffer(new Float32Array([1, 1, 3, 0]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseMmTensor(encoder, {
 *   registry, weight, input, output, weightDType: "bf16",
 *   m: 1, n: 1, k: 2, batches: 2, weightBatches: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [3, 3]);
 * ```
 */
export async function denseMmTensor(
  encoder: ComputeEncoder,
  options: DenseMmTensorOptions,
): Promise<void> {
  const plan = denseMmTensorPlan(options);
  await chooseTensorKernel(encoder.device, plan.registry, plan.kernel);
  await encodePlan(encoder, plan);
}

/**
 * {@linkcode denseMmTensor}, blocking while the probe and the pipeline compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, weight dtype and shape.
 * @throws {TypeError | RangeError | TensorApiUnsupportedError} As {@linkcode denseMmTensor}.
 *
 * @example Usage
 * ```ts
 * import { Device, denseMmTensorSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(new Float32Array([0.5]));
 * using input = device.newBuffer(new Float32Array([4, 6]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * denseMmTensorSync(encoder, {
 *   registry, weight, input, output, weightDType: "f32", m: 2, n: 1, k: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [2, 3]);
 * ```
 */
export function denseMmTensorSync(encoder: ComputeEncoder, options: DenseMmTensorOptions): void {
  const plan = denseMmTensorPlan(options);
  chooseTensorKernelSync(encoder.device, plan.registry, plan.kernel);
  encodePlanSync(encoder, plan);
}
