// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the 12 kernels of `shaders/rms_norm.metal`: RMS normalisation of each
 * row of a `[rows, dim]` matrix, `y = x · rsqrt(mean(x²) + eps) · w`, without a weight, fused
 * with an element-wise product, with three weights at once, with an extra bf16 copy (natural
 * or head-major), and the fused post-attention residual + three norms of Gemma-style blocks.
 *
 * Conventions (all helpers):
 * - `eps` is added to the mean of squares inside the square root (Llama, Qwen, Gemma, MLX).
 * - Arithmetic is f32 whatever the storage type; each output is rounded once. (Hugging Face's
 *   Llama rounds the normalised `x` to the input dtype before the weight product: two
 *   roundings; results differ from it by at most one unit in the last place.)
 * - Weights are applied as stored. Gemma 1–3 checkpoints store the norm weight as an offset
 *   (the model multiplies by `1 + w`): add 1 when loading them, as llama.cpp's GGUF converter
 *   does. Gemma 4, Llama and Qwen weights are used as they are.
 * - Weight dtypes follow mlx-native: f32 weights for f32 and f16 activations, bf16 weights for
 *   bf16 activations.
 * - One threadgroup per row (`threadsPerRow` threads, else a multiple of 32 near `dim / 4`,
 *   at most 1024, on a GPU and one thread on the CPU backend), 4-wide vector loads when
 *   `dim % 4 === 0`; an output may be the buffer it is computed from (in place). Buffers are
 *   bound from offset 0.
 *
 * References in f64 live in `ops/rms_norm_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { rmsNorm } from "./rms_norm.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([3, 4, 1, 1]));
 * using weight = device.newBuffer(new Float32Array([1, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNorm(encoder, {
 *   registry, input: x, weight, output: x, dtype: "f32", rows: 2, dim: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(x.contents)); // [0.849, 2.263, 1, 2]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { RMS_NORM_COLS_PER_THREAD, RMS_NORM_MAX_SIMDGROUPS, SIMD_WIDTH } from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelArgument,
  type KernelPlan,
  packParams,
  rowDispatch,
  type RowWidth,
  type RowWidthOptions,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkEps,
  checkRegistry,
  checkRowWidth,
  pickKernel,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { RMS_NORM_KERNELS } from "../shaders/rms_norm.ts";

/** The catalogue names of `rms_norm.metal` (its table: `shaders/rms_norm.ts`). */
export { RMS_NORM_KERNELS };

/** Every kernel name of `rms_norm.metal`. */
export type RmsNormKernelName = TableNames<typeof RMS_NORM_KERNELS>;

/** Activation dtypes of {@linkcode rmsNorm}. */
export type RmsNormDType = keyof typeof RMS_NORM_KERNELS.rmsNorm;

/** Dtypes of {@linkcode rmsNormNoScale}. */
export type RmsNormNoScaleDType = keyof typeof RMS_NORM_KERNELS.noScale;

/** Activation dtypes of {@linkcode rmsNormMul}. */
export type RmsNormMulDType = keyof typeof RMS_NORM_KERNELS.mul;

/**
 * Options shared by every helper of this module; `threadsPerRow` (exact) or
 * `maxThreadsPerRow` (a cap on the automatic width) size each row's threadgroup.
 */
export interface RmsNormBaseOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Number of rows (one threadgroup each). */
  rows: number;
  /** Row length: the normalised axis. */
  dim: number;
  /**
   * Added to the mean of squares inside the square root; finite and at least 0 (0 turns an
   * all-zero row into NaN). Typical: 1e-6 (Gemma, Qwen), 1e-5 (Llama 2).
   */
  eps: number;
}

/** Options of {@linkcode rmsNorm}. */
export interface RmsNormOptions extends RmsNormBaseOptions {
  /** `[rows, dim]` values of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[dim]` scale: f32 when `dtype` is `"f32"` or `"f16"`, bf16 when it is `"bf16"`. */
  weight: DeviceBuffer;
  /** `[rows, dim]` result of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of `input` and `output`. */
  dtype: RmsNormDType;
}

/** Options of {@linkcode rmsNormNoScale}. */
export interface RmsNormNoScaleOptions extends RmsNormBaseOptions {
  /** `[rows, dim]` values of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[rows, dim]` result of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: RmsNormNoScaleDType;
}

/** Options of {@linkcode rmsNormMul}. */
export interface RmsNormMulOptions extends RmsNormBaseOptions {
  /** `[rows, dim]` values of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[dim]` scale: f32 when `dtype` is `"f32"` or `"f16"`, bf16 when it is `"bf16"`. */
  weight: DeviceBuffer;
  /** `[rows, dim]` element-wise multiplier of `dtype` (a gate, a mask). */
  multiplier: DeviceBuffer;
  /** `[rows, dim]` result of `dtype`; may be `input` or `multiplier` (in place). */
  output: DeviceBuffer;
  /** Storage type of `input`, `multiplier` and `output`. */
  dtype: RmsNormMulDType;
}

/** Options of {@linkcode rmsNormTriple}. */
export interface RmsNormTripleOptions extends RmsNormBaseOptions {
  /** f32 `[rows, dim]` values, row-major. */
  input: DeviceBuffer;
  /** Three f32 `[dim]` weights. */
  weights: readonly [DeviceBuffer, DeviceBuffer, DeviceBuffer];
  /** Three f32 `[rows, dim]` results, `outputs[k]` scaled by `weights[k]`; distinct buffers. */
  outputs: readonly [DeviceBuffer, DeviceBuffer, DeviceBuffer];
}

/** Options of {@linkcode rmsNormNoScaleDual}. */
export interface RmsNormNoScaleDualOptions extends RmsNormBaseOptions {
  /** f32 `[rows, dim]` values, row-major. */
  input: DeviceBuffer;
  /** f32 `[rows, dim]` result; may be `input` (in place). */
  output: DeviceBuffer;
  /** bf16 `[rows, dim]` copy of the result; a buffer of its own. */
  outputBf16: DeviceBuffer;
}

/** Options of {@linkcode rmsNormNoScaleDualPerm}. `rows` is `seqLen × heads`. */
export interface RmsNormNoScaleDualPermOptions extends Omit<RmsNormBaseOptions, "rows"> {
  /** f32 `[seqLen, heads, dim]` values (one row per token and head). */
  input: DeviceBuffer;
  /** f32 `[seqLen, heads, dim]` result; may be `input` (in place). */
  output: DeviceBuffer;
  /** bf16 head-major `[heads, seqLen, dim]` copy of the result; a buffer of its own. */
  outputBf16: DeviceBuffer;
  /** Tokens. */
  seqLen: number;
  /** Heads per token. */
  heads: number;
}

/** Options of {@linkcode fusedPostAttnTripleNorm}. */
export interface FusedPostAttnTripleNormOptions extends RmsNormBaseOptions {
  /** f32 `[rows, dim]` residual stream `h`. */
  hidden: DeviceBuffer;
  /** f32 `[rows, dim]` attention output `a` (after the output projection). */
  attention: DeviceBuffer;
  /** f32 `[dim]` weight of the post-attention norm of `a`. */
  postWeight: DeviceBuffer;
  /** Three f32 `[dim]` weights of the norms of the new residual. */
  weights: readonly [DeviceBuffer, DeviceBuffer, DeviceBuffer];
  /** f32 `[rows, dim]` new residual `h + rmsnorm(a) · postWeight`; may be `hidden`. */
  residual: DeviceBuffer;
  /** Three f32 `[rows, dim]` results `rmsnorm(residual) · weights[k]`; distinct buffers. */
  outputs: readonly [DeviceBuffer, DeviceBuffer, DeviceBuffer];
}

const F32 = bytesPerElement("f32");
const BF16 = bytesPerElement("bf16");

function checkTriple(subject: string, name: string, value: unknown): void {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new TypeError(
      `Cannot encode ${subject}: "${name}" is not an array of 3 buffers, expected [a, b, c]`,
    );
  }
}

/** Weight bytes per element for an activation dtype (f32 for f32/f16, bf16 for bf16). */
function weightSize(dtype: RmsNormDType): number {
  return dtype === "bf16" ? BF16 : F32;
}

/** The checked sizes of a dispatch. */
interface RowShape {
  rows: number;
  dim: number;
  eps: number;
  width: RowWidth;
}

/** The most threads an rms_norm threadgroup takes. */
const RMS_NORM_MAX_THREADS = SIMD_WIDTH * RMS_NORM_MAX_SIMDGROUPS;

/** Checks rows, dim, eps and the row width. */
function checkShape(kernel: string, options: RmsNormBaseOptions): RowShape {
  return {
    rows: checkCount(kernel, "rows", options.rows),
    dim: checkCount(kernel, "dim", options.dim),
    eps: checkEps(kernel, options.eps),
    width: checkRowWidth(kernel, options, RMS_NORM_MAX_THREADS),
  };
}

/** A plan of one threadgroup per row; `struct RmsNormParams { float eps; uint dim; }` last. */
function rowPlan(
  registry: KernelRegistry,
  kernel: RmsNormKernelName,
  buffers: readonly KernelArgument[],
  shape: RowShape,
  usesBfloat16: boolean,
  params: Uint8Array = packParams([["f32", shape.eps], ["u32", shape.dim]]),
): KernelPlan {
  return {
    registry,
    kernel,
    args: [...buffers, params],
    usesBfloat16,
    geometry: (pipeline, backend) =>
      rowDispatch(
        pipeline,
        backend,
        shape.rows,
        shape.dim,
        RMS_NORM_COLS_PER_THREAD,
        RMS_NORM_MAX_THREADS,
        shape.width,
      ),
  };
}

function rmsNormPlan(options: RmsNormOptions): KernelPlan {
  checkRegistry("rmsNorm", options.registry);
  const kernel = pickKernel("rmsNorm", RMS_NORM_KERNELS.rmsNorm, "dtype", options.dtype);
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["rows", rows], ["dim", dim]], size);
  const wSize = weightSize(options.dtype);
  checkBuffer(kernel, "input", options.input, rows * dim * size, detail);
  checkBuffer(kernel, "weight", options.weight, dim * wSize, sizeDetail([["dim", dim]], wSize));
  checkBuffer(kernel, "output", options.output, rows * dim * size, detail);
  const buffers = [options.input, options.weight, options.output];
  return rowPlan(options.registry, kernel, buffers, shape, options.dtype === "bf16");
}

function rmsNormNoScalePlan(options: RmsNormNoScaleOptions): KernelPlan {
  checkRegistry("rmsNormNoScale", options.registry);
  const kernel = pickKernel("rmsNormNoScale", RMS_NORM_KERNELS.noScale, "dtype", options.dtype);
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["rows", rows], ["dim", dim]], size);
  checkBuffer(kernel, "input", options.input, rows * dim * size, detail);
  checkBuffer(kernel, "output", options.output, rows * dim * size, detail);
  const buffers = [options.input, options.output];
  return rowPlan(options.registry, kernel, buffers, shape, options.dtype === "bf16");
}

function rmsNormMulPlan(options: RmsNormMulOptions): KernelPlan {
  checkRegistry("rmsNormMul", options.registry);
  const kernel = pickKernel("rmsNormMul", RMS_NORM_KERNELS.mul, "dtype", options.dtype);
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["rows", rows], ["dim", dim]], size);
  const wSize = weightSize(options.dtype);
  checkBuffer(kernel, "input", options.input, rows * dim * size, detail);
  checkBuffer(kernel, "weight", options.weight, dim * wSize, sizeDetail([["dim", dim]], wSize));
  checkBuffer(kernel, "multiplier", options.multiplier, rows * dim * size, detail);
  checkBuffer(kernel, "output", options.output, rows * dim * size, detail);
  const buffers = [options.input, options.weight, options.multiplier, options.output];
  return rowPlan(options.registry, kernel, buffers, shape, options.dtype === "bf16");
}

/** Checks three weights and three distinct outputs. */
function checkThree(
  kernel: string,
  weights: unknown,
  outputs: unknown,
  rows: number,
  dim: number,
): void {
  checkTriple(kernel, "weights", weights);
  checkTriple(kernel, "outputs", outputs);
  const w = weights as readonly unknown[];
  const o = outputs as readonly unknown[];
  const weightDetail = sizeDetail([["dim", dim]], F32);
  const rowDetail = sizeDetail([["rows", rows], ["dim", dim]], F32);
  for (let k = 0; k < 3; k++) {
    checkBuffer(kernel, `weights[${k}]`, w[k], dim * F32, weightDetail);
  }
  for (let k = 0; k < 3; k++) {
    checkBuffer(kernel, `outputs[${k}]`, o[k], rows * dim * F32, rowDetail);
  }
  const why = "each output gets different values";
  checkDistinct(kernel, ["outputs[0]", "outputs[1]"], o[0], o[1], why);
  checkDistinct(kernel, ["outputs[0]", "outputs[2]"], o[0], o[2], why);
  checkDistinct(kernel, ["outputs[1]", "outputs[2]"], o[1], o[2], why);
}

function rmsNormTriplePlan(options: RmsNormTripleOptions): KernelPlan {
  checkRegistry("rmsNormTriple", options.registry);
  const kernel = RMS_NORM_KERNELS.triple.f32;
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  const detail = sizeDetail([["rows", rows], ["dim", dim]], F32);
  checkBuffer(kernel, "input", options.input, rows * dim * F32, detail);
  checkThree(kernel, options.weights, options.outputs, rows, dim);
  const buffers = [options.input, ...options.weights, ...options.outputs];
  return rowPlan(options.registry, kernel, buffers, shape, false);
}

/** Checks the buffers of the _dual kernels. */
function checkDual(
  kernel: string,
  options: RmsNormNoScaleDualOptions | RmsNormNoScaleDualPermOptions,
  rows: number,
  dim: number,
  factors: readonly (readonly [string, number])[],
): void {
  const detail = sizeDetail(factors, F32);
  checkBuffer(kernel, "input", options.input, rows * dim * F32, detail);
  checkBuffer(kernel, "output", options.output, rows * dim * F32, detail);
  checkBuffer(
    kernel,
    "outputBf16",
    options.outputBf16,
    rows * dim * BF16,
    sizeDetail(factors, BF16),
  );
  const why = "the bf16 copy has another layout";
  checkDistinct(kernel, ["input", "outputBf16"], options.input, options.outputBf16, why);
  checkDistinct(kernel, ["output", "outputBf16"], options.output, options.outputBf16, why);
}

function rmsNormNoScaleDualPlan(options: RmsNormNoScaleDualOptions): KernelPlan {
  checkRegistry("rmsNormNoScaleDual", options.registry);
  const kernel = RMS_NORM_KERNELS.noScaleDual.f32;
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  checkDual(kernel, options, rows, dim, [["rows", rows], ["dim", dim]]);
  const buffers = [options.input, options.output, options.outputBf16];
  return rowPlan(options.registry, kernel, buffers, shape, true);
}

function rmsNormNoScaleDualPermPlan(options: RmsNormNoScaleDualPermOptions): KernelPlan {
  checkRegistry("rmsNormNoScaleDualPerm", options.registry);
  const kernel = RMS_NORM_KERNELS.noScaleDualPerm.f32;
  const seqLen = checkCount(kernel, "seqLen", options.seqLen);
  const heads = checkCount(kernel, "heads", options.heads);
  const dim = checkCount(kernel, "dim", options.dim);
  const eps = checkEps(kernel, options.eps);
  const width = checkRowWidth(kernel, options, RMS_NORM_MAX_THREADS);
  const rows = seqLen * heads;
  if (rows > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: "seqLen" ${seqLen} × "heads" ${heads} is ${rows} rows, expected at most ${U32_MAX}`,
    );
  }
  checkDual(kernel, options, rows, dim, [["seqLen", seqLen], ["heads", heads], ["dim", dim]]);
  // struct RmsNormPermParams { float eps; uint dim; uint n_heads; uint seq_len; }
  const params = packParams([["f32", eps], ["u32", dim], ["u32", heads], ["u32", seqLen]]);
  const buffers = [options.input, options.output, options.outputBf16];
  return rowPlan(options.registry, kernel, buffers, { rows, dim, eps, width }, true, params);
}

function fusedPostAttnTripleNormPlan(options: FusedPostAttnTripleNormOptions): KernelPlan {
  checkRegistry("fusedPostAttnTripleNorm", options.registry);
  const kernel = RMS_NORM_KERNELS.postAttnTriple.f32;
  const shape = checkShape(kernel, options);
  const { rows, dim } = shape;
  const detail = sizeDetail([["rows", rows], ["dim", dim]], F32);
  checkBuffer(kernel, "hidden", options.hidden, rows * dim * F32, detail);
  checkBuffer(kernel, "attention", options.attention, rows * dim * F32, detail);
  checkBuffer(kernel, "postWeight", options.postWeight, dim * F32, sizeDetail([["dim", dim]], F32));
  checkBuffer(kernel, "residual", options.residual, rows * dim * F32, detail);
  checkThree(kernel, options.weights, options.outputs, rows, dim);
  options.outputs.forEach((output, k) =>
    checkDistinct(
      kernel,
      ["residual", `outputs[${k}]`],
      options.residual,
      output,
      "the outputs are computed from the residual",
    )
  );
  const buffers = [
    options.hidden,
    options.attention,
    options.postWeight,
    ...options.weights,
    options.residual,
    ...options.outputs,
  ];
  return rowPlan(options.registry, kernel, buffers, shape, false);
}

/**
 * Encodes an RMS norm of each row with a weight,
 * `output[r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps) · weight[j]` (`rms_norm_<dtype>`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype`, a missing buffer or registry, or bf16 on a
 * device without bfloat.
 * @throws {RangeError} For `rows`/`dim` that are not positive integers, an `eps` that is
 * negative or not finite, or a buffer smaller than its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rmsNorm } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const w = [1, 0.5, 2, 1];
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNorm(encoder, { registry, input, weight, output, dtype: "f32", rows: 2, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: w });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function rmsNorm(encoder: ComputeEncoder, options: RmsNormOptions): Promise<void> {
  await encodePlan(encoder, rmsNormPlan(options));
}

/**
 * {@linkcode rmsNorm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormSync, toDTypeArray } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // bf16 activations take a bf16 weight; normalised in place.
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const w = [1, 0.5, 2, 1];
 * using data = device.newBuffer(toDTypeArray("bf16", x));
 * using weight = device.newBuffer(toDTypeArray("bf16", w));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormSync(encoder, {
 *   registry, input: data, weight, output: data, dtype: "bf16", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: w });
 * fromDTypeBytes("bf16", data.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export function rmsNormSync(encoder: ComputeEncoder, options: RmsNormOptions): void {
  encodePlanSync(encoder, rmsNormPlan(options));
}

/**
 * Encodes an RMS norm of each row without a weight,
 * `output[r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps)` (`rms_norm_no_scale_<dtype>`;
 * Gemma 4's per-head V norm).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype (`"f32"` or `"bf16"`), rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rmsNormNoScale } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * using input = device.newBuffer(new Float32Array(x));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNormNoScale(encoder, {
 *   registry, input, output: input, dtype: "f32", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(input.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function rmsNormNoScale(
  encoder: ComputeEncoder,
  options: RmsNormNoScaleOptions,
): Promise<void> {
  await encodePlan(encoder, rmsNormNoScalePlan(options));
}

/**
 * {@linkcode rmsNormNoScale}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormNoScaleSync, toDTypeArray } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * using input = device.newBuffer(toDTypeArray("bf16", x));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormNoScaleSync(encoder, { registry, input, output, dtype: "bf16", rows: 2, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * fromDTypeBytes("bf16", output.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export function rmsNormNoScaleSync(encoder: ComputeEncoder, options: RmsNormNoScaleOptions): void {
  encodePlanSync(encoder, rmsNormNoScalePlan(options));
}

/**
 * Encodes an RMS norm fused with an element-wise product,
 * `output[r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps) · weight[j] · multiplier[r][j]`
 * (`rms_norm_mul_<dtype>`; norm → multiply in one pass, as llama.cpp fuses RMS_NORM + MUL).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rmsNormMul } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const gate = [1, 1, 0, 2, 0.5, 0.5, 0.5, 0.5];
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using multiplier = device.newBuffer(new Float32Array(gate));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNormMul(encoder, {
 *   registry, input, weight, multiplier, output, dtype: "f32", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: w, multiplier: gate });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function rmsNormMul(
  encoder: ComputeEncoder,
  options: RmsNormMulOptions,
): Promise<void> {
  await encodePlan(encoder, rmsNormMulPlan(options));
}

/**
 * {@linkcode rmsNormMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad `rows`/`dim`/`eps` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormMulSync, toDTypeArray } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // f16 activations take an f32 weight.
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const gate = [1, 1, 0, 2, 0.5, 0.5, 0.5, 0.5];
 * using input = device.newBuffer(toDTypeArray("f16", x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using multiplier = device.newBuffer(toDTypeArray("f16", gate));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormMulSync(encoder, {
 *   registry, input, weight, multiplier, output, dtype: "f16", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: w, multiplier: gate });
 * fromDTypeBytes("f16", output.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 3e-3));
 * ```
 */
export function rmsNormMulSync(encoder: ComputeEncoder, options: RmsNormMulOptions): void {
  encodePlanSync(encoder, rmsNormMulPlan(options));
}

/**
 * Encodes one f32 RMS norm with three weights: the input is read and reduced once, and
 * `outputs[k][r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps) · weights[k][j]`
 * (`rms_norm_f32_triple`; e.g. Gemma 4's pre-feed-forward, second pre-feed-forward and
 * router norms of one residual).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, three weights, three outputs, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or `weights`/`outputs` that are not
 * three buffers.
 * @throws {RangeError} For bad `rows`/`dim`/`eps`, a too small buffer, or an output given
 * twice.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rmsNormTriple } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const ws = [[1, 1, 1, 1], [2, 2, 2, 2], [1, 0, 1, 0]] as const;
 * using input = device.newBuffer(new Float32Array(x));
 * using wa = device.newBuffer(new Float32Array(ws[0]));
 * using wb = device.newBuffer(new Float32Array(ws[1]));
 * using wc = device.newBuffer(new Float32Array(ws[2]));
 * using ya = device.newBuffer(32);
 * using yb = device.newBuffer(32);
 * using yc = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNormTriple(encoder, {
 *   registry, input, weights: [wa, wb, wc], outputs: [ya, yb, yc], rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * for (const [k, y] of [ya, yb, yc].entries()) {
 *   const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: ws[k] });
 *   new Float32Array(y.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * }
 * ```
 */
export async function rmsNormTriple(
  encoder: ComputeEncoder,
  options: RmsNormTripleOptions,
): Promise<void> {
  await encodePlan(encoder, rmsNormTriplePlan(options));
}

/**
 * {@linkcode rmsNormTriple}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, three weights, three outputs, rows, dim and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small or repeated buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rmsNormTripleSync } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * const ws = [[1, 1, 1, 1], [2, 2, 2, 2], [1, 0, 1, 0]] as const;
 * using input = device.newBuffer(new Float32Array(x));
 * using wa = device.newBuffer(new Float32Array(ws[0]));
 * using wb = device.newBuffer(new Float32Array(ws[1]));
 * using wc = device.newBuffer(new Float32Array(ws[2]));
 * using ya = device.newBuffer(32);
 * using yb = device.newBuffer(32);
 * using yc = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormTripleSync(encoder, {
 *   registry, input, weights: [wa, wb, wc], outputs: [ya, yb, yc], rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * for (const [k, y] of [ya, yb, yc].entries()) {
 *   const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6, weight: ws[k] });
 *   new Float32Array(y.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * }
 * ```
 */
export function rmsNormTripleSync(encoder: ComputeEncoder, options: RmsNormTripleOptions): void {
  encodePlanSync(encoder, rmsNormTriplePlan(options));
}

/**
 * Encodes an f32 RMS norm without a weight that also writes a bf16 copy,
 * `output[r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps)`, `outputBf16 = bf16(output)`
 * (`rms_norm_no_scale_f32_dual`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, both outputs, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For bad `rows`/`dim`/`eps`, a too small buffer, or `outputBf16`
 * shared with another buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormNoScaleDual } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * using input = device.newBuffer(new Float32Array(x));
 * using output = device.newBuffer(32);
 * using outputBf16 = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNormNoScaleDual(encoder, { registry, input, output, outputBf16, rows: 2, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * fromDTypeBytes("bf16", outputBf16.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export async function rmsNormNoScaleDual(
  encoder: ComputeEncoder,
  options: RmsNormNoScaleDualOptions,
): Promise<void> {
  await encodePlan(encoder, rmsNormNoScaleDualPlan(options));
}

/**
 * {@linkcode rmsNormNoScaleDual}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, both outputs, rows, dim and eps.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For bad sizes or a too small or shared buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormNoScaleDualSync } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * using input = device.newBuffer(new Float32Array(x));
 * using output = device.newBuffer(32);
 * using outputBf16 = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormNoScaleDualSync(encoder, { registry, input, output, outputBf16, rows: 2, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * fromDTypeBytes("bf16", outputBf16.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export function rmsNormNoScaleDualSync(
  encoder: ComputeEncoder,
  options: RmsNormNoScaleDualOptions,
): void {
  encodePlanSync(encoder, rmsNormNoScaleDualPlan(options));
}

/**
 * Encodes the per-head f32 RMS norm without a weight of `[seqLen, heads, dim]` rows, with
 * the f32 result in the same layout and a bf16 copy written head-major,
 * `outputBf16[h][t][j] = bf16(output[t][h][j])` (`rms_norm_no_scale_f32_dual_perm`: the V
 * norm and the permute for attention in one pass).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, both outputs, seqLen, heads, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For bad `seqLen`/`heads`/`dim`/`eps`, a too small buffer, or
 * `outputBf16` shared with another buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormNoScaleDualPerm } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [2, 4]
 * using input = device.newBuffer(new Float32Array(x));
 * using output = device.newBuffer(32);
 * using outputBf16 = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rmsNormNoScaleDualPerm(encoder, {
 *   registry, input, output, outputBf16, seqLen: 1, heads: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * // x is [seqLen 1, heads 2, dim 4]: with one token, head-major order is the same order.
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * fromDTypeBytes("bf16", outputBf16.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export async function rmsNormNoScaleDualPerm(
  encoder: ComputeEncoder,
  options: RmsNormNoScaleDualPermOptions,
): Promise<void> {
  await encodePlan(encoder, rmsNormNoScaleDualPermPlan(options));
}

/**
 * {@linkcode rmsNormNoScaleDualPerm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, input, both outputs, seqLen, heads, dim and eps.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For bad sizes or a too small or shared buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, rmsNormNoScaleDualPermSync } from "../mod.ts";
 * import { rmsNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 2, 3, 4, -1, 0.5, 0, 2]; // [seqLen 2, heads 1, dim 4]
 * using input = device.newBuffer(new Float32Array(x));
 * using output = device.newBuffer(32);
 * using outputBf16 = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * rmsNormNoScaleDualPermSync(encoder, {
 *   registry, input, output, outputBf16, seqLen: 2, heads: 1, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = rmsNormRef(x, { rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * fromDTypeBytes("bf16", outputBf16.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export function rmsNormNoScaleDualPermSync(
  encoder: ComputeEncoder,
  options: RmsNormNoScaleDualPermOptions,
): void {
  encodePlanSync(encoder, rmsNormNoScaleDualPermPlan(options));
}

/**
 * Encodes the fused post-attention step of a Gemma-style block, all f32:
 * `residual = h + a · rsqrt(mean(a²) + eps) · postWeight`, then
 * `outputs[k] = residual · rsqrt(mean(residual²) + eps) · weights[k]` for k = 0, 1, 2
 * (`fused_post_attn_triple_norm_f32`). The second norm squares the f32 residual as written.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, hidden, attention, the four weights, residual, three outputs,
 * rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or `weights`/`outputs` that are not
 * three buffers.
 * @throws {RangeError} For bad `rows`/`dim`/`eps`, a too small buffer, or an output buffer
 * given twice.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedPostAttnTripleNorm, KernelRegistry } from "../mod.ts";
 * import { fusedPostAttnTripleNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token: the residual stream is updated in place.
 * const h = [1, 2, 3, 4];
 * const a = [0.5, -0.5, 1, 0];
 * const post = [1, 1, 1, 1];
 * const ws = [[1, 1, 1, 1], [2, 2, 2, 2], [1, 0, 1, 0]] as const;
 * using hidden = device.newBuffer(new Float32Array(h));
 * using attention = device.newBuffer(new Float32Array(a));
 * using postWeight = device.newBuffer(new Float32Array(post));
 * using wa = device.newBuffer(new Float32Array(ws[0]));
 * using wb = device.newBuffer(new Float32Array(ws[1]));
 * using wc = device.newBuffer(new Float32Array(ws[2]));
 * using ya = device.newBuffer(16);
 * using yb = device.newBuffer(16);
 * using yc = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedPostAttnTripleNorm(encoder, {
 *   registry, hidden, attention, postWeight, weights: [wa, wb, wc],
 *   residual: hidden, outputs: [ya, yb, yc], rows: 1, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedPostAttnTripleNormRef(h, a, {
 *   rows: 1, dim: 4, eps: 1e-6, postWeight: post, weights: ws,
 * });
 * new Float32Array(hidden.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.residual[i]) < 1e-5));
 * for (const [k, y] of [ya, yb, yc].entries()) new Float32Array(y.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.outputs[k][i]) < 1e-5));
 * ```
 */
export async function fusedPostAttnTripleNorm(
  encoder: ComputeEncoder,
  options: FusedPostAttnTripleNormOptions,
): Promise<void> {
  await encodePlan(encoder, fusedPostAttnTripleNormPlan(options));
}

/**
 * {@linkcode fusedPostAttnTripleNorm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, hidden, attention, the four weights, residual, three outputs,
 * rows, dim and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small or repeated buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedPostAttnTripleNormSync, KernelRegistry } from "../mod.ts";
 * import { fusedPostAttnTripleNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const h = [1, 2, 3, 4];
 * const a = [0.5, -0.5, 1, 0];
 * const post = [1, 1, 1, 1];
 * const ws = [[1, 1, 1, 1], [2, 2, 2, 2], [1, 0, 1, 0]] as const;
 * using hidden = device.newBuffer(new Float32Array(h));
 * using attention = device.newBuffer(new Float32Array(a));
 * using postWeight = device.newBuffer(new Float32Array(post));
 * using wa = device.newBuffer(new Float32Array(ws[0]));
 * using wb = device.newBuffer(new Float32Array(ws[1]));
 * using wc = device.newBuffer(new Float32Array(ws[2]));
 * using ya = device.newBuffer(16);
 * using yb = device.newBuffer(16);
 * using yc = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedPostAttnTripleNormSync(encoder, {
 *   registry, hidden, attention, postWeight, weights: [wa, wb, wc],
 *   residual: hidden, outputs: [ya, yb, yc], rows: 1, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedPostAttnTripleNormRef(h, a, {
 *   rows: 1, dim: 4, eps: 1e-6, postWeight: post, weights: ws,
 * });
 * new Float32Array(hidden.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.residual[i]) < 1e-5));
 * for (const [k, y] of [ya, yb, yc].entries()) new Float32Array(y.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.outputs[k][i]) < 1e-5));
 * ```
 */
export function fusedPostAttnTripleNormSync(
  encoder: ComputeEncoder,
  options: FusedPostAttnTripleNormOptions,
): void {
  encodePlanSync(encoder, fusedPostAttnTripleNormPlan(options));
}
