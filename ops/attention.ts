// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the plain attention kernels: {@linkcode sdpa} (`sdpa.metal`, and
 * `sdpa_sliding.metal` when a window is given: causal attention over a KV cache, one thread
 * per query row) and {@linkcode sdpaDecode} (`sdpa_decode.metal`: one query token per head,
 * the keys split over SIMD-groups). The split-K decode and the tiled prefill kernels have
 * their own modules (`flash_attn_vec.ts`, `flash_attn_prefill.ts`); all of them compute
 * `softmax(scale · Q·Kᵀ + mask) · V` as `attentionRef` (`ops/attention_ref.ts`) describes.
 *
 * Layouts: Q and the output `[batch, nHeads, qLen, headDim]`; K and V
 * `[batch, nKvHeads, kvCapacity, headDim]` of which the first `kvLen` positions are valid.
 * Query head `h` reads KV head `h / (nHeads / nKvHeads)`. The queries are the last `qLen`
 * tokens of the cache: query row `i` sits at position `kvLen − qLen + i` and sees keys up to
 * it (right-aligned causal masking). A row that sees no key is written as zeros.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { sdpa } from "./attention.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One head, D = 1: the second query (position 1) averages both values.
 * using q = device.newBuffer(new Float32Array([0, 0]));
 * using k = device.newBuffer(new Float32Array([1, 1]));
 * using v = device.newBuffer(new Float32Array([10, 20]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await sdpa(encoder, {
 *   registry, q, k, v, output, dtype: "f32",
 *   nHeads: 1, nKvHeads: 1, headDim: 1, qLen: 2, kvLen: 2, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // [10, 15]
 * ```
 *
 * @module
 */
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { SDPA_KERNELS } from "../shaders/sdpa.ts";
import { SDPA_DECODE_KERNELS } from "../shaders/sdpa_decode.ts";
import { SDPA_SLIDING_KERNELS } from "../shaders/sdpa_sliding.ts";
import {
  type AttentionBuffers,
  type AttentionSizes,
  checkAttentionBuffers,
  checkAttentionSizes,
  checkWindow,
} from "./_attention_shape.ts";
import { SDPA_DECODE_MAX_HEAD_DIM, SDPA_MAX_HEAD_DIM, SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkRegistry, pickKernel } from "./_validate.ts";

/** The catalogue names of `sdpa.metal`, `sdpa_sliding.metal` and `sdpa_decode.metal`. */
export { SDPA_DECODE_KERNELS, SDPA_KERNELS, SDPA_SLIDING_KERNELS };

/** The sizes and buffers every attention op takes (shared by the attention op modules). */
export type { AttentionBuffers, AttentionSizes } from "./_attention_shape.ts";

/** Every kernel name of `sdpa.metal`, `sdpa_sliding.metal` and `sdpa_decode.metal`. */
export type SdpaKernelName =
  | TableNames<typeof SDPA_KERNELS>
  | TableNames<typeof SDPA_SLIDING_KERNELS>
  | TableNames<typeof SDPA_DECODE_KERNELS>;

/** Options of {@linkcode sdpa}. */
export interface SdpaOptions extends AttentionSizes, AttentionBuffers {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Storage type of Q, K, V and the output (arithmetic is f32). */
  dtype: "f32" | "bf16";
  /** Query rows per head: the last `qLen` positions of the cache. */
  qLen: number;
  /**
   * Sliding window: a query at position `p` sees keys `p − window … p`, that is
   * `window + 1` keys (`sdpa_sliding`'s convention; `attentionRef` with
   * `windowKeys: "size+1"`). Omitted: every key up to the query.
   */
  window?: number;
}

/** Options of {@linkcode sdpaDecode}: one query token per head, every cached key visible. */
export interface SdpaDecodeOptions extends AttentionSizes, AttentionBuffers {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
}

const F32 = bytesPerElement("f32");
const BF16 = bytesPerElement("bf16");

function sdpaPlan(options: SdpaOptions): KernelPlan {
  checkRegistry("sdpa", options.registry);
  const sliding = options.window !== undefined;
  const kernel = pickKernel(
    "sdpa",
    sliding ? SDPA_SLIDING_KERNELS : SDPA_KERNELS,
    "dtype",
    options.dtype,
  );
  const s = checkAttentionSizes(kernel, options, options.qLen, { max: SDPA_MAX_HEAD_DIM });
  checkAttentionBuffers(kernel, s, options, options.dtype === "f32" ? F32 : BF16);
  const common = [
    ["u32", s.nHeads],
    ["u32", s.nKvHeads],
    ["u32", s.headDim],
    ["u32", s.qLen],
    ["u32", s.kvLen],
  ] as const;
  // struct SdpaParams { n_heads, n_kv_heads, head_dim, seq_len, kv_len; float scale;
  // kv_capacity } — SdpaSlidingParams has `window` before `scale`.
  const params = packParams([
    ...common,
    ...(sliding ? [["u32", checkWindow(kernel, options.window)] as const] : []),
    ["f32", s.scale],
    ["u32", s.kvCapacity],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.q, options.k, options.v, options.output, params],
    usesBfloat16: options.dtype === "bf16",
    geometry: () => ({
      kind: "threadgroups",
      grid: [Math.ceil(s.qLen / SIMD_WIDTH), s.nHeads, s.batch],
      threadgroup: [SIMD_WIDTH, 1, 1],
    }),
  };
}

/**
 * SIMD-groups `sdpa_decode` splits the keys over: one for a short cache, up to four (the
 * merge costs one pass over `n_sg · headDim` floats, worth it once each group has keys).
 *
 * @param kvLen Valid keys.
 * @returns 1, 2 or 4.
 */
export function sdpaDecodeSimdgroups(kvLen: number): number {
  return kvLen < 32 ? 1 : kvLen < 128 ? 2 : 4;
}

function sdpaDecodePlan(options: SdpaDecodeOptions): KernelPlan {
  checkRegistry("sdpaDecode", options.registry);
  const kernel = SDPA_DECODE_KERNELS.f32;
  const s = checkAttentionSizes(kernel, { ...options, batch: options.batch ?? 1 }, 1, {
    max: SDPA_DECODE_MAX_HEAD_DIM,
    multipleOf: SIMD_WIDTH,
  });
  if (s.batch !== 1) {
    throw new RangeError(
      `Cannot encode ${kernel}: "batch" is ${s.batch}, expected 1 (one decode token per head)`,
    );
  }
  checkAttentionBuffers(kernel, s, options, F32);
  const nSg = sdpaDecodeSimdgroups(s.kvLen);
  // struct SdpaDecodeParams { n_heads, n_kv_heads, head_dim, kv_len, kv_capacity; float scale; n_sg }
  const params = packParams([
    ["u32", s.nHeads],
    ["u32", s.nKvHeads],
    ["u32", s.headDim],
    ["u32", s.kvLen],
    ["u32", s.kvCapacity],
    ["f32", s.scale],
    ["u32", nSg],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.q, options.k, options.v, options.output, params],
    // Metal wants threadgroup lengths in multiples of 16 bytes.
    threadgroupMemory: [Math.ceil(nSg * (s.headDim + 2) * F32 / 16) * 16],
    geometry: () => ({
      kind: "threadgroups",
      grid: [s.nHeads, 1, 1],
      threadgroup: [SIMD_WIDTH * nSg, 1, 1],
    }),
  };
}

/**
 * Encodes causal attention over a KV cache, one thread per query row (`sdpa`, `sdpa_bf16`;
 * with `window`, `sdpa_sliding`, `sdpa_sliding_bf16`). Queries are right-aligned to the
 * cache; rows that see no key are zeros.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, sizes, scale and optional window.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown dtype.
 * @throws {RangeError} For sizes that are not positive integers, `nHeads` not a multiple of
 * `nKvHeads`, `headDim` above 512, `kvCapacity < kvLen`, a bad window or scale, a too small
 * buffer, or an output that is K or V.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { attentionRef } from "../reference.ts";
 * import { Device, KernelRegistry, sdpa } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const q = [1, 0, 0, 1], k = [1, 0, 0, 1, 1, 1], v = [1, 2, 3, 4, 5, 6];
 * using qb = device.newBuffer(new Float32Array(q));
 * using kb = device.newBuffer(new Float32Array(k));
 * using vb = device.newBuffer(new Float32Array(v));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * const sizes = { nHeads: 1, nKvHeads: 1, headDim: 2, qLen: 2, kvLen: 3, scale: 0.5 };
 * await sdpa(encoder, { registry, q: qb, k: kb, v: vb, output, dtype: "f32", ...sizes, window: 1 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = attentionRef({ q, k, v, ...sizes, causal: true, window: 1, windowKeys: "size+1" });
 * new Float32Array(output.contents).forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-5));
 * ```
 */
export async function sdpa(encoder: ComputeEncoder, options: SdpaOptions): Promise<void> {
  await encodePlan(encoder, sdpaPlan(options));
}

/**
 * {@linkcode sdpa}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, sizes, scale and optional window.
 * @throws {TypeError} For a missing buffer or registry, or an unknown dtype.
 * @throws {RangeError} For bad sizes, window or scale, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, sdpaSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array([1]));
 * using kv = device.newBuffer(new Float32Array([7]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * sdpaSync(encoder, {
 *   registry, q, k: kv, v: kv, output, dtype: "f32",
 *   nHeads: 1, nKvHeads: 1, headDim: 1, qLen: 1, kvLen: 1, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 7); // one key: its value
 * ```
 */
export function sdpaSync(encoder: ComputeEncoder, options: SdpaOptions): void {
  encodePlanSync(encoder, sdpaPlan(options));
}

/**
 * Encodes single-token decode attention (`sdpa_decode`, f32): Q and the output `[nHeads,
 * headDim]`, every one of the `kvLen` cached keys visible; the keys are split over 1, 2 or 4
 * SIMD-groups ({@linkcode sdpaDecodeSimdgroups}) and merged in threadgroup memory.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and scale (`headDim` a multiple of 32, ≤ 512).
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes (including `batch` other than 1), scale or buffers.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, sdpaDecode } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array(32));
 * using k = device.newBuffer(new Float32Array(64));
 * using v = device.newBuffer(new Float32Array(64).map((_, i) => i < 32 ? 1 : 3));
 * using output = device.newBuffer(128);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await sdpaDecode(encoder, {
 *   registry, q, k, v, output, nHeads: 1, nKvHeads: 1, headDim: 32, kvLen: 2, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(new Float32Array(output.contents).every((x) => Math.abs(x - 2) < 1e-6)); // mean
 * ```
 */
export async function sdpaDecode(
  encoder: ComputeEncoder,
  options: SdpaDecodeOptions,
): Promise<void> {
  await encodePlan(encoder, sdpaDecodePlan(options));
}

/**
 * {@linkcode sdpaDecode}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and scale.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, scale or buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, sdpaDecodeSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array(32));
 * using kv = device.newBuffer(new Float32Array(32).fill(5));
 * using output = device.newBuffer(128);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * sdpaDecodeSync(encoder, {
 *   registry, q, k: kv, v: kv, output, nHeads: 1, nKvHeads: 1, headDim: 32, kvLen: 1, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[31], 5);
 * ```
 */
export function sdpaDecodeSync(encoder: ComputeEncoder, options: SdpaDecodeOptions): void {
  encodePlanSync(encoder, sdpaDecodePlan(options));
}
