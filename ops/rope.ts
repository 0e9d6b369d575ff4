// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/rope.metal`: rotary position embedding over
 * `[seqLen, nHeads, headDim]` rows (queries or keys), with adjacent ("normal", GPT-J /
 * llama.cpp GGUF Llama) or split (NeoX: Hugging Face Llama, Qwen, Gemma) pairs, partial
 * rotary dimensions, linear scaling and per-pair frequency factors. Frequencies are
 * computed on the host in f64 and the kernels reduce angles modulo a turn exactly, so
 * accuracy does not decay with the position (~1e-6 rad for any position below 2^24).
 * The f64 reference is `ops/rope_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { rope } from "./rope.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array(2 * 8 * 64).fill(1)); // 2 tokens, 8 heads
 * using positions = device.newBuffer(new Uint32Array([8190, 8191]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rope(encoder, {
 *   registry, input: q, output: q, positions, dtype: "f32", mode: "neox",
 *   seqLen: 2, nHeads: 8, headDim: 64, base: 10000,
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
import { ROPE_HEADS_PER_THREAD } from "./_defines.ts";
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { ropeFreqTable, type RopeFrequencyOptions, ropeLayout, ropeOmegas } from "./_rope_freqs.ts";
import { checkBuffer, checkCount, checkRegistry, pickKernel, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { ROPE_KERNELS } from "../shaders/rope.ts";

/** The catalogue names of `rope.metal` (its table: `shaders/rope.ts`). */
export { ROPE_KERNELS };

export type { PartialRotary, RopeFrequencyOptions } from "./_rope_freqs.ts";

/** Every kernel name of `rope.metal`. */
export type RopeKernelName = TableNames<typeof ROPE_KERNELS>;

/**
 * Pairing: `"normal"` rotates adjacent elements `(x[2p], x[2p+1])` (GPT-J, llama.cpp's
 * default for GGUF Llama whose weights were permuted at conversion); `"neox"` rotates
 * `(x[p], x[p + half])` (`rotate_half` of Hugging Face Llama, Mistral, Qwen, Gemma).
 */
export type RopeMode = keyof typeof ROPE_KERNELS;

/** Dtypes of {@linkcode rope} (`"f16"` only with `mode: "normal"`, as in the catalogue). */
export type RopeDType = "f32" | "f16" | "bf16";

/** Options of {@linkcode rope}. */
export interface RopeOptions extends RopeFrequencyOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[seqLen, nHeads, headDim]` values of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[seqLen, nHeads, headDim]` results of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** `u32[seqLen]`: the position of each token (below 2^24; need not be contiguous). */
  positions: DeviceBuffer;
  /** Storage type of `input` and `output`. */
  dtype: RopeDType;
  /** Pair layout. */
  mode: RopeMode;
  /** Tokens. */
  seqLen: number;
  /** Heads per token. @default 1 */
  nHeads?: number;
  /** Elements per head (even). */
  headDim: number;
}

function ropePlan(options: RopeOptions): KernelPlan {
  checkRegistry("rope", options.registry);
  const byDtype = pickKernel("rope", ROPE_KERNELS, "mode", options.mode);
  const kernel = pickKernel(`rope (mode "${options.mode}")`, byDtype, "dtype", options.dtype);
  const seqLen = checkCount(kernel, "seqLen", options.seqLen);
  const nHeads = checkCount(kernel, "nHeads", options.nHeads ?? 1);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const layout = ropeLayout(kernel, headDim, options.mode === "neox", options);
  const table = ropeFreqTable(ropeOmegas(kernel, layout, options));
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["seqLen", seqLen], ["nHeads", nHeads], ["headDim", headDim]], size);
  const bytes = seqLen * nHeads * headDim * size;
  checkBuffer(kernel, "input", options.input, bytes, detail);
  checkBuffer(kernel, "output", options.output, bytes, detail);
  checkBuffer(
    kernel,
    "positions",
    options.positions,
    seqLen * 4,
    sizeDetail([["seqLen", seqLen]], 4),
  );
  // struct RopeParams { uint head_dim, n_heads, seq_len, n_pairs, pair_offset, copy_start, copy_gap; }
  const params = packParams([
    ["u32", headDim],
    ["u32", nHeads],
    ["u32", seqLen],
    ["u32", layout.nPairs],
    ["u32", layout.pairOffset],
    ["u32", layout.copyStart],
    ["u32", layout.copyGap],
  ]);
  const grid = [headDim / 2, Math.ceil(nHeads / ROPE_HEADS_PER_THREAD), seqLen] as const;
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params, options.positions, table],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, grid),
  };
}

/**
 * Encodes RoPE over `[seqLen, nHeads, headDim]` rows (`rope_<dtype>` or `rope_neox_<dtype>`):
 * for each rotated pair `(i0, i1)` of token `t`,
 * `y[i0] = x[i0]·cos θ − x[i1]·sin θ`, `y[i1] = x[i0]·sin θ + x[i1]·cos θ` with
 * `θ = positions[t] · freqScale · base^(−2p/freqDim) / freqFactors[p]`; elements outside
 * the rotated pairs are copied. Arithmetic is f32; each output is rounded once.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, mode, shape and frequencies.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `mode`/`dtype` pair (no `rope_neox_f16` in the
 * catalogue), a missing buffer or registry, or a partial RoPE without `partialRotary`.
 * @throws {RangeError} For sizes that are not positive integers, an odd `headDim` or
 * `ropeDim`, `ropeDim` above `headDim` or 512, a non-positive `base`/`freqScale`/factor,
 * or a buffer smaller than the shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, rope } from "../mod.ts";
 * import { ropeRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two tokens (positions 3 and 4) of one head of 4, NeoX pairs, rotated in place.
 * const x = [1, 2, 3, 4, 5, 6, 7, 8];
 * using q = device.newBuffer(new Float32Array(x));
 * using positions = device.newBuffer(new Uint32Array([3, 4]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await rope(encoder, {
 *   registry, input: q, output: q, positions, dtype: "f32", mode: "neox",
 *   seqLen: 2, nHeads: 1, headDim: 4, base: 10000,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = ropeRef(x, {
 *   seqLen: 2, nHeads: 1, headDim: 4, positions: [3, 4], mode: "neox", base: 10000,
 * });
 * new Float32Array(q.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export async function rope(encoder: ComputeEncoder, options: RopeOptions): Promise<void> {
  await encodePlan(encoder, ropePlan(options));
}

/**
 * {@linkcode rope}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, mode, shape and frequencies.
 * @throws {TypeError} For an unsupported `mode`/`dtype`, a missing buffer or registry, or a
 * partial RoPE without `partialRotary`.
 * @throws {RangeError} For bad sizes or frequencies, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ropeSync } from "../mod.ts";
 * import { ropeRef } from "../reference.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const x = [1, 0, 0, 1];
 * using k = device.newBuffer(new Float32Array(x));
 * using positions = device.newBuffer(new Uint32Array([1]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ropeSync(encoder, {
 *   registry, input: k, output: k, positions, dtype: "f32", mode: "normal",
 *   seqLen: 1, nHeads: 1, headDim: 4, base: 500000,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const expected = ropeRef(x, {
 *   seqLen: 1, nHeads: 1, headDim: 4, positions: [1], mode: "normal", base: 500000,
 * });
 * new Float32Array(k.contents).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
 * ```
 */
export function ropeSync(encoder: ComputeEncoder, options: RopeOptions): void {
  encodePlanSync(encoder, ropePlan(options));
}
