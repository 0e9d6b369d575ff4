// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/quantized_matmul.metal`: `output = x · Wᵀ` with `W` an `[n, k]`
 * matrix in MLX's affine format (4, 6 or 8-bit codes, a bf16 scale and bias per group of 32,
 * 64 or 128 values of a row; `formats/affine.ts` quantizes and packs it, and weights from an
 * MLX model file bind as they are). The f64 reference is `ops/quantized_matmul_ref.ts`.
 *
 * - {@linkcode quantizedMatmul}: f32 or bf16 activations. f32 runs `quantized_matmul_simd`
 *   (or, with `path: "scalar"`, the one-thread-per-output `quantized_matmul`); bf16 runs
 *   `quantized_matmul_simd_bf16`. The SIMD kernels serve decode (m = 1) and small batches
 *   alike: each threadgroup streams 8 weight rows once for 4 input rows.
 * - {@linkcode quantizedMatmulExpert}: one expert of a stacked `[experts, n, k]` weight (a
 *   mixture-of-experts layer) on the tokens routed to it, bf16 (`..._simd_bf16_expert`); the
 *   expert's slice is chosen by byte offsets, so the stacked buffers bind once.
 *
 * Bindings: `buffer(0)` x `[m, k]`, `buffer(1)` packed weights, `buffer(2)` scales,
 * `buffer(3)` biases (bf16 bits, `[n, k / groupSize]`), `buffer(4)` output `[m, n]`,
 * `buffer(5)` `constant QuantizedMatmulParams { uint M, K, N, group_size, bits; }`;
 * the expert kernel adds `buffer(6..8)` the byte offsets of its weights, scales and biases.
 *
 * Numerics (all sums f32): the scalar path rounds every dequantized weight and every input
 * to bf16 (MLX's numerics for a bf16 model); the SIMD paths sum `s · Σ q·x + b · Σ x` per
 * group slice with inputs rounded to bf16 (f32 x) or as given (bf16 x), and the bf16
 * output is rounded once.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine } from "../mod.ts";
 * import { quantizedMatmul } from "./quantized_matmul.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // W: 2 rows of 32 values, row 0 all 1, row 1 all 0.5, 8 bits, one group per row.
 * const w = quantizeAffine(
 *   Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 0.5)),
 *   { rows: 2, cols: 32, bits: 8, groupSize: 32 },
 * );
 * using x = device.newBuffer(new Float32Array(32).fill(2));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmul(encoder, {
 *   registry, x, weights, scales, biases, output,
 *   m: 1, n: 2, k: 32, bits: 8, groupSize: 32, dtype: "f32",
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [64, 32]);
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
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkIndex,
  checkRegistry,
  pickKernel,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { QUANTIZED_MATMUL_KERNELS } from "../shaders/quantized_matmul.ts";

/** The catalogue names of `quantized_matmul.metal` (its table: `shaders/quantized_matmul.ts`). */
export { QUANTIZED_MATMUL_KERNELS };

/** Every kernel name of `quantized_matmul.metal`. */
export type QuantizedMatmulKernelName = TableNames<typeof QUANTIZED_MATMUL_KERNELS>;

/** SIMD-groups per threadgroup of the SIMD kernels (`QMV_SIMDGROUPS` in the shader). */
export const QMV_SIMDGROUPS = 2;
/** Weight rows per threadgroup of the SIMD kernels (`QMV_ROWS_PER_TG`). */
export const QMV_ROWS_PER_TG = 8;
/** Input rows per threadgroup of the SIMD kernels (`QMV_COLS_PER_TG`). */
export const QMV_COLS_PER_TG = 4;

/** The activation and output dtype of {@linkcode quantizedMatmul}. */
export type QuantizedMatmulDType = "f32" | "bf16";

/** The buffers and format of one affine product; shared by both helpers. */
export interface QuantizedMatmulBaseOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[m, k]` activations, row-major. */
  x: DeviceBuffer;
  /** Packed codes, `n` rows of `k · bits / 8` bytes (per expert, for the expert helper). */
  weights: DeviceBuffer;
  /** `[n, k / groupSize]` bf16 scales (per expert, for the expert helper). */
  scales: DeviceBuffer;
  /** `[n, k / groupSize]` bf16 biases (per expert, for the expert helper). */
  biases: DeviceBuffer;
  /** `[m, n]` result; must not overlap `x`. */
  output: DeviceBuffer;
  /** Rows of `x` (tokens). */
  m: number;
  /** Weight rows (output features). */
  n: number;
  /** Reduction length (input features); a multiple of `groupSize`. */
  k: number;
  /** Bits per code. */
  bits: AffineBits;
  /** Values per scale/bias pair. */
  groupSize: AffineGroupSize;
}

/** Options of {@linkcode quantizedMatmul}. */
export interface QuantizedMatmulOptions extends QuantizedMatmulBaseOptions {
  /** The dtype of `x` and `output`. */
  dtype: QuantizedMatmulDType;
  /**
   * `"simd"` (the fast kernels) or `"scalar"` (`quantized_matmul`: one thread per output,
   * weights rounded to bf16 like MLX's dequantize; f32 only).
   *
   * @default {"simd"}
   */
  path?: "simd" | "scalar";
}

/** Options of {@linkcode quantizedMatmulExpert}: bf16 `x` and `output`. */
export interface QuantizedMatmulExpertOptions extends QuantizedMatmulBaseOptions {
  /** Experts stacked in `weights`, `scales` and `biases` (each expert's slice follows the last). */
  experts: number;
  /** The expert to apply, `0 ≤ expert < experts`. */
  expert: number;
}

const F32 = bytesPerElement("f32");
// Scales, biases and bf16 activations: 16-bit words.
const BF16 = bytesPerElement("bf16");

/** Checks bits, group size and the shape; returns the per-matrix byte sizes. */
function checkFormat(
  kernel: string,
  options: QuantizedMatmulBaseOptions,
  m: number,
): { rowBytes: number; weightBytes: number; scaleBytes: number; n: number; k: number } {
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
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
  if (m * k > U32_MAX || m * n > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: m ${m} × k ${k} or m × n ${n} exceeds the kernel's 32-bit indices`,
    );
  }
  const rowBytes = k * bits / 8;
  return { rowBytes, weightBytes: n * rowBytes, scaleBytes: n * (k / groupSize) * BF16, n, k };
}

function checkActivations(
  kernel: string,
  options: QuantizedMatmulBaseOptions,
  m: number,
  n: number,
  k: number,
  size: number,
): void {
  checkBuffer(kernel, "x", options.x, m * k * size, sizeDetail([["m", m], ["k", k]], size));
  checkBuffer(
    kernel,
    "output",
    options.output,
    m * n * size,
    sizeDetail([["m", m], ["n", n]], size),
  );
  checkDistinct(
    kernel,
    ["x", "output"],
    options.x,
    options.output,
    "the kernel reads x while writing",
  );
}

function simdGeometry(m: number, n: number): KernelPlan["geometry"] {
  return () => ({
    kind: "threadgroups",
    grid: [Math.ceil(n / QMV_ROWS_PER_TG), Math.ceil(m / QMV_COLS_PER_TG), 1],
    threadgroup: [SIMD_WIDTH * QMV_SIMDGROUPS, 1, 1],
  });
}

function quantizedMatmulPlan(options: QuantizedMatmulOptions): KernelPlan {
  checkRegistry("quantizedMatmul", options.registry);
  const paths = { simd: "simd", scalar: "scalar" } as const;
  const path = pickKernel("quantizedMatmul", paths, "path", options.path ?? "simd");
  const table: Partial<Record<QuantizedMatmulDType, QuantizedMatmulKernelName>> = path === "scalar"
    ? { f32: QUANTIZED_MATMUL_KERNELS.scalar }
    : { f32: QUANTIZED_MATMUL_KERNELS.simd, bf16: QUANTIZED_MATMUL_KERNELS.simdBf16 };
  const kernel = pickKernel(
    "quantizedMatmul",
    table,
    path === "scalar" ? "dtype (the scalar path)" : "dtype",
    options.dtype,
  ) as QuantizedMatmulKernelName;
  const m = checkCount(kernel, "m", options.m);
  const { weightBytes, scaleBytes, n, k } = checkFormat(kernel, options, m);
  const size = options.dtype === "bf16" ? BF16 : F32;
  checkActivations(kernel, options, m, n, k, size);
  const detail = `n ${n} × k ${k} × ${options.bits} bits / 8`;
  checkBuffer(kernel, "weights", options.weights, weightBytes, detail);
  const groups = `n ${n} × k / groupSize ${k / options.groupSize} × 2 bytes`;
  checkBuffer(kernel, "scales", options.scales, scaleBytes, groups);
  checkBuffer(kernel, "biases", options.biases, scaleBytes, groups);
  // struct QuantizedMatmulParams { uint M, K, N, group_size, bits; }
  const params = packParams([
    ["u32", m],
    ["u32", k],
    ["u32", n],
    ["u32", options.groupSize],
    ["u32", options.bits],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.x, options.weights, options.scales, options.biases, options.output, params],
    usesBfloat16: options.dtype === "bf16",
    geometry: path === "scalar" ? (pipeline) => blockDims(pipeline, [n, m, 1]) : simdGeometry(m, n),
  };
}

/** The expert plan, or `undefined` when no token is routed to the expert (`m` = 0). */
function quantizedMatmulExpertPlan(options: QuantizedMatmulExpertOptions): KernelPlan | undefined {
  checkRegistry("quantizedMatmulExpert", options.registry);
  const kernel = QUANTIZED_MATMUL_KERNELS.simdBf16Expert;
  const m = options.m === 0 ? 0 : checkCount(kernel, "m", options.m);
  const { weightBytes, scaleBytes, n, k } = checkFormat(kernel, options, Math.max(m, 1));
  const experts = checkCount(kernel, "experts", options.experts);
  const expert = checkIndex(kernel, "expert", options.expert, experts, `experts ${experts}`);
  checkActivations(kernel, options, m, n, k, BF16);
  const detail = `experts ${experts} × n ${n} × k ${k} × ${options.bits} bits / 8`;
  checkBuffer(kernel, "weights", options.weights, experts * weightBytes, detail);
  const groups = `experts ${experts} × n ${n} × k / groupSize ${k / options.groupSize} × 2 bytes`;
  checkBuffer(kernel, "scales", options.scales, experts * scaleBytes, groups);
  checkBuffer(kernel, "biases", options.biases, experts * scaleBytes, groups);
  const weightsOffset = expert * weightBytes;
  const scalesOffset = expert * scaleBytes;
  if (weightsOffset > U32_MAX || scalesOffset > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: expert ${expert} starts at byte ${weightsOffset} of "weights", past the kernel's 32-bit offsets (${U32_MAX}); bind a buffer per expert group instead`,
    );
  }
  if (m === 0) return undefined;
  const params = packParams([
    ["u32", m],
    ["u32", k],
    ["u32", n],
    ["u32", options.groupSize],
    ["u32", options.bits],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [
      options.x,
      options.weights,
      options.scales,
      options.biases,
      options.output,
      params,
      packParams([["u32", weightsOffset]]),
      packParams([["u32", scalesOffset]]),
      packParams([["u32", scalesOffset]]),
    ],
    usesBfloat16: true,
    geometry: simdGeometry(m, n),
  };
}

/**
 * Encodes `output[i][j] = Σ_l W[j][l] · x[i][l]` with `W` in MLX affine format.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format, dtype and path.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, an unknown dtype or path, or a bf16
 * scalar path.
 * @throws {RangeError} For bad sizes, bits or group size, `k` not a multiple of the group
 * size, a buffer too small for its shape, or `output` the same buffer as `x`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmul } from "../mod.ts";
 * import { toBf16Array } from "../dtype.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const w = quantizeAffine(new Float32Array(64).fill(0.25), {
 *   rows: 1, cols: 64, bits: 4, groupSize: 64,
 * });
 * using x = device.newBuffer(toBf16Array(new Float32Array(64).fill(1)));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using output = device.newBuffer(2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmul(encoder, {
 *   registry, x, weights, scales, biases, output,
 *   m: 1, n: 1, k: 64, bits: 4, groupSize: 64, dtype: "bf16",
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(new Uint16Array(output.contents)[0], 0x4180); // bf16 16
 * ```
 */
export async function quantizedMatmul(
  encoder: ComputeEncoder,
  options: QuantizedMatmulOptions,
): Promise<void> {
  await encodePlan(encoder, quantizedMatmulPlan(options));
}

/**
 * {@linkcode quantizedMatmul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format, dtype and path.
 * @throws {TypeError | RangeError} As {@linkcode quantizedMatmul}.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmulSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const w = quantizeAffine(new Float32Array(32).fill(-1), {
 *   rows: 1, cols: 32, bits: 6, groupSize: 32,
 * });
 * using x = device.newBuffer(new Float32Array(32).fill(0.5));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * quantizedMatmulSync(encoder, {
 *   registry, x, weights, scales, biases, output,
 *   m: 1, n: 1, k: 32, bits: 6, groupSize: 32, dtype: "f32", path: "scalar",
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], -16);
 * ```
 */
export function quantizedMatmulSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulOptions,
): void {
  encodePlanSync(encoder, quantizedMatmulPlan(options));
}

/**
 * Encodes one expert's product `output[i][j] = Σ_l W_e[j][l] · x[i][l]` (bf16 `x` and
 * `output`), `W_e` the `expert`-th of `experts` matrices stacked in `weights`, `scales` and
 * `biases`. With `m` = 0 (no token routed to the expert) it checks the options and encodes
 * nothing, so a routing loop can call it for every expert.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format, `experts` and `expert`.
 * @returns Resolves once the dispatch (if any) is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, bits, group size or expert index, stacked buffers too
 * small for `experts` matrices, an expert past the kernel's 32-bit byte offsets, or
 * `output` the same buffer as `x`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmulExpert } from "../mod.ts";
 * import { bf16BitsToF32, toBf16Array } from "../dtype.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two experts of one row of 32: expert 0 all 1, expert 1 all 3.
 * const w = quantizeAffine(
 *   Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 3)),
 *   { rows: 2, cols: 32, bits: 8, groupSize: 32 },
 * );
 * using x = device.newBuffer(toBf16Array(new Float32Array(32).fill(1)));
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using output = device.newBuffer(2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulExpert(encoder, {
 *   registry, x, weights, scales, biases, output,
 *   m: 1, n: 1, k: 32, bits: 8, groupSize: 32, experts: 2, expert: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(bf16BitsToF32(new Uint16Array(output.contents)[0]), 96);
 * ```
 */
export async function quantizedMatmulExpert(
  encoder: ComputeEncoder,
  options: QuantizedMatmulExpertOptions,
): Promise<void> {
  const plan = quantizedMatmulExpertPlan(options);
  if (plan) await encodePlan(encoder, plan);
}

/**
 * {@linkcode quantizedMatmulExpert}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, format, `experts` and `expert`.
 * @throws {TypeError | RangeError} As {@linkcode quantizedMatmulExpert}.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine, quantizedMatmulExpertSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const w = quantizeAffine(new Float32Array(64), { rows: 2, cols: 32, bits: 4, groupSize: 32 });
 * using x = device.newBuffer(64);
 * using weights = device.newBuffer(w.weights);
 * using scales = device.newBuffer(w.scales);
 * using biases = device.newBuffer(w.biases);
 * using output = device.newBuffer(2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * // No token routed to expert 1: nothing is encoded.
 * quantizedMatmulExpertSync(encoder, {
 *   registry, x, weights, scales, biases, output,
 *   m: 0, n: 1, k: 32, bits: 4, groupSize: 32, experts: 2, expert: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Uint16Array(output.contents)[0], 0);
 * ```
 */
export function quantizedMatmulExpertSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulExpertOptions,
): void {
  const plan = quantizedMatmulExpertPlan(options);
  if (plan) encodePlanSync(encoder, plan);
}
