// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/dense_gemm.metal` and `shaders/dense_gemv_bf16.metal`: dense
 * (unquantised) projections `C = A · Bᵀ` with the weights `B` stored `[N, K]` row-major, the
 * layout of every PyTorch / safetensors / GGUF linear layer, so no transpose is needed.
 *
 * - {@linkcode denseMatvec}: decode-shaped products (one or a few rows of `A`) in f32, f16,
 *   or f32 activations against f16 / bf16 weights (`dense_matvec_*`).
 * - {@linkcode denseGemm}: prefill-shaped products in f16 (`dense_gemm_f16`), tiled through
 *   threadgroup memory.
 * - {@linkcode denseGemvBf16}: batched mat-vec with bf16 weights, f32 activations and a
 *   broadcast weight batch (GQA), e.g. attention scores `Q · Kᵀ` against a bf16 KV cache
 *   (`hf2q_dense_gemv_bf16_f32_4`).
 *
 * All accumulate in f32 and round each output once to its storage dtype. Buffers are bound
 * from offset 0; the output must be a different buffer from the inputs. References in f64
 * live in `ops/matmul_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { denseMatvec } from "./matmul.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2]));
 * using weight = device.newBuffer(new Float32Array([3, 4, 5, 6, 7, 8])); // [N = 3, K = 2]
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseMatvec(encoder, {
 *   registry, input, weight, output, weightDType: "f32", dtype: "f32", n: 3, k: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // Float32Array(3) [11, 17, 23]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  DENSE_GEMM_THREADS,
  DENSE_GEMM_TILE_M,
  DENSE_GEMM_TILE_N,
  DENSE_GEMV_K_PER_SIMDGROUP,
  DENSE_GEMV_MAX_SIMDGROUPS,
  DENSE_GEMV_ROWS,
  DENSE_MATVEC_ROWS_PER_SIMDGROUP,
  DENSE_MATVEC_SIMDGROUPS,
  SIMD_WIDTH,
} from "./_defines.ts";
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
import type { TableNames } from "../shaders/catalog.ts";
import { DENSE_GEMM_KERNELS } from "../shaders/dense_gemm.ts";
import { DENSE_GEMV_BF16_KERNELS } from "../shaders/dense_gemv_bf16.ts";

/**
 * The catalogue names of the dense matmul kernels, by helper and dtype(s), from the tables of
 * `dense_gemm.metal` and `dense_gemv_bf16.metal`. Helpers pick names only from here.
 */
export const MATMUL_KERNELS: {
  /** `matvec[weightDType][dtype]` (`dtype`: activations and output). */
  readonly matvec: typeof DENSE_GEMM_KERNELS.matvec;
  /** `gemm[dtype]`. */
  readonly gemm: typeof DENSE_GEMM_KERNELS.gemm;
  /** `gemvBf16[dtype]` (weights are always bf16). */
  readonly gemvBf16: typeof DENSE_GEMV_BF16_KERNELS;
} = {
  matvec: DENSE_GEMM_KERNELS.matvec,
  gemm: DENSE_GEMM_KERNELS.gemm,
  gemvBf16: DENSE_GEMV_BF16_KERNELS,
};

/** Every kernel name of the dense matmul shaders. */
export type MatmulKernelName = TableNames<typeof MATMUL_KERNELS>;

/** Weight dtypes of {@linkcode denseMatvec}. */
export type DenseMatvecWeightDType = keyof typeof MATMUL_KERNELS.matvec;

/** A supported `(weightDType, dtype)` pair of {@linkcode denseMatvec}. */
export type DenseMatvecDTypes = {
  [W in DenseMatvecWeightDType]: {
    /** Element type of `weight`. */
    weightDType: W;
    /** Element type of `input` and `output`: `f32`, or `f16` with f16 weights. */
    dtype: keyof typeof MATMUL_KERNELS.matvec[W];
  };
}[DenseMatvecWeightDType];

/** Dtypes of {@linkcode denseGemm}. */
export type DenseGemmDType = keyof typeof MATMUL_KERNELS.gemm;

/** Options shared by every helper of this module. */
export interface MatmulBaseOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Activations `A`, `[m, k]` row-major. */
  input: DeviceBuffer;
  /** Weights `B`, `[n, k]` row-major: one output feature per row. */
  weight: DeviceBuffer;
  /** Result `C = A · Bᵀ`, `[m, n]` row-major; a different buffer from `input` and `weight`. */
  output: DeviceBuffer;
  /** Output features: rows of `weight`, columns of `output`. */
  n: number;
  /** The reduction length: columns of `input` and `weight`. */
  k: number;
}

/** Buffers and sizes of {@linkcode denseMatvec}. */
export interface DenseMatvecBuffers extends MatmulBaseOptions {
  /**
   * Rows of `input` and `output` (decode tokens); each row is one independent mat-vec
   * (the weights are re-read per row, so use {@linkcode denseGemm} for long prompts).
   *
   * @default {1}
   */
  m?: number;
}

/** Options of {@linkcode denseMatvec}. */
export type DenseMatvecOptions = DenseMatvecBuffers & DenseMatvecDTypes;

/** Options of {@linkcode denseGemm}. */
export interface DenseGemmOptions extends MatmulBaseOptions {
  /** Element type of all three buffers. */
  dtype: DenseGemmDType;
  /** Rows of `input` and `output` (prompt tokens). */
  m: number;
}

/** Options of {@linkcode denseGemvBf16}. */
export interface DenseGemvBf16Options {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /**
   * bf16 weights `src0`: `weightBatches` batches of `n` rows of `k`; row `j` of batch `w`
   * starts at element `w · weightBatchStride + j · weightRowStride`.
   */
  weight: DeviceBuffer;
  /** f32 activations `src1`, `[batches, m, k]` contiguous. */
  input: DeviceBuffer;
  /** f32 result `dst`, `[batches, m, n]` contiguous; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Element type of `input` and `output`. @default {"f32"} */
  dtype?: keyof typeof MATMUL_KERNELS.gemvBf16;
  /** Weight rows per batch (e.g. cached keys), columns of `output`. */
  n: number;
  /** The reduction length (e.g. head dim); a multiple of 4. */
  k: number;
  /**
   * Activation rows per batch (queries per head).
   *
   * @default {1}
   */
  m?: number;
  /**
   * Activation and output batches (e.g. query heads).
   *
   * @default {1}
   */
  batches?: number;
  /**
   * Weight batches (e.g. KV heads); `batches` must be a multiple of it, and batch `b` reads
   * weight batch `floor(b / (batches / weightBatches))` (GQA).
   *
   * @default {batches}
   */
  weightBatches?: number;
  /**
   * Elements between weight rows; a multiple of 4, at least `k`.
   *
   * @default {k}
   */
  weightRowStride?: number;
  /**
   * Elements between weight batches; a multiple of 4 (a KV cache of capacity `C` with head
   * dim `k` has `C · k`).
   *
   * @default {n · weightRowStride}
   */
  weightBatchStride?: number;
}

function checkOperands(
  kernel: string,
  options: MatmulBaseOptions,
  m: number,
  n: number,
  k: number,
  inSize: number,
  weightSize: number,
): void {
  checkBuffer(
    kernel,
    "input",
    options.input,
    m * k * inSize,
    sizeDetail([["m", m], ["k", k]], inSize),
  );
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    n * k * weightSize,
    sizeDetail([["n", n], ["k", k]], weightSize),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    m * n * inSize,
    sizeDetail([["m", m], ["n", n]], inSize),
  );
  const why = "but the kernel reads its inputs while other threadgroups write the output";
  checkDistinct(kernel, ["input", "output"], options.input, options.output, why);
  checkDistinct(kernel, ["weight", "output"], options.weight, options.output, why);
}

function denseMatvecPlan(options: DenseMatvecOptions): KernelPlan {
  checkRegistry("denseMatvec", options.registry);
  const byDType = pickKernel(
    "denseMatvec",
    MATMUL_KERNELS.matvec,
    "weightDType",
    options.weightDType,
  );
  const kernel = pickKernel(
    `denseMatvec with ${options.weightDType} weights`,
    byDType,
    "dtype",
    options.dtype,
  );
  const m = checkCount(kernel, "m", options.m ?? 1);
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
  checkOperands(
    kernel,
    options,
    m,
    n,
    k,
    bytesPerElement(options.dtype),
    bytesPerElement(options.weightDType),
  );
  // struct DenseMatmulParams { uint M; uint N; uint K; }
  const params = packParams([["u32", m], ["u32", n], ["u32", k]]);
  const rowsPerGroup = DENSE_MATVEC_ROWS_PER_SIMDGROUP * DENSE_MATVEC_SIMDGROUPS;
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.weight, options.output, params],
    usesBfloat16: options.weightDType === "bf16",
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(n / rowsPerGroup), m, 1],
      threadgroup: [SIMD_WIDTH * DENSE_MATVEC_SIMDGROUPS, 1, 1],
    }),
  };
}

function denseGemmPlan(options: DenseGemmOptions): KernelPlan {
  checkRegistry("denseGemm", options.registry);
  const kernel = pickKernel("denseGemm", MATMUL_KERNELS.gemm, "dtype", options.dtype);
  const m = checkCount(kernel, "m", options.m);
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
  const size = bytesPerElement(options.dtype);
  checkOperands(kernel, options, m, n, k, size, size);
  // struct DenseMatmulParams { uint M; uint N; uint K; }
  const params = packParams([["u32", m], ["u32", n], ["u32", k]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.weight, options.output, params],
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(n / DENSE_GEMM_TILE_N), Math.ceil(m / DENSE_GEMM_TILE_M), 1],
      threadgroup: [DENSE_GEMM_THREADS, 1, 1],
    }),
  };
}

function checkMultipleOf4(kernel: string, name: string, value: number): void {
  if (value % 4 !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "${name}" is ${value}, expected a multiple of 4 (the kernel reads 4-vectors)`,
    );
  }
}

function checkStride(kernel: string, name: string, value: unknown, min: number): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${kernel}: "${name}" is ${typeof value}, expected an integer stride`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: "${name}" is ${value}, expected an integer from ${min} to ${U32_MAX}`,
    );
  }
  return value;
}

function denseGemvBf16Plan(options: DenseGemvBf16Options): KernelPlan {
  checkRegistry("denseGemvBf16", options.registry);
  const kernel = pickKernel(
    "denseGemvBf16",
    MATMUL_KERNELS.gemvBf16,
    "dtype",
    options.dtype ?? "f32",
  );
  const n = checkCount(kernel, "n", options.n);
  const k = checkCount(kernel, "k", options.k);
  const m = checkCount(kernel, "m", options.m ?? 1);
  const batches = checkCount(kernel, "batches", options.batches ?? 1);
  const weightBatches = checkCount(kernel, "weightBatches", options.weightBatches ?? batches);
  if (batches % weightBatches !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "batches" is ${batches}, expected a multiple of "weightBatches" ${weightBatches}`,
    );
  }
  checkMultipleOf4(kernel, "k", k);
  const rowStride = checkStride(kernel, "weightRowStride", options.weightRowStride ?? k, k);
  checkMultipleOf4(kernel, "weightRowStride", rowStride);
  const batchStride = checkStride(
    kernel,
    "weightBatchStride",
    options.weightBatchStride ?? n * rowStride,
    0,
  );
  checkMultipleOf4(kernel, "weightBatchStride", batchStride);
  const weightElements = (weightBatches - 1) * batchStride + (n - 1) * rowStride + k;
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    weightElements * 2,
    `${weightElements} elements: (weightBatches ${weightBatches} - 1) × weightBatchStride ${batchStride} + (n ${n} - 1) × weightRowStride ${rowStride} + k ${k}, × 2 bytes`,
  );
  checkBuffer(
    kernel,
    "input",
    options.input,
    batches * m * k * 4,
    sizeDetail([["batches", batches], ["m", m], ["k", k]], 4),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    batches * m * n * 4,
    sizeDetail([["batches", batches], ["m", m], ["n", n]], 4),
  );
  const why = "but the kernel reads its inputs while other threadgroups write the output";
  checkDistinct(kernel, ["input", "output"], options.input, options.output, why);
  checkDistinct(kernel, ["weight", "output"], options.weight, options.output, why);
  // struct DenseGemvParams { uint K, N, M, r2, w_row_stride, w_batch_stride, batches, pad; }
  const params = packParams([
    ["u32", k],
    ["u32", n],
    ["u32", m],
    ["u32", batches / weightBatches],
    ["u32", rowStride],
    ["u32", batchStride],
    ["u32", batches],
    ["u32", 0],
  ]);
  const simdgroups = Math.min(DENSE_GEMV_MAX_SIMDGROUPS, Math.ceil(k / DENSE_GEMV_K_PER_SIMDGROUP));
  return {
    registry: options.registry,
    kernel,
    args: [params, options.weight, options.input, options.output],
    usesBfloat16: true,
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(n / DENSE_GEMV_ROWS), m, batches],
      threadgroup: [SIMD_WIDTH * simdgroups, 1, 1],
    }),
  };
}

/**
 * Encodes `output[i][j] = Σ_p input[i][p] · weight[j][p]` for `m` (default 1) rows of
 * activations against `[n, k]` weights (`dense_matvec_<...>`): one SIMD-group per 4 output
 * features, 4-vector loads when `k % 4 == 0`, f32 accumulation, one rounding on store.
 * Pairs: f32/f32 (`dense_matvec_f32`), f16/f16 (`dense_matvec_f16`), f16 weights with f32
 * activations (`dense_matvec_f16w_f32io`), bf16 weights with f32 activations
 * (`dense_matvec_bf16w_f32io`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, `weightDType`, `dtype` and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported dtype pair, a missing buffer or registry, or bf16
 * weights on a device without bfloat.
 * @throws {RangeError} For sizes that are not positive integers, a too small buffer, or an
 * output that is also an input.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { denseMatvec, Device, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token [1, 2] through a [3, 2] bf16 weight: output = input · weightᵀ.
 * using input = device.newBuffer(new Float32Array([1, 2]));
 * using weight = device.newBuffer(toDTypeArray("bf16", [1, 0, 0, 1, 1, 1]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseMatvec(encoder, {
 *   registry, input, weight, output, weightDType: "bf16", dtype: "f32", n: 3, k: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [1, 2, 3]);
 * ```
 */
export async function denseMatvec(
  encoder: ComputeEncoder,
  options: DenseMatvecOptions,
): Promise<void> {
  await encodePlan(encoder, denseMatvecPlan(options));
}

/**
 * {@linkcode denseMatvec}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, `weightDType`, `dtype` and sizes.
 * @throws {TypeError} For an unsupported dtype pair or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or an output that is an input.
 *
 * @example Usage
 * ```ts
 * import { denseMatvecSync, Device, fromDTypeBytes, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(toDTypeArray("f16", [1, -1]));
 * using weight = device.newBuffer(toDTypeArray("f16", [2, 1, 0.5, 0.5]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * denseMatvecSync(encoder, {
 *   registry, input, weight, output, weightDType: "f16", dtype: "f16", n: 2, k: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", output.contents, 2)], [1, 0]);
 * ```
 */
export function denseMatvecSync(encoder: ComputeEncoder, options: DenseMatvecOptions): void {
  encodePlanSync(encoder, denseMatvecPlan(options));
}

/**
 * Encodes `output = input · weightᵀ` for `[m, k]` activations and `[n, k]` weights in f16
 * (`dense_gemm_f16`): 64 × 64 output tiles, staged through threadgroup memory 16 columns of
 * `k` at a time, a 4 × 4 block per thread, f32 accumulation, one rounding to f16 on store
 * (results beyond ±65504 become ±Infinity). Any `m`, `n`, `k`; edge tiles are zero-filled.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For sizes that are not positive integers, a too small buffer, or an
 * output that is also an input.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { denseGemm, Device, fromDTypeBytes, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // [2, 2] · [2, 2]ᵀ in f16.
 * using input = device.newBuffer(toDTypeArray("f16", [1, 2, 3, 4]));
 * using weight = device.newBuffer(toDTypeArray("f16", [1, 0, 1, 1]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseGemm(encoder, { registry, input, weight, output, dtype: "f16", m: 2, n: 2, k: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", output.contents, 4)], [1, 3, 3, 7]);
 * ```
 */
export async function denseGemm(encoder: ComputeEncoder, options: DenseGemmOptions): Promise<void> {
  await encodePlan(encoder, denseGemmPlan(options));
}

/**
 * {@linkcode denseGemm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and sizes.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or an output that is an input.
 *
 * @example Usage
 * ```ts
 * import { denseGemmSync, Device, fromDTypeBytes, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import { matmulRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const a = [1, 2, 3, 4, 5, 6]; // [3, 2]
 * const b = [1, -1, 2, 0.5]; // [2, 2]
 * using input = device.newBuffer(toDTypeArray("f16", a));
 * using weight = device.newBuffer(toDTypeArray("f16", b));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * denseGemmSync(encoder, { registry, input, weight, output, dtype: "f16", m: 3, n: 2, k: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", output.contents, 6)], [...matmulRef(a, b, 3, 2, 2)]);
 * ```
 */
export function denseGemmSync(encoder: ComputeEncoder, options: DenseGemmOptions): void {
  encodePlanSync(encoder, denseGemmPlan(options));
}

/**
 * Encodes `output[b][i][j] = Σ_p weight[b / r2][j][p] · input[b][i][p]` with bf16 weights
 * and f32 activations and output, `r2 = batches / weightBatches`
 * (`hf2q_dense_gemv_bf16_f32_4`): two weight rows per threadgroup, `k` split over up to 4
 * SIMD-groups, 4-vector loads (so `k` and the weight strides are multiples of 4), f32
 * accumulation. With `batches = weightBatches = 1` it is a plain bf16 mat-vec; with query
 * heads as `batches`, KV heads as `weightBatches` and a strided key cache as `weight` it
 * computes GQA attention scores.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and weight strides.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For sizes that are not positive integers, `k` or a stride that is not
 * a multiple of 4, `batches` not a multiple of `weightBatches`, a too small buffer, or an
 * output that is also an input.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { denseGemvBf16, Device, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import { gemvBatchedRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Scores of 2 query heads over 3 cached keys of one shared KV head (head dim 4).
 * const keys = [1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1]; // bf16 [1, 3, 4]
 * const queries = [1, 2, 3, 4, 5, 6, 7, 8]; // f32 [2, 1, 4]
 * using keyCache = device.newBuffer(toDTypeArray("bf16", keys));
 * using input = device.newBuffer(new Float32Array(queries));
 * using scores = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await denseGemvBf16(encoder, {
 *   registry, weight: keyCache, input, output: scores, n: 3, k: 4, batches: 2, weightBatches: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = gemvBatchedRef(keys, queries, { batches: 2, weightBatches: 1, m: 1, n: 3, k: 4 });
 * assert.deepStrictEqual([...new Float32Array(scores.contents)], [...expected]);
 * ```
 */
export async function denseGemvBf16(
  encoder: ComputeEncoder,
  options: DenseGemvBf16Options,
): Promise<void> {
  await encodePlan(encoder, denseGemvBf16Plan(options));
}

/**
 * {@linkcode denseGemvBf16}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and weight strides.
 * @throws {TypeError} For a missing buffer or registry, or a device without bfloat.
 * @throws {RangeError} For bad sizes or strides, a too small buffer, or an output that is an
 * input.
 *
 * @example Usage
 * ```ts
 * import { denseGemvBf16Sync, Device, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(toDTypeArray("bf16", [1, 2, 3, 4, 0, 1, 0, 1]));
 * using input = device.newBuffer(new Float32Array([1, 1, 1, 1]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * denseGemvBf16Sync(encoder, { registry, weight, input, output, n: 2, k: 4 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [10, 2]);
 * ```
 */
export function denseGemvBf16Sync(encoder: ComputeEncoder, options: DenseGemvBf16Options): void {
  encodePlanSync(encoder, denseGemvBf16Plan(options));
}
