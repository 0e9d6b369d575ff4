// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/cumsum.metal`: the inclusive prefix sum along each row of a
 * `[rows, dim]` matrix in f32 or bf16 storage, with f32 accumulation. One threadgroup per
 * row, walking the row in tiles with a running carry, so any `dim` is served. The f64
 * reference is `ops/cumsum_ref.ts`.
 *
 * Bindings (`cumsum_<dtype>`): `buffer(0)` input `T[rows·dim]`, `buffer(1)` output
 * `T[rows·dim]` (may be the input), `buffer(2)` `constant CumsumParams { uint dim; }` by
 * `setBytes`. Grid: `rows` threadgroups.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { cumsum } from "./cumsum.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([1, 2, 3, 4, 5, 6]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await cumsum(encoder, { registry, input: x, output: x, dtype: "f32", rows: 2, dim: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(x.contents)); // [1, 3, 6, 4, 9, 15]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { CUMSUM_MAX_SIMDGROUPS, CUMSUM_N_READS, SIMD_WIDTH } from "./_defines.ts";
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
import { CUMSUM_KERNELS } from "../shaders/cumsum.ts";

/** The catalogue names of `cumsum.metal` (its table: `shaders/cumsum.ts`). */
export { CUMSUM_KERNELS };

/** Every kernel name of `cumsum.metal`. */
export type CumsumKernelName = TableNames<typeof CUMSUM_KERNELS>;

/** Dtypes of {@linkcode cumsum}. */
export type CumsumDType = keyof typeof CUMSUM_KERNELS;

/** Options of {@linkcode cumsum}. */
export interface CumsumOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[rows, dim]` of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[rows, dim]` of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: CumsumDType;
  /** Number of rows (one threadgroup each). */
  rows: number;
  /** Row length: the summed axis (any length up to 2³² − 1). */
  dim: number;
}

function cumsumPlan(options: CumsumOptions): KernelPlan {
  checkRegistry("cumsum", options.registry);
  const kernel = pickKernel("cumsum", CUMSUM_KERNELS, "dtype", options.dtype);
  const rows = checkCount(kernel, "rows", options.rows);
  const dim = checkCount(kernel, "dim", options.dim);
  checkRowBuffers(kernel, options, rows, "dim", dim, bytesPerElement(options.dtype));
  const maxThreads = SIMD_WIDTH * CUMSUM_MAX_SIMDGROUPS;
  const width = checkRowWidth(kernel, options, maxThreads);
  // struct CumsumParams { uint dim; }
  const params = packParams([["u32", dim]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline, backend) =>
      rowDispatch(pipeline, backend, rows, dim, CUMSUM_N_READS, maxThreads, width),
  };
}

/**
 * Encodes an inclusive prefix sum along each row, `output[r][j] = Σ_{k ≤ j} x[r][k]`
 * (`cumsum_<dtype>`). Partial sums are f32 whatever the storage type; each output is rounded
 * once.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and dim.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For `rows`/`dim` that are not positive integers up to 2³² − 1, or a
 * buffer smaller than `rows × dim` elements.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { cumsum, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0.5, 0.25, 0.25, -1]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await cumsum(encoder, { registry, input, output, dtype: "f32", rows: 1, dim: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [0.5, 0.75, 1, 0]);
 * ```
 */
export async function cumsum(encoder: ComputeEncoder, options: CumsumOptions): Promise<void> {
  await encodePlan(encoder, cumsumPlan(options));
}

/**
 * {@linkcode cumsum}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and dim.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { cumsumSync, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([1, 1, 1]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * cumsumSync(encoder, { registry, input: x, output: x, dtype: "f32", rows: 1, dim: 3 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(x.contents)], [1, 2, 3]);
 * ```
 */
export function cumsumSync(encoder: ComputeEncoder, options: CumsumOptions): void {
  encodePlanSync(encoder, cumsumPlan(options));
}
