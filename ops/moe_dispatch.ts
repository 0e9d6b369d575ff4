// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/moe_dispatch.metal`: the element-wise steps around the expert
 * matmuls of a mixture-of-experts block (f32 arithmetic; bf16 storage where named).
 *
 * **Naming trap.** The catalogue's `moe_swiglu_fused`, `moe_swiglu_batch`, `moe_swiglu_seq` and
 * `moe_swiglu_seq_bf16` compute **GeGLU**, `gelu(gate)·up` (GELU with the tanh approximation),
 * not SwiGLU: they are served under those names with that math, and their helpers here are
 * called {@linkcode moeGegluFused}, {@linkcode moeGegluBatch} and {@linkcode moeGegluSeq}. For
 * SwiGLU (`silu(gate)·up`) use `siluMul` (`silu_mul.metal`).
 *
 * | helper | kernel(s) | computes |
 * | --- | --- | --- |
 * | {@linkcode geluMul} | `fused_gelu_mul`, `fused_gelu_mul_bf16` | `out[i] = gelu(gate[i])·up[i]` |
 * | {@linkcode moeGegluFused} | `moe_swiglu_fused` | one row `gate ‖ up` of `2n` → `gelu(gate)·up` |
 * | {@linkcode moeGegluBatch} | `moe_swiglu_batch` | `[topK, 2·inter]` → `[topK, inter]` |
 * | {@linkcode moeGegluSeq} | `moe_swiglu_seq`, `moe_swiglu_seq_bf16` | `[tokens, topK, 2·inter]` → `[tokens, topK, inter]` |
 * | {@linkcode moeAccumulate} | `moe_accumulate` | `acc[i] += weight·y[i]` |
 * | {@linkcode zeroBuffer} | `zero_buffer` | `buffer[i] = 0` |
 * | {@linkcode moeWeightedSum} | `moe_weighted_sum` | `out[d] = Σ_k y[k][d]·w[k]` |
 * | {@linkcode moeWeightedSumSeq} | `moe_weighted_sum_seq`, `moe_weighted_sum_seq_bf16_input` | `out[t][d] = Σ_k y[t][k][d]·w[t][k]` (y f32 or bf16) |
 * | {@linkcode naiveMatvec} | `naive_matvec_f32` | `out[r] = Σ_c W[r][c]·x[c]`, one thread per row (a reference, not a fast path) |
 * | {@linkcode moeGatherTopkWeights} | `moe_gather_topk_weights` | `ids[j] = sorted[j]`, `w[j] = probs[ids[j]] / Σ_j' probs[ids[j']] · scale[ids[j]]` |
 *
 * The f64 references are in `ops/moe_dispatch_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { moeGegluSeq } from "./moe_dispatch.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token, two experts, intermediate 2: each row is [gate0, gate1, up0, up1].
 * using input = device.newBuffer(new Float32Array([1, 0, 2, 2, -1, 3, 1, 1]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGegluSeq(encoder, {
 *   registry, input, output, dtype: "f32", inter: 2, topK: 2, tokens: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // gelu(1)·2, 0, gelu(-1)·1, gelu(3)·1
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  blockDims,
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkFinite,
  checkRegistry,
  pickKernel,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { MOE_DISPATCH_KERNELS } from "../shaders/moe_dispatch.ts";

/** The catalogue names of `moe_dispatch.metal` (its table: `shaders/moe_dispatch.ts`). */
export { MOE_DISPATCH_KERNELS };

/** Every kernel name of `moe_dispatch.metal`. */
export type MoeDispatchKernelName = TableNames<typeof MOE_DISPATCH_KERNELS>;

/** Storage dtypes of the helpers that have a bf16 variant. */
export type MoeDispatchDType = "f32" | "bf16";

const F32 = 4;

/** A size of at most U32_MAX elements, for a kernel whose grid is that long. */
function checkElements(kernel: string, detail: string, count: number): void {
  if (count > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: ${detail} is ${count} elements, expected at most ${U32_MAX}`,
    );
  }
}

/** Options of {@linkcode geluMul}. */
export interface GeluMulOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Gate projections `[n]` of `dtype`. */
  gate: DeviceBuffer;
  /** Up projections `[n]` of `dtype`. */
  up: DeviceBuffer;
  /** `[n]` results of `dtype`; may be `gate` or `up`. */
  out: DeviceBuffer;
  /** Storage type of the three buffers. */
  dtype: MoeDispatchDType;
  /** Elements. */
  n: number;
}

function geluMulPlan(options: GeluMulOptions): KernelPlan {
  checkRegistry("geluMul", options.registry);
  const kernel = pickKernel("geluMul", MOE_DISPATCH_KERNELS.geluMul, "dtype", options.dtype);
  const n = checkCount(kernel, "n", options.n);
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["n", n]], size);
  checkBuffer(kernel, "gate", options.gate, n * size, detail);
  checkBuffer(kernel, "up", options.up, n * size, detail);
  checkBuffer(kernel, "out", options.out, n * size, detail);
  return {
    registry: options.registry,
    kernel,
    args: [options.gate, options.up, options.out, packParams([["u32", n]])],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => linearSplit(pipeline, n),
  };
}

/** Options of {@linkcode moeGegluFused}. All buffers hold f32. */
export interface MoeGegluFusedOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** One row `[2n]`: the gate projections, then the up projections. */
  input: DeviceBuffer;
  /** `[n]` results; not `input`. */
  output: DeviceBuffer;
  /** Elements per half. */
  n: number;
}

function gegluFusedPlan(options: MoeGegluFusedOptions): KernelPlan {
  checkRegistry("moeGegluFused", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.gegluFused;
  const n = checkCount(kernel, "n", options.n);
  checkElements(kernel, "2·n", 2 * n);
  checkBuffer(kernel, "input", options.input, 2 * n * F32, sizeDetail([["2", 2], ["n", n]], F32));
  checkBuffer(kernel, "output", options.output, n * F32, sizeDetail([["n", n]], F32));
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "expected a separate output",
  );
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, packParams([["u32", n]])],
    geometry: (pipeline) => linearSplit(pipeline, n),
  };
}

/** Options of {@linkcode moeGegluBatch}. All buffers hold f32. */
export interface MoeGegluBatchOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[topK, 2·inter]`: per expert slot, the gate then the up projections. */
  input: DeviceBuffer;
  /** `[topK, inter]` results; not `input`. */
  output: DeviceBuffer;
  /** Intermediate size. */
  inter: number;
  /** Expert slots. */
  topK: number;
}

function gegluBatchPlan(options: MoeGegluBatchOptions): KernelPlan {
  checkRegistry("moeGegluBatch", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.gegluBatch;
  const inter = checkCount(kernel, "inter", options.inter);
  const topK = checkCount(kernel, "topK", options.topK);
  checkElements(kernel, "topK × 2·inter", 2 * topK * inter);
  checkBuffer(
    kernel,
    "input",
    options.input,
    2 * topK * inter * F32,
    sizeDetail([["topK", topK], ["2·inter", 2 * inter]], F32),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    topK * inter * F32,
    sizeDetail([["topK", topK], ["inter", inter]], F32),
  );
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "expected a separate output",
  );
  return {
    registry: options.registry,
    kernel,
    // Two scalar bindings (constant uint& inter, constant uint& top_k).
    args: [
      options.input,
      options.output,
      packParams([["u32", inter]]),
      packParams([["u32", topK]]),
    ],
    geometry: (pipeline) => blockDims(pipeline, [inter, topK, 1]),
  };
}

/** Options of {@linkcode moeGegluSeq}. */
export interface MoeGegluSeqOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[tokens, topK, 2·inter]` of `dtype`: per row, the gate then the up projections. */
  input: DeviceBuffer;
  /** `[tokens, topK, inter]` results of `dtype`; not `input`. */
  output: DeviceBuffer;
  /** Storage type of both buffers. */
  dtype: MoeDispatchDType;
  /** Intermediate size. */
  inter: number;
  /** Expert slots per token. */
  topK: number;
  /** Tokens. */
  tokens: number;
}

function gegluSeqPlan(options: MoeGegluSeqOptions): KernelPlan {
  checkRegistry("moeGegluSeq", options.registry);
  const kernel = pickKernel("moeGegluSeq", MOE_DISPATCH_KERNELS.gegluSeq, "dtype", options.dtype);
  const inter = checkCount(kernel, "inter", options.inter);
  const topK = checkCount(kernel, "topK", options.topK);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const size = bytesPerElement(options.dtype);
  checkBuffer(
    kernel,
    "input",
    options.input,
    2 * tokens * topK * inter * size,
    sizeDetail([["tokens", tokens], ["topK", topK], ["2·inter", 2 * inter]], size),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    tokens * topK * inter * size,
    sizeDetail([["tokens", tokens], ["topK", topK], ["inter", inter]], size),
  );
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "expected a separate output",
  );
  // struct MoeSeqParams { uint inter; uint top_k; uint tokens; }
  return {
    registry: options.registry,
    kernel,
    args: [
      options.input,
      options.output,
      packParams([["u32", inter], ["u32", topK], ["u32", tokens]]),
    ],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, [inter, topK, tokens]),
  };
}

/** Options of {@linkcode moeAccumulate}. All buffers hold f32. */
export interface MoeAccumulateOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[n]` accumulator, updated in place. */
  acc: DeviceBuffer;
  /** `[n]` expert output. */
  y: DeviceBuffer;
  /** Elements. */
  n: number;
  /** The expert's routing weight (finite). */
  weight: number;
}

function accumulatePlan(options: MoeAccumulateOptions): KernelPlan {
  checkRegistry("moeAccumulate", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.accumulate;
  const n = checkCount(kernel, "n", options.n);
  const weight = checkFinite(kernel, "weight", options.weight);
  const detail = sizeDetail([["n", n]], F32);
  checkBuffer(kernel, "acc", options.acc, n * F32, detail);
  checkBuffer(kernel, "y", options.y, n * F32, detail);
  // struct MoeAccumulateParams { uint n; float weight; }
  return {
    registry: options.registry,
    kernel,
    args: [options.acc, options.y, packParams([["u32", n], ["f32", weight]])],
    geometry: (pipeline) => linearSplit(pipeline, n),
  };
}

/** Options of {@linkcode zeroBuffer}. */
export interface ZeroBufferOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The buffer to clear: its first `n` f32 elements. */
  buffer: DeviceBuffer;
  /** Elements (4 bytes each). */
  n: number;
}

function zeroPlan(options: ZeroBufferOptions): KernelPlan {
  checkRegistry("zeroBuffer", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.zero;
  const n = checkCount(kernel, "n", options.n);
  checkBuffer(kernel, "buffer", options.buffer, n * F32, sizeDetail([["n", n]], F32));
  return {
    registry: options.registry,
    kernel,
    args: [options.buffer, packParams([["u32", n]])],
    geometry: (pipeline) => linearSplit(pipeline, n),
  };
}

/** Options of {@linkcode moeWeightedSum}. All buffers hold f32. */
export interface MoeWeightedSumOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Expert outputs `[topK, hidden]`. */
  y: DeviceBuffer;
  /** Routing weights `[topK]`. */
  weights: DeviceBuffer;
  /** `[hidden]` result; not `y`. */
  out: DeviceBuffer;
  /** Row length. */
  hidden: number;
  /** Experts. */
  topK: number;
}

function weightedSumPlan(options: MoeWeightedSumOptions): KernelPlan {
  checkRegistry("moeWeightedSum", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.weightedSum;
  const hidden = checkCount(kernel, "hidden", options.hidden);
  const topK = checkCount(kernel, "topK", options.topK);
  checkBuffer(
    kernel,
    "y",
    options.y,
    topK * hidden * F32,
    sizeDetail([["topK", topK], ["hidden", hidden]], F32),
  );
  checkBuffer(kernel, "weights", options.weights, topK * F32, sizeDetail([["topK", topK]], F32));
  checkBuffer(kernel, "out", options.out, hidden * F32, sizeDetail([["hidden", hidden]], F32));
  checkDistinct(kernel, ["y", "out"], options.y, options.out, "expected a separate output");
  // struct MoeSumParams { uint hidden; uint top_k; uint tokens; }
  return {
    registry: options.registry,
    kernel,
    args: [
      options.y,
      options.weights,
      options.out,
      packParams([["u32", hidden], ["u32", topK], ["u32", 1]]),
    ],
    geometry: (pipeline) => linearSplit(pipeline, hidden),
  };
}

/** Options of {@linkcode moeWeightedSumSeq}. */
export interface MoeWeightedSumSeqOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Expert outputs `[tokens, topK, hidden]` of `yDtype`. */
  y: DeviceBuffer;
  /** f32 routing weights `[tokens, topK]`. */
  weights: DeviceBuffer;
  /** f32 `[tokens, hidden]` results; not `y`. */
  out: DeviceBuffer;
  /** Storage type of `y` (weights and out are f32). */
  yDtype: MoeDispatchDType;
  /** Row length. */
  hidden: number;
  /** Experts per token. */
  topK: number;
  /** Tokens. */
  tokens: number;
}

function weightedSumSeqPlan(options: MoeWeightedSumSeqOptions): KernelPlan {
  checkRegistry("moeWeightedSumSeq", options.registry);
  const kernel = pickKernel(
    "moeWeightedSumSeq",
    MOE_DISPATCH_KERNELS.weightedSumSeq,
    "yDtype",
    options.yDtype,
  );
  const hidden = checkCount(kernel, "hidden", options.hidden);
  const topK = checkCount(kernel, "topK", options.topK);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const size = bytesPerElement(options.yDtype);
  checkBuffer(
    kernel,
    "y",
    options.y,
    tokens * topK * hidden * size,
    sizeDetail([["tokens", tokens], ["topK", topK], ["hidden", hidden]], size),
  );
  checkBuffer(
    kernel,
    "weights",
    options.weights,
    tokens * topK * F32,
    sizeDetail([["tokens", tokens], ["topK", topK]], F32),
  );
  checkBuffer(
    kernel,
    "out",
    options.out,
    tokens * hidden * F32,
    sizeDetail([["tokens", tokens], ["hidden", hidden]], F32),
  );
  checkDistinct(kernel, ["y", "out"], options.y, options.out, "expected a separate output");
  return {
    registry: options.registry,
    kernel,
    args: [
      options.y,
      options.weights,
      options.out,
      packParams([["u32", hidden], ["u32", topK], ["u32", tokens]]),
    ],
    usesBfloat16: options.yDtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, [hidden, tokens, 1]),
  };
}

/** Options of {@linkcode naiveMatvec}. All buffers hold f32. */
export interface NaiveMatvecOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Matrix `[rows, cols]`, row-major. */
  w: DeviceBuffer;
  /** Vector `[cols]`. */
  x: DeviceBuffer;
  /** `[rows]` result; not `x`. */
  out: DeviceBuffer;
  /** Rows of `w`. */
  rows: number;
  /** Columns of `w`. */
  cols: number;
}

function matvecPlan(options: NaiveMatvecOptions): KernelPlan {
  checkRegistry("naiveMatvec", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.matvec;
  const rows = checkCount(kernel, "rows", options.rows);
  const cols = checkCount(kernel, "cols", options.cols);
  checkBuffer(
    kernel,
    "w",
    options.w,
    rows * cols * F32,
    sizeDetail([["rows", rows], ["cols", cols]], F32),
  );
  checkBuffer(kernel, "x", options.x, cols * F32, sizeDetail([["cols", cols]], F32));
  checkBuffer(kernel, "out", options.out, rows * F32, sizeDetail([["rows", rows]], F32));
  checkDistinct(kernel, ["x", "out"], options.x, options.out, "expected a separate output");
  // struct MoeMatvecParams { uint m (unused); uint cols; uint rows; }
  return {
    registry: options.registry,
    kernel,
    args: [
      options.w,
      options.x,
      options.out,
      packParams([["u32", 1], ["u32", cols], ["u32", rows]]),
    ],
    geometry: (pipeline) => linearSplit(pipeline, rows),
  };
}

/** Options of {@linkcode moeGatherTopkWeights}. */
export interface MoeGatherTopkWeightsOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 expert probabilities `[nExperts]`. */
  probs: DeviceBuffer;
  /** u32 expert indices ranked best first (e.g. an argsort), at least `topK`, each `< nExperts`. */
  sorted: DeviceBuffer;
  /** f32 per-expert scales `[nExperts]`. */
  scale: DeviceBuffer;
  /** u32 output `[topK]`: the first `topK` of `sorted`. */
  ids: DeviceBuffer;
  /** f32 output `[topK]`: renormalised, then scaled, probabilities. */
  weights: DeviceBuffer;
  /** Experts. */
  nExperts: number;
  /** Entries gathered (at most `nExperts`). */
  topK: number;
}

function gatherPlan(options: MoeGatherTopkWeightsOptions): KernelPlan {
  checkRegistry("moeGatherTopkWeights", options.registry);
  const kernel = MOE_DISPATCH_KERNELS.gatherTopkWeights;
  const nExperts = checkCount(kernel, "nExperts", options.nExperts);
  const topK = checkCount(kernel, "topK", options.topK);
  if (topK > nExperts) {
    throw new RangeError(
      `Cannot encode ${kernel}: "topK" is ${topK}, expected at most nExperts ${nExperts}`,
    );
  }
  const experts = sizeDetail([["nExperts", nExperts]], F32);
  const k = sizeDetail([["topK", topK]], F32);
  checkBuffer(kernel, "probs", options.probs, nExperts * F32, experts);
  checkBuffer(kernel, "sorted", options.sorted, topK * F32, k);
  checkBuffer(kernel, "scale", options.scale, nExperts * F32, experts);
  checkBuffer(kernel, "ids", options.ids, topK * F32, k);
  checkBuffer(kernel, "weights", options.weights, topK * F32, k);
  checkDistinct(kernel, ["ids", "weights"], options.ids, options.weights, "expected two outputs");
  // struct MoeGatherParams { uint n_experts; uint top_k; }
  return {
    registry: options.registry,
    kernel,
    args: [
      options.probs,
      options.sorted,
      options.scale,
      options.ids,
      options.weights,
      packParams([["u32", nExperts], ["u32", topK]]),
    ],
    geometry: () => ({ kind: "threads", grid: [1, 1, 1], threadgroup: [1, 1, 1] }),
  };
}

/**
 * Encodes `out[i] = gelu(gate[i])·up[i]` (`fused_gelu_mul`, `fused_gelu_mul_bf16`), GELU with the tanh approximation.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, geluMul } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using gate = device.newBuffer(new Float32Array([0, 1]));
 * using up = device.newBuffer(new Float32Array([5, 2]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await geluMul(encoder, { registry, gate, up, out, dtype: "f32", n: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const r = new Float32Array(out.contents);
 * assert.strictEqual(r[0], 0);
 * assert.ok(Math.abs(r[1] - 2 * 0.8411919906082768) < 1e-6);
 * ```
 */
export async function geluMul(encoder: ComputeEncoder, options: GeluMulOptions): Promise<void> {
  await encodePlan(encoder, geluMulPlan(options));
}

/**
 * {@linkcode geluMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, geluMulSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using gate = device.newBuffer(new Float32Array([0, 1]));
 * using up = device.newBuffer(new Float32Array([5, 2]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * geluMulSync(encoder, { registry, gate, up, out, dtype: "f32", n: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const r = new Float32Array(out.contents);
 * assert.strictEqual(r[0], 0);
 * assert.ok(Math.abs(r[1] - 2 * 0.8411919906082768) < 1e-6);
 * ```
 */
export function geluMulSync(encoder: ComputeEncoder, options: GeluMulOptions): void {
  encodePlanSync(encoder, geluMulPlan(options));
}

/**
 * Encodes GeGLU of one concatenated row (`moe_swiglu_fused`: named SwiGLU, computes GeGLU): `output[i] = gelu(input[i])·input[n + i]`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `output` = `input`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluFused } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0, 1, 7, 2]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGegluFused(encoder, { registry, input, output, n: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const r = new Float32Array(output.contents);
 * assert.strictEqual(r[0], 0);
 * assert.ok(Math.abs(r[1] - 2 * 0.8411919906082768) < 1e-6);
 * ```
 */
export async function moeGegluFused(
  encoder: ComputeEncoder,
  options: MoeGegluFusedOptions,
): Promise<void> {
  await encodePlan(encoder, gegluFusedPlan(options));
}

/**
 * {@linkcode moeGegluFused}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `output` = `input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluFusedSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0, 1, 7, 2]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeGegluFusedSync(encoder, { registry, input, output, n: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const r = new Float32Array(output.contents);
 * assert.strictEqual(r[0], 0);
 * assert.ok(Math.abs(r[1] - 2 * 0.8411919906082768) < 1e-6);
 * ```
 */
export function moeGegluFusedSync(encoder: ComputeEncoder, options: MoeGegluFusedOptions): void {
  encodePlanSync(encoder, gegluFusedPlan(options));
}

/**
 * Encodes GeGLU of `topK` rows `[topK, 2·inter]` → `[topK, inter]` (`moe_swiglu_batch`: named SwiGLU, computes GeGLU).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `output` = `input`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluBatch } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 3, 0, 9])); // two slots, inter 1
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGegluBatch(encoder, { registry, input, output, inter: 1, topK: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const r = new Float32Array(output.contents);
 * assert.ok(Math.abs(r[0] - 3 * 0.8411919906082768) < 1e-6);
 * assert.strictEqual(r[1], 0);
 * ```
 */
export async function moeGegluBatch(
  encoder: ComputeEncoder,
  options: MoeGegluBatchOptions,
): Promise<void> {
  await encodePlan(encoder, gegluBatchPlan(options));
}

/**
 * {@linkcode moeGegluBatch}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `output` = `input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluBatchSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 3, 0, 9])); // two slots, inter 1
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeGegluBatchSync(encoder, { registry, input, output, inter: 1, topK: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const r = new Float32Array(output.contents);
 * assert.ok(Math.abs(r[0] - 3 * 0.8411919906082768) < 1e-6);
 * assert.strictEqual(r[1], 0);
 * ```
 */
export function moeGegluBatchSync(encoder: ComputeEncoder, options: MoeGegluBatchOptions): void {
  encodePlanSync(encoder, gegluBatchPlan(options));
}

/**
 * Encodes GeGLU of `[tokens, topK, 2·inter]` → `[tokens, topK, inter]` (`moe_swiglu_seq`, `moe_swiglu_seq_bf16`: named SwiGLU, compute GeGLU).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For an unsupported `dtype`, bad sizes, a too small buffer, or `output` = `input`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluSeq } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 1, 0, 4])); // two tokens, one slot, inter 1
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGegluSeq(encoder, { registry, input, output, dtype: "f32", inter: 1, topK: 1, tokens: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const r = new Float32Array(output.contents);
 * assert.ok(Math.abs(r[0] - 0.8411919906082768) < 1e-6);
 * assert.strictEqual(r[1], 0);
 * ```
 */
export async function moeGegluSeq(
  encoder: ComputeEncoder,
  options: MoeGegluSeqOptions,
): Promise<void> {
  await encodePlan(encoder, gegluSeqPlan(options));
}

/**
 * {@linkcode moeGegluSeq}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For an unsupported `dtype`, bad sizes, a too small buffer, or `output` = `input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGegluSeqSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 1, 0, 4])); // two tokens, one slot, inter 1
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeGegluSeqSync(encoder, { registry, input, output, dtype: "f32", inter: 1, topK: 1, tokens: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const r = new Float32Array(output.contents);
 * assert.ok(Math.abs(r[0] - 0.8411919906082768) < 1e-6);
 * assert.strictEqual(r[1], 0);
 * ```
 */
export function moeGegluSeqSync(encoder: ComputeEncoder, options: MoeGegluSeqOptions): void {
  encodePlanSync(encoder, gegluSeqPlan(options));
}

/**
 * Encodes `acc[i] += weight·y[i]` (`moe_accumulate`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a non-finite weight or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeAccumulate } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using acc = device.newBuffer(new Float32Array([1, 1]));
 * using y = device.newBuffer(new Float32Array([2, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeAccumulate(encoder, { registry, acc, y, n: 2, weight: 0.5 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(acc.contents)], [2, 3]);
 * ```
 */
export async function moeAccumulate(
  encoder: ComputeEncoder,
  options: MoeAccumulateOptions,
): Promise<void> {
  await encodePlan(encoder, accumulatePlan(options));
}

/**
 * {@linkcode moeAccumulate}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a non-finite weight or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeAccumulateSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using acc = device.newBuffer(new Float32Array([1, 1]));
 * using y = device.newBuffer(new Float32Array([2, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeAccumulateSync(encoder, { registry, acc, y, n: 2, weight: 0.5 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(acc.contents)], [2, 3]);
 * ```
 */
export function moeAccumulateSync(encoder: ComputeEncoder, options: MoeAccumulateOptions): void {
  encodePlanSync(encoder, accumulatePlan(options));
}

/**
 * Encodes `buffer[i] = 0` for the first `n` f32 elements (`zero_buffer`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For a bad size or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, zeroBuffer } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using buffer = device.newBuffer(new Float32Array([1, 2, 3]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await zeroBuffer(encoder, { registry, buffer, n: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(buffer.contents)], [0, 0, 3]);
 * ```
 */
export async function zeroBuffer(
  encoder: ComputeEncoder,
  options: ZeroBufferOptions,
): Promise<void> {
  await encodePlan(encoder, zeroPlan(options));
}

/**
 * {@linkcode zeroBuffer}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For a bad size or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, zeroBufferSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using buffer = device.newBuffer(new Float32Array([1, 2, 3]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * zeroBufferSync(encoder, { registry, buffer, n: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(buffer.contents)], [0, 0, 3]);
 * ```
 */
export function zeroBufferSync(encoder: ComputeEncoder, options: ZeroBufferOptions): void {
  encodePlanSync(encoder, zeroPlan(options));
}

/**
 * Encodes `out[d] = Σ_k y[k][d]·weights[k]` for one token (`moe_weighted_sum`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `out` = `y`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedSum } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using y = device.newBuffer(new Float32Array([1, 2, 3, 4])); // two experts, hidden 2
 * using weights = device.newBuffer(new Float32Array([0.5, 0.25]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeWeightedSum(encoder, { registry, y, weights, out, hidden: 2, topK: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [1.25, 2]);
 * ```
 */
export async function moeWeightedSum(
  encoder: ComputeEncoder,
  options: MoeWeightedSumOptions,
): Promise<void> {
  await encodePlan(encoder, weightedSumPlan(options));
}

/**
 * {@linkcode moeWeightedSum}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `out` = `y`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedSumSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using y = device.newBuffer(new Float32Array([1, 2, 3, 4])); // two experts, hidden 2
 * using weights = device.newBuffer(new Float32Array([0.5, 0.25]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeWeightedSumSync(encoder, { registry, y, weights, out, hidden: 2, topK: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [1.25, 2]);
 * ```
 */
export function moeWeightedSumSync(encoder: ComputeEncoder, options: MoeWeightedSumOptions): void {
  encodePlanSync(encoder, weightedSumPlan(options));
}

/**
 * Encodes `out[t][d] = Σ_k y[t][k][d]·weights[t][k]` (`moe_weighted_sum_seq`; `moe_weighted_sum_seq_bf16_input` for bf16 `y`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For an unsupported `yDtype`, bad sizes, a too small buffer, or `out` = `y`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedSumSeq } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using y = device.newBuffer(new Float32Array([1, 2, 3, 4])); // two tokens, one expert, hidden 2
 * using weights = device.newBuffer(new Float32Array([2, -1]));
 * using out = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeWeightedSumSeq(encoder, { registry, y, weights, out, yDtype: "f32", hidden: 2, topK: 1, tokens: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [2, 4, -3, -4]);
 * ```
 */
export async function moeWeightedSumSeq(
  encoder: ComputeEncoder,
  options: MoeWeightedSumSeqOptions,
): Promise<void> {
  await encodePlan(encoder, weightedSumSeqPlan(options));
}

/**
 * {@linkcode moeWeightedSumSeq}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For an unsupported `yDtype`, bad sizes, a too small buffer, or `out` = `y`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeWeightedSumSeqSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using y = device.newBuffer(new Float32Array([1, 2, 3, 4])); // two tokens, one expert, hidden 2
 * using weights = device.newBuffer(new Float32Array([2, -1]));
 * using out = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeWeightedSumSeqSync(encoder, { registry, y, weights, out, yDtype: "f32", hidden: 2, topK: 1, tokens: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [2, 4, -3, -4]);
 * ```
 */
export function moeWeightedSumSeqSync(
  encoder: ComputeEncoder,
  options: MoeWeightedSumSeqOptions,
): void {
  encodePlanSync(encoder, weightedSumSeqPlan(options));
}

/**
 * Encodes `out[r] = Σ_c w[r][c]·x[c]`, one thread per row (`naive_matvec_f32`): a simple reference for checking faster mat-vecs, not a fast path.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `out` = `x`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, naiveMatvec } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using w = device.newBuffer(new Float32Array([1, 2, 3, 4, 5, 6])); // [2, 3]
 * using x = device.newBuffer(new Float32Array([1, 0, -1]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await naiveMatvec(encoder, { registry, w, x, out, rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [-2, -2]);
 * ```
 */
export async function naiveMatvec(
  encoder: ComputeEncoder,
  options: NaiveMatvecOptions,
): Promise<void> {
  await encodePlan(encoder, matvecPlan(options));
}

/**
 * {@linkcode naiveMatvec}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `out` = `x`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, naiveMatvecSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using w = device.newBuffer(new Float32Array([1, 2, 3, 4, 5, 6])); // [2, 3]
 * using x = device.newBuffer(new Float32Array([1, 0, -1]));
 * using out = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * naiveMatvecSync(encoder, { registry, w, x, out, rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [-2, -2]);
 * ```
 */
export function naiveMatvecSync(encoder: ComputeEncoder, options: NaiveMatvecOptions): void {
  encodePlanSync(encoder, matvecPlan(options));
}

/**
 * Encodes the gathering of routing weights for ranked experts (`moe_gather_topk_weights`, one thread): `ids[j] = sorted[j]`, `weights[j] = probs[ids[j]] / Σ_j' probs[ids[j']] · scale[ids[j]]` (renormalised, then scaled; no second renormalisation; a zero sum gives zero weights). Indices in `sorted` are not range-checked on the device.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `topK > nExperts`, a too small buffer, or `ids` = `weights`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGatherTopkWeights } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using probs = device.newBuffer(new Float32Array([0.1, 0.6, 0.3]));
 * using sorted = device.newBuffer(new Uint32Array([1, 2, 0]));
 * using scale = device.newBuffer(new Float32Array([1, 2, 1]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await moeGatherTopkWeights(encoder, { registry, probs, sorted, scale, ids, weights, nExperts: 3, topK: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [1, 2]);
 * const w = new Float32Array(weights.contents);
 * assert.ok(Math.abs(w[0] - (0.6 / 0.9) * 2) < 1e-6 && Math.abs(w[1] - 0.3 / 0.9) < 1e-6);
 * ```
 */
export async function moeGatherTopkWeights(
  encoder: ComputeEncoder,
  options: MoeGatherTopkWeightsOptions,
): Promise<void> {
  await encodePlan(encoder, gatherPlan(options));
}

/**
 * {@linkcode moeGatherTopkWeights}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `topK > nExperts`, a too small buffer, or `ids` = `weights`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, moeGatherTopkWeightsSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using probs = device.newBuffer(new Float32Array([0.1, 0.6, 0.3]));
 * using sorted = device.newBuffer(new Uint32Array([1, 2, 0]));
 * using scale = device.newBuffer(new Float32Array([1, 2, 1]));
 * using ids = device.newBuffer(8);
 * using weights = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * moeGatherTopkWeightsSync(encoder, { registry, probs, sorted, scale, ids, weights, nExperts: 3, topK: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(ids.contents)], [1, 2]);
 * const w = new Float32Array(weights.contents);
 * assert.ok(Math.abs(w[0] - (0.6 / 0.9) * 2) < 1e-6 && Math.abs(w[1] - 0.3 / 0.9) < 1e-6);
 * ```
 */
export function moeGatherTopkWeightsSync(
  encoder: ComputeEncoder,
  options: MoeGatherTopkWeightsOptions,
): void {
  encodePlanSync(encoder, gatherPlan(options));
}
