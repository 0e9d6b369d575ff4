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
import { checkBlockK, checkGgmlOutput, ggmlMatmulDispatch, ggmlMatvecDispatch } from "./_ggml.ts";
import { checkBuffer, checkCount, checkRegistry, pickKernel, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { QUANTIZED_MATMUL_GGML_KERNELS } from "../shaders/quantized_matmul_ggml.ts";
import { QUANTIZED_MATMUL_MM_KERNELS } from "../shaders/quantized_matmul_mm.ts";
import { QUANTIZED_MATMUL_MM_TENSOR_KERNELS } from "../shaders/quantized_matmul_mm_tensor.ts";
import { chooseTensorKernel, chooseTensorKernelSync } from "./tensor_api.ts";

/**
 * The catalogue names of `quantized_matmul_ggml.metal`, `quantized_matmul_mm.metal` and
 * `quantized_matmul_mm_tensor.metal`.
 */
export {
  QUANTIZED_MATMUL_GGML_KERNELS,
  QUANTIZED_MATMUL_MM_KERNELS,
  QUANTIZED_MATMUL_MM_TENSOR_KERNELS,
};

/** Every kernel name the dense GGML helpers use. */
export type QuantizedMatmulGgmlKernelName =
  | TableNames<typeof QUANTIZED_MATMUL_GGML_KERNELS>
  | TableNames<typeof QUANTIZED_MATMUL_MM_KERNELS>
  | TableNames<typeof QUANTIZED_MATMUL_MM_TENSOR_KERNELS>;

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
  /**
   * For the mat-mat ({@linkcode quantizedMatmulGgml} past {@linkcode GGML_MATVEC_MAX_ROWS}
   * rows): run `kernel_mul_mm_<type>_tensor_f32` on Metal 4's tensor API (inputs rounded to
   * half as well as weights) when the device compiles it, else the SIMD-group twin (default
   * true). False: always the twin.
   */
  tensorApi?: boolean;
}

const F32 = bytesPerElement("f32");

function densePlan(
  options: QuantizedMatmulGgmlOptions,
  path: "matvec" | "matmul" | "tensor",
  helper: string,
): KernelPlan {
  checkRegistry(helper, options.registry);
  const table = path === "matvec"
    ? QUANTIZED_MATMUL_GGML_KERNELS
    : path === "matmul"
    ? QUANTIZED_MATMUL_MM_KERNELS
    : QUANTIZED_MATMUL_MM_TENSOR_KERNELS.f32;
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
  checkGgmlOutput(kernel, options);
  const params = packParams([["u32", k], ["u32", n], ["u32", m]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.weight, options.input, options.output, params],
    geometry: () => path === "matvec" ? ggmlMatvecDispatch(type, n, m) : ggmlMatmulDispatch(m, n),
  };
}

/** The mat-mat plan with its kernel swapped for the tensor twin when the device has the API. */
async function withTensorKernel(
  encoder: ComputeEncoder,
  plan: KernelPlan,
  options: QuantizedMatmulGgmlOptions,
): Promise<KernelPlan> {
  if (plan.kernel !== QUANTIZED_MATMUL_MM_KERNELS[options.type] || options.tensorApi === false) {
    return plan;
  }
  const tensor = QUANTIZED_MATMUL_MM_TENSOR_KERNELS.f32[options.type];
  return {
    ...plan,
    kernel: await chooseTensorKernel(encoder.device, plan.registry, tensor, plan.kernel),
  };
}

function withTensorKernelSync(
  encoder: ComputeEncoder,
  plan: KernelPlan,
  options: QuantizedMatmulGgmlOptions,
): KernelPlan {
  if (plan.kernel !== QUANTIZED_MATMUL_MM_KERNELS[options.type] || options.tensorApi === false) {
    return plan;
  }
  const tensor = QUANTIZED_MATMUL_MM_TENSOR_KERNELS.f32[options.type];
  return {
    ...plan,
    kernel: chooseTensorKernelSync(encoder.device, plan.registry, tensor, plan.kernel),
  };
}

function routedPath(options: QuantizedMatmulGgmlOptions): "matvec" | "matmul" {
  return typeof options?.m === "number" && options.m > GGML_MATVEC_MAX_ROWS ? "matmul" : "matvec";
}

/**
 * Encodes `output = input · weightᵀ` with GGUF block weights, choosing the kernel by `m`: the
 * mat-vec `kernel_mul_mv_<type>_f32` for `m ≤ GGML_MATVEC_MAX_ROWS`, else the mat-mat
 * `kernel_mul_mm_<type>_f32` (whose weights are rounded to half) — or, when the device compiles
 * Metal 4's tensor API and `tensorApi` is not false, its tensor twin
 * `kernel_mul_mm_<type>_tensor_f32` (which rounds the inputs to half as well).
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
  const plan = densePlan(options, routedPath(options), "quantizedMatmulGgml");
  await encodePlan(encoder, await withTensorKernel(encoder, plan, options));
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
  const plan = densePlan(options, routedPath(options), "quantizedMatmulGgmlSync");
  encodePlanSync(encoder, withTensorKernelSync(encoder, plan, options));
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

/**
 * Encodes the tensor-API mat-mat `kernel_mul_mm_<type>_tensor_f32` for any `m`: the contract
 * of {@linkcode ggmlMatmul} with the inputs rounded to half as well as the weights (Metal 4's
 * matmul2d multiplies operands of one type). On a device without the API it throws;
 * {@linkcode quantizedMatmulGgml} falls back to the SIMD-group twin instead.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmulTensor, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(2 * 32).fill(-1), "q4_0"));
 * using input = device.newBuffer(new Float32Array(3 * 32).fill(0.25));
 * using output = device.newBuffer(3 * 2 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMatmulTensor(encoder, { registry, type: "q4_0", weight, input, output, m: 3, n: 2, k: 32 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [-8, -8, -8, -8, -8, -8]);
 * ```
 */
export async function ggmlMatmulTensor(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): Promise<void> {
  const plan = densePlan(options, "tensor", "ggmlMatmulTensor");
  await chooseTensorKernel(encoder.device, plan.registry, plan.kernel);
  await encodePlan(encoder, plan);
}

/**
 * {@linkcode ggmlMatmulTensor}, blocking while the probe and pipeline compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmulTensorSync, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(0.5), "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(2));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMatmulTensorSync(encoder, { registry, type: "q8_0", weight, input, output, m: 1, n: 1, k: 32 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 32) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function ggmlMatmulTensorSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlOptions,
): void {
  const plan = densePlan(options, "tensor", "ggmlMatmulTensorSync");
  chooseTensorKernelSync(encoder.device, plan.registry, plan.kernel);
  encodePlanSync(encoder, plan);
}

/** Options of {@linkcode ggmlMatmulPerm021}. */
export interface GgmlMatmulPerm021Options {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The weights' block type: Q4_0 or Q6_K. */
  type: keyof typeof QUANTIZED_MATMUL_MM_TENSOR_KERNELS.bf16Perm021;
  /** `[n, heads · headDim]` weights as GGUF blocks. */
  weight: DeviceBuffer;
  /** bf16 input laid out `[heads, m, headDim]` (e.g. an attention output, head-major). */
  input: DeviceBuffer;
  /** `[m, n]` f32 output, row-major; not the input or weight buffer. */
  output: DeviceBuffer;
  /** Heads: `k = heads · headDim` must be a multiple of the block. */
  heads: number;
  /** Tokens: rows of the output, the middle extent of the input. */
  m: number;
  /** Values per head: a multiple of 32. */
  headDim: number;
  /** Rows of the weights: output features. */
  n: number;
}

const BF16 = bytesPerElement("bf16");

function perm021Plan(options: GgmlMatmulPerm021Options, helper: string): KernelPlan {
  checkRegistry(helper, options.registry);
  const table = QUANTIZED_MATMUL_MM_TENSOR_KERNELS.bf16Perm021;
  const kernel = pickKernel(helper, table, "type", options.type);
  const type = options.type;
  const heads = checkCount(kernel, "heads", options.heads);
  const m = checkCount(kernel, "m", options.m);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const n = checkCount(kernel, "n", options.n);
  if (headDim % 32 !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "headDim" is ${headDim}, expected a multiple of 32 (a staged step of 32 values stays in one head)`,
    );
  }
  const k = checkBlockK(kernel, type, heads * headDim);
  const rowBytes = ggmlRowBytes(type, k);
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    n * rowBytes,
    `n ${n} × ${rowBytes} bytes per row of k ${k} in ${type}`,
  );
  checkBuffer(
    kernel,
    "input",
    options.input,
    heads * m * headDim * BF16,
    sizeDetail([["heads", heads], ["m", m], ["headDim", headDim]], BF16),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    m * n * F32,
    sizeDetail([["m", m], ["n", n]], F32),
  );
  checkGgmlOutput(kernel, options);
  return {
    registry: options.registry,
    kernel,
    usesBfloat16: true,
    args: [
      options.weight,
      options.input,
      options.output,
      packParams([["u32", k], ["u32", n], ["u32", m], ["u32", headDim]]),
    ],
    geometry: () => ggmlMatmulDispatch(m, n),
  };
}

/**
 * Encodes `kernel_mul_mm_<type>_tensor_bf16_perm021`: `output = X · weightᵀ` where row `t` of
 * X is token `t` of a bf16 input laid out `[heads, m, headDim]` (X[t][h · headDim + f] =
 * input[h][t][f]): the attention output's 0-2-1 permute and bf16 → f32 cast fused into the
 * output projection. Weights and inputs are rounded to half as they are staged (bf16 → half is
 * what bf16 → f32 → half gives). Metal 4's tensor API only: these kernels have no SIMD-group
 * twin, so a device without the API gets {@linkcode TensorApiUnsupportedError}.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a `type` other than Q4_0 / Q6_K.
 * @throws {RangeError} For bad sizes, a `headDim` not a multiple of 32, a `heads · headDim`
 * not a multiple of the block, a too small buffer or an output that is the input or weights.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmulPerm021, KernelRegistry, quantizeGgml, toBf16Array } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // 2 heads of 32 values, 1 token; one weight row: 1 on head 0, -1 on head 1 (exact in Q4_0).
 * const row = [...new Array(32).fill(1), ...new Array(32).fill(-1)];
 * using weight = device.newBuffer(quantizeGgml(row, "q4_0"));
 * using input = device.newBuffer(toBf16Array([...new Array(32).fill(2), ...new Array(32).fill(1)]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMatmulPerm021(encoder, {
 *   registry, type: "q4_0", weight, input, output, heads: 2, m: 1, headDim: 32, n: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(new Float32Array(output.contents)[0], 32); // 32 · 2 − 32 · 1
 * ```
 */
export async function ggmlMatmulPerm021(
  encoder: ComputeEncoder,
  options: GgmlMatmulPerm021Options,
): Promise<void> {
  const plan = perm021Plan(options, "ggmlMatmulPerm021");
  await chooseTensorKernel(encoder.device, plan.registry, plan.kernel);
  await encodePlan(encoder, plan);
}

/**
 * {@linkcode ggmlMatmulPerm021}, blocking while the probe and pipeline compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or a `type` other than Q4_0 / Q6_K.
 * @throws {RangeError} For bad sizes, a bad `headDim` or a too small buffer.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatmulPerm021Sync, KernelRegistry, quantizeGgml, toBf16Array } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(1), "q4_0"));
 * using input = device.newBuffer(toBf16Array(new Float32Array(32).fill(0.5)));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMatmulPerm021Sync(encoder, {
 *   registry, type: "q4_0", weight, input, output, heads: 1, m: 1, headDim: 32, n: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 16);
 * ```
 */
export function ggmlMatmulPerm021Sync(
  encoder: ComputeEncoder,
  options: GgmlMatmulPerm021Options,
): void {
  const plan = perm021Plan(options, "ggmlMatmulPerm021Sync");
  chooseTensorKernelSync(encoder.device, plan.registry, plan.kernel);
  encodePlanSync(encoder, plan);
}
