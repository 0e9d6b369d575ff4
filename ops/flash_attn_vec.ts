// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/flash_attn_vec.metal`: split-K decode attention for one query
 * token per head at head dimension 256 or 512, K/V in f32 or f16. The keys are cut into
 * 32-key chunks dealt round-robin to `splits` workgroups per head (the "vec" pass); each
 * keeps a running max, sum and unnormalised output, and the "reduce" pass merges them with
 * the log-sum-exp rule. {@linkcode flashAttnVec} chains both passes and picks the split
 * count; {@linkcode flashAttnVecReduce} is the second pass alone, for other kernels that write
 * the same partials (the TurboQuant decode).
 *
 * Conventions (`attentionRef` with `roundQuery: "f16"`): Q is rounded to f16 before the dot
 * products; query head `h` reads KV head `h / (nHeads / nKvHeads)`; every key up to `kvLen`
 * is visible, or with `window` W only the last W keys; with `ringStart`, logical key `ℓ` is
 * physical slot `(ringStart + ℓ) mod kvCapacity` (a wrapped ring buffer).
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { flashAttnVec, flashAttnVecScratchBytes } from "./flash_attn_vec.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const nHeads = 2, headDim = 256, kvLen = 100;
 * using q = device.newBuffer(new Float32Array(nHeads * headDim).fill(0.01));
 * using k = device.newBuffer(new Float32Array(kvLen * headDim).fill(0.5));
 * using v = device.newBuffer(new Float32Array(kvLen * headDim).fill(3));
 * using output = device.newBuffer(nHeads * headDim * 4);
 * using scratch = device.newBuffer(flashAttnVecScratchBytes(nHeads, headDim));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await flashAttnVec(encoder, {
 *   registry, q, k, v, output, scratch, kvDtype: "f32",
 *   nHeads, nKvHeads: 1, headDim, kvLen, scale: 1 / 16,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)[0]); // 3: every value is 3
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { Backend } from "../backend.ts";
import type { KernelRegistry } from "../registry.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FLASH_ATTN_VEC_KERNELS } from "../shaders/flash_attn_vec.ts";
import {
  type AttentionBuffers,
  type AttentionSizes,
  checkAttentionBuffers,
  checkAttentionSizes,
  checkDecodeSplits,
} from "./_attention_shape.ts";
import { FLASH_ATTN_VEC_CHUNK, FLASH_ATTN_VEC_MAX_SPLITS, SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";

/** The catalogue names of `flash_attn_vec.metal` (its table: `shaders/flash_attn_vec.ts`). */
export { FLASH_ATTN_VEC_KERNELS };

/** Every kernel name of `flash_attn_vec.metal`. */
export type FlashAttnVecKernelName = TableNames<typeof FLASH_ATTN_VEC_KERNELS>;

/** Head dimensions of the split-K decode kernels. */
export type FlashAttnVecHeadDim = 256 | 512;

/** Options of {@linkcode flashAttnVec}. Q and the output are f32 `[nHeads, headDim]`. */
export interface FlashAttnVecOptions extends Omit<AttentionSizes, "batch">, AttentionBuffers {
  /** The registry that compiles and caches the pipelines. */
  registry: KernelRegistry;
  /** Storage type of K and V (`[nKvHeads, kvCapacity, headDim]`). */
  kvDtype: "f32" | "f16";
  /** 256 or 512. */
  headDim: number;
  /** Only the last `window` keys are visible (W keys, the current one included). */
  window?: number;
  /** Physical slot of logical key 0 in a wrapped ring buffer. @default {0} */
  ringStart?: number;
  /**
   * f32 scratch for the partials of a split run: at least
   * {@linkcode flashAttnVecScratchBytes}`(nHeads, headDim, splits)` bytes. Without it the
   * keys are not split (one workgroup per head, no reduce pass).
   */
  scratch?: DeviceBuffer;
  /**
   * Workgroups per head, 1 to 32. @default {flashAttnVecSplits(...), capped by what
   * `scratch` holds}
   */
  splits?: number;
}

/** Options of {@linkcode flashAttnVecReduce}. */
export interface FlashAttnVecReduceOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The partials, in the layout `flash_attn_vec.metal` documents ("Scratch"). */
  scratch: DeviceBuffer;
  /** f32 `[rows, headDim]` result. */
  output: DeviceBuffer;
  /** Rows (heads). */
  rows: number;
  /** 256 or 512. */
  headDim: number;
  /** Partials per row, 1 to 32. */
  splits: number;
}

const F32 = bytesPerElement("f32");

/**
 * Bytes of scratch a split-K decode of `nHeads` heads needs with `splits` workgroups per head:
 * the partial outputs and a (sum, max) pair per head and workgroup, in f32.
 *
 * @param nHeads Query heads.
 * @param headDim Head dimension.
 * @param splits Workgroups per head. @default {32} (enough for any split count)
 * @returns The byte count.
 *
 * @example Usage
 * ```ts
 * import { flashAttnVecScratchBytes } from "./flash_attn_vec.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(flashAttnVecScratchBytes(32, 256, 4), 32 * 4 * 258 * 4);
 * ```
 */
export function flashAttnVecScratchBytes(
  nHeads: number,
  headDim: number,
  splits: number = FLASH_ATTN_VEC_MAX_SPLITS,
): number {
  return nHeads * splits * (headDim + 2) * F32;
}

/**
 * The split count {@linkcode flashAttnVec} uses by default: enough workgroups to fill the
 * device (about 1024 in flight on a GPU, two per logical CPU on the CPU backend), never more
 * than the 32-key chunks there are to share, nor 32.
 *
 * @param nHeads Query heads (each gets `splits` workgroups).
 * @param visibleKeys Keys a query sees (`kvLen`, or the window).
 * @param backend Where it runs.
 * @returns 1 to 32.
 *
 * @example Usage
 * ```ts
 * import { flashAttnVecSplits } from "./flash_attn_vec.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(flashAttnVecSplits(32, 4096, "metal"), 32);
 * assert.strictEqual(flashAttnVecSplits(32, 40, "metal"), 2); // two chunks of keys
 * ```
 */
export function flashAttnVecSplits(nHeads: number, visibleKeys: number, backend: Backend): number {
  const chunks = Math.ceil(visibleKeys / FLASH_ATTN_VEC_CHUNK);
  const target = backend === "cpu" ? 2 * (navigator.hardwareConcurrency ?? 1) : 1024;
  return Math.max(1, Math.min(FLASH_ATTN_VEC_MAX_SPLITS, chunks, Math.ceil(target / nHeads)));
}

function checkHeadDim(kernel: string, headDim: number): FlashAttnVecHeadDim {
  if (headDim !== 256 && headDim !== 512) {
    throw new RangeError(`Cannot encode ${kernel}: "headDim" is ${headDim}, expected 256 or 512`);
  }
  return headDim;
}

function reducePlan(options: FlashAttnVecReduceOptions): KernelPlan {
  checkRegistry("flashAttnVecReduce", options.registry);
  const subject = "flashAttnVecReduce";
  const headDim = checkHeadDim(subject, checkCount(subject, "headDim", options.headDim));
  const kernel = FLASH_ATTN_VEC_KERNELS.reduce[headDim];
  const rows = checkCount(kernel, "rows", options.rows);
  const splits = checkCount(kernel, "splits", options.splits);
  if (splits > FLASH_ATTN_VEC_MAX_SPLITS) {
    throw new RangeError(
      `Cannot encode ${kernel}: "splits" is ${splits}, expected at most ${FLASH_ATTN_VEC_MAX_SPLITS}`,
    );
  }
  checkBuffer(
    kernel,
    "scratch",
    options.scratch,
    flashAttnVecScratchBytes(rows, headDim, splits),
    sizeDetail([["rows", rows], ["splits", splits], ["(headDim + 2)", headDim + 2]], F32),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    rows * headDim * F32,
    sizeDetail([["rows", rows], ["headDim", headDim]], F32),
  );
  checkDistinct(
    kernel,
    ["scratch", "output"],
    options.scratch,
    options.output,
    "expected a buffer apart from the partials it merges",
  );
  // struct FlashAttnVecReduceParams { rows, nwg }
  const params = packParams([["u32", rows], ["u32", splits]]);
  return {
    registry: options.registry,
    kernel,
    args: [params, options.scratch, options.output],
    geometry: (pipeline) => ({
      kind: "threads",
      grid: [headDim / 4, rows, 1],
      threadgroup: [Math.min(headDim / 4, pipeline.maxTotalThreadsPerThreadgroup), 1, 1],
    }),
  };
}

function vecPlans(encoder: ComputeEncoder, options: FlashAttnVecOptions): KernelPlan[] {
  checkRegistry("flashAttnVec", options.registry);
  const byDim = pickKernel("flashAttnVec", FLASH_ATTN_VEC_KERNELS.vec, "kvDtype", options.kvDtype);
  const headDim = checkHeadDim(
    "flashAttnVec",
    checkCount("flashAttnVec", "headDim", options.headDim),
  );
  const kernel = byDim[headDim];
  const s = checkAttentionSizes(kernel, { ...options, batch: 1 }, 1, { oneOf: [256, 512] });
  checkAttentionBuffers(kernel, s, options, F32, bytesPerElement(options.kvDtype));
  const scratch = options.scratch;
  const { window, ringStart, splits } = checkDecodeSplits(
    kernel,
    s,
    options,
    {
      maxSplits: FLASH_ATTN_VEC_MAX_SPLITS,
      scratchBytes: (splits) => flashAttnVecScratchBytes(s.nHeads, headDim, splits),
      defaultSplits: (keys) => flashAttnVecSplits(s.nHeads, keys, encoder.device.backend),
    },
    { q: options.q, k: options.k, v: options.v, output: options.output },
  );
  // struct FlashAttnVecParams { n_heads, n_kv_heads, head_dim, kv_len, kv_capacity; float scale;
  // window, ring_start, nwg }
  const params = packParams([
    ["u32", s.nHeads],
    ["u32", s.nKvHeads],
    ["u32", headDim],
    ["u32", s.kvLen],
    ["u32", s.kvCapacity],
    ["f32", s.scale],
    ["u32", window],
    ["u32", ringStart],
    ["u32", splits],
  ]);
  const vec: KernelPlan = {
    registry: options.registry,
    kernel,
    args: [params, options.q, options.k, options.v, splits > 1 ? scratch! : options.output],
    geometry: () => ({
      kind: "threadgroups",
      grid: [splits, s.nHeads, 1],
      threadgroup: [SIMD_WIDTH, 1, 1],
    }),
  };
  if (splits === 1) return [vec];
  return [
    vec,
    reducePlan({
      registry: options.registry,
      scratch: scratch!,
      output: options.output,
      rows: s.nHeads,
      headDim,
      splits,
    }),
  ];
}

/**
 * Encodes split-K decode attention (`flash_attn_vec_[f16kv_]dk{256,512}`, then
 * `flash_attn_vec_reduce_dk{256,512}` when split): one query per head, `[nHeads, headDim]` f32
 * in and out. The two dispatches go into the same encoder, in order.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, K/V dtype, sizes, scale, and optional window, ring start,
 * scratch and split count.
 * @returns Resolves once the dispatches are encoded.
 * @throws {TypeError} For a missing buffer or registry, an unknown `kvDtype`, or `splits > 1`
 * without a scratch buffer.
 * @throws {RangeError} For a `headDim` other than 256 or 512, `nHeads` not a multiple of
 * `nKvHeads`, `kvCapacity < kvLen`, a bad window, ring start or split count, a too small
 * buffer, or a scratch that is another argument.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { attentionRef } from "../reference.ts";
 * import { Device, flashAttnVec, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const headDim = 256, kvLen = 40;
 * const q = Array.from({ length: headDim }, (_, i) => Math.sin(i));
 * const kv = Array.from({ length: kvLen * headDim }, (_, i) => Math.cos(i));
 * using qb = device.newBuffer(new Float32Array(q));
 * using kvb = device.newBuffer(new Float32Array(kv));
 * using output = device.newBuffer(headDim * 4);
 * using scratch = device.newBuffer(headDim * 4 * 2 * 8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * const sizes = { nHeads: 1, nKvHeads: 1, headDim, kvLen, scale: 0.1, window: 33 };
 * await flashAttnVec(encoder, { registry, q: qb, k: kvb, v: kvb, output, scratch, splits: 2, kvDtype: "f32", ...sizes });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = attentionRef({ q, k: kv, v: kv, qLen: 1, ...sizes, roundQuery: "f16" });
 * new Float32Array(output.contents).forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-4));
 * ```
 */
export async function flashAttnVec(
  encoder: ComputeEncoder,
  options: FlashAttnVecOptions,
): Promise<void> {
  for (const plan of vecPlans(encoder, options)) await encodePlan(encoder, plan);
}

/**
 * {@linkcode flashAttnVec}, blocking while the pipelines compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options As for {@linkcode flashAttnVec}.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `kvDtype`.
 * @throws {RangeError} For bad sizes, window, ring start, split count or buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, flashAttnVecSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array(512));
 * using kv = device.newBuffer(new Uint16Array(512).fill(0x4000)); // f16 2.0
 * using output = device.newBuffer(512 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * flashAttnVecSync(encoder, {
 *   registry, q, k: kv, v: kv, output, kvDtype: "f16",
 *   nHeads: 1, nKvHeads: 1, headDim: 512, kvLen: 1, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[511], 2);
 * ```
 */
export function flashAttnVecSync(encoder: ComputeEncoder, options: FlashAttnVecOptions): void {
  for (const plan of vecPlans(encoder, options)) encodePlanSync(encoder, plan);
}

/**
 * Encodes the merge pass alone (`flash_attn_vec_reduce_dk{256,512}`): `out[r] = Σ_w e^{M_w −
 * M*} O_w / Σ_w e^{M_w − M*} S_w` over the partials with `S_w > 0` (zeros if none), as
 * `splitKMergeRef` computes. For kernels that write `flash_attn_vec.metal`'s scratch layout.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, scratch, output, rows, head dimension and split count.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a split count above 32, a too small buffer, or an
 * output that is the scratch.
 *
 * @example Usage
 * ```ts
 * import { Device, flashAttnVecReduce, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One row, two partials: O_0 = 2·S_0 and O_1 = 4·S_1 with equal maxima: the mean, 3.
 * const scratch = new Float32Array(2 * 258);
 * scratch.fill(2, 0, 256).fill(4, 256, 512);
 * scratch.set([1, 0, 1, 0], 512); // (S, M) per partial
 * using tmp = device.newBuffer(scratch);
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await flashAttnVecReduce(encoder, { registry, scratch: tmp, output, rows: 1, headDim: 256, splits: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(new Float32Array(output.contents)[100], 3);
 * ```
 */
export async function flashAttnVecReduce(
  encoder: ComputeEncoder,
  options: FlashAttnVecReduceOptions,
): Promise<void> {
  await encodePlan(encoder, reducePlan(options));
}

/**
 * {@linkcode flashAttnVecReduce}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options As for {@linkcode flashAttnVecReduce}.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, flashAttnVecReduceSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using tmp = device.newBuffer(258 * 4); // one partial, S = 0: no key seen
 * using output = device.newBuffer(new Float32Array(256).fill(9));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * flashAttnVecReduceSync(encoder, { registry, scratch: tmp, output, rows: 1, headDim: 256, splits: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(output.contents)[0], 0);
 * ```
 */
export function flashAttnVecReduceSync(
  encoder: ComputeEncoder,
  options: FlashAttnVecReduceOptions,
): void {
  encodePlanSync(encoder, reducePlan(options));
}
