// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/l2_norm.metal`: L2 normalisation of each row of a `[rows, dim]`
 * matrix, `y = x · rsqrt(Σx² + eps)` (the sum of squares, not the mean; eps inside the root),
 * in f32, f16 or bf16 storage with f32 arithmetic. Gated DeltaNet layers apply it to each
 * query and key head. One threadgroup per row. The f64 reference is `ops/l2_norm_ref.ts`.
 *
 * Bindings (`l2_norm_<dtype>`): `buffer(0)` input `T[rows·dim]`, `buffer(1)` output
 * `T[rows·dim]` (may be the input), `buffer(2)` `constant L2NormParams { float eps; uint dim; }`
 * by `setBytes`. Grid: `rows` threadgroups.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { l2Norm } from "./l2_norm.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using heads = device.newBuffer(new Float32Array([3, 4, 0, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await l2Norm(encoder, { registry, input: heads, output: heads, dtype: "f32", rows: 2, dim: 2, eps: 0 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(heads.contents)); // [0.6, 0.8, 0, 1]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { L2_NORM_COLS_PER_THREAD, L2_NORM_MAX_SIMDGROUPS, SIMD_WIDTH } from "./_defines.ts";
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
  checkEps,
  checkRegistry,
  checkRowBuffers,
  checkRowWidth,
  pickKernel,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { L2_NORM_KERNELS } from "../shaders/l2_norm.ts";

/** The catalogue names of `l2_norm.metal` (its table: `shaders/l2_norm.ts`). */
export { L2_NORM_KERNELS };

/** Every kernel name of `l2_norm.metal`. */
export type L2NormKernelName = TableNames<typeof L2_NORM_KERNELS>;

/** Dtypes of {@linkcode l2Norm}. */
export type L2NormDType = keyof typeof L2_NORM_KERNELS;

/** Options of {@linkcode l2Norm}. */
export interface L2NormOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[rows, dim]` of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[rows, dim]` of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: L2NormDType;
  /** Number of rows (one threadgroup each), e.g. tokens × heads. */
  rows: number;
  /** Row length, e.g. the head dimension. */
  dim: number;
  /** Added to the sum of squares inside the square root; at least 0 (models use ~1e-6). */
  eps: number;
}

function l2NormPlan(options: L2NormOptions): KernelPlan {
  checkRegistry("l2Norm", options.registry);
  const kernel = pickKernel("l2Norm", L2_NORM_KERNELS, "dtype", options.dtype);
  const rows = checkCount(kernel, "rows", options.rows);
  const dim = checkCount(kernel, "dim", options.dim);
  const eps = checkEps(kernel, options.eps);
  checkRowBuffers(kernel, options, rows, "dim", dim, bytesPerElement(options.dtype));
  const maxThreads = SIMD_WIDTH * L2_NORM_MAX_SIMDGROUPS;
  const width = checkRowWidth(kernel, options, maxThreads);
  // struct L2NormParams { float eps; uint dim; }
  const params = packParams([["f32", eps], ["u32", dim]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline, backend) =>
      rowDispatch(pipeline, backend, rows, dim, L2_NORM_COLS_PER_THREAD, maxThreads, width),
  };
}

/**
 * Encodes a row-wise L2 norm, `output[r][j] = x[r][j] · rsqrt(Σ_k x[r][k]² + eps)`
 * (`l2_norm_<dtype>`). Arithmetic is f32 whatever the storage type; each output is rounded
 * once. A zero row gives zeros for `eps > 0`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype`, a missing buffer or registry, or an `eps`
 * that is not a number.
 * @throws {RangeError} For `rows`/`dim` that are not positive integers, a negative or
 * non-finite `eps`, or a buffer smaller than `rows × dim` elements.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, l2Norm } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 1, 1, 1]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await l2Norm(encoder, { registry, input, output, dtype: "f32", rows: 1, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(new Float32Array(output.contents).every((v) => Math.abs(v - 0.5) < 1e-6));
 * ```
 */
export async function l2Norm(encoder: ComputeEncoder, options: L2NormOptions): Promise<void> {
  await encodePlan(encoder, l2NormPlan(options));
}

/**
 * {@linkcode l2Norm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, l2NormSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([0, 3, 0, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * l2NormSync(encoder, { registry, input: x, output: x, dtype: "f32", rows: 1, dim: 4, eps: 0 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const y = new Float32Array(x.contents);
 * assert.ok(Math.abs(y[1] - 0.6) < 1e-6 && Math.abs(y[3] - 0.8) < 1e-6);
 * ```
 */
export function l2NormSync(encoder: ComputeEncoder, options: L2NormOptions): void {
  encodePlanSync(encoder, l2NormPlan(options));
}
