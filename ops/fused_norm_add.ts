// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/fused_norm_add_bf16.metal` and `shaders/fused_norm_add_f32.metal`:
 * RMSNorm fused with the residual add of a transformer sub-layer (Gemma's post-attention and
 * post-FFN norms, Llama/Qwen's add-then-norm), with an optional scalar (Gemma's layer scale),
 * fused with the weighted sum of MoE expert outputs, and MoE top-k routing.
 *
 * `rms(v) = 1 / sqrt(mean(v²) + eps)` over each row of `dim` values; sums and products are
 * f32, bf16 outputs are rounded once. Every row kernel runs one threadgroup per row, and its
 * outputs may be the same buffers as its inputs (a residual stream updated in place). f64
 * references live in `ops/fused_norm_add_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { fusedNormAdd } from "./fused_norm_add.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using residual = device.newBuffer(new Float32Array([1, 1, 1, 1]));
 * using input = device.newBuffer(new Float32Array([3, -3, 3, -3]));
 * using weight = device.newBuffer(new Float32Array([1, 1, 2, 2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedNormAdd(encoder, {
 *   registry, residual, input, weight, output: residual, dtype: "f32", rows: 1, dim: 4, eps: 0,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(residual.contents)); // [2, 0, 3, -1]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  FUSED_MOE_MAX_EXPERTS,
  FUSED_MOE_MAX_TOP_K,
  FUSED_NORM_COLS_PER_THREAD,
  FUSED_NORM_MAX_SIMDGROUPS,
  FUSED_NORM_SCRATCH_BYTES,
  SIMD_WIDTH,
} from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelArgument,
  type KernelPlan,
  packParams,
  rowDispatch,
  rowPerThreadgroup,
  type RowWidth,
  type RowWidthOptions,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkFinite,
  checkRegistry,
  checkRowWidth,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FUSED_NORM_ADD_BF16_KERNELS } from "../shaders/fused_norm_add_bf16.ts";
import { FUSED_NORM_ADD_F32_KERNELS } from "../shaders/fused_norm_add_f32.ts";

/**
 * The catalogue names of the two fused-norm files, by helper and dtype (or variant), from the
 * tables of `fused_norm_add_f32.metal` and `fused_norm_add_bf16.metal`. Helpers pick names
 * only from here.
 */
export const FUSED_NORM_ADD_KERNELS: {
  readonly normAdd: {
    readonly f32: typeof FUSED_NORM_ADD_F32_KERNELS.normAdd.f32;
    readonly bf16: typeof FUSED_NORM_ADD_BF16_KERNELS.normAdd.bf16;
  };
  readonly normAddNoWeight: typeof FUSED_NORM_ADD_BF16_KERNELS.normAddNoWeight;
  readonly normAddScalar: typeof FUSED_NORM_ADD_F32_KERNELS.normAddScalar;
  readonly residualNorm: typeof FUSED_NORM_ADD_F32_KERNELS.residualNorm;
  readonly residualNormScalar: typeof FUSED_NORM_ADD_F32_KERNELS.residualNormScalar;
  readonly moeWsumNormAdd: typeof FUSED_NORM_ADD_F32_KERNELS.moeWsumNormAdd;
  readonly moeWsumDnormAdd: typeof FUSED_NORM_ADD_F32_KERNELS.moeWsumDnormAdd;
  /** `single` for one token, `batch` for several (one threadgroup each). */
  readonly moeRouting: typeof FUSED_NORM_ADD_F32_KERNELS.moeRouting;
} = {
  normAdd: {
    f32: FUSED_NORM_ADD_F32_KERNELS.normAdd.f32,
    bf16: FUSED_NORM_ADD_BF16_KERNELS.normAdd.bf16,
  },
  normAddNoWeight: FUSED_NORM_ADD_BF16_KERNELS.normAddNoWeight,
  normAddScalar: FUSED_NORM_ADD_F32_KERNELS.normAddScalar,
  residualNorm: FUSED_NORM_ADD_F32_KERNELS.residualNorm,
  residualNormScalar: FUSED_NORM_ADD_F32_KERNELS.residualNormScalar,
  moeWsumNormAdd: FUSED_NORM_ADD_F32_KERNELS.moeWsumNormAdd,
  moeWsumDnormAdd: FUSED_NORM_ADD_F32_KERNELS.moeWsumDnormAdd,
  moeRouting: FUSED_NORM_ADD_F32_KERNELS.moeRouting,
};

/** Every kernel name of `fused_norm_add_bf16.metal` and `fused_norm_add_f32.metal`. */
export type FusedNormAddKernelName = TableNames<typeof FUSED_NORM_ADD_KERNELS>;

/** Storage dtypes of {@linkcode fusedNormAdd}. */
export type FusedNormAddDType = keyof typeof FUSED_NORM_ADD_KERNELS.normAdd;

/**
 * Options shared by the row helpers: a `[rows, dim]` problem, the norm's epsilon and the
 * row width (`threadsPerRow` / `maxThreadsPerRow`).
 */
export interface FusedNormRowOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Number of rows (tokens); one threadgroup each. */
  rows: number;
  /** Row length (hidden size): the norm's axis. */
  dim: number;
  /** Added to `mean(v²)` before the square root; finite and not negative (f32 on device). */
  eps: number;
}

/** Options of {@linkcode fusedNormAdd}. */
export interface FusedNormAddOptions extends FusedNormRowOptions {
  /** `[rows, dim]` residual stream of `dtype`. */
  residual: DeviceBuffer;
  /** `[rows, dim]` sub-layer output of `dtype`, the value normalised. */
  input: DeviceBuffer;
  /**
   * `[dim]` norm weight of `dtype`. Omitted: no weight (`fused_norm_add_no_weight_bf16`,
   * bf16 only).
   */
  weight?: DeviceBuffer;
  /** `[rows, dim]` result of `dtype`; may be `residual` or `input`. */
  output: DeviceBuffer;
  /** Storage type of every buffer. */
  dtype: FusedNormAddDType;
}

/** Options of {@linkcode fusedNormAddScalar} and {@linkcode fusedResidualNormScalar} (f32). */
export interface FusedNormScalarOptions extends FusedNormRowOptions {
  /** `[rows, dim]` residual stream. */
  residual: DeviceBuffer;
  /** `[rows, dim]` sub-layer output. */
  input: DeviceBuffer;
  /** `[dim]` norm weight. */
  weight: DeviceBuffer;
  /** `[rows, dim]` result; may be `residual` or `input`. */
  output: DeviceBuffer;
  /** The scale `c`: one f32, or `dim` of them when `perElementScalar`. */
  scalar: DeviceBuffer;
  /**
   * `scalar` holds `dim` values, one per column, instead of one for every element.
   * @default {false}
   */
  perElementScalar?: boolean;
}

/** Options of {@linkcode fusedResidualNorm} (f32). */
export interface FusedResidualNormOptions extends FusedNormRowOptions {
  /** `[rows, dim]` residual stream. */
  residual: DeviceBuffer;
  /** `[rows, dim]` sub-layer output, added to the residual before the norm. */
  input: DeviceBuffer;
  /** `[dim]` norm weight. */
  weight: DeviceBuffer;
  /** `[rows, dim]` normalised sum; may be `residual` or `input`. */
  output: DeviceBuffer;
  /**
   * `[rows, dim]` receives `residual + input` (the next residual stream); may be `residual`.
   * Omitted: the sum is not written.
   */
  sumOutput?: DeviceBuffer;
}

/** Options of {@linkcode fusedMoeWsumNormAdd} (f32). */
export interface FusedMoeWsumNormAddOptions extends FusedNormRowOptions {
  /** `[rows, topK, dim]` outputs of each token's selected experts. */
  expertOutputs: DeviceBuffer;
  /** `[rows, topK]` routing weights. */
  expertWeights: DeviceBuffer;
  /** `[rows, dim]` residual stream. */
  residual: DeviceBuffer;
  /** `[dim]` weight of the norm of the weighted sum. */
  weight: DeviceBuffer;
  /** `[rows, dim]` result; may be `residual`, not `expertOutputs` or `expertWeights`. */
  output: DeviceBuffer;
  /** Experts per token. */
  topK: number;
}

/** Options of {@linkcode fusedMoeWsumDnormAdd} (f32). */
export interface FusedMoeWsumDnormAddOptions extends FusedNormRowOptions {
  /** `[rows, topK, dim]` outputs of each token's selected experts. */
  expertOutputs: DeviceBuffer;
  /** `[rows, topK]` routing weights. */
  expertWeights: DeviceBuffer;
  /** `[rows, dim]` the other branch (e.g. the dense MLP output), normalised with `residualWeight`. */
  residual: DeviceBuffer;
  /** `[dim]` weight of the norm of `residual`. */
  residualWeight: DeviceBuffer;
  /** `[dim]` weight of the norm of the weighted expert sum. */
  moeWeight: DeviceBuffer;
  /** `[rows, dim]` result; may be `residual`, not `expertOutputs` or `expertWeights`. */
  output: DeviceBuffer;
  /** Experts per token. */
  topK: number;
}

/** Options of {@linkcode fusedMoeRouting} (f32 logits and weights, u32 ids). */
export interface FusedMoeRoutingOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[tokens, numExperts]` router logits. */
  logits: DeviceBuffer;
  /** `[tokens, topK]` u32 expert indices, in selection order (largest probability first). */
  expertIds: DeviceBuffer;
  /** `[tokens, topK]` f32 routing weights. */
  routingWeights: DeviceBuffer;
  /** `[numExperts]` f32 per-expert scale, applied after the renormalisation (ones for none). */
  expertScale: DeviceBuffer;
  /**
   * Tokens (one threadgroup each): 1 uses `fused_moe_routing_f32`, more use
   * `fused_moe_routing_batch_f32`.
   * @default {1}
   */
  tokens?: number;
  /** Experts, up to 1024. */
  numExperts: number;
  /** Experts chosen per token, up to `numExperts` and 32. */
  topK: number;
}

const F32 = bytesPerElement("f32");
const FUSED_NORM_MAX_THREADS = SIMD_WIDTH * FUSED_NORM_MAX_SIMDGROUPS;

function checkEps(kernel: string, eps: unknown): number {
  const value = checkFinite(kernel, "eps", eps);
  if (value < 0) {
    throw new RangeError(`Cannot encode ${kernel}: "eps" is ${value}, expected a number >= 0`);
  }
  return value;
}

/** Validated row sizes and the common buffer checks. */
function checkRows(
  kernel: FusedNormAddKernelName,
  options: FusedNormRowOptions,
  elementBytes: number,
  rowBuffers: readonly (readonly [string, unknown])[],
  weightBuffers: readonly (readonly [string, unknown])[],
): { rows: number; dim: number; eps: number; width: RowWidth } {
  const rows = checkCount(kernel, "rows", options.rows);
  const dim = checkCount(kernel, "dim", options.dim);
  const eps = checkEps(kernel, options.eps);
  const rowDetail = sizeDetail([["rows", rows], ["dim", dim]], elementBytes);
  for (const [name, buffer] of rowBuffers) {
    checkBuffer(kernel, name, buffer, rows * dim * elementBytes, rowDetail);
  }
  const dimDetail = sizeDetail([["dim", dim]], elementBytes);
  for (const [name, buffer] of weightBuffers) {
    checkBuffer(kernel, name, buffer, dim * elementBytes, dimDetail);
  }
  const width = checkRowWidth(kernel, options, FUSED_NORM_MAX_THREADS);
  return { rows, dim, eps, width };
}

function rowPlan(
  registry: KernelRegistry,
  kernel: FusedNormAddKernelName,
  args: readonly KernelArgument[],
  { rows, dim, width }: { rows: number; dim: number; width: RowWidth },
): KernelPlan {
  return {
    registry,
    kernel,
    args,
    usesBfloat16: kernel.endsWith("_bf16"),
    threadgroupMemory: [FUSED_NORM_SCRATCH_BYTES],
    geometry: (pipeline, backend) =>
      rowDispatch(
        pipeline,
        backend,
        rows,
        dim,
        FUSED_NORM_COLS_PER_THREAD,
        FUSED_NORM_MAX_THREADS,
        width,
      ),
  };
}

function normAddPlan(options: FusedNormAddOptions): KernelPlan {
  checkRegistry("fusedNormAdd", options.registry);
  const hasWeight = options.weight !== undefined;
  const kernel = hasWeight
    ? pickKernel("fusedNormAdd", FUSED_NORM_ADD_KERNELS.normAdd, "dtype", options.dtype)
    : pickKernel(
      "fusedNormAdd without weight",
      FUSED_NORM_ADD_KERNELS.normAddNoWeight,
      "dtype",
      options.dtype,
    );
  const size = bytesPerElement(options.dtype);
  const { rows, dim, eps, width } = checkRows(
    kernel,
    options,
    size,
    [["residual", options.residual], ["input", options.input], ["output", options.output]],
    hasWeight ? [["weight", options.weight]] : [],
  );
  // struct FusedNormParams { uint dim; float eps; }
  const params = packParams([["u32", dim], ["f32", eps]]);
  const args = hasWeight
    ? [options.residual, options.input, options.weight!, options.output, params]
    : [options.residual, options.input, options.output, params];
  return rowPlan(options.registry, kernel, args, { rows, dim, width });
}

function scalarPlan(
  subject: string,
  kernel:
    | typeof FUSED_NORM_ADD_F32_KERNELS.normAddScalar.f32
    | typeof FUSED_NORM_ADD_F32_KERNELS.residualNormScalar.f32,
  options: FusedNormScalarOptions,
): KernelPlan {
  checkRegistry(subject, options.registry);
  const { rows, dim, eps, width } = checkRows(kernel, options, F32, [
    ["residual", options.residual],
    ["input", options.input],
    ["output", options.output],
  ], [["weight", options.weight]]);
  const perElement = options.perElementScalar ?? false;
  if (typeof perElement !== "boolean") {
    throw new TypeError(
      `Cannot encode ${kernel}: "perElementScalar" is ${typeof perElement}, expected a boolean`,
    );
  }
  checkBuffer(
    kernel,
    "scalar",
    options.scalar,
    (perElement ? dim : 1) * F32,
    perElement ? sizeDetail([["dim", dim]], F32) : "one f32",
  );
  // struct FusedNormScalarParams { uint dim; float eps; uint scalar_is_vector; }
  const params = packParams([["u32", dim], ["f32", eps], ["u32", perElement ? 1 : 0]]);
  return rowPlan(
    options.registry,
    kernel,
    [options.residual, options.input, options.weight, options.output, options.scalar, params],
    { rows, dim, width },
  );
}

function residualNormPlan(options: FusedResidualNormOptions): KernelPlan {
  checkRegistry("fusedResidualNorm", options.registry);
  const kernel = FUSED_NORM_ADD_KERNELS.residualNorm.f32;
  const writeSum = options.sumOutput !== undefined;
  const { rows, dim, eps, width } = checkRows(kernel, options, F32, [
    ["residual", options.residual],
    ["input", options.input],
    ["output", options.output],
    ...(writeSum ? [["sumOutput", options.sumOutput] as const] : []),
  ], [["weight", options.weight]]);
  if (writeSum) {
    checkDistinct(
      kernel,
      ["output", "sumOutput"],
      options.output,
      options.sumOutput,
      "expected two buffers (the normalised sum and the sum)",
    );
  }
  // struct FusedResidualNormParams { uint dim; float eps; uint write_sum; }
  const params = packParams([["u32", dim], ["f32", eps], ["u32", writeSum ? 1 : 0]]);
  return rowPlan(
    options.registry,
    kernel,
    [
      options.residual,
      options.input,
      options.weight,
      options.output,
      options.sumOutput ?? options.output, // not written when write_sum is 0
      params,
    ],
    { rows, dim, width },
  );
}

function checkTopK(kernel: string, topK: unknown, limit: number, limitName: string): number {
  const value = checkCount(kernel, "topK", topK);
  if (value > limit) {
    throw new RangeError(
      `Cannot encode ${kernel}: "topK" is ${value}, expected at most ${limit} (${limitName})`,
    );
  }
  return value;
}

function checkExpertInputs(
  kernel: FusedNormAddKernelName,
  options: FusedMoeWsumNormAddOptions | FusedMoeWsumDnormAddOptions,
  rows: number,
  dim: number,
): number {
  const topK = checkCount(kernel, "topK", options.topK);
  checkBuffer(
    kernel,
    "expertOutputs",
    options.expertOutputs,
    rows * topK * dim * F32,
    sizeDetail([["rows", rows], ["topK", topK], ["dim", dim]], F32),
  );
  checkBuffer(
    kernel,
    "expertWeights",
    options.expertWeights,
    rows * topK * F32,
    sizeDetail([["rows", rows], ["topK", topK]], F32),
  );
  const why = "expected a separate buffer (other rows may still read it)";
  checkDistinct(kernel, ["expertOutputs", "output"], options.expertOutputs, options.output, why);
  checkDistinct(kernel, ["expertWeights", "output"], options.expertWeights, options.output, why);
  return topK;
}

function moeWsumNormAddPlan(options: FusedMoeWsumNormAddOptions): KernelPlan {
  checkRegistry("fusedMoeWsumNormAdd", options.registry);
  const kernel = FUSED_NORM_ADD_KERNELS.moeWsumNormAdd.f32;
  const { rows, dim, eps, width } = checkRows(kernel, options, F32, [
    ["residual", options.residual],
    ["output", options.output],
  ], [["weight", options.weight]]);
  const topK = checkExpertInputs(kernel, options, rows, dim);
  // struct FusedMoeWsumParams { uint dim; uint top_k; float eps; }
  const params = packParams([["u32", dim], ["u32", topK], ["f32", eps]]);
  return rowPlan(
    options.registry,
    kernel,
    [
      options.expertOutputs,
      options.expertWeights,
      options.residual,
      options.weight,
      options.output,
      params,
    ],
    { rows, dim, width },
  );
}

function moeWsumDnormAddPlan(options: FusedMoeWsumDnormAddOptions): KernelPlan {
  checkRegistry("fusedMoeWsumDnormAdd", options.registry);
  const kernel = FUSED_NORM_ADD_KERNELS.moeWsumDnormAdd.f32;
  const { rows, dim, eps, width } = checkRows(kernel, options, F32, [
    ["residual", options.residual],
    ["output", options.output],
  ], [["residualWeight", options.residualWeight], ["moeWeight", options.moeWeight]]);
  const topK = checkExpertInputs(kernel, options, rows, dim);
  // struct FusedMoeWsumParams { uint dim; uint top_k; float eps; }
  const params = packParams([["u32", dim], ["u32", topK], ["f32", eps]]);
  return rowPlan(
    options.registry,
    kernel,
    [
      options.expertOutputs,
      options.expertWeights,
      options.residual,
      options.residualWeight,
      options.moeWeight,
      options.output,
      params,
    ],
    { rows, dim, width },
  );
}

function moeRoutingPlan(options: FusedMoeRoutingOptions): KernelPlan {
  checkRegistry("fusedMoeRouting", options.registry);
  const tokens = checkCount("fusedMoeRouting", "tokens", options.tokens ?? 1);
  const kernel = tokens === 1
    ? FUSED_NORM_ADD_KERNELS.moeRouting.single
    : FUSED_NORM_ADD_KERNELS.moeRouting.batch;
  const numExperts = checkCount(kernel, "numExperts", options.numExperts);
  if (numExperts > FUSED_MOE_MAX_EXPERTS) {
    throw new RangeError(
      `Cannot encode ${kernel}: "numExperts" is ${numExperts}, expected at most ${FUSED_MOE_MAX_EXPERTS}`,
    );
  }
  const topK = checkTopK(
    kernel,
    options.topK,
    Math.min(numExperts, FUSED_MOE_MAX_TOP_K),
    numExperts < FUSED_MOE_MAX_TOP_K ? `numExperts ${numExperts}` : "the kernel's limit",
  );
  checkBuffer(
    kernel,
    "logits",
    options.logits,
    tokens * numExperts * F32,
    sizeDetail([["tokens", tokens], ["numExperts", numExperts]], F32),
  );
  const outDetail = sizeDetail([["tokens", tokens], ["topK", topK]], 4);
  checkBuffer(kernel, "expertIds", options.expertIds, tokens * topK * 4, outDetail);
  checkBuffer(kernel, "routingWeights", options.routingWeights, tokens * topK * F32, outDetail);
  checkBuffer(
    kernel,
    "expertScale",
    options.expertScale,
    numExperts * F32,
    sizeDetail([["numExperts", numExperts]], F32),
  );
  const why = "expected separate buffers";
  checkDistinct(kernel, ["logits", "expertIds"], options.logits, options.expertIds, why);
  checkDistinct(kernel, ["logits", "routingWeights"], options.logits, options.routingWeights, why);
  checkDistinct(
    kernel,
    ["expertIds", "routingWeights"],
    options.expertIds,
    options.routingWeights,
    why,
  );
  // struct FusedMoeRoutingParams { uint num_experts; uint top_k; }
  const params = packParams([["u32", numExperts], ["u32", topK]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.logits, options.expertIds, options.routingWeights, options.expertScale, params],
    // One expert per thread up to the width cap (the kernel takes up to 32 per thread).
    geometry: (pipeline) =>
      rowPerThreadgroup(pipeline, tokens, numExperts, 1, SIMD_WIDTH * FUSED_NORM_MAX_SIMDGROUPS),
  };
}

/**
 * Encodes `output = residual + input · rms(input) · weight` per row (`fused_norm_add_<dtype>`),
 * or `residual + input · rms(input)` without a weight (`fused_norm_add_no_weight_bf16`): the
 * norm of the sub-layer output alone, then the residual add (Gemma's post-attention and
 * post-FFN norms).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` (f32 needs a weight), a missing buffer or
 * registry, or bf16 on a device without bfloat16.
 * @throws {RangeError} For sizes that are not positive integers, a negative or infinite
 * `eps`, or a buffer smaller than its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedNormAdd, KernelRegistry } from "../mod.ts";
 * import { fusedNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // residual += rmsnorm(x) · w, in place.
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedNormAdd(encoder, {
 *   registry, residual, input, weight, output: residual, dtype: "f32", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedNormAddRef({ residual: r, input: x, weight: w, rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(residual.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function fusedNormAdd(
  encoder: ComputeEncoder,
  options: FusedNormAddOptions,
): Promise<void> {
  await encodePlan(encoder, normAddPlan(options));
}

/**
 * {@linkcode fusedNormAdd}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows, dim and eps.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, fusedNormAddSync, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import { fusedNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // bf16 without a weight (fused_norm_add_no_weight_bf16).
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * using residual = device.newBuffer(toDTypeArray("bf16", r));
 * using input = device.newBuffer(toDTypeArray("bf16", x));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedNormAddSync(encoder, {
 *   registry, residual, input, output, dtype: "bf16", rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedNormAddRef({ residual: r, input: x, rows: 2, dim: 4, eps: 1e-6 });
 * fromDTypeBytes("bf16", output.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.05));
 * ```
 */
export function fusedNormAddSync(encoder: ComputeEncoder, options: FusedNormAddOptions): void {
  encodePlanSync(encoder, normAddPlan(options));
}

/**
 * Encodes `output = (residual + input · rms(input) · weight) · c` per row
 * (`fused_norm_add_scalar_f32`), Gemma's end of layer with its layer scalar; `c` is
 * `scalar[0]`, or `scalar[j]` for column `j` when `perElementScalar`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, eps and the scalar's shape.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedNormAddScalar, KernelRegistry } from "../mod.ts";
 * import { fusedNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // (residual + rmsnorm(x) · w) · s, with one scalar s (a layer scale).
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const s = [0.5];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using scalar = device.newBuffer(new Float32Array(s));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedNormAddScalar(encoder, {
 *   registry, residual, input, weight, output, scalar, rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedNormAddRef({
 *   residual: r, input: x, weight: w, scalar: s, rows: 2, dim: 4, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function fusedNormAddScalar(
  encoder: ComputeEncoder,
  options: FusedNormScalarOptions,
): Promise<void> {
  await encodePlan(
    encoder,
    scalarPlan("fusedNormAddScalar", FUSED_NORM_ADD_KERNELS.normAddScalar.f32, options),
  );
}

/**
 * {@linkcode fusedNormAddScalar}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, eps and the scalar's shape.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedNormAddScalarSync, KernelRegistry } from "../mod.ts";
 * import { fusedNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const s = [0.5];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using scalar = device.newBuffer(new Float32Array(s));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedNormAddScalarSync(encoder, {
 *   registry, residual, input, weight, output, scalar, rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedNormAddRef({
 *   residual: r, input: x, weight: w, scalar: s, rows: 2, dim: 4, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export function fusedNormAddScalarSync(
  encoder: ComputeEncoder,
  options: FusedNormScalarOptions,
): void {
  encodePlanSync(
    encoder,
    scalarPlan("fusedNormAddScalar", FUSED_NORM_ADD_KERNELS.normAddScalar.f32, options),
  );
}

/**
 * Encodes the add-then-norm of Llama/Qwen blocks (`fused_residual_norm_f32`):
 * `s = residual + input`, `output = s · rms(s) · weight`, and `sumOutput = s` when given
 * (the next residual stream, which may overwrite `residual`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, a too small buffer, or `sumOutput` equal
 * to `output`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedResidualNorm, KernelRegistry } from "../mod.ts";
 * import { fusedResidualNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // normed = rmsnorm(residual + x) · w; the sum replaces the residual.
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using normed = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedResidualNorm(encoder, {
 *   registry, residual, input, weight, output: normed, sumOutput: residual, rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedResidualNormRef({ residual: r, input: x, weight: w, rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(normed.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.out[i]) < 1e-5));
 * new Float32Array(residual.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.sum[i]) < 1e-5));
 * ```
 */
export async function fusedResidualNorm(
  encoder: ComputeEncoder,
  options: FusedResidualNormOptions,
): Promise<void> {
  await encodePlan(encoder, residualNormPlan(options));
}

/**
 * {@linkcode fusedResidualNorm}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedResidualNormSync, KernelRegistry } from "../mod.ts";
 * import { fusedResidualNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedResidualNormSync(encoder, { registry, residual, input, weight, output, rows: 2, dim: 4, eps: 1e-6 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedResidualNormRef({ residual: r, input: x, weight: w, rows: 2, dim: 4, eps: 1e-6 });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.out[i]) < 1e-5));
 * ```
 */
export function fusedResidualNormSync(
  encoder: ComputeEncoder,
  options: FusedResidualNormOptions,
): void {
  encodePlanSync(encoder, residualNormPlan(options));
}

/**
 * Encodes `output = (residual + input) · rms(residual + input) · weight · c` per row
 * (`fused_residual_norm_scalar_f32`); `c` is `scalar[0]`, or `scalar[j]` when
 * `perElementScalar`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, eps and the scalar's shape.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedResidualNormScalar, KernelRegistry } from "../mod.ts";
 * import { fusedResidualNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const s = [2];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using scalar = device.newBuffer(new Float32Array(s));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedResidualNormScalar(encoder, {
 *   registry, residual, input, weight, output, scalar, rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedResidualNormRef({
 *   residual: r, input: x, weight: w, scalar: s, rows: 2, dim: 4, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.out[i]) < 1e-5));
 * ```
 */
export async function fusedResidualNormScalar(
  encoder: ComputeEncoder,
  options: FusedNormScalarOptions,
): Promise<void> {
  await encodePlan(
    encoder,
    scalarPlan("fusedResidualNormScalar", FUSED_NORM_ADD_KERNELS.residualNormScalar.f32, options),
  );
}

/**
 * {@linkcode fusedResidualNormScalar}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, eps and the scalar's shape.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedResidualNormScalarSync, KernelRegistry } from "../mod.ts";
 * import { fusedResidualNormRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const r = [1, 2, 3, 4, 0, 0, 1, 1]; // residual [2, 4]
 * const x = [0.5, -1, 2, 0, 1, 1, 1, 3]; // sub-layer output [2, 4]
 * const w = [1, 0.5, 2, 1];
 * const s = [2];
 * using residual = device.newBuffer(new Float32Array(r));
 * using input = device.newBuffer(new Float32Array(x));
 * using weight = device.newBuffer(new Float32Array(w));
 * using scalar = device.newBuffer(new Float32Array(s));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedResidualNormScalarSync(encoder, {
 *   registry, residual, input, weight, output, scalar, rows: 2, dim: 4, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedResidualNormRef({
 *   residual: r, input: x, weight: w, scalar: s, rows: 2, dim: 4, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.out[i]) < 1e-5));
 * ```
 */
export function fusedResidualNormScalarSync(
  encoder: ComputeEncoder,
  options: FusedNormScalarOptions,
): void {
  encodePlanSync(
    encoder,
    scalarPlan("fusedResidualNormScalar", FUSED_NORM_ADD_KERNELS.residualNormScalar.f32, options),
  );
}

/**
 * Encodes the end of an MoE block (`fused_moe_wsum_norm_add_f32`):
 * `s = Σ_k expertWeights[r][k] · expertOutputs[r][k]`, then
 * `output = residual + s · rms(s) · weight`, without writing `s`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, topK and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, a too small buffer, or `output` equal to an
 * expert buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeWsumNormAdd, KernelRegistry } from "../mod.ts";
 * import { fusedMoeWsumNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, 2 selected experts, dim 4.
 * const eo = [1, 2, 3, 4, 4, 3, 2, 1]; // [1, 2, 4]
 * const ew = [0.75, 0.25];
 * const r = [1, 1, 1, 1];
 * const w = [1, 1, 2, 2];
 * using expertOutputs = device.newBuffer(new Float32Array(eo));
 * using expertWeights = device.newBuffer(new Float32Array(ew));
 * using residual = device.newBuffer(new Float32Array(r));
 * using weight = device.newBuffer(new Float32Array(w));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedMoeWsumNormAdd(encoder, {
 *   registry, expertOutputs, expertWeights, residual, weight, output: residual, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedMoeWsumNormAddRef({
 *   expertOutputs: eo, expertWeights: ew, residual: r, moeWeight: w, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * new Float32Array(residual.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function fusedMoeWsumNormAdd(
  encoder: ComputeEncoder,
  options: FusedMoeWsumNormAddOptions,
): Promise<void> {
  await encodePlan(encoder, moeWsumNormAddPlan(options));
}

/**
 * {@linkcode fusedMoeWsumNormAdd}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, topK and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeWsumNormAddSync, KernelRegistry } from "../mod.ts";
 * import { fusedMoeWsumNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, 2 selected experts, dim 4.
 * const eo = [1, 2, 3, 4, 4, 3, 2, 1]; // [1, 2, 4]
 * const ew = [0.75, 0.25];
 * const r = [1, 1, 1, 1];
 * const w = [1, 1, 2, 2];
 * using expertOutputs = device.newBuffer(new Float32Array(eo));
 * using expertWeights = device.newBuffer(new Float32Array(ew));
 * using residual = device.newBuffer(new Float32Array(r));
 * using weight = device.newBuffer(new Float32Array(w));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedMoeWsumNormAddSync(encoder, {
 *   registry, expertOutputs, expertWeights, residual, weight, output, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedMoeWsumNormAddRef({
 *   expertOutputs: eo, expertWeights: ew, residual: r, moeWeight: w, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export function fusedMoeWsumNormAddSync(
  encoder: ComputeEncoder,
  options: FusedMoeWsumNormAddOptions,
): void {
  encodePlanSync(encoder, moeWsumNormAddPlan(options));
}

/**
 * Encodes Gemma 4's dense + MoE combine (`fused_moe_wsum_dnorm_add_f32`):
 * `s = Σ_k expertWeights[r][k] · expertOutputs[r][k]`, then
 * `output = residual · rms(residual) · residualWeight + s · rms(s) · moeWeight`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, topK and eps.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, a too small buffer, or `output` equal to an
 * expert buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeWsumDnormAdd, KernelRegistry } from "../mod.ts";
 * import { fusedMoeWsumNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, 2 selected experts, dim 4.
 * const eo = [1, 2, 3, 4, 4, 3, 2, 1]; // [1, 2, 4]
 * const ew = [0.75, 0.25];
 * const r = [1, 1, 1, 1];
 * const w = [1, 1, 2, 2];
 * using expertOutputs = device.newBuffer(new Float32Array(eo));
 * using expertWeights = device.newBuffer(new Float32Array(ew));
 * using residual = device.newBuffer(new Float32Array(r));
 * using weight = device.newBuffer(new Float32Array(w));
 * const rw = [0.5, 0.5, 0.5, 0.5];
 * using residualWeight = device.newBuffer(new Float32Array(rw));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedMoeWsumDnormAdd(encoder, {
 *   registry, expertOutputs, expertWeights, residual, residualWeight, moeWeight: weight,
 *   output: residual, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedMoeWsumNormAddRef({
 *   expertOutputs: eo, expertWeights: ew, residual: r, moeWeight: w, residualWeight: rw,
 *   rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * new Float32Array(residual.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function fusedMoeWsumDnormAdd(
  encoder: ComputeEncoder,
  options: FusedMoeWsumDnormAddOptions,
): Promise<void> {
  await encodePlan(encoder, moeWsumDnormAddPlan(options));
}

/**
 * {@linkcode fusedMoeWsumDnormAdd}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, dim, topK and eps.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or `eps`, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeWsumDnormAddSync, KernelRegistry } from "../mod.ts";
 * import { fusedMoeWsumNormAddRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, 2 selected experts, dim 4.
 * const eo = [1, 2, 3, 4, 4, 3, 2, 1]; // [1, 2, 4]
 * const ew = [0.75, 0.25];
 * const r = [1, 1, 1, 1];
 * const w = [1, 1, 2, 2];
 * using expertOutputs = device.newBuffer(new Float32Array(eo));
 * using expertWeights = device.newBuffer(new Float32Array(ew));
 * using residual = device.newBuffer(new Float32Array(r));
 * using weight = device.newBuffer(new Float32Array(w));
 * const rw = [0.5, 0.5, 0.5, 0.5];
 * using residualWeight = device.newBuffer(new Float32Array(rw));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedMoeWsumDnormAddSync(encoder, {
 *   registry, expertOutputs, expertWeights, residual, residualWeight, moeWeight: weight,
 *   output, rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedMoeWsumNormAddRef({
 *   expertOutputs: eo, expertWeights: ew, residual: r, moeWeight: w, residualWeight: rw,
 *   rows: 1, dim: 4, topK: 2, eps: 1e-6,
 * });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export function fusedMoeWsumDnormAddSync(
  encoder: ComputeEncoder,
  options: FusedMoeWsumDnormAddOptions,
): void {
  encodePlanSync(encoder, moeWsumDnormAddPlan(options));
}

/**
 * Encodes MoE top-k routing (`fused_moe_routing_f32` for one token,
 * `fused_moe_routing_batch_f32` for several): softmax over the experts, the `topK` most
 * probable by repeated arg-max (equal logits: the lowest expert index first), their
 * probabilities renormalised to sum to 1, then each multiplied by `expertScale[id]` (not
 * renormalised again). Ids come out largest probability first. `-Infinity` logits (masked
 * experts) are chosen only after all others and get weight 0.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, tokens, numExperts and topK.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For sizes that are not positive integers, more than 1024 experts,
 * `topK` above `numExperts` or 32, a too small buffer, or outputs that share a buffer with
 * each other or the logits.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeRouting, KernelRegistry } from "../mod.ts";
 * import { fusedMoeRoutingRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two tokens routed to their top 2 of 4 experts.
 * const l = [0, 3, 1, 2, 5, 0, 0, 4];
 * const scale = [1, 1, 1, 1];
 * using logits = device.newBuffer(new Float32Array(l));
 * using expertScale = device.newBuffer(new Float32Array(scale));
 * using expertIds = device.newBuffer(16);
 * using routingWeights = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fusedMoeRouting(encoder, {
 *   registry, logits, expertIds, routingWeights, expertScale, tokens: 2, numExperts: 4, topK: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = fusedMoeRoutingRef(l, scale, { tokens: 2, numExperts: 4, topK: 2 });
 * assert.deepStrictEqual([...new Uint32Array(expertIds.contents)], [...expected.ids]);
 * new Float32Array(routingWeights.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.weights[i]) < 1e-5));
 * ```
 */
export async function fusedMoeRouting(
  encoder: ComputeEncoder,
  options: FusedMoeRoutingOptions,
): Promise<void> {
  await encodePlan(encoder, moeRoutingPlan(options));
}

/**
 * {@linkcode fusedMoeRouting}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, tokens, numExperts and topK.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer or aliased outputs.
 *
 * @example Usage
 * ```ts
 * import { Device, fusedMoeRoutingSync, KernelRegistry } from "../mod.ts";
 * import { fusedMoeRoutingRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two tokens routed to their top 2 of 4 experts.
 * const l = [0, 3, 1, 2, 5, 0, 0, 4];
 * const scale = [1, 1, 1, 1];
 * using logits = device.newBuffer(new Float32Array(l));
 * using expertScale = device.newBuffer(new Float32Array(scale));
 * using expertIds = device.newBuffer(16);
 * using routingWeights = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fusedMoeRoutingSync(encoder, {
 *   registry, logits, expertIds, routingWeights, expertScale, tokens: 2, numExperts: 4, topK: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = fusedMoeRoutingRef(l, scale, { tokens: 2, numExperts: 4, topK: 2 });
 * assert.deepStrictEqual([...new Uint32Array(expertIds.contents)], [...expected.ids]);
 * new Float32Array(routingWeights.contents).forEach((v, i) => assert.ok(Math.abs(v - expected.weights[i]) < 1e-5));
 * ```
 */
export function fusedMoeRoutingSync(
  encoder: ComputeEncoder,
  options: FusedMoeRoutingOptions,
): void {
  encodePlanSync(encoder, moeRoutingPlan(options));
}
