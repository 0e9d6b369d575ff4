// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the TurboQuant KV cache: the Hadamard rotations
 * (`shaders/fwht_standalone.metal`), the encoders that write tokens into the quantised cache
 * (`hadamard_quantize_kv_fast.metal`) and the decoders that read positions back
 * (`tq_dequantize_kv.metal`). The f64 references are in `ops/turboquant_ref.ts`; the scheme is
 * described there and in `docs/turboquant.md`.
 *
 * A cache for one layer's K (or V) is two buffers: `packed` (`[nKvHeads, kvCapacity, rowBytes]`
 * bytes, `rowBytes` = `headDim/2` for the 4-bit codebook and `headDim` for 5/6/8 bits) and
 * `norms` (`[nKvHeads, kvCapacity, headDim/256]` f32). {@linkcode turboquantCacheBytes} gives
 * their sizes. Values in the cache are in the rotated domain `T(x) = H·(s ⊙ x)/√D`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { turboquantCacheBytes, turboquantDequantizeKv, turboquantEncodeKv } from "./turboquant.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const cache = { nKvHeads: 1, headDim: 256, kvCapacity: 4, bits: 8 } as const;
 * const bytes = turboquantCacheBytes(cache);
 * using packed = device.newBuffer(bytes.packed);
 * using norms = device.newBuffer(bytes.norms);
 * using source = device.newBuffer(new Float32Array(256).fill(1));
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await turboquantEncodeKv(encoder, { registry, ...cache, packed, norms, source, position: 2 });
 * await turboquantDequantizeKv(encoder, { registry, ...cache, packed, norms, output, slot: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(Math.abs(new Float32Array(norms.contents)[2] - 16) < 1e-4); // ‖x‖ = √256
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FWHT_KERNELS } from "../shaders/fwht_standalone.ts";
import { TQ_ENCODE_KERNELS } from "../shaders/hadamard_quantize_kv_fast.ts";
import { TQ_DEQUANTIZE_KERNELS } from "../shaders/tq_dequantize_kv.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkFinite,
  checkIndex,
  checkRegistry,
  pickKernel,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { FwhtSigns, TurboquantBits, TurboquantHeadDim } from "./turboquant_ref.ts";

/** The catalogue names of the TurboQuant shaders (their tables sit beside the `.metal` files). */
export { FWHT_KERNELS, TQ_DEQUANTIZE_KERNELS, TQ_ENCODE_KERNELS };

/** Every kernel name of `fwht_standalone.metal`, `hadamard_quantize_kv_fast.metal` and `tq_dequantize_kv.metal`. */
export type TurboquantKernelName = TableNames<
  typeof FWHT_KERNELS | typeof TQ_ENCODE_KERNELS | typeof TQ_DEQUANTIZE_KERNELS
>;

const F32 = 4;

/**
 * Host-only: heads (SIMD-groups) per FWHT threadgroup on a GPU. One 32-lane group per
 * threadgroup would leave Apple GPU cores short of resident threads (they cap threadgroups per
 * core); four fill 128-thread groups. The CPU backend uses one: its threads are fibers per
 * threadgroup, and small groups spread better over its workers.
 */
const FWHT_GPU_HEADS_PER_THREADGROUP = 4;

// ---- Rotations -------------------------------------------------------------------------------

/** Options of {@linkcode fwht}. */
export interface FwhtOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[heads, headDim]` f32, transformed in place. */
  data: DeviceBuffer;
  /** Rows to transform (heads × tokens). */
  heads: number;
  /** 256 or 512. */
  headDim: TurboquantHeadDim;
  /**
   * `"premultiply"`: `T(x) = H·(s ⊙ x)/√D` (rotate a query into the cache's domain);
   * `"undo"`: `T⁻¹(x) = s ⊙ (H·x)/√D` (rotate an attention output back); `"none"`: `H·x/√D`.
   */
  signs: FwhtSigns;
}

function fwhtPlan(options: FwhtOptions): KernelPlan {
  checkRegistry("fwht", options.registry);
  const byDim = pickKernel("fwht", FWHT_KERNELS, "signs", options.signs);
  const headDim = checkHeadDim("fwht", options.headDim);
  const kernel = byDim[headDim];
  const heads = checkCount(kernel, "heads", options.heads);
  checkBuffer(
    kernel,
    "data",
    options.data,
    heads * headDim * F32,
    sizeDetail([["heads", heads], ["headDim", headDim]], F32),
  );
  return {
    registry: options.registry,
    kernel,
    // struct FwhtParams { uint head_dim; uint num_heads; }
    args: [options.data, packParams([["u32", headDim], ["u32", heads]])],
    geometry: (_pipeline, backend) => {
      const perGroup = backend === "cpu" ? 1 : Math.min(FWHT_GPU_HEADS_PER_THREADGROUP, heads);
      return {
        kind: "threadgroups",
        grid: [Math.ceil(heads / perGroup), 1, 1],
        threadgroup: [SIMD_WIDTH * perGroup, 1, 1],
      };
    },
  };
}

/**
 * Encodes the orthonormal fast Walsh–Hadamard transform of each row of `data`, in place, with
 * the TurboQuant signs before it (`"premultiply"`), after it (`"undo"`) or none
 * (`fwht_standalone_f32_d*`, `fwht_sign_premult_f32_d*`, `fwht_sign_undo_f32_d*`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffer, heads, head dimension and sign placement.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or unknown `signs`.
 * @throws {RangeError} For a `headDim` other than 256/512, a bad `heads` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fwht, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = new Float32Array(256);
 * x[0] = 16;
 * using data = device.newBuffer(x);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await fwht(encoder, { registry, data, heads: 1, headDim: 256, signs: "none" });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(new Float32Array(data.contents).every((v) => v === 1)); // H·(16 e₀)/16
 * ```
 */
export async function fwht(encoder: ComputeEncoder, options: FwhtOptions): Promise<void> {
  await encodePlan(encoder, fwhtPlan(options));
}

/**
 * {@linkcode fwht}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffer, heads, head dimension and sign placement.
 * @throws {TypeError} For a missing buffer or registry, or unknown `signs`.
 * @throws {RangeError} For a `headDim` other than 256/512, a bad `heads` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, fwhtSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using data = device.newBuffer(new Float32Array(512).fill(1));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * fwhtSync(encoder, { registry, data, heads: 1, headDim: 512, signs: "none" });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(data.contents)[0] - Math.sqrt(512)) < 1e-3);
 * ```
 */
export function fwhtSync(encoder: ComputeEncoder, options: FwhtOptions): void {
  encodePlanSync(encoder, fwhtPlan(options));
}

// ---- The cache --------------------------------------------------------------------------------

/** The shape of one TurboQuant cache (one layer's K or V). */
export interface TurboquantCacheShape {
  /** KV heads. */
  nKvHeads: number;
  /** 256 or 512. */
  headDim: TurboquantHeadDim;
  /** Positions per head. */
  kvCapacity: number;
  /** Codebook size: 4 (two indices per byte) or 5, 6, 8 (one per byte). */
  bits: TurboquantBits;
}

/**
 * The byte sizes of a cache's two buffers.
 *
 * @param shape Heads, head dimension, capacity and codebook size.
 * @returns `packed`: `nKvHeads·kvCapacity·rowBytes`; `norms`: `nKvHeads·kvCapacity·headDim/256·4`.
 *
 * @example Usage
 * ```ts
 * import { turboquantCacheBytes } from "./turboquant.ts";
 * import assert from "node:assert";
 *
 * const bytes = turboquantCacheBytes({ nKvHeads: 8, headDim: 256, kvCapacity: 1024, bits: 4 });
 * assert.deepStrictEqual(bytes, { packed: 8 * 1024 * 128, norms: 8 * 1024 * 4 });
 * ```
 */
export function turboquantCacheBytes(shape: TurboquantCacheShape): {
  packed: number;
  norms: number;
} {
  const rows = shape.nKvHeads * shape.kvCapacity;
  return {
    packed: rows * (shape.bits === 4 ? shape.headDim / 2 : shape.headDim),
    norms: rows * (shape.headDim / 256) * F32,
  };
}

/** Options shared by the encoders and decoders: the cache. */
export interface TurboquantCacheOptions extends TurboquantCacheShape {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[nKvHeads, kvCapacity, rowBytes]` codebook indices. */
  packed: DeviceBuffer;
  /** `[nKvHeads, kvCapacity, headDim/256]` f32 norms. */
  norms: DeviceBuffer;
  /**
   * D = 512 only: each 256-block's RMS maps to this value before quantising, and decoding
   * divides by it (default 1: unit RMS, what the N(0, 1) codebooks are made for).
   */
  scaleFactor?: number;
}

interface CheckedCache {
  nKvHeads: number;
  headDim: TurboquantHeadDim;
  kvCapacity: number;
  bits: TurboquantBits;
  scaleFactor: number;
}

function checkChoice<T extends number>(
  subject: string,
  name: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (choices.includes(value as T)) return value as T;
  const expected = `expected ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
  if (typeof value !== "number") {
    throw new TypeError(`Cannot encode ${subject}: "${name}" is ${typeof value}, ${expected}`);
  }
  throw new RangeError(`Cannot encode ${subject}: "${name}" is ${value}, ${expected}`);
}

function checkHeadDim(subject: string, value: unknown): TurboquantHeadDim {
  return checkChoice(subject, "headDim", value, [256, 512]);
}

function checkBits(subject: string, value: unknown): TurboquantBits {
  return checkChoice(subject, "bits", value, [4, 5, 6, 8]);
}

function checkCache(kernel: string, options: TurboquantCacheOptions): CheckedCache {
  const headDim = checkHeadDim(kernel, options.headDim);
  const bits = checkBits(kernel, options.bits);
  const nKvHeads = checkCount(kernel, "nKvHeads", options.nKvHeads);
  const kvCapacity = checkCount(kernel, "kvCapacity", options.kvCapacity);
  const scaleFactor = checkFinite(kernel, "scaleFactor", options.scaleFactor ?? 1);
  if (!(scaleFactor > 0)) {
    throw new RangeError(
      `Cannot encode ${kernel}: "scaleFactor" is ${scaleFactor}, expected a positive number`,
    );
  }
  const shape = { nKvHeads, headDim, kvCapacity, bits };
  const bytes = turboquantCacheBytes(shape);
  const rowBytes = bits === 4 ? headDim / 2 : headDim;
  checkBuffer(
    kernel,
    "packed",
    options.packed,
    bytes.packed,
    sizeDetail([["nKvHeads", nKvHeads], ["kvCapacity", kvCapacity], ["row", rowBytes]], 1),
  );
  checkBuffer(
    kernel,
    "norms",
    options.norms,
    bytes.norms,
    sizeDetail([["nKvHeads", nKvHeads], ["kvCapacity", kvCapacity], ["norms", headDim / 256]], F32),
  );
  return { ...shape, scaleFactor };
}

/** Options of {@linkcode turboquantEncodeKv}. */
export interface TurboquantEncodeOptions extends TurboquantCacheOptions {
  /** `[tokens, nKvHeads, headDim]` f32: the new tokens' K (or V) rows, unrotated. */
  source: DeviceBuffer;
  /** Position of the first token. */
  position: number;
  /** Tokens to write (default 1); token `t` goes to position `position + t`. */
  tokens?: number;
  /**
   * A ring buffer (sliding-window layer): position `p` is stored at slot `p mod kvCapacity`, and
   * at most `kvCapacity` tokens are written per call. Otherwise positions must be below
   * `kvCapacity`. Default false.
   */
  sliding?: boolean;
  /**
   * 4-bit only: `[tokens, nKvHeads, headDim]` f32 receiving each coordinate's quantiser input
   * (the rotated, scaled value), to inspect how well the codebook fits.
   */
  probe?: DeviceBuffer;
}

function encodePlanOf(options: TurboquantEncodeOptions): KernelPlan {
  checkRegistry("turboquantEncodeKv", options.registry);
  const bits = checkBits("turboquantEncodeKv", options.bits);
  const headDim = checkHeadDim("turboquantEncodeKv", options.headDim);
  const kernel = TQ_ENCODE_KERNELS[bits === 4 ? "nibble" : "byte"][headDim];
  const cache = checkCache(kernel, options);
  const tokens = checkCount(kernel, "tokens", options.tokens ?? 1);
  const sliding = options.sliding ?? false;
  if (typeof sliding !== "boolean") {
    throw new TypeError(`Cannot encode ${kernel}: "sliding" is ${sliding}, expected a boolean`);
  }
  if (sliding) {
    checkIndex(kernel, "position", options.position, U32_MAX - tokens + 2, "the uint range");
    if (tokens > cache.kvCapacity) {
      throw new RangeError(
        `Cannot encode ${kernel}: ${tokens} tokens into a ring of capacity ${cache.kvCapacity}, expected at most ${cache.kvCapacity} (earlier tokens would be overwritten in the same dispatch; write only the last ${cache.kvCapacity})`,
      );
    }
  } else {
    checkIndex(
      kernel,
      "position",
      options.position,
      cache.kvCapacity - tokens + 1,
      `kvCapacity ${cache.kvCapacity} − tokens ${tokens} + 1 (not sliding: every position must be below kvCapacity)`,
    );
  }
  const vectors = sizeDetail(
    [["tokens", tokens], ["nKvHeads", cache.nKvHeads], ["headDim", cache.headDim]],
    F32,
  );
  const sourceBytes = tokens * cache.nKvHeads * cache.headDim * F32;
  checkBuffer(kernel, "source", options.source, sourceBytes, vectors);
  const head = [
    ["u32", cache.headDim],
    ["u32", cache.nKvHeads],
    ["u32", options.position],
    ["u32", cache.kvCapacity],
    ["u32", sliding ? 1 : 0],
    ["f32", cache.scaleFactor],
  ] as const;
  let args;
  if (cache.bits === 4) {
    if (options.probe !== undefined) {
      checkBuffer(kernel, "probe", options.probe, sourceBytes, vectors);
    }
    // struct TqEncodeParams { head_dim, num_kv_heads, write_pos, cache_capacity, is_sliding;
    //                         float scale_factor_d512; uint rms_probe_enabled; }
    const params = packParams([...head, ["u32", options.probe ? 1 : 0]]);
    args = [options.source, options.packed, options.norms, params, options.probe ?? options.norms];
  } else {
    if (options.probe !== undefined) {
      throw new TypeError(
        `Cannot encode ${kernel}: "probe" is only written by the 4-bit encoder, got bits ${cache.bits}`,
      );
    }
    // struct TqEncodeHbParams { …the six fields above…; uint codebook_bits; }
    const params = packParams([...head, ["u32", cache.bits]]);
    args = [options.source, options.packed, options.norms, params];
  }
  return {
    registry: options.registry,
    kernel,
    args,
    geometry: () => ({
      kind: "threadgroups",
      grid: [cache.nKvHeads, tokens, 1],
      threadgroup: [SIMD_WIDTH, 1, 1],
    }),
  };
}

/**
 * Encodes tokens into a TurboQuant cache: each KV head's row is rotated, scaled and quantised
 * to the `bits`-bit Lloyd–Max codebook, and its norm(s) stored (`hadamard_quantize_kv_fast_d*`
 * for 4 bits, `hadamard_quantize_kv_hb_d*` for 5, 6 and 8).
 *
 * @param encoder An open compute encoder.
 * @param options The cache, the source rows, the first position and the token count.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, an unknown `bits`/`headDim`, or a probe
 * with a byte-per-index codebook.
 * @throws {RangeError} For bad counts, a position past `kvCapacity` (not sliding), more tokens
 * than a ring holds, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantEncodeKv } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using source = device.newBuffer(new Float32Array(2 * 256).fill(-3)); // 2 tokens, 1 head
 * using packed = device.newBuffer(4 * 128);
 * using norms = device.newBuffer(4 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * const cache = { packed, norms, nKvHeads: 1, headDim: 256, kvCapacity: 4, bits: 4 } as const;
 * await turboquantEncodeKv(encoder, { registry, ...cache, source, position: 3, tokens: 2, sliding: true });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const n = new Float32Array(norms.contents); // positions 3 and 4 → slots 3 and 0
 * assert.ok(Math.abs(n[3] - 48) < 1e-3 && Math.abs(n[0] - 48) < 1e-3 && n[1] === 0);
 * ```
 */
export async function turboquantEncodeKv(
  encoder: ComputeEncoder,
  options: TurboquantEncodeOptions,
): Promise<void> {
  await encodePlan(encoder, encodePlanOf(options));
}

/**
 * {@linkcode turboquantEncodeKv}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options The cache, the source rows, the first position and the token count.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `bits`/`headDim`.
 * @throws {RangeError} For bad counts or positions, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantEncodeKvSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using source = device.newBuffer(new Float32Array(512).fill(2));
 * using packed = device.newBuffer(512);
 * using norms = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * turboquantEncodeKvSync(encoder, {
 *   registry, source, packed, norms, nKvHeads: 1, headDim: 512, kvCapacity: 1, bits: 6, position: 0,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * // The two block RMS values share ‖T(x)‖² = ‖x‖² = 2048: n₀² + n₁² = 2048/256 = 8.
 * const n = new Float32Array(norms.contents);
 * assert.ok(Math.abs(n[0] ** 2 + n[1] ** 2 - 8) < 1e-4);
 * ```
 */
export function turboquantEncodeKvSync(
  encoder: ComputeEncoder,
  options: TurboquantEncodeOptions,
): void {
  encodePlanSync(encoder, encodePlanOf(options));
}

/** Options of {@linkcode turboquantDequantizeKv}. */
export interface TurboquantDequantizeOptions extends TurboquantCacheOptions {
  /** `[positions, nKvHeads, headDim]` f32: the dequantised rows, in the rotated domain. */
  output: DeviceBuffer;
  /** Slot of the first position to read (already wrapped: below `kvCapacity`). */
  slot: number;
  /** Positions to read (default 1): slots `slot, slot + 1, …` modulo `kvCapacity`. */
  positions?: number;
}

function dequantizePlanOf(options: TurboquantDequantizeOptions): KernelPlan {
  checkRegistry("turboquantDequantizeKv", options.registry);
  checkHeadDim("turboquantDequantizeKv", options.headDim);
  const kernel = TQ_DEQUANTIZE_KERNELS[
    checkBits("turboquantDequantizeKv", options.bits) === 4 ? "nibble" : "byte"
  ];
  const cache = checkCache(kernel, options);
  const slot = checkIndex(
    kernel,
    "slot",
    options.slot,
    cache.kvCapacity,
    `kvCapacity ${cache.kvCapacity}`,
  );
  const positions = checkCount(kernel, "positions", options.positions ?? 1);
  if (positions > cache.kvCapacity) {
    throw new RangeError(
      `Cannot encode ${kernel}: "positions" is ${positions}, expected at most kvCapacity ${cache.kvCapacity}`,
    );
  }
  checkBuffer(
    kernel,
    "output",
    options.output,
    positions * cache.nKvHeads * cache.headDim * F32,
    sizeDetail(
      [["positions", positions], ["nKvHeads", cache.nKvHeads], ["headDim", cache.headDim]],
      F32,
    ),
  );
  const fields = [
    ["u32", cache.headDim],
    ["u32", cache.nKvHeads],
    ["u32", slot],
    ["u32", cache.kvCapacity],
    ["u32", cache.headDim / 256],
    ["f32", cache.scaleFactor],
  ] as const;
  // struct TqDequantParams { head_dim, num_kv_heads, read_pos, cache_capacity, norms_per_pos;
  //                          float scale_factor_d512; } (+ uint codebook_bits for 5/6/8 bits)
  const params = packParams(cache.bits === 4 ? fields : [...fields, ["u32", cache.bits]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.packed, options.norms, options.output, params],
    geometry: () => ({
      kind: "threadgroups",
      grid: [cache.nKvHeads, positions, 1],
      threadgroup: [cache.headDim, 1, 1],
    }),
  };
}

/**
 * Encodes the decoding of cache positions to dense f32 rows in the rotated domain
 * (`tq_dequantize_kv` for 4 bits, `tq_dequantize_hb_kv` for 5, 6 and 8). Follow with
 * {@linkcode fwht} `"undo"` for the original vectors.
 *
 * @param encoder An open compute encoder.
 * @param options The cache, the output, the first slot and the count.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `bits`/`headDim`.
 * @throws {RangeError} For a slot past `kvCapacity`, more positions than `kvCapacity`, or a
 * too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantDequantizeKv } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using packed = device.newBuffer(new Uint8Array(256).fill(31)); // every index 31: the top level
 * using norms = device.newBuffer(new Float32Array([32]));
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await turboquantDequantizeKv(encoder, {
 *   registry, packed, norms, output, nKvHeads: 1, headDim: 256, kvCapacity: 1, bits: 5, slot: 0,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(Math.abs(new Float32Array(output.contents)[0] - 2 * 3.2607) < 1e-3); // c·32/16
 * ```
 */
export async function turboquantDequantizeKv(
  encoder: ComputeEncoder,
  options: TurboquantDequantizeOptions,
): Promise<void> {
  await encodePlan(encoder, dequantizePlanOf(options));
}

/**
 * {@linkcode turboquantDequantizeKv}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options The cache, the output, the first slot and the count.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `bits`/`headDim`.
 * @throws {RangeError} For a bad slot or count, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantDequantizeKvSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using packed = device.newBuffer(new Uint8Array(128)); // every nibble 0: the bottom level
 * using norms = device.newBuffer(new Float32Array([16]));
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * turboquantDequantizeKvSync(encoder, {
 *   registry, packed, norms, output, nKvHeads: 1, headDim: 256, kvCapacity: 1, bits: 4, slot: 0,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(output.contents)[255] + 2.7326) < 1e-4);
 * ```
 */
export function turboquantDequantizeKvSync(
  encoder: ComputeEncoder,
  options: TurboquantDequantizeOptions,
): void {
  encodePlanSync(encoder, dequantizePlanOf(options));
}
