// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the attention-preparation kernels: {@linkcode headNormRope}
 * (`shaders/fused_head_norm_rope_f32.metal`, `shaders/fused_head_norm_rope_bf16.metal`:
 * per-head RMSNorm then NeoX RoPE, the q_norm/k_norm + RoPE step of Qwen3 and Gemma 3/4)
 * and {@linkcode scaleMaskSoftmax} (`shaders/scale_mask_softmax.metal`: scale, add a
 * `[seqQ, seqK]` mask shared by all heads, softmax over keys). The f64 references are in
 * `ops/attention_prep_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { headNormRope } from "./attention_prep.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Qwen3 queries for 5 tokens: 32 heads of 128, q_norm weight, base 1e6.
 * using q = device.newBuffer(5 * 32 * 128 * 4);
 * using qNorm = device.newBuffer(new Float32Array(128).fill(1));
 * using positions = device.newBuffer(new Uint32Array([0, 1, 2, 3, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await headNormRope(encoder, {
 *   registry, input: q, output: q, weight: qNorm, positions, dtype: "f32",
 *   seqLen: 5, nHeads: 32, headDim: 128, eps: 1e-6, base: 1e6,
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
import { HNR_MAX_SIMDGROUPS, SIMD_WIDTH, SMS_MAX_SIMDGROUPS } from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelArgument,
  type KernelPlan,
  packParams,
  rowDispatch,
  type RowWidthOptions,
} from "./_dispatch.ts";
import { ropeFreqTable, type RopeFrequencyOptions, ropeLayout, ropeOmegas } from "./_rope_freqs.ts";
import {
  checkBuffer,
  checkCount,
  checkFinite,
  checkIndex,
  checkRegistry,
  checkRowWidth,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FUSED_HEAD_NORM_ROPE_BF16_KERNELS } from "../shaders/fused_head_norm_rope_bf16.ts";
import { FUSED_HEAD_NORM_ROPE_F32_KERNELS } from "../shaders/fused_head_norm_rope_f32.ts";
import { SCALE_MASK_SOFTMAX_KERNELS } from "../shaders/scale_mask_softmax.ts";

/**
 * The catalogue names of the fused head-norm-RoPE kernels, by dtype and position source (from
 * the tables of `fused_head_norm_rope_f32.metal` and `fused_head_norm_rope_bf16.metal`).
 */
export const HEAD_NORM_ROPE_KERNELS: {
  readonly f32: typeof FUSED_HEAD_NORM_ROPE_F32_KERNELS;
  readonly bf16: typeof FUSED_HEAD_NORM_ROPE_BF16_KERNELS;
} = {
  f32: FUSED_HEAD_NORM_ROPE_F32_KERNELS,
  bf16: FUSED_HEAD_NORM_ROPE_BF16_KERNELS,
};

/** The catalogue name of `scale_mask_softmax.metal`. */
export const SCALE_MASK_SOFTMAX_KERNEL: typeof SCALE_MASK_SOFTMAX_KERNELS.f32 =
  SCALE_MASK_SOFTMAX_KERNELS.f32;

/** Every kernel name served by this module. */
export type AttentionPrepKernelName =
  | TableNames<typeof HEAD_NORM_ROPE_KERNELS>
  | typeof SCALE_MASK_SOFTMAX_KERNEL;

/**
 * Options of {@linkcode headNormRope}; `threadsPerRow` / `maxThreadsPerRow` size the
 * threadgroup of each head of each token (its rows).
 */
export interface HeadNormRopeOptions extends Omit<RopeFrequencyOptions, "base">, RowWidthOptions {
  /**
   * Frequency base θ₀ (Llama 2: 10000, Llama 3: 500000, Qwen 2/3: 1000000). Required unless
   * `cosSin` gives the angles.
   */
  base?: number;
  /**
   * bf16 only: the rotation itself, `f32[seqLen, ropeDim / 2, 2]` holding `(cos θ, sin θ)` of
   * every token and rotated pair, in place of positions and frequencies. For RoPE variants
   * the frequency options do not describe: YaRN (its per-pair ramp between interpolated and
   * original frequencies, with the attention factor `0.1 · ln(s) + 1` multiplied into both
   * cos and sin), dynamic NTK, or any table a model ships. With it, give neither
   * `position`/`positions` nor `base`/`freqScale`/`freqFactors`; the layout options
   * (`ropeDim`, `partialRotary`) still place the pairs.
   */
  cosSin?: DeviceBuffer;
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[seqLen, nHeads, headDim]` queries or keys of `dtype`. */
  input: DeviceBuffer;
  /** `[seqLen, nHeads, headDim]` results of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** `[headDim]` RMSNorm weight of `dtype` (Gemma's `1 + w` pre-added); none: unweighted. */
  weight?: DeviceBuffer;
  /** Storage type of `input`, `output` and `weight`. */
  dtype: "f32" | "bf16";
  /**
   * `u32[seqLen]` token positions (each below 2^24). Give this or `position`.
   */
  positions?: DeviceBuffer;
  /**
   * The position of a single token (`seqLen` 1), passed inline: bf16 only
   * (`fused_head_norm_rope_bf16`). Give this or `positions`.
   */
  position?: number;
  /** Tokens. */
  seqLen: number;
  /** Heads per token. */
  nHeads: number;
  /** Elements per head (even). */
  headDim: number;
  /** RMSNorm epsilon (Qwen3 1e-6). */
  eps: number;
  /**
   * f32 only: also write the result rounded to bf16 here, `[seqLen, nHeads, headDim]`, or
   * `[nHeads, seqLen, headDim]` with `bf16Permuted`.
   */
  bf16Output?: DeviceBuffer;
  /** f32 only: lay `bf16Output` out head-major, `[nHeads, seqLen, headDim]`. @default false */
  bf16Permuted?: boolean;
  /** f32 only: also write the f32 result head-major, `[nHeads, seqLen, headDim]`, here. */
  permutedOutput?: DeviceBuffer;
}

/** Options of {@linkcode scaleMaskSoftmax}; `threadsPerRow` / `maxThreadsPerRow` size each row's threadgroup. */
export interface ScaleMaskSoftmaxOptions extends RowWidthOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `f32[rows, seqK]` attention scores, `rows = heads × seqQ`, row `r` is query `r mod seqQ`. */
  input: DeviceBuffer;
  /** `f32[rows, seqK]` probabilities; may be `input` (in place). */
  output: DeviceBuffer;
  /** `bf16[seqQ, seqK]` additive mask shared by every head (`-Infinity` masks a key). */
  mask?: DeviceBuffer;
  /** Rows: heads (× batch) × `seqQ`. */
  rows: number;
  /** Query rows per head: the mask's row count. */
  seqQ: number;
  /** Keys: the softmax axis. */
  seqK: number;
  /** Multiplies the scores before the mask (usually `1 / sqrt(headDim)`). */
  scale: number;
}

const HNR_SCRATCH_BYTES = HNR_MAX_SIMDGROUPS * 4;
const HNR_MAX_THREADS = SIMD_WIDTH * HNR_MAX_SIMDGROUPS;
const SMS_SCRATCH_BYTES = 2 * SMS_MAX_SIMDGROUPS * 4;
const SMS_MAX_THREADS = SIMD_WIDTH * SMS_MAX_SIMDGROUPS;

function headNormRopePlan(options: HeadNormRopeOptions): KernelPlan {
  checkRegistry("headNormRope", options.registry);
  const byDtype = pickKernel("headNormRope", HEAD_NORM_ROPE_KERNELS, "dtype", options.dtype);
  const table = options.cosSin !== undefined;
  if (table) {
    const unused = (["position", "positions", "base", "freqScale", "freqFactors"] as const)
      .filter((name) => options[name] !== undefined);
    if (options.dtype !== "bf16" || unused.length > 0) {
      throw new TypeError(
        `Cannot encode headNormRope: "cosSin" is given with ${
          options.dtype !== "bf16"
            ? `dtype ${JSON.stringify(options.dtype)}, expected dtype "bf16"`
            : `${
              unused.map((n) => `"${n}"`).join(", ")
            }, expected the table alone (it holds the angles)`
        }`,
      );
    }
  }
  const inline = table ? options.seqLen === 1 : options.position !== undefined;
  if (!table && inline === (options.positions !== undefined)) {
    throw new TypeError(
      `Cannot encode headNormRope: ${
        inline ? 'both "position" and "positions" are' : 'neither "position" nor "positions" is'
      } given, expected exactly one`,
    );
  }
  const kernel = pickKernel(
    `headNormRope (dtype "${options.dtype}")`,
    byDtype as { positions: string; position?: string },
    "position source",
    inline ? "position" : "positions",
  ) as AttentionPrepKernelName;
  const seqLen = checkCount(kernel, "seqLen", options.seqLen);
  const nHeads = checkCount(kernel, "nHeads", options.nHeads);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const eps = checkFinite(kernel, "eps", options.eps);
  if (eps < 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "eps" is ${eps}, expected a non-negative number`,
    );
  }
  const width = checkRowWidth(kernel, options, HNR_MAX_THREADS);
  let position = 0;
  if (inline && !table) {
    if (seqLen !== 1) {
      throw new RangeError(
        `Cannot encode ${kernel}: "seqLen" is ${seqLen}, expected 1 with an inline "position"`,
      );
    }
    position = checkIndex(kernel, "position", options.position, 2 ** 24, "positions below 2^24");
  }
  // With a cos/sin table the base only passes the layout check; the frequency table is unused.
  const frequencies = { ...options, base: table ? 1 : options.base as number };
  const layout = ropeLayout(kernel, headDim, true, frequencies);
  const freqTable = table
    ? new Float32Array(4 * layout.nPairs)
    : ropeFreqTable(ropeOmegas(kernel, layout, frequencies));
  if (table) {
    checkBuffer(
      kernel,
      "cosSin",
      options.cosSin,
      seqLen * layout.nPairs * 8,
      sizeDetail([["seqLen", seqLen], ["ropeDim / 2", layout.nPairs], ["(cos, sin)", 2]], 4),
    );
  }
  const size = bytesPerElement(options.dtype);
  const count = seqLen * nHeads * headDim;
  const detail = sizeDetail([["seqLen", seqLen], ["nHeads", nHeads], ["headDim", headDim]], size);
  checkBuffer(kernel, "input", options.input, count * size, detail);
  checkBuffer(kernel, "output", options.output, count * size, detail);
  if (options.weight !== undefined) {
    checkBuffer(
      kernel,
      "weight",
      options.weight,
      headDim * size,
      sizeDetail([["headDim", headDim]], size),
    );
  }
  if (!inline && !table) {
    checkBuffer(
      kernel,
      "positions",
      options.positions,
      seqLen * 4,
      sizeDetail([["seqLen", seqLen]], 4),
    );
  }
  let extra = 0;
  if (options.dtype === "f32") {
    if (options.bf16Output !== undefined) {
      checkBuffer(
        kernel,
        "bf16Output",
        options.bf16Output,
        count * 2,
        sizeDetail([["seqLen", seqLen], ["nHeads", nHeads], ["headDim", headDim]], 2),
      );
      extra |= options.bf16Permuted ? 3 : 1;
    }
    if (options.permutedOutput !== undefined) {
      checkBuffer(kernel, "permutedOutput", options.permutedOutput, count * 4, detail);
      extra |= 4;
    }
  } else if (options.bf16Output !== undefined || options.permutedOutput !== undefined) {
    throw new TypeError(
      `Cannot encode ${kernel}: "bf16Output" and "permutedOutput" need dtype "f32"`,
    );
  }
  // struct HeadNormRopeParams { uint head_dim, n_heads, seq_len; float eps; uint has_weight,
  //   n_pairs, pair_offset, copy_start, copy_gap, position, extra_outputs[, has_cos_sin]; }
  // (has_cos_sin: the bf16 file's struct only)
  const params = packParams([
    ["u32", headDim],
    ["u32", nHeads],
    ["u32", seqLen],
    ["f32", eps],
    ["u32", options.weight !== undefined ? 1 : 0],
    ["u32", layout.nPairs],
    ["u32", layout.pairOffset],
    ["u32", layout.copyStart],
    ["u32", layout.copyGap],
    ["u32", position],
    ["u32", extra],
    ...(options.dtype === "bf16" ? [["u32", table ? 1 : 0] as const] : []),
  ]);
  // Unused bindings get a buffer the kernel never touches (the input).
  const args: KernelArgument[] = [
    options.input,
    options.output,
    options.weight ?? options.input,
    params,
    options.positions ?? options.input,
    freqTable,
  ];
  if (options.dtype === "f32") {
    args.push(options.bf16Output ?? options.output, options.permutedOutput ?? options.output);
  } else {
    args.push(options.cosSin ?? options.input);
  }
  return {
    registry: options.registry,
    kernel,
    args,
    usesBfloat16: options.dtype === "bf16",
    threadgroupMemory: [HNR_SCRATCH_BYTES],
    geometry: (pipeline, backend) => {
      const d = rowDispatch(pipeline, backend, nHeads, headDim / 2, 1, HNR_MAX_THREADS, width);
      return { ...d, grid: [nHeads, seqLen, 1] };
    },
  };
}

function scaleMaskSoftmaxPlan(options: ScaleMaskSoftmaxOptions): KernelPlan {
  checkRegistry("scaleMaskSoftmax", options.registry);
  const kernel = SCALE_MASK_SOFTMAX_KERNEL;
  const rows = checkCount(kernel, "rows", options.rows);
  const seqQ = checkCount(kernel, "seqQ", options.seqQ);
  const seqK = checkCount(kernel, "seqK", options.seqK);
  const scale = checkFinite(kernel, "scale", options.scale);
  const width = checkRowWidth(kernel, options, SMS_MAX_THREADS);
  if (rows % seqQ !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "rows" is ${rows}, expected a multiple of seqQ ${seqQ} (heads × seqQ)`,
    );
  }
  const detail = sizeDetail([["rows", rows], ["seqK", seqK]], 4);
  checkBuffer(kernel, "input", options.input, rows * seqK * 4, detail);
  checkBuffer(kernel, "output", options.output, rows * seqK * 4, detail);
  if (options.mask !== undefined) {
    checkBuffer(
      kernel,
      "mask",
      options.mask,
      seqQ * seqK * 2,
      sizeDetail([["seqQ", seqQ], ["seqK", seqK]], 2),
    );
  }
  // struct ScaleMaskSoftmaxParams { uint cols, seq_q; float scale; uint has_mask; }
  const params = packParams([
    ["u32", seqK],
    ["u32", seqQ],
    ["f32", scale],
    ["u32", options.mask !== undefined ? 1 : 0],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, options.mask ?? options.input, params],
    threadgroupMemory: [SMS_SCRATCH_BYTES],
    geometry: (pipeline, backend) =>
      rowDispatch(pipeline, backend, rows, seqK, 4, SMS_MAX_THREADS, width),
  };
}

/**
 * Encodes per-head RMSNorm followed by NeoX RoPE (`fused_head_norm_rope_f32`,
 * `fused_head_norm_rope_batch_bf16`, or `fused_head_norm_rope_bf16` for one token with an
 * inline `position`): for each token `t` and head `h`,
 * `n = x · rsqrt(mean(x²) + eps) · weight`, then RoPE of `n` with pairs `(p, p + half)` and
 * `θ = pos_t · freqScale · base^(−2p/freqDim) / freqFactors[p]` (see `ops/rope.ts` for the
 * partial-rotary options), or, bf16 only, `cos θ` and `sin θ` read from a host `cosSin` table
 * (YaRN and other custom RoPE schedules). f32 arithmetic; bf16 results are rounded once.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, shape, norm and RoPE parameters.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype`, both or neither of `position`/`positions`,
 * an inline `position` with f32, extra outputs with bf16, a partial RoPE without
 * `partialRotary`, or a missing buffer or registry.
 * @throws {RangeError} For bad sizes, `eps`, position or frequencies, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, headNormRope, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import { headNormRopeRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One decode token of 2 heads × 4 in bf16, normalised and rotated in place.
 * const k = [1, 2, 3, 4, -1, 0, 1, 2];
 * using keys = device.newBuffer(toDTypeArray("bf16", k));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await headNormRope(encoder, {
 *   registry, input: keys, output: keys, dtype: "bf16", position: 7, seqLen: 1, nHeads: 2, headDim: 4, eps: 1e-6, base: 10000,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = headNormRopeRef(k, undefined, { seqLen: 1, nHeads: 2, headDim: 4, eps: 1e-6, base: 10000, positions: [7] });
 * fromDTypeBytes("bf16", keys.contents, 8).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.02));
 * ```
 */
export async function headNormRope(
  encoder: ComputeEncoder,
  options: HeadNormRopeOptions,
): Promise<void> {
  await encodePlan(encoder, headNormRopePlan(options));
}

/**
 * {@linkcode headNormRope}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, shape, norm and RoPE parameters.
 * @throws {TypeError} For inconsistent options or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or parameters, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, headNormRopeSync, KernelRegistry } from "../mod.ts";
 * import { headNormRopeRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const q = [1, 2, 3, 4, -1, 0, 1, 2];
 * const w = [1, 1, 0.5, 0.5];
 * using input = device.newBuffer(new Float32Array(q));
 * using weight = device.newBuffer(new Float32Array(w));
 * using positions = device.newBuffer(new Uint32Array([3]));
 * using output = device.newBuffer(32);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * headNormRopeSync(encoder, {
 *   registry, input, output, weight, positions, dtype: "f32", seqLen: 1, nHeads: 2, headDim: 4, eps: 1e-6, base: 10000,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = headNormRopeRef(q, w, { seqLen: 1, nHeads: 2, headDim: 4, eps: 1e-6, base: 10000, positions: [3] });
 * new Float32Array(output.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export function headNormRopeSync(encoder: ComputeEncoder, options: HeadNormRopeOptions): void {
  encodePlanSync(encoder, headNormRopePlan(options));
}

/**
 * Encodes the attention-score softmax (`scale_mask_softmax_f32`): for row `r` (query
 * `q = r mod seqQ`), `t_k = input[r][k] · scale + mask[q][k]` and
 * `output[r][k] = exp(t_k − max) / Σ_j exp(t_j − max)`. `-Infinity` mask entries give 0;
 * a fully masked row gives zeros.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and scale.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For sizes that are not positive integers, `rows` not a multiple of
 * `seqQ`, a non-finite `scale`, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, scaleMaskSoftmax, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // 1 head, 2 queries over 2 keys, causal mask: query 0 sees only key 0.
 * using scores = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using causal = device.newBuffer(toDTypeArray("bf16", [0, -Infinity, 0, 0]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await scaleMaskSoftmax(encoder, {
 *   registry, input: scores, output: scores, mask: causal, rows: 2, seqQ: 2, seqK: 2, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const p = new Float32Array(scores.contents);
 * assert.deepStrictEqual([p[0], p[1]], [1, 0]);
 * assert.ok(Math.abs(p[3] - 1 / (1 + Math.exp(-1))) < 1e-6);
 * ```
 */
export async function scaleMaskSoftmax(
  encoder: ComputeEncoder,
  options: ScaleMaskSoftmaxOptions,
): Promise<void> {
  await encodePlan(encoder, scaleMaskSoftmaxPlan(options));
}

/**
 * {@linkcode scaleMaskSoftmax}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes and scale.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes or scale, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, scaleMaskSoftmaxSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([2, 2, 4, 0]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * scaleMaskSoftmaxSync(encoder, { registry, input, output, rows: 2, seqQ: 1, seqK: 2, scale: 0.5 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const p = new Float32Array(output.contents);
 * assert.deepStrictEqual([p[0], p[1]], [0.5, 0.5]);
 * assert.ok(Math.abs(p[2] - 1 / (1 + Math.exp(-2))) < 1e-6);
 * ```
 */
export function scaleMaskSoftmaxSync(
  encoder: ComputeEncoder,
  options: ScaleMaskSoftmaxOptions,
): void {
  encodePlanSync(encoder, scaleMaskSoftmaxPlan(options));
}
