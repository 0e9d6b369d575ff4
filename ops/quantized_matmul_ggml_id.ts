// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the expert-routed (MoE) GGML products: `shaders/quantized_matmul_id_ggml.metal`
 * (mat-vec) and `shaders/quantized_matmul_id_mm.metal` (token lists, then mat-mat per expert).
 * For token `t`, slot `s` and expert `e = ids[t·topK + s]`:
 * `output[t][s][j] = Σ_k W_e[j][k] · input[t][k]`, with every expert's `[n, k]` weights in one
 * buffer as GGUF blocks (`formats/ggml.ts`: Q4_0, Q8_0, Q6_K, and Q5_K on the mat-vec),
 * expert `e` from byte `e · expertStride` — a GGUF `[experts, n, k]` tensor as it is in the file.
 * Input `[tokens, k]` f32, ids `[tokens, topK]` u32, output `[tokens, topK, n]` f32.
 *
 * {@linkcode quantizedMatmulGgmlId} picks the path as llama.cpp and mlx-native do: more than
 * {@linkcode GGML_ID_MATVEC_MAX_TOKENS} tokens with `topK` 1 or 8 (and not Q5_K) take the two
 * passes — {@linkcode ggmlMapExperts} lists each expert's rows, then {@linkcode ggmlMatmulId}
 * runs one half-weight SIMD-group-matrix product per expert over its rows, so each expert's
 * weights are read once per 32 rows; fewer tokens take {@linkcode ggmlMatvecId}, one exact
 * mat-vec per (token, slot). The two passes need scratch buffers (`routing`, sized by
 * {@linkcode ggmlRoutingBytes}) and are encoded on one encoder, which runs them in order.
 *
 * Expert ids: with `checkIds` (the default) the helpers read the ids buffer when they encode
 * and refuse an id that is not an expert or a token naming one expert twice. Set it to false
 * when an earlier dispatch of the same command buffer writes the ids (a router on the GPU):
 * the kernels then skip a row whose id is not an expert (the row is not written).
 *
 * The f64 reference is `quantizedMatmulGgmlIdRef` in `ops/quantized_matmul_ggml_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgmlId } from "../mod.ts";
 *
 * const [experts, n, k, tokens, topK] = [4, 8, 64, 2, 2];
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const weights = Float32Array.from({ length: experts * n * k }, (_, i) => Math.sin(i));
 * using weight = device.newBuffer(quantizeGgml(weights, "q8_0"));
 * using input = device.newBuffer(new Float32Array(tokens * k).fill(1));
 * using ids = device.newBuffer(new Uint32Array([0, 3, 2, 0]));
 * using output = device.newBuffer(tokens * topK * n * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulGgmlId(encoder, {
 *   registry, type: "q8_0", weight, input, ids, output, tokens, topK, experts, n, k,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents));
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { ggmlRowBytes, type GgmlType } from "../formats/ggml.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBlockK,
  checkGgmlOutput,
  GGML_MAP_MAX_EXPERTS,
  ggmlMatmulDispatch,
  ggmlMatvecDispatch,
} from "./_ggml.ts";
import { SIMD_WIDTH } from "./_defines.ts";
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
import { QUANTIZED_MATMUL_ID_GGML_KERNELS } from "../shaders/quantized_matmul_id_ggml.ts";
import { QUANTIZED_MATMUL_ID_MM_KERNELS } from "../shaders/quantized_matmul_id_mm.ts";
import { QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS } from "../shaders/quantized_matmul_id_mm_tensor.ts";
import { chooseTensorKernel, chooseTensorKernelSync } from "./tensor_api.ts";

/**
 * The catalogue names of `quantized_matmul_id_ggml.metal`, `quantized_matmul_id_mm.metal` and
 * `quantized_matmul_id_mm_tensor.metal`.
 */
export {
  QUANTIZED_MATMUL_ID_GGML_KERNELS,
  QUANTIZED_MATMUL_ID_MM_KERNELS,
  QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS,
};

const F32 = bytesPerElement("f32");
const U32 = bytesPerElement("u32");

/** Every kernel name the expert-routed GGML helpers use. */
export type QuantizedMatmulGgmlIdKernelName =
  | TableNames<typeof QUANTIZED_MATMUL_ID_GGML_KERNELS>
  | TableNames<typeof QUANTIZED_MATMUL_ID_MM_KERNELS>
  | TableNames<typeof QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS>;

/** The block types of the expert-routed mat-vec (the two-pass mat-mat has all but `q5_K`). */
export type GgmlMatmulIdType = keyof typeof QUANTIZED_MATMUL_ID_GGML_KERNELS;

/**
 * The most tokens {@linkcode quantizedMatmulGgmlId} sends to the mat-vec; more (with `topK` 1
 * or 8, not Q5_K) take the two-pass mat-mat. A routed mat-mat only pays once each expert gets a
 * few rows: 32 tokens is llama.cpp's and mlx-native's current switch point.
 */
export const GGML_ID_MATVEC_MAX_TOKENS = 32;

/** The scratch buffers of the two-pass path: each expert's row count and row list. */
export interface GgmlRouting {
  /** `uint[experts]`: rows routed to each expert. */
  counts: DeviceBuffer;
  /** `uint[experts · tokens]`: expert `e`'s rows (`token · topK + slot`) from `e · tokens`. */
  lists: DeviceBuffer;
}

/**
 * Bytes of the two scratch buffers ({@linkcode GgmlRouting}) for `experts` and `tokens`.
 *
 * @param experts Experts in the weights.
 * @param tokens Tokens (rows of input).
 * @returns The byte lengths of `counts` and `lists`.
 *
 * @example Usage
 * ```ts
 * import { ggmlRoutingBytes } from "./quantized_matmul_ggml_id.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(ggmlRoutingBytes(64, 512), { counts: 256, lists: 131072 });
 * ```
 */
export function ggmlRoutingBytes(experts: number, tokens: number): {
  counts: number;
  lists: number;
} {
  return { counts: experts * U32, lists: experts * tokens * U32 };
}

/** Options of {@linkcode quantizedMatmulGgmlId} and {@linkcode ggmlMatvecId}. */
export interface QuantizedMatmulGgmlIdOptions {
  /** The registry that compiles and caches the pipelines. */
  registry: KernelRegistry;
  /** The weights' block type. */
  type: GgmlMatmulIdType;
  /** Every expert's `[n, k]` GGML blocks, expert `e` from byte `e · expertStride`. */
  weight: DeviceBuffer;
  /** `[tokens, k]` f32 input, one row per token (its slots share it). */
  input: DeviceBuffer;
  /** `[tokens, topK]` u32 expert ids (the router's choice per token and slot). */
  ids: DeviceBuffer;
  /** `[tokens, topK, n]` f32 output; not the input, ids or weight buffer. */
  output: DeviceBuffer;
  /** Tokens. */
  tokens: number;
  /** Experts per token (slots). */
  topK: number;
  /** Experts in `weight`. */
  experts: number;
  /** Rows of each expert's weights: output features. */
  n: number;
  /** Values per row: a multiple of the block (32, or 256 for the K-quants). */
  k: number;
  /** Bytes from one expert's weights to the next; default `n` rows (a packed tensor). */
  expertStride?: number;
  /**
   * Read the ids when encoding and refuse one that is not an expert, or a token naming one
   * expert twice (default true). False when a dispatch earlier in the same command buffer
   * writes them: rows whose id is not an expert are then skipped (not written).
   */
  checkIds?: boolean;
  /** Scratch for the two-pass path ({@linkcode ggmlRoutingBytes}); needed only when it is taken. */
  routing?: GgmlRouting;
  /**
   * On the two-pass path, run pass 2 on Metal 4's tensor API
   * (`kernel_mul_mm_id_<type>_tensor_f32`, inputs rounded to half as well as weights) when the
   * device compiles it, else on its SIMD-group twin (default true). False: always the twin.
   */
  tensorApi?: boolean;
}

/** Options of {@linkcode ggmlMapExperts}. */
export interface GgmlMapExpertsOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[tokens, topK]` u32 expert ids. */
  ids: DeviceBuffer;
  /** Where the rows of each expert go. */
  routing: GgmlRouting;
  /** Tokens. */
  tokens: number;
  /** Experts per token: 1 or 8. */
  topK: number;
  /** Experts to collect (at most 1024). */
  experts: number;
  /** Refuse ids that are not experts, or a token naming one expert twice (default true). */
  checkIds?: boolean;
}

/** Options of {@linkcode ggmlMatmulId}: the product's, with the routing pass 1 filled. */
export type GgmlMatmulIdOptions =
  & Omit<QuantizedMatmulGgmlIdOptions, "ids" | "checkIds" | "routing" | "type" | "tensorApi">
  & {
    /** The weights' block type (not Q5_K). */
    type: keyof typeof QUANTIZED_MATMUL_ID_MM_KERNELS.matmul;
    /** The lists {@linkcode ggmlMapExperts} wrote. */
    routing: GgmlRouting;
  };

/** The validated sizes of an expert-routed product. */
interface IdShape {
  tokens: number;
  topK: number;
  experts: number;
  n: number;
  k: number;
  stride: number;
  params: Uint8Array;
}

function checkProduct(
  kernel: string,
  type: GgmlType,
  options: Omit<QuantizedMatmulGgmlIdOptions, "ids" | "type">,
): IdShape {
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const topK = checkCount(kernel, "topK", options.topK);
  const experts = checkCount(kernel, "experts", options.experts);
  const n = checkCount(kernel, "n", options.n);
  const k = checkBlockK(kernel, type, options.k);
  const rowBytes = ggmlRowBytes(type, k);
  const matrixBytes = n * rowBytes;
  const stride = options.expertStride ?? matrixBytes;
  // Even: blocks start with f16 fields, which must stay 2-byte aligned.
  if (!Number.isInteger(stride) || stride % 2 !== 0 || stride < matrixBytes || stride > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: "expertStride" is ${stride}, expected an even integer from ${matrixBytes} (n ${n} × ${rowBytes} bytes per row) to ${U32_MAX}`,
    );
  }
  checkBuffer(
    kernel,
    "weight",
    options.weight,
    (experts - 1) * stride + matrixBytes,
    `experts ${experts}, ${stride} bytes apart, of n ${n} × ${rowBytes} bytes per row of k ${k} in ${type}`,
  );
  checkBuffer(
    kernel,
    "input",
    options.input,
    tokens * k * F32,
    sizeDetail([["tokens", tokens], ["k", k]], F32),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    tokens * topK * n * F32,
    sizeDetail([["tokens", tokens], ["topK", topK], ["n", n]], F32),
  );
  checkGgmlOutput(kernel, options);
  // struct { uint K; uint N; uint tokens; uint top_k; uint experts; uint expert_stride; }
  const params = packParams([
    ["u32", k],
    ["u32", n],
    ["u32", tokens],
    ["u32", topK],
    ["u32", experts],
    ["u32", stride],
  ]);
  return { tokens, topK, experts, n, k, stride, params };
}

function checkIdsBuffer(
  kernel: string,
  ids: unknown,
  tokens: number,
  topK: number,
  experts: number,
  read: boolean,
): asserts ids is DeviceBuffer {
  checkBuffer(
    kernel,
    "ids",
    ids,
    tokens * topK * U32,
    sizeDetail([["tokens", tokens], [
      "topK",
      topK,
    ]], U32),
  );
  if (!read) return;
  const values = new Uint32Array(ids.contents, 0, tokens * topK);
  for (let t = 0; t < tokens; t++) {
    for (let s = 0; s < topK; s++) {
      const e = values[t * topK + s];
      if (e >= experts) {
        throw new RangeError(
          `Cannot encode ${kernel}: "ids" [${
            t * topK + s
          }] (token ${t}, slot ${s}) is ${e}, expected an expert below ${experts}`,
        );
      }
      for (let r = 0; r < s; r++) {
        if (values[t * topK + r] === e) {
          throw new RangeError(
            `Cannot encode ${kernel}: "ids" names expert ${e} twice for token ${t} (slots ${r} and ${s}), expected distinct experts per token`,
          );
        }
      }
    }
  }
}

function checkRouting(
  kernel: string,
  routing: unknown,
  experts: number,
  tokens: number,
  others: readonly [string, unknown][],
): asserts routing is GgmlRouting {
  if (typeof routing !== "object" || routing === null) {
    throw new TypeError(
      `Cannot encode ${kernel}: "routing" is ${routing}, expected { counts, lists } buffers (ggmlRoutingBytes(${experts}, ${tokens}) gives their sizes)`,
    );
  }
  const { counts, lists } = routing as GgmlRouting;
  const bytes = ggmlRoutingBytes(experts, tokens);
  checkBuffer(
    kernel,
    "routing.counts",
    counts,
    bytes.counts,
    sizeDetail([["experts", experts]], U32),
  );
  checkBuffer(
    kernel,
    "routing.lists",
    lists,
    bytes.lists,
    sizeDetail([["experts", experts], ["tokens", tokens]], U32),
  );
  checkDistinct(kernel, ["routing.counts", "routing.lists"], counts, lists, "each is written");
  for (const [name, buffer] of others) {
    const why = "the token lists are scratch of their own";
    checkDistinct(kernel, [name, "routing.counts"], buffer, counts, why);
    checkDistinct(kernel, [name, "routing.lists"], buffer, lists, why);
  }
}

function matvecIdPlan(options: QuantizedMatmulGgmlIdOptions, helper: string): KernelPlan {
  checkRegistry(helper, options.registry);
  const kernel = pickKernel(helper, QUANTIZED_MATMUL_ID_GGML_KERNELS, "type", options.type);
  const shape = checkProduct(kernel, options.type, options);
  checkIdsBuffer(
    kernel,
    options.ids,
    shape.tokens,
    shape.topK,
    shape.experts,
    options.checkIds ?? true,
  );
  checkDistinct(kernel, ["ids", "output"], options.ids, options.output, "the kernel reads the ids");
  const vectors = shape.tokens * shape.topK;
  return {
    registry: options.registry,
    kernel,
    args: [options.weight, options.input, options.output, options.ids, shape.params],
    geometry: () => ggmlMatvecDispatch(options.type, shape.n, vectors),
  };
}

function mapKernel(helper: string, topK: unknown) {
  if (topK !== 1 && topK !== 8) {
    throw new RangeError(
      `Cannot encode ${helper}: "topK" is ${topK}, expected 1 or 8 (the token-list kernels kernel_mul_mm_id_map0_ne20_1 and _8)`,
    );
  }
  return QUANTIZED_MATMUL_ID_MM_KERNELS.map[topK === 1 ? "top1" : "top8"];
}

function mapPlan(options: GgmlMapExpertsOptions, helper: string): KernelPlan {
  checkRegistry(helper, options.registry);
  const kernel = mapKernel(helper, options.topK);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const topK = options.topK;
  const experts = checkCount(kernel, "experts", options.experts);
  if (experts > GGML_MAP_MAX_EXPERTS) {
    throw new RangeError(
      `Cannot encode ${kernel}: "experts" is ${experts}, expected at most ${GGML_MAP_MAX_EXPERTS} (one thread per expert in one threadgroup)`,
    );
  }
  checkIdsBuffer(kernel, options.ids, tokens, topK, experts, options.checkIds ?? true);
  checkRouting(kernel, options.routing, experts, tokens, [["ids", options.ids]]);
  const width = Math.ceil(experts / SIMD_WIDTH) * SIMD_WIDTH;
  return {
    registry: options.registry,
    kernel,
    // struct GgmlMapParams { uint tokens; uint experts; }
    args: [
      options.ids,
      options.routing.counts,
      options.routing.lists,
      packParams([["u32", tokens], ["u32", experts]]),
    ],
    geometry: () => ({ kind: "threadgroups", grid: [1, 1, 1], threadgroup: [width, 1, 1] }),
  };
}

function matmulIdPlan(
  options: GgmlMatmulIdOptions,
  helper: string,
  table:
    | typeof QUANTIZED_MATMUL_ID_MM_KERNELS.matmul
    | typeof QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS = QUANTIZED_MATMUL_ID_MM_KERNELS.matmul,
): KernelPlan {
  checkRegistry(helper, options.registry);
  const kernel = pickKernel(helper, table, "type", options.type);
  const shape = checkProduct(kernel, options.type, options);
  checkRouting(kernel, options.routing, shape.experts, shape.tokens, [
    ["input", options.input],
    ["output", options.output],
    ["weight", options.weight],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [
      options.weight,
      options.input,
      options.output,
      options.routing.counts,
      options.routing.lists,
      shape.params,
    ],
    geometry: () => ggmlMatmulDispatch(shape.tokens, shape.n, shape.experts),
  };
}

/** The plans of an expert-routed product: one mat-vec, or the token lists then the mat-mat. */
function routedPlans(options: QuantizedMatmulGgmlIdOptions, helper: string): KernelPlan[] {
  const twoPass = typeof options?.tokens === "number" &&
    options.tokens > GGML_ID_MATVEC_MAX_TOKENS && (options.topK === 1 || options.topK === 8) &&
    options.type !== "q5_K";
  if (!twoPass) return [matvecIdPlan(options, helper)];
  if (options.routing === undefined) {
    throw new TypeError(
      `Cannot encode ${helper}: "routing" is undefined, expected { counts, lists } buffers: ${options.tokens} tokens (over ${GGML_ID_MATVEC_MAX_TOKENS}) with topK ${options.topK} take the two-pass mat-mat (ggmlRoutingBytes(${options.experts}, ${options.tokens}) gives their sizes)`,
    );
  }
  const matmul = matmulIdPlan(
    { ...options, type: options.type as GgmlMatmulIdOptions["type"], routing: options.routing },
    helper,
  );
  const map = mapPlan({ ...options, routing: options.routing }, helper);
  checkDistinct(
    matmul.kernel,
    ["ids", "output"],
    options.ids,
    options.output,
    "the token lists read the ids",
  );
  return [map, matmul];
}

/**
 * Encodes the expert-routed product, choosing the path by size: the mat-vec
 * `kernel_mul_mv_id_<type>_f32` for up to {@linkcode GGML_ID_MATVEC_MAX_TOKENS} tokens (or a
 * `topK` other than 1 and 8, or Q5_K), else the token lists `kernel_mul_mm_id_map0_ne20_<topK>`
 * then `kernel_mul_mm_id_<type>_f32` (whose weights are rounded to half), which need `routing`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and (for the two-pass path) scratch.
 * @returns Resolves once the dispatches are encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, an unknown `type`, or no `routing` when
 * the two-pass path is taken.
 * @throws {RangeError} For sizes that are not positive integers, a `k` that is not a multiple
 * of the block, a bad `expertStride`, a buffer too small for its shape, buffers that overlap,
 * or (with `checkIds`) an id that is not an expert or repeats within a token.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgmlId } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two experts of one row of 32 values: all 1, all -2. One token, routed to both.
 * const values = [...new Array(32).fill(1), ...new Array(32).fill(-2)];
 * using weight = device.newBuffer(quantizeGgml(values, "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(1));
 * using ids = device.newBuffer(new Uint32Array([1, 0]));
 * using output = device.newBuffer(2 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await quantizedMatmulGgmlId(encoder, {
 *   registry, type: "q8_0", weight, input, ids, output, tokens: 1, topK: 2, experts: 2, n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const [slot0, slot1] = new Float32Array(output.contents);
 * assert.ok(Math.abs(slot0 + 64) < 0.1 && Math.abs(slot1 - 32) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export async function quantizedMatmulGgmlId(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlIdOptions,
): Promise<void> {
  const plans = routedPlans(options, "quantizedMatmulGgmlId");
  if (plans.length === 2 && options.tensorApi !== false) {
    const tensor =
      QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS[options.type as GgmlMatmulIdOptions["type"]];
    const twin = plans[1];
    plans[1] = {
      ...twin,
      kernel: await chooseTensorKernel(encoder.device, twin.registry, tensor, twin.kernel),
    };
  }
  for (const plan of plans) await encodePlan(encoder, plan);
}

/**
 * {@linkcode quantizedMatmulGgmlId}, blocking while the pipelines compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and (for the two-pass path) scratch.
 * @throws {TypeError} For a missing buffer, registry or routing, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k`, a too small buffer or a bad id.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeGgml, quantizedMatmulGgmlIdSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(3 * 32).fill(-1), "q4_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(1));
 * using ids = device.newBuffer(new Uint32Array([2]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * quantizedMatmulGgmlIdSync(encoder, {
 *   registry, type: "q4_0", weight, input, ids, output, tokens: 1, topK: 1, experts: 3, n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], -32);
 * ```
 */
export function quantizedMatmulGgmlIdSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlIdOptions,
): void {
  const plans = routedPlans(options, "quantizedMatmulGgmlIdSync");
  if (plans.length === 2 && options.tensorApi !== false) {
    const tensor =
      QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS[options.type as GgmlMatmulIdOptions["type"]];
    const twin = plans[1];
    plans[1] = {
      ...twin,
      kernel: chooseTensorKernelSync(encoder.device, twin.registry, tensor, twin.kernel),
    };
  }
  for (const plan of plans) encodePlanSync(encoder, plan);
}

/**
 * Encodes the expert-routed mat-vec `kernel_mul_mv_id_<type>_f32` for any size: one exact
 * mat-vec per (token, slot) row.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes (`routing` is not used).
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k`, a too small buffer or a bad id.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatvecId, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(2 * 256).fill(0.5), "q5_K"));
 * using input = device.newBuffer(new Float32Array(256).fill(1));
 * using ids = device.newBuffer(new Uint32Array([1]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMatvecId(encoder, {
 *   registry, type: "q5_K", weight, input, ids, output, tokens: 1, topK: 1, experts: 2, n: 1, k: 256,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 128) < 0.5);
 * ```
 */
export async function ggmlMatvecId(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlIdOptions,
): Promise<void> {
  await encodePlan(encoder, matvecIdPlan(options, "ggmlMatvecId"));
}

/**
 * {@linkcode ggmlMatvecId}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k`, a too small buffer or a bad id.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMatvecIdSync, KernelRegistry, quantizeGgml } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(1), "q8_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(2));
 * using ids = device.newBuffer(new Uint32Array([0]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMatvecIdSync(encoder, {
 *   registry, type: "q8_0", weight, input, ids, output, tokens: 1, topK: 1, experts: 1, n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 64) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function ggmlMatvecIdSync(
  encoder: ComputeEncoder,
  options: QuantizedMatmulGgmlIdOptions,
): void {
  encodePlanSync(encoder, matvecIdPlan(options, "ggmlMatvecIdSync"));
}

/**
 * Encodes pass 1 of the two-pass product, `kernel_mul_mm_id_map0_ne20_<topK>`: for each expert
 * `e`, `routing.counts[e]` and the rows `token · topK + slot` routed to it, in increasing order,
 * in `routing.lists[e · tokens ...]`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, ids, routing buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For a `topK` other than 1 or 8, more than 1024 experts, bad sizes, a
 * too small buffer or (with `checkIds`) a bad id.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMapExperts, ggmlRoutingBytes, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using ids = device.newBuffer(new Uint32Array([2, 0, 2])); // three tokens, top-1
 * const bytes = ggmlRoutingBytes(3, 3);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMapExperts(encoder, {
 *   registry, ids, routing: { counts, lists }, tokens: 3, topK: 1, experts: 3,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(counts.contents)], [1, 0, 2]);
 * assert.deepStrictEqual([...new Uint32Array(lists.contents).subarray(6, 8)], [0, 2]);
 * ```
 */
export async function ggmlMapExperts(
  encoder: ComputeEncoder,
  options: GgmlMapExpertsOptions,
): Promise<void> {
  await encodePlan(encoder, mapPlan(options, "ggmlMapExperts"));
}

/**
 * {@linkcode ggmlMapExperts}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, ids, routing buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For a bad `topK`, too many experts, bad sizes or a bad id.
 *
 * @example Usage
 * ```ts
 * import { Device, ggmlMapExpertsSync, ggmlRoutingBytes, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using ids = device.newBuffer(new Uint32Array([1, 1]));
 * const bytes = ggmlRoutingBytes(2, 2);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMapExpertsSync(encoder, {
 *   registry, ids, routing: { counts, lists }, tokens: 2, topK: 1, experts: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(counts.contents)], [0, 2]);
 * ```
 */
export function ggmlMapExpertsSync(encoder: ComputeEncoder, options: GgmlMapExpertsOptions): void {
  encodePlanSync(encoder, mapPlan(options, "ggmlMapExpertsSync"));
}

/**
 * Encodes pass 2 of the two-pass product, `kernel_mul_mm_id_<type>_f32`: for each expert, a
 * half-weight SIMD-group-matrix product over the rows {@linkcode ggmlMapExperts} listed for it
 * (encode that first, on the same encoder). Rows of no expert are not written.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and the filled routing buffers.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer, registry or routing, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k`, a bad `expertStride` or a too small
 * buffer.
 *
 * @example Usage
 * ```ts
 * import {
 *   Device, ggmlMapExperts, ggmlMatmulId, ggmlRoutingBytes, KernelRegistry, quantizeGgml,
 * } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const [experts, tokens, n, k] = [2, 3, 2, 32];
 * using weight = device.newBuffer(quantizeGgml([
 *   ...new Array(n * k).fill(1), ...new Array(n * k).fill(0.5),
 * ], "q8_0"));
 * using input = device.newBuffer(new Float32Array(tokens * k).fill(1));
 * using ids = device.newBuffer(new Uint32Array([1, 0, 1]));
 * using output = device.newBuffer(tokens * n * 4);
 * const bytes = ggmlRoutingBytes(experts, tokens);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * const routing = { counts, lists };
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMapExperts(encoder, { registry, ids, routing, tokens, topK: 1, experts });
 * await ggmlMatmulId(encoder, {
 *   registry, type: "q8_0", weight, input, output, routing, tokens, topK: 1, experts, n, k,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [16, 16, 32, 32, 16, 16]);
 * ```
 */
export async function ggmlMatmulId(
  encoder: ComputeEncoder,
  options: GgmlMatmulIdOptions,
): Promise<void> {
  await encodePlan(encoder, matmulIdPlan(options, "ggmlMatmulId"));
}

/**
 * {@linkcode ggmlMatmulId}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and the filled routing buffers.
 * @throws {TypeError} For a missing buffer, registry or routing, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import {
 *   Device, ggmlMapExpertsSync, ggmlMatmulIdSync, ggmlRoutingBytes, KernelRegistry, quantizeGgml,
 * } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(1), "q4_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(1));
 * using ids = device.newBuffer(new Uint32Array([0]));
 * using output = device.newBuffer(4);
 * const bytes = ggmlRoutingBytes(1, 1);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * const routing = { counts, lists };
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMapExpertsSync(encoder, { registry, ids, routing, tokens: 1, topK: 1, experts: 1 });
 * ggmlMatmulIdSync(encoder, {
 *   registry, type: "q4_0", weight, input, output, routing, tokens: 1, topK: 1, experts: 1,
 *   n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 32);
 * ```
 */
export function ggmlMatmulIdSync(encoder: ComputeEncoder, options: GgmlMatmulIdOptions): void {
  encodePlanSync(encoder, matmulIdPlan(options, "ggmlMatmulIdSync"));
}

/**
 * Encodes pass 2 of the two-pass product on Metal 4's tensor API,
 * `kernel_mul_mm_id_<type>_tensor_f32`: {@linkcode ggmlMatmulId}'s contract with the inputs
 * rounded to half as well as the weights (matmul2d multiplies operands of one type). For a
 * device without the API it throws; {@linkcode quantizedMatmulGgmlId} falls back to the twin.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and the filled routing buffers.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer, registry or routing, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k`, a bad `expertStride` or a too small
 * buffer.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import {
 *   Device, ggmlMapExperts, ggmlMatmulIdTensor, ggmlRoutingBytes, KernelRegistry, quantizeGgml,
 * } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const [experts, tokens, n, k] = [2, 2, 1, 32];
 * using weight = device.newBuffer(quantizeGgml([
 *   ...new Array(k).fill(1), ...new Array(k).fill(0.5),
 * ], "q8_0"));
 * using input = device.newBuffer(new Float32Array(tokens * k).fill(1));
 * using ids = device.newBuffer(new Uint32Array([1, 0]));
 * using output = device.newBuffer(tokens * n * 4);
 * const bytes = ggmlRoutingBytes(experts, tokens);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * const routing = { counts, lists };
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ggmlMapExperts(encoder, { registry, ids, routing, tokens, topK: 1, experts });
 * await ggmlMatmulIdTensor(encoder, {
 *   registry, type: "q8_0", weight, input, output, routing, tokens, topK: 1, experts, n, k,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [16, 32]);
 * ```
 */
export async function ggmlMatmulIdTensor(
  encoder: ComputeEncoder,
  options: GgmlMatmulIdOptions,
): Promise<void> {
  const plan = matmulIdPlan(options, "ggmlMatmulIdTensor", QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS);
  await chooseTensorKernel(encoder.device, plan.registry, plan.kernel);
  await encodePlan(encoder, plan);
}

/**
 * {@linkcode ggmlMatmulIdTensor}, blocking while the probe and pipeline compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, block type, buffers, sizes and the filled routing buffers.
 * @throws {TypeError} For a missing buffer, registry or routing, or an unknown `type`.
 * @throws {RangeError} For bad sizes, an unaligned `k` or a too small buffer.
 * @throws {TensorApiUnsupportedError} When the device does not compile the tensor API.
 *
 * @example Usage
 * ```ts
 * import {
 *   Device, ggmlMapExpertsSync, ggmlMatmulIdTensorSync, ggmlRoutingBytes, KernelRegistry,
 *   quantizeGgml,
 * } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using weight = device.newBuffer(quantizeGgml(new Float32Array(32).fill(1), "q4_0"));
 * using input = device.newBuffer(new Float32Array(32).fill(1));
 * using ids = device.newBuffer(new Uint32Array([0]));
 * using output = device.newBuffer(4);
 * const bytes = ggmlRoutingBytes(1, 1);
 * using counts = device.newBuffer(bytes.counts);
 * using lists = device.newBuffer(bytes.lists);
 * const routing = { counts, lists };
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ggmlMapExpertsSync(encoder, { registry, ids, routing, tokens: 1, topK: 1, experts: 1 });
 * ggmlMatmulIdTensorSync(encoder, {
 *   registry, type: "q4_0", weight, input, output, routing, tokens: 1, topK: 1, experts: 1,
 *   n: 1, k: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 32);
 * ```
 */
export function ggmlMatmulIdTensorSync(
  encoder: ComputeEncoder,
  options: GgmlMatmulIdOptions,
): void {
  const plan = matmulIdPlan(
    options,
    "ggmlMatmulIdTensorSync",
    QUANTIZED_MATMUL_ID_MM_TENSOR_KERNELS,
  );
  chooseTensorKernelSync(encoder.device, plan.registry, plan.kernel);
  encodePlanSync(encoder, plan);
}
