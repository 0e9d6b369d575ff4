// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/quantized_matmul_ggml.metal` (mat-vec) and
 * `shaders/quantized_matmul_mm.metal` (mat-mat): `output = input · weightᵀ` with the weights
 * `[n, k]` in a GGUF block format (`formats/ggml.ts`: Q4_0, Q8_0, Q6_K), the input `[m, k]` and
 * the output `[m, n]` in f32. The weight buffer holds the tensor's bytes as they are in the
 * GGUF file: `n` rows of `k / values` blocks.
 *
 * {@linkcode quantizedMatmulGgml} picks the kernel by `m`, as llama.cpp and mlx-native do: up to
 * {@linkcode GGML_MATVEC_MAX_ROWS} rows (decode) go to the mat-vec, which reads every weight
 * byte once per row of x at full precision; more rows (prefill) go to the mat-mat, which
 * dequantises each weight once per 32 rows into half tiles for the SIMD-group matrix units.
 * {@linkcode ggmlMatvec} and {@linkcode ggmlMatmul} call one kernel directly.
 *
 * Numerics: f32 accumulation everywhere; the mat-vec uses the weights exactly, the mat-mat
 * rounds each dequantised weight to half (as the tile is staged) and keeps the input f32. The
 * f64 reference is `ops/quantized_matmul_ggml_ref.ts`.
 *
 * Bindings (all six kernels): `buffer(0)` weight, `buffer(1)` input, `buffer(2)` output,
 * `buffer(3)` `constant { uint K; uint N; uint M; }` by `setBytes`. Grids: the mat-vec runs
 * `(ceil(n / rows), m)` threadgroups of 64 threads (rows = 8 for Q4_0 / Q8_0, 4 for Q6_K); the
 * mat-mat `(ceil(m / 32), ceil(n / 64))` threadgroups of 128.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgml } from "../mod.ts";
 *
 * const [m, n, k] = [2, 3, 64];
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const weights = Float32Array.from({ length: n * k }, (_, i) => Math.cos(i));
 * using weight = device.newBuffer(quantizeGgml(weights, "q8_0"));
 * using input = device.newBuffer(new Float32Array(m * k).fill(1));
 * using output = device.newBuffer(m * n * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulGgml(encoder, { registry, type: "q8_0", weight, input, output, m, n, k });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // the row sums of the weights, twice
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { ggmlRowBytes } from "../formats/ggml.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBlockK,
  GGML_MM_THREADS,
  GGML_MM_TILE_M,
  GGML_MM_TILE_N,
  GGML_MV_ROWS,
  GGML_MV_SIMDGROUPS,
} from "./_ggml.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { QUANTIZED_MATMUL_GGML_KERNELS } from "../shaders/quantized_matmul_ggml.ts";
import { QUANTIZED_MATMUL_MM_KERNELS } from "../shaders/quantized_matmul_mm.ts";

/** The catalogue names of `quantized_matmul_ggml.metal` and `quantized_matmul_mm.metal`. */
export { QUANTIZED_MATMUL_GGML_KERNELS, QUANTIZED_MATMUL_MM_KERNELS };

/** Every kernel name the dense GGML helpers use. */
export type QuantizedMatmulGgmlKernelName =
  | TableNames<typeof QUANTIZED_MATMUL_GGML_KERNELS>
  | TableNames<typeof QUANTIZED_MATMUL_MM_KERNELS>;

/** The block types of the dense GGML kernels. */
export type GgmlMatmulType = keyof typeof QUANTIZED_MATMUL_GGML_KERNELS;

/**
 * The most rows of input {@linkcode quantizedMatmulGgml} sends to the mat-vec kernel; more go
 * to the mat-mat kernel (llama.cpp's and mlx-native's switch point).
 */
export const GGML_MATVEC_MAX_ROWS = 8;

/** Options of the dense GGML helpers. */
export interface QuantizedMatmulGgmlOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The weights' block type. */
  type: GgmlMatmulType;
  /** `[n, k]` weights: `n` rows of `k / values` blocks, as in the GGUF tensor data. */
  weight: DeviceBuffer;
  /** `[m, k]` f32 input, row-major. */
  input: DeviceBuffer;
  /** `[m, n]` f32 output, row-major; not the input or weight buffer. */
  output: DeviceBuffer;
  /** Rows of input and output (tokens). */
  m: number;
  /** Rows of the weights: output features. */
  n: number;
  /** Values per row (input features): a multiple of the block (32, or 256 for Q6_K). */
  k: number;
}

const F32 = bytesPerElement("f32");

function densePlan(
  options: QuantizedMatmulGgmlOptions,
  path: "matvec" | "matmul",
  helper: string,
): KernelPlan {
  checkRegistry(helper, options.registry);
  const table = path === "matvec" ? QUANTIZED_MATMUL_GGML_KERNELS : QUANTIZED_MATMUL_MM_KERNELS;
  const kernel = pickKernel(helper, table, "type", options.type);
  const type = options.type;
  const m = checkCount(kernel, "m", options.m);
  const n = checkCount(kernel, "n", options.n);
  const k = checkBlockK(kernel, type, options.k);
  const rowBytes = ggmlRowBytes(type, k);
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    n * rowBytes,
    `n ${n} × ${rowBytes} bytes per row of k ${k} in ${type}`,
  );
  checkBuffer(kernel, "input", options.input, m * k * F32, sizeDetail([["m", m], ["k", k]], F32));
  checkBuffer(
    kernel,
    "output",
    options.output,
    m * n * F32,
    sizeDetail([["m", m], ["n", n]], F32),
  );
  const why = "the kernel reads it while writing the output";
  checkDistinct(kernel, ["input", "output"], options.input, options.output, why);
  checkDistinct(kernel, ["weight", "output"], options.weight, options.output, why);
  const params = packParams([["u32", k], ["u32", n], ["u32", m]]);
  const rows = GGML_MV_SIMDGROUPS * GGML_MV_ROWS[type];
  return {
    registry: options.registry,
    kernel,
    args: [options.weight, options.input, options.output, params],
    geometry: () =>
      path === "matvec"
        ? {
          kind: "threadgroups",
          grid: [Math.ceil(n / rows), m, 1],
          threadgroup: [SIMD_WIDTH * GGML_MV_SIMDGROUPS, 1, 1],
        }
        : {
          kind: "threadgroups",
          grid: [Math.ceil(m / GGML_MM_TILE_M), Math.ceil(n / GGML_MM_TILE_N), 1],
          threadgroup: [GGML_MM_THREADS, 1, 1],
        },
  };
}

function routedPath(options: QuantizedMatmulGgmlOptions): "matvec" | "matmul" {
  return typeof options?.m === "number" && options.m > GGML_MATVEC_MAX_ROWS ? "matmul" : "matvec";
}

/**
 * Encodes `output = input · weightᵀ` with GGUF block weights, choosing the kernel by `m`: the
 * mat-vec `kernel_mul_mv_<type>_f32` for `m ≤ GGML_MATVEC_MAX_ROWS`, else the mat-mat
 * `kernel_mul_mm_<type>_f32` (whose weights are rounded to half).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For sizes that are not positive integers, a `k` that is not a multiple
 * of the block, a buffer too small for its shape, or an output that is the input or weights.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One Q4_0 row of 32 values: -8, -7, ..., 7, twice (d = 1, exact).
 * const row = Array.from({ length: 32 }, (_, i) => (i % 16) - 8);
 * using weight = device.newBuffer(quantizeGgml(row, "q4_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(0.5));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulGgml(encoder, {
 *   registry, type: "q4_0", weight, input, output, m: 1, n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(new Float32Array(output.contents)[0], -8); // 0.5 · 2 · (−8)
 * ```
 */
export async function quantizedMatmulGgml(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): Promise<void> {
  await encodePlan(encoder, densePlan(options, routedPath(options), "quantizedMatmulGgml"));
}

/**
 * {@linkcode quantizedMatmulGgml}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgmlSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(2), "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(1));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * quantizedMatmulGgmlSync(encoder, {
 *   registry, type: "q8_0", weight, input, output, m: 1, n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 64) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function quantizedMatmulGgmlSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): void {
  encodePlanSync(encoder, densePlan(options, routedPath(options), "quantizedMatmulGgmlSync"));
}

/**
 * Encodes the mat-vec kernel `kernel_mul_mv_<type>_f32` for any `m` (exact weights, each row
 * of the input reads all the weights).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatvec, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(256).fill(-1), "q6_K"));
 * using input = device.newBuffer(new Float32Array(256).fill(1));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMatvec(encoder, { registry, type: "q6_K", weight, input, output, m: 1, n: 1, k: 256 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] + 256) < 1e-3);
 * ```
 */
export async function ggmlMatvec(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): Promise<void> {
  await encodePlan(encoder, densePlan(options, "matvec", "ggmlMatvec"));
}

/**
 * {@linkcode ggmlMatvec}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatvecSync, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(1), "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(3));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMatvecSync(encoder, { registry, type: "q8_0", weight, input, output, m: 1, n: 1, k: 32 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 96) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function ggmlMatvecSync(encoder: ComputeEncoder, options: QuantizedMatmulGgmlOptions): void {
  encodePlanSync(encoder, densePlan(options, "matvec", "ggmlMatvecSync"));
}

/**
 * Encodes the mat-mat kernel `kernel_mul_mm_<type>_f32` for any `m` (weights rounded to half,
 * SIMD-group matrix tiles of 32 rows × 64 columns).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmul, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(2 * 32).fill(-1), "q4_0"));
 * using input = device.newBuffer(new Float32Array(3 * 32).fill(0.25));
 * using output = device.newBuffer(3 * 2 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMatmul(encoder, { registry, type: "q4_0", weight, input, output, m: 3, n: 2, k: 32 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [-8, -8, -8, -8, -8, -8]);
 * ```
 */
export async function ggmlMatmul(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): Promise<void> {
  await encodePlan(encoder, densePlan(options, "matmul", "ggmlMatmul"));
}

/**
 * {@linkcode ggmlMatmul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmulSync, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(0.5), "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(2));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMatmulSync(encoder, { registry, type: "q8_0", weight, input, output, m: 1, n: 1, k: 32 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 32) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function ggmlMatmulSync(encoder: ComputeEncoder, options: QuantizedMatmulGgmlOptions): void {
  encodePlanSync(encoder, densePlan(options, "matmul", "ggmlMatmulSync"));
}
