// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/kv_cache_copy.metal`: appending new keys and values to a KV
 * cache. Two layouts: a flat cache `[capacity, rowSize]` ({@linkcode kvCacheCopy}) and the
 * head-major `[nHeads, capacity, headDim]` that attention kernels read
 * ({@linkcode kvCacheCopyBatch} for one decode token, {@linkcode kvCacheCopySeq} and
 * {@linkcode kvCacheCopySeqDual} for a run of tokens). Slots wrap modulo the capacity, so a
 * sliding-window layer's cache is a ring buffer; f32 sources can be stored as f16, and bf16
 * sources as f32. The f64 reference is `ops/kv_cache_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { kvCacheCopySeqDual } from "./kv_cache.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // 8 KV heads of 128, a 4096-slot cache in f16; 300 prompt tokens from f32 projections.
 * using k = device.newBuffer(300 * 8 * 128 * 4);
 * using v = device.newBuffer(300 * 8 * 128 * 4);
 * using cacheK = device.newBuffer(8 * 4096 * 128 * 2);
 * using cacheV = device.newBuffer(8 * 4096 * 128 * 2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await kvCacheCopySeqDual(encoder, {
 *   registry, sourceK: k, sourceV: v, cacheK, cacheV, cacheDtype: "f16",
 *   nHeads: 8, headDim: 128, capacity: 4096, seqPosStart: 0, nTokens: 300,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import { KV_COPY_N_READS } from "./_defines.ts";
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
import { KV_CACHE_COPY_KERNELS } from "../shaders/kv_cache_copy.ts";

/**
 * The catalogue names of `kv_cache_copy.metal`, by helper, source dtype and cache dtype
 * (from `shaders/kv_cache_copy.ts`).
 */
export const KV_CACHE_KERNELS: typeof KV_CACHE_COPY_KERNELS = KV_CACHE_COPY_KERNELS;

/** Every kernel name of `kv_cache_copy.metal`. */
export type KvCacheKernelName = TableNames<typeof KV_CACHE_KERNELS>;

/** Options of {@linkcode kvCacheCopy}. */
export interface KvCacheCopyOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[nNew, rowSize]` new rows of `dtype`. */
  source: DeviceBuffer;
  /** `[capacity, rowSize]` cache of `dtype`; must not be `source`. */
  cache: DeviceBuffer;
  /** Storage type of both (`"f16"`: `kv_cache_copy`, `"f32"`: `kv_cache_copy_f32`). */
  dtype: "f16" | "f32";
  /** Slot of the first new row (any value when `sliding`: taken modulo `capacity`). */
  writePos: number;
  /** Elements per row (`nKvHeads × headDim`). */
  rowSize: number;
  /** Rows to write (≤ `capacity`). */
  nNew: number;
  /** Slots in the cache. */
  capacity: number;
  /**
   * Ring buffer: row `t` goes to slot `(writePos + t) mod capacity`. Otherwise to
   * `writePos + t`, which must stay below `capacity`.
   * @default false
   */
  sliding?: boolean;
}

/** Options of {@linkcode kvCacheCopyBatch}. */
export interface KvCacheCopyBatchOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `f32[nHeads, headDim]`: one token's keys or values. */
  source: DeviceBuffer;
  /** `[nHeads, capacity, headDim]` cache of `cacheDtype`; must not be `source`. */
  cache: DeviceBuffer;
  /** Storage type of the cache. */
  cacheDtype: "f32" | "f16";
  /** Heads. */
  nHeads: number;
  /** Elements per head. */
  headDim: number;
  /** Slots per head. */
  capacity: number;
  /** The slot to write, already wrapped (`0 ≤ seqPos < capacity`). */
  seqPos: number;
}

/** Options shared by {@linkcode kvCacheCopySeq} and {@linkcode kvCacheCopySeqDual}. */
export interface KvCacheSeqShape {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Storage type of the cache(s). */
  cacheDtype: "f32" | "f16";
  /** Heads. */
  nHeads: number;
  /** Elements per head. */
  headDim: number;
  /** Slots per head. */
  capacity: number;
  /** Slot of the first copied token; token `t` goes to `(seqPosStart + t) mod capacity`. */
  seqPosStart: number;
  /** Tokens to copy (≤ `capacity`, so no two share a slot). */
  nTokens: number;
  /** First source token to copy. @default 0 */
  sourceTokenOffset?: number;
}

/** Options of {@linkcode kvCacheCopySeq}. */
export interface KvCacheCopySeqOptions extends KvCacheSeqShape {
  /** `[T, nHeads, headDim]` keys or values of `sourceDtype`, `T ≥ sourceTokenOffset + nTokens`. */
  source: DeviceBuffer;
  /** Storage type of the source (`"bf16"` only with an f32 cache). */
  sourceDtype: "f32" | "bf16";
  /** `[nHeads, capacity, headDim]` cache; must not be `source`. */
  cache: DeviceBuffer;
}

/** Options of {@linkcode kvCacheCopySeqDual}. */
export interface KvCacheCopySeqDualOptions extends KvCacheSeqShape {
  /** `f32[T, nHeads, headDim]` keys. */
  sourceK: DeviceBuffer;
  /** `f32[T, nHeads, headDim]` values. */
  sourceV: DeviceBuffer;
  /** `[nHeads, capacity, headDim]` key cache. */
  cacheK: DeviceBuffer;
  /** `[nHeads, capacity, headDim]` value cache. */
  cacheV: DeviceBuffer;
}

const SAME_BUFFER = "the copy cannot run in place";

function chunks(n: number): number {
  return Math.ceil(n / KV_COPY_N_READS);
}

function flatPlan(options: KvCacheCopyOptions): KernelPlan {
  checkRegistry("kvCacheCopy", options.registry);
  const kernel = pickKernel("kvCacheCopy", KV_CACHE_KERNELS.flat, "dtype", options.dtype);
  const rowSize = checkCount(kernel, "rowSize", options.rowSize);
  const nNew = checkCount(kernel, "nNew", options.nNew);
  const capacity = checkCount(kernel, "capacity", options.capacity);
  const sliding = options.sliding ?? false;
  if (nNew > capacity) {
    throw new RangeError(
      `Cannot encode ${kernel}: "nNew" is ${nNew}, expected at most capacity ${capacity} (two rows would share a slot)`,
    );
  }
  const writePos = sliding
    ? checkIndex(kernel, "writePos", options.writePos, U32_MAX + 1, "a u32")
    : checkIndex(
      kernel,
      "writePos",
      options.writePos,
      capacity - nNew + 1,
      `capacity ${capacity} − nNew ${nNew} + 1`,
    );
  const size = bytesPerElement(options.dtype);
  checkBuffer(
    kernel,
    "source",
    options.source,
    nNew * rowSize * size,
    sizeDetail([["nNew", nNew], ["rowSize", rowSize]], size),
  );
  checkBuffer(
    kernel,
    "cache",
    options.cache,
    capacity * rowSize * size,
    sizeDetail([["capacity", capacity], ["rowSize", rowSize]], size),
  );
  checkDistinct(kernel, ["source", "cache"], options.source, options.cache, SAME_BUFFER);
  // struct KvCopyFlatParams { uint write_pos, row_size, n_new, capacity, is_sliding; }
  const params = packParams([
    ["u32", writePos],
    ["u32", rowSize],
    ["u32", nNew],
    ["u32", capacity],
    ["u32", sliding ? 1 : 0],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.source, options.cache, params],
    geometry: (pipeline) => blockDims(pipeline, [chunks(rowSize), nNew, 1]),
  };
}

function batchPlan(options: KvCacheCopyBatchOptions): KernelPlan {
  checkRegistry("kvCacheCopyBatch", options.registry);
  const kernel = pickKernel(
    "kvCacheCopyBatch",
    KV_CACHE_KERNELS.batch.f32,
    "cacheDtype",
    options.cacheDtype,
  );
  const nHeads = checkCount(kernel, "nHeads", options.nHeads);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const capacity = checkCount(kernel, "capacity", options.capacity);
  const seqPos = checkIndex(kernel, "seqPos", options.seqPos, capacity, `capacity ${capacity}`);
  const size = bytesPerElement(options.cacheDtype);
  checkBuffer(
    kernel,
    "source",
    options.source,
    nHeads * headDim * 4,
    sizeDetail([["nHeads", nHeads], ["headDim", headDim]], 4),
  );
  checkBuffer(
    kernel,
    "cache",
    options.cache,
    nHeads * capacity * headDim * size,
    sizeDetail([["nHeads", nHeads], ["capacity", capacity], ["headDim", headDim]], size),
  );
  checkDistinct(kernel, ["source", "cache"], options.source, options.cache, SAME_BUFFER);
  // struct KvCopyBatchParams { uint n_heads, head_dim, capacity, seq_pos; }
  const params = packParams([["u32", nHeads], ["u32", headDim], ["u32", capacity], [
    "u32",
    seqPos,
  ]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.source, options.cache, params],
    geometry: (pipeline) => blockDims(pipeline, [chunks(headDim), nHeads, 1]),
  };
}

interface SeqChecked {
  params: Uint8Array;
  grid: readonly [number, number, number];
  sourceBytes: (size: number) => number;
  sourceDetail: (size: number) => string;
  cacheBytes: number;
  cacheDetail: string;
}

function checkSeqShape(kernel: string, options: KvCacheSeqShape): SeqChecked {
  const nHeads = checkCount(kernel, "nHeads", options.nHeads);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const capacity = checkCount(kernel, "capacity", options.capacity);
  const nTokens = checkCount(kernel, "nTokens", options.nTokens);
  if (nTokens > capacity) {
    throw new RangeError(
      `Cannot encode ${kernel}: "nTokens" is ${nTokens}, expected at most capacity ${capacity} (two tokens would share a slot)`,
    );
  }
  const seqPosStart = checkIndex(kernel, "seqPosStart", options.seqPosStart, U32_MAX + 1, "a u32");
  const offset = checkIndex(
    kernel,
    "sourceTokenOffset",
    options.sourceTokenOffset ?? 0,
    U32_MAX - nTokens + 2,
    "a u32 with room for nTokens",
  );
  const size = bytesPerElement(options.cacheDtype);
  // struct KvCopySeqParams { uint n_heads, head_dim, capacity, seq_pos_start, n_tokens, src_tok_offset; }
  const params = packParams([
    ["u32", nHeads],
    ["u32", headDim],
    ["u32", capacity],
    ["u32", seqPosStart],
    ["u32", nTokens],
    ["u32", offset],
  ]);
  const tokens = offset + nTokens;
  return {
    params,
    grid: [chunks(headDim), nHeads, nTokens],
    sourceBytes: (s) => tokens * nHeads * headDim * s,
    sourceDetail: (s) =>
      sizeDetail([["sourceTokenOffset + nTokens", tokens], ["nHeads", nHeads], [
        "headDim",
        headDim,
      ]], s),
    cacheBytes: nHeads * capacity * headDim * size,
    cacheDetail: sizeDetail(
      [["nHeads", nHeads], ["capacity", capacity], ["headDim", headDim]],
      size,
    ),
  };
}

function seqPlan(options: KvCacheCopySeqOptions): KernelPlan {
  checkRegistry("kvCacheCopySeq", options.registry);
  const bySource = pickKernel(
    "kvCacheCopySeq",
    KV_CACHE_KERNELS.seq,
    "sourceDtype",
    options.sourceDtype,
  );
  const kernel = pickKernel(
    `kvCacheCopySeq (sourceDtype "${options.sourceDtype}")`,
    bySource,
    "cacheDtype",
    options.cacheDtype,
  );
  const shape = checkSeqShape(kernel, options);
  const size = bytesPerElement(options.sourceDtype);
  checkBuffer(kernel, "source", options.source, shape.sourceBytes(size), shape.sourceDetail(size));
  checkBuffer(kernel, "cache", options.cache, shape.cacheBytes, shape.cacheDetail);
  checkDistinct(kernel, ["source", "cache"], options.source, options.cache, SAME_BUFFER);
  return {
    registry: options.registry,
    kernel,
    args: [options.source, options.cache, shape.params],
    usesBfloat16: options.sourceDtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, shape.grid),
  };
}

function seqDualPlan(options: KvCacheCopySeqDualOptions): KernelPlan {
  checkRegistry("kvCacheCopySeqDual", options.registry);
  const kernel = pickKernel(
    "kvCacheCopySeqDual",
    KV_CACHE_KERNELS.seqDual.f32,
    "cacheDtype",
    options.cacheDtype,
  );
  const shape = checkSeqShape(kernel, options);
  checkBuffer(kernel, "sourceK", options.sourceK, shape.sourceBytes(4), shape.sourceDetail(4));
  checkBuffer(kernel, "sourceV", options.sourceV, shape.sourceBytes(4), shape.sourceDetail(4));
  checkBuffer(kernel, "cacheK", options.cacheK, shape.cacheBytes, shape.cacheDetail);
  checkBuffer(kernel, "cacheV", options.cacheV, shape.cacheBytes, shape.cacheDetail);
  const why = "K and V need separate caches";
  checkDistinct(kernel, ["cacheK", "cacheV"], options.cacheK, options.cacheV, why);
  for (const [name, cache] of [["cacheK", options.cacheK], ["cacheV", options.cacheV]] as const) {
    checkDistinct(kernel, ["sourceK", name], options.sourceK, cache, SAME_BUFFER);
    checkDistinct(kernel, ["sourceV", name], options.sourceV, cache, SAME_BUFFER);
  }
  return {
    registry: options.registry,
    kernel,
    args: [options.sourceK, options.sourceV, options.cacheK, options.cacheV, shape.params],
    geometry: (pipeline) => blockDims(pipeline, shape.grid),
  };
}

/**
 * Encodes a copy of `nNew` rows into a flat `[capacity, rowSize]` cache
 * (`kv_cache_copy` for f16, `kv_cache_copy_f32`): `cache[slot(t)] = source[t]` with
 * `slot(t) = (writePos + t) mod capacity` when `sliding`, else `writePos + t`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, sizes and write position.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For sizes that are not positive integers, `nNew > capacity`, a
 * non-sliding write past the end, a too small buffer, or `cache === source`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopy } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two new rows of 2 into a 3-slot ring whose last slot is 2: the second wraps to slot 0.
 * using kNew = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using kCache = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await kvCacheCopy(encoder, {
 *   registry, source: kNew, cache: kCache, dtype: "f32",
 *   writePos: 2, rowSize: 2, nNew: 2, capacity: 3, sliding: true,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(kCache.contents)], [3, 4, 0, 0, 1, 2]);
 * ```
 */
export async function kvCacheCopy(
  encoder: ComputeEncoder,
  options: KvCacheCopyOptions,
): Promise<void> {
  await encodePlan(encoder, flatPlan(options));
}

/**
 * {@linkcode kvCacheCopy}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, sizes and write position.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or positions, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopySync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using source = device.newBuffer(new Float32Array([7, 8]));
 * using cache = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * kvCacheCopySync(encoder, {
 *   registry, source, cache, dtype: "f32", writePos: 1, rowSize: 2, nNew: 1, capacity: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(cache.contents)], [0, 0, 7, 8]);
 * ```
 */
export function kvCacheCopySync(encoder: ComputeEncoder, options: KvCacheCopyOptions): void {
  encodePlanSync(encoder, flatPlan(options));
}

/**
 * Encodes one decode token's keys or values into a head-major cache
 * (`kv_cache_copy_batch_f32`, `kv_cache_copy_batch_f32_to_f16`):
 * `cache[h][seqPos][e] = source[h][e]`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, cache dtype, sizes and slot.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `cacheDtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `seqPos ≥ capacity`, a too small buffer, or
 * `cache === source`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopyBatch } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One token of 2 heads (head dim 1) into slot 1 of a head-major [2, 2, 1] cache.
 * using kToken = device.newBuffer(new Float32Array([7, 8]));
 * using kCache = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await kvCacheCopyBatch(encoder, {
 *   registry, source: kToken, cache: kCache, cacheDtype: "f32",
 *   nHeads: 2, headDim: 1, capacity: 2, seqPos: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(kCache.contents)], [0, 7, 0, 8]);
 * ```
 */
export async function kvCacheCopyBatch(
  encoder: ComputeEncoder,
  options: KvCacheCopyBatchOptions,
): Promise<void> {
  await encodePlan(encoder, batchPlan(options));
}

/**
 * {@linkcode kvCacheCopyBatch}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, cache dtype, sizes and slot.
 * @throws {TypeError} For an unsupported `cacheDtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or slot, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, kvCacheCopyBatchSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using source = device.newBuffer(new Float32Array([0.5, 1.5]));
 * using cache = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * kvCacheCopyBatchSync(encoder, {
 *   registry, source, cache, cacheDtype: "f16", nHeads: 1, headDim: 2, capacity: 2, seqPos: 0,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", cache.contents, 4)], [0.5, 1.5, 0, 0]);
 * ```
 */
export function kvCacheCopyBatchSync(
  encoder: ComputeEncoder,
  options: KvCacheCopyBatchOptions,
): void {
  encodePlanSync(encoder, batchPlan(options));
}

/**
 * Encodes a run of tokens into a head-major cache (`kv_cache_copy_seq_f32`,
 * `kv_cache_copy_seq_f32_to_f16`, `kv_cache_copy_seq_bf16` for a bf16 source into an f32
 * cache): `cache[h][(seqPosStart + t) mod capacity][e] = source[sourceTokenOffset + t][h][e]`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtypes, sizes and positions.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported dtype pair or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `nTokens > capacity`, a too small buffer, or
 * `cache === source`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopySeq } from "../mod.ts";
 * import { kvCacheCopySeqRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two tokens of 2 heads × 2 into slots 1 and 2 of a head-major cache.
 * const k = [1, 2, 3, 4, 5, 6, 7, 8];
 * using source = device.newBuffer(new Float32Array(k));
 * using cache = device.newBuffer(64);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await kvCacheCopySeq(encoder, {
 *   registry, source, sourceDtype: "f32", cache, cacheDtype: "f32", nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = kvCacheCopySeqRef(new Float64Array(16), k, { nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2 });
 * assert.deepStrictEqual([...new Float32Array(cache.contents)], [...expected]);
 * ```
 */
export async function kvCacheCopySeq(
  encoder: ComputeEncoder,
  options: KvCacheCopySeqOptions,
): Promise<void> {
  await encodePlan(encoder, seqPlan(options));
}

/**
 * {@linkcode kvCacheCopySeq}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtypes, sizes and positions.
 * @throws {TypeError} For an unsupported dtype pair or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `nTokens > capacity` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopySeqSync } from "../mod.ts";
 * import { kvCacheCopySeqRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const k = [1, 2, 3, 4, 5, 6, 7, 8];
 * using source = device.newBuffer(new Float32Array(k));
 * using cache = device.newBuffer(64);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * kvCacheCopySeqSync(encoder, {
 *   registry, source, sourceDtype: "f32", cache, cacheDtype: "f32", nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = kvCacheCopySeqRef(new Float64Array(16), k, { nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2 });
 * assert.deepStrictEqual([...new Float32Array(cache.contents)], [...expected]);
 * ```
 */
export function kvCacheCopySeqSync(encoder: ComputeEncoder, options: KvCacheCopySeqOptions): void {
  encodePlanSync(encoder, seqPlan(options));
}

/**
 * Encodes {@linkcode kvCacheCopySeq} for keys and values in one dispatch
 * (`kv_cache_copy_seq_f32_kv_dual`, `kv_cache_copy_seq_f32_to_f16_kv_dual`; f32 sources).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, the four buffers, cache dtype, sizes and positions.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `cacheDtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `nTokens > capacity`, a too small buffer, or shared
 * buffers (`cacheK === cacheV`, a source that is a cache).
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopySeqDual } from "../mod.ts";
 * import { kvCacheCopySeqRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const k = [1, 2, 3, 4, 5, 6, 7, 8];
 * const v = k.map((x) => -x);
 * using sourceK = device.newBuffer(new Float32Array(k));
 * using sourceV = device.newBuffer(new Float32Array(v));
 * using cacheK = device.newBuffer(64);
 * using cacheV = device.newBuffer(64);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await kvCacheCopySeqDual(encoder, {
 *   registry, sourceK, sourceV, cacheK, cacheV, cacheDtype: "f32", nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const options = { nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2 };
 * assert.deepStrictEqual([...new Float32Array(cacheK.contents)], [...kvCacheCopySeqRef(new Float64Array(16), k, options)]);
 * assert.deepStrictEqual([...new Float32Array(cacheV.contents)], [...kvCacheCopySeqRef(new Float64Array(16), v, options)]);
 * ```
 */
export async function kvCacheCopySeqDual(
  encoder: ComputeEncoder,
  options: KvCacheCopySeqDualOptions,
): Promise<void> {
  await encodePlan(encoder, seqDualPlan(options));
}

/**
 * {@linkcode kvCacheCopySeqDual}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, the four buffers, cache dtype, sizes and positions.
 * @throws {TypeError} For an unsupported `cacheDtype` or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer or shared buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, kvCacheCopySeqDualSync } from "../mod.ts";
 * import { kvCacheCopySeqRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const k = [1, 2, 3, 4, 5, 6, 7, 8];
 * const v = k.map((x) => -x);
 * using sourceK = device.newBuffer(new Float32Array(k));
 * using sourceV = device.newBuffer(new Float32Array(v));
 * using cacheK = device.newBuffer(64);
 * using cacheV = device.newBuffer(64);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * kvCacheCopySeqDualSync(encoder, {
 *   registry, sourceK, sourceV, cacheK, cacheV, cacheDtype: "f32", nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const options = { nHeads: 2, headDim: 2, capacity: 4, seqPosStart: 1, nTokens: 2 };
 * assert.deepStrictEqual([...new Float32Array(cacheK.contents)], [...kvCacheCopySeqRef(new Float64Array(16), k, options)]);
 * assert.deepStrictEqual([...new Float32Array(cacheV.contents)], [...kvCacheCopySeqRef(new Float64Array(16), v, options)]);
 * ```
 */
export function kvCacheCopySeqDualSync(
  encoder: ComputeEncoder,
  options: KvCacheCopySeqDualOptions,
): void {
  encodePlanSync(encoder, seqDualPlan(options));
}
