// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Decode attention over a TurboQuant KV cache (`shaders/flash_attn_vec_tq_hb.metal`), chained
 * with the rotations it needs: the query is rotated into the cache's domain
 * (`fwht_sign_premult_f32_d*`, in place), the split-K kernel reads the 5-, 6- or 8-bit cache and
 * dequantises inline, the partials are merged (`flash_attn_vec_reduce_dk*`, shared with
 * `ops/flash_attn_vec.ts`), and the output is rotated back (`fwht_sign_undo_f32_d*`). Because
 * the rotation is orthogonal, the result is the attention of the original query over the
 * dequantised keys and values. The f64 references: `ops/turboquant_ref.ts` for the cache,
 * `ops/attention_ref.ts` for the attention.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { turboquantCacheBytes, turboquantEncodeKv } from "./turboquant.ts";
 * import { turboquantAttention } from "./turboquant_attention.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const cache = { nKvHeads: 1, headDim: 256, kvCapacity: 8, bits: 8 } as const;
 * const bytes = turboquantCacheBytes(cache);
 * using kPacked = device.newBuffer(bytes.packed);
 * using kNorms = device.newBuffer(bytes.norms);
 * using vPacked = device.newBuffer(bytes.packed);
 * using vNorms = device.newBuffer(bytes.norms);
 * const x = new Float32Array(3 * 256).map((_, i) => Math.sin(i)); // three tokens
 * using source = device.newBuffer(x);
 * using q = device.newBuffer(new Float32Array(256)); // a zero query: the mean of the values
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * const write = { registry, ...cache, source, position: 0, tokens: 3 };
 * await turboquantEncodeKv(encoder, { ...write, packed: kPacked, norms: kNorms });
 * await turboquantEncodeKv(encoder, { ...write, packed: vPacked, norms: vNorms });
 * await turboquantAttention(encoder, {
 *   registry, q, output, kPacked, kNorms, vPacked, vNorms, bits: 8,
 *   nHeads: 1, nKvHeads: 1, headDim: 256, kvLen: 3, kvCapacity: 8, scale: 1 / 16,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const o = new Float32Array(output.contents);
 * assert.ok(Math.abs(o[1] - (x[1] + x[257] + x[513]) / 3) < 0.02);
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FLASH_ATTN_VEC_TQ_HB_KERNELS } from "../shaders/flash_attn_vec_tq_hb.ts";
import type { KernelRegistry } from "../registry.ts";
import { FLASH_ATTN_VEC_MAX_SPLITS, SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { type AttentionSizes, checkAttentionSizes, checkDecodeSplits } from "./_attention_shape.ts";
import { checkBuffer, checkDistinct, checkFinite, checkRegistry, sizeDetail } from "./_validate.ts";
import {
  flashAttnVecReduce,
  flashAttnVecReduceSync,
  flashAttnVecScratchBytes,
  flashAttnVecSplits,
} from "./flash_attn_vec.ts";
import { fwht, fwhtSync, turboquantCacheBytes } from "./turboquant.ts";

/** The catalogue names of `flash_attn_vec_tq_hb.metal` (its table sits beside the file). */
export { FLASH_ATTN_VEC_TQ_HB_KERNELS };

/** Every kernel name of `flash_attn_vec_tq_hb.metal`. */
export type FlashAttnVecTqHbKernelName = TableNames<typeof FLASH_ATTN_VEC_TQ_HB_KERNELS>;

/** Options of {@linkcode turboquantAttention}. */
export interface TurboquantAttentionOptions extends Omit<AttentionSizes, "batch"> {
  /** The registry that compiles and caches the pipelines. */
  registry: KernelRegistry;
  /**
   * f32 `[nHeads, headDim]`: one query token per head. **Rotated in place**: it holds
   * `T(q)` afterwards (keep a copy if you need `q`).
   */
  q: DeviceBuffer;
  /** f32 `[nHeads, headDim]`: the attention output (unrotated). */
  output: DeviceBuffer;
  /** The key cache's indices, `[nKvHeads, kvCapacity, headDim]` bytes. */
  kPacked: DeviceBuffer;
  /** The key cache's norms, `[nKvHeads, kvCapacity, headDim/256]` f32. */
  kNorms: DeviceBuffer;
  /** The value cache's indices, laid out as `kPacked`. */
  vPacked: DeviceBuffer;
  /** The value cache's norms, laid out as `kNorms`. */
  vNorms: DeviceBuffer;
  /** Codebook of both caches: 5, 6 or 8 bits (one index per byte). */
  bits: 5 | 6 | 8;
  /** 256 or 512. */
  headDim: number;
  /** D = 512: the encoders' `scaleFactor` (default 1). */
  scaleFactor?: number;
  /** Only the last `window` keys are visible (W keys, the current one included). */
  window?: number;
  /** Physical slot of logical key 0 in a wrapped ring buffer. @default {0} */
  ringStart?: number;
  /**
   * f32 scratch for the partials of a split run, at least
   * `flashAttnVecScratchBytes(nHeads, headDim, splits)` bytes. Without it the keys are not
   * split (one workgroup per head, no merge pass).
   */
  scratch?: DeviceBuffer;
  /** Workgroups per head, 1 to 32. @default {flashAttnVecSplits(...), capped by `scratch`} */
  splits?: number;
}

const F32 = 4;

interface AttentionPlan {
  headDim: 256 | 512;
  nHeads: number;
  splits: number;
  attend: KernelPlan;
}

function attentionPlan(
  encoder: ComputeEncoder,
  options: TurboquantAttentionOptions,
): AttentionPlan {
  checkRegistry("turboquantAttention", options.registry);
  if (options.headDim !== 256 && options.headDim !== 512) {
    throw new RangeError(
      `Cannot encode turboquantAttention: "headDim" is ${options.headDim}, expected 256 or 512`,
    );
  }
  const headDim = options.headDim;
  const kernel = FLASH_ATTN_VEC_TQ_HB_KERNELS[headDim];
  const s = checkAttentionSizes(kernel, { ...options, batch: 1 }, 1, { oneOf: [256, 512] });
  if (options.bits !== 5 && options.bits !== 6 && options.bits !== 8) {
    throw new RangeError(
      `Cannot encode ${kernel}: "bits" is ${options.bits}, expected 5, 6 or 8 (a 4-bit cache: turboquantDequantizeKv then flashAttnVec)`,
    );
  }
  const scaleFactor = checkFinite(kernel, "scaleFactor", options.scaleFactor ?? 1);
  if (!(scaleFactor > 0)) {
    throw new RangeError(
      `Cannot encode ${kernel}: "scaleFactor" is ${scaleFactor}, expected a positive number`,
    );
  }
  const rows = sizeDetail([["nHeads", s.nHeads], ["headDim", headDim]], F32);
  checkBuffer(kernel, "q", options.q, s.nHeads * headDim * F32, rows);
  checkBuffer(kernel, "output", options.output, s.nHeads * headDim * F32, rows);
  const bytes = turboquantCacheBytes({
    nKvHeads: s.nKvHeads,
    headDim,
    kvCapacity: s.kvCapacity,
    bits: options.bits,
  });
  const cacheRows = [["nKvHeads", s.nKvHeads], ["kvCapacity", s.kvCapacity]] as const;
  for (const name of ["kPacked", "vPacked"] as const) {
    checkBuffer(
      kernel,
      name,
      options[name],
      bytes.packed,
      sizeDetail([...cacheRows, ["headDim", headDim]], 1),
    );
  }
  for (const name of ["kNorms", "vNorms"] as const) {
    checkBuffer(
      kernel,
      name,
      options[name],
      bytes.norms,
      sizeDetail([...cacheRows, ["norms", headDim / 256]], F32),
    );
  }
  const notOutput = "expected a buffer the kernel does not read";
  for (const name of ["q", "kPacked", "kNorms", "vPacked", "vNorms"] as const) {
    checkDistinct(kernel, [name, "output"], options[name], options.output, notOutput);
  }
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
    {
      q: options.q,
      kPacked: options.kPacked,
      kNorms: options.kNorms,
      vPacked: options.vPacked,
      vNorms: options.vNorms,
      output: options.output,
    },
  );
  // struct FlashAttnVecTqHbParams { n_heads, n_kv_heads, head_dim, kv_len, kv_capacity;
  //   float scale; window, ring_start, nwg; float scale_factor_d512; codebook_bits }
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
    ["f32", scaleFactor],
    ["u32", options.bits],
  ]);
  const attend: KernelPlan = {
    registry: options.registry,
    kernel,
    args: [
      params,
      options.q,
      options.kPacked,
      options.kNorms,
      options.vPacked,
      options.vNorms,
      splits > 1 ? scratch! : options.output,
    ],
    geometry: () => ({
      kind: "threadgroups",
      grid: [splits, s.nHeads, 1],
      threadgroup: [SIMD_WIDTH, 1, 1],
    }),
  };
  return { headDim, nHeads: s.nHeads, splits, attend };
}

/**
 * Encodes decode attention over TurboQuant caches: rotate `q` in place, attend
 * (`flash_attn_vec_tq_hb_dk{256,512}`), merge the splits (`flash_attn_vec_reduce_dk*`), rotate
 * the output back. Every option is checked before the first dispatch is encoded.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, query/output, the two caches, sizes, scale, and optional window,
 * ring start, scratch and split count.
 * @returns Resolves once the dispatches are encoded.
 * @throws {TypeError} For a missing buffer or registry, or `splits > 1` without scratch.
 * @throws {RangeError} For a `headDim` other than 256/512, `bits` other than 5/6/8, bad sizes
 * (GQA ratio, capacity below `kvLen`), a ring start past the capacity, too small or shared
 * buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantAttention } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two heads over one KV head of capacity 4 holding 2 keys that are all zero (norm 0).
 * using kv = device.newBuffer(4 * 512);
 * using norms = device.newBuffer(4 * 8);
 * using q = device.newBuffer(2 * 512 * 4);
 * using output = device.newBuffer(2 * 512 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await turboquantAttention(encoder, {
 *   registry, q, output, kPacked: kv, kNorms: norms, vPacked: kv, vNorms: norms, bits: 6,
 *   nHeads: 2, nKvHeads: 1, headDim: 512, kvLen: 2, kvCapacity: 4, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.ok(new Float32Array(output.contents).every((v) => v === 0));
 * ```
 */
export async function turboquantAttention(
  encoder: ComputeEncoder,
  options: TurboquantAttentionOptions,
): Promise<void> {
  const plan = attentionPlan(encoder, options);
  const { registry } = options;
  const rotate = { registry, heads: plan.nHeads, headDim: plan.headDim };
  await fwht(encoder, { ...rotate, data: options.q, signs: "premultiply" });
  await encodePlan(encoder, plan.attend);
  if (plan.splits > 1) {
    await flashAttnVecReduce(encoder, {
      registry,
      scratch: options.scratch!,
      output: options.output,
      rows: plan.nHeads,
      headDim: plan.headDim,
      splits: plan.splits,
    });
  }
  await fwht(encoder, { ...rotate, data: options.output, signs: "undo" });
}

/**
 * {@linkcode turboquantAttention}, blocking while pipelines compile on first use.
 *
 * @param encoder An open compute encoder.
 * @param options As for {@linkcode turboquantAttention}.
 * @throws {TypeError} For a missing buffer or registry, or `splits > 1` without scratch.
 * @throws {RangeError} For bad sizes, bits, ring start, or too small or shared buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, turboquantAttentionSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using kv = device.newBuffer(256);
 * using norms = device.newBuffer(4);
 * using q = device.newBuffer(256 * 4);
 * using output = device.newBuffer(256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * assert.throws(
 *   () =>
 *     turboquantAttentionSync(encoder, {
 *       registry, q, output, kPacked: kv, kNorms: norms, vPacked: kv, vNorms: norms, bits: 8,
 *       nHeads: 1, nKvHeads: 1, headDim: 256, kvLen: 2, kvCapacity: 1, scale: 1,
 *     }),
 *   /"kvCapacity" is 1, expected at least kvLen 2/,
 * );
 * encoder.end();
 * ```
 */
export function turboquantAttentionSync(
  encoder: ComputeEncoder,
  options: TurboquantAttentionOptions,
): void {
  const plan = attentionPlan(encoder, options);
  const { registry } = options;
  const rotate = { registry, heads: plan.nHeads, headDim: plan.headDim };
  fwhtSync(encoder, { ...rotate, data: options.q, signs: "premultiply" });
  encodePlanSync(encoder, plan.attend);
  if (plan.splits > 1) {
    flashAttnVecReduceSync(encoder, {
      registry,
      scratch: options.scratch!,
      output: options.output,
      rows: plan.nHeads,
      headDim: plan.headDim,
      splits: plan.splits,
    });
  }
  fwhtSync(encoder, { ...rotate, data: options.output, signs: "undo" });
}
