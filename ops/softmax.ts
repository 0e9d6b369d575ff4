// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/softmax.metal`: a numerically stable softmax over each row of a
 * `[rows, cols]` matrix in f32, f16 or bf16 storage (f32 arithmetic). One threadgroup per
 * row (as wide as `threadsPerRow`, else the backend's choice: a multiple of 32 near
 * `cols / 4` on a GPU, one thread on the CPU backend); entries of `-Infinity` (masked
 * logits) get probability 0, and a row that is entirely `-Infinity` comes out as zeros. The
 * f64 reference is `ops/softmax_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { softmax } from "./softmax.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmax(encoder, { registry, input: logits, output: logits, dtype: "f32", rows: 2, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(logits.contents)); // [0.032, 0.087, 0.237, 0.644, 0.25, 0.25, 0.25, 0.25]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  SIMD_WIDTH,
  SOFTMAX_COLS_PER_THREAD,
  SOFTMAX_MAX_SIMDGROUPS,
  SOFTMAX_SCRATCH_BYTES,
} from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  packParams,
  rowDispatch,
  type RowWidthOptions,
} from "./_dispatch.ts";
import {
  checkCount,
  checkRegistry,
  checkRowBuffers,
  checkRowWidth,
  pickKernel,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { SOFTMAX_KERNELS } from "../shaders/softmax.ts";

/** The catalogue names of `softmax.metal` (its table: `shaders/softmax.ts`). */
export { SOFTMAX_KERNELS };

/** Every kernel name of `softmax.metal`. */
export type SoftmaxKernelName = TableNames<typeof SOFTMAX_KERNELS>;

/** Dtypes of {@linkcode softmax}. */
export type SoftmaxDType = keyof typeof SOFTMAX_KERNELS;

/** Options of {@linkcode softmax}; `threadsPerRow` / `maxThreadsPerRow` size each row's threadgroup. */
export interface SoftmaxOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[rows, cols]` logits of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[rows, cols]` probabilities of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: SoftmaxDType;
  /** Number of rows (one threadgroup each). */
  rows: number;
  /** Row length: the softmax axis. */
  cols: number;
}

function softmaxPlan(options: SoftmaxOptions): KernelPlan {
  checkRegistry("softmax", options.registry);
  const kernel = pickKernel("softmax", SOFTMAX_KERNELS, "dtype", options.dtype);
  const rows = checkCount(kernel, "rows", options.rows);
  const cols = checkCount(kernel, "cols", options.cols);
  checkRowBuffers(kernel, options, rows, "cols", cols, bytesPerElement(options.dtype));
  const maxThreads = SIMD_WIDTH * SOFTMAX_MAX_SIMDGROUPS;
  const width = checkRowWidth(kernel, options, maxThreads);
  // struct SoftmaxParams { uint cols; }
  const params = packParams([["u32", cols]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    usesBfloat16: options.dtype === "bf16",
    threadgroupMemory: [SOFTMAX_SCRATCH_BYTES],
    geometry: (pipeline, backend) =>
      rowDispatch(pipeline, backend, rows, cols, SOFTMAX_COLS_PER_THREAD, maxThreads, width),
  };
}

/**
 * Encodes a row-wise softmax, `output[r][j] = exp(x[r][j] - max_r) / Σ_k exp(x[r][k] - max_r)`
 * (`softmax_<dtype>`). Arithmetic is f32 whatever the storage type; each output is rounded
 * once. `-Infinity` entries give 0; an all `-Infinity` row gives zeros.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and cols (and optionally the row width).
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype`, a missing buffer or registry, or both
 * `threadsPerRow` and `maxThreadsPerRow`.
 * @throws {RangeError} For `rows`/`cols` that are not positive integers, a buffer smaller
 * than `rows × cols` elements, or a row width outside 1 to 1024 (or the pipeline's maximum).
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softmax } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0, 0, 0, 0, 1, 2]));
 * using output = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmax(encoder, { registry, input, output, dtype: "f32", rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const p = new Float32Array(output.contents);
 * assert.ok(Math.abs(p[0] - 1 / 3) < 1e-6);
 * assert.ok(Math.abs(p[3] + p[4] + p[5] - 1) < 1e-6);
 * ```
 */
export async function softmax(encoder: ComputeEncoder, options: SoftmaxOptions): Promise<void> {
  await encodePlan(encoder, softmaxPlan(options));
}

/**
 * {@linkcode softmax}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and cols.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`cols` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softmaxSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 1, -Infinity, -Infinity]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * softmaxSync(encoder, { registry, input: logits, output: logits, dtype: "f32", rows: 1, cols: 4 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(logits.contents)], [0.5, 0.5, 0, 0]);
 * ```
 */
export function softmaxSync(encoder: ComputeEncoder, options: SoftmaxOptions): void {
  encodePlanSync(encoder, softmaxPlan(options));
}
