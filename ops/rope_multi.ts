// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/rope_multi.metal`: multi-section rotary position embedding over
 * `[seqLen, nHeads, headDim]` rows with NeoX (split) pairs, where each rotated pair takes its
 * position from one of four axes (time, height, width, extra) chosen by `sections`:
 *
 * - `"mrope"` (Qwen2-VL, ggml mode 8): contiguous sections — with `sector = p mod Σsections`,
 *   pairs with `sector < s0` use axis 0, the next `s1` axis 1, the next `s2` axis 2, the rest 3.
 * - `"imrope"` (Qwen3-VL, Qwen3.5 text, ggml mode 40): interleaved — `sector mod 3` cycles
 *   through axes 0, 1, 2 while `sector < 3·s_axis`; the rest use axis 3.
 *
 * Qwen3.5 text layers use `"imrope"`, sections `[11, 11, 10, 0]`, base 1e7, with the same
 * position on every axis (then it equals plain NeoX RoPE). The frequency options are those of
 * `ops/rope.ts` (`ropeDim`, `partialRotary`, `freqScale`, `freqFactors`); with a partial
 * `ropeDim` the Hugging Face / llama.cpp layout is `partialRotary: "truncated"` (pairs
 * `(p, p + ropeDim/2)`; mlx-native's `rope_multi` pairs `(p, p + headDim/2)` with exponents
 * over `ropeDim`, a mix of the two layouts that no model checkpoint expects). Angles are
 * reduced modulo a turn exactly, as in `rope.metal`. The f64 reference is
 * `ops/rope_multi_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { ropeMulti } from "./rope_multi.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(new Float32Array(2 * 4 * 64).fill(1)); // 2 tokens, 4 heads
 * // Axis-major positions [4, seqLen]: time, height, width, extra.
 * using positions = device.newBuffer(new Uint32Array([5, 6, 5, 6, 5, 6, 0, 0]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ropeMulti(encoder, {
 *   registry, input: q, output: q, positions, dtype: "f32", mode: "imrope",
 *   sections: [11, 11, 10, 0], seqLen: 2, nHeads: 4, headDim: 64, base: 1e7,
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
import { ROPE_MULTI_KERNELS } from "../shaders/rope_multi.ts";

/** The catalogue names of `rope_multi.metal` (its table: `shaders/rope_multi.ts`). */
export { ROPE_MULTI_KERNELS };

/** Every kernel name of `rope_multi.metal`. */
export type RopeMultiKernelName = TableNames<typeof ROPE_MULTI_KERNELS>;

/** Dtypes of {@linkcode ropeMulti}. */
export type RopeMultiDType = keyof typeof ROPE_MULTI_KERNELS;

/** How pairs are assigned to position axes: contiguous (`"mrope"`) or interleaved (`"imrope"`). */
export type RopeMultiMode = "mrope" | "imrope";

/** Options of {@linkcode ropeMulti}. */
export interface RopeMultiOptions extends RopeFrequencyOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** `[seqLen, nHeads, headDim]` values of `dtype`, row-major. */
  input: DeviceBuffer;
  /** `[seqLen, nHeads, headDim]` results of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /**
   * `u32[4 · seqLen]`, axis-major: the position of token `t` on axis `a` at `a · seqLen + t`
   * (below 2^24).
   */
  positions: DeviceBuffer;
  /** Storage type of `input` and `output`. */
  dtype: RopeMultiDType;
  /** Section layout. */
  mode: RopeMultiMode;
  /** Pairs per axis section `[s0, s1, s2, s3]` (non-negative integers, not all 0). */
  sections: readonly [number, number, number, number];
  /** Tokens. */
  seqLen: number;
  /** Heads per token. @default 1 */
  nHeads?: number;
  /** Elements per head (even). */
  headDim: number;
}

/**
 * The position axis (0 to 3) of each of `nPairs` rotated pairs.
 *
 * @param subject The kernel, for messages.
 * @param mode The section layout.
 * @param sections The four section sizes.
 * @param nPairs Rotated pairs.
 * @returns `nPairs` axes, ready for `setBytes`.
 * @throws {TypeError} For an unknown mode or sections that are not four numbers.
 * @throws {RangeError} For negative, fractional or all-zero sections.
 */
function ropeMultiAxes(
  subject: string,
  mode: unknown,
  sections: unknown,
  nPairs: number,
): Uint32Array {
  if (mode !== "mrope" && mode !== "imrope") {
    throw new TypeError(
      `Cannot encode ${subject}: "mode" is ${JSON.stringify(mode)}, expected "mrope" or "imrope"`,
    );
  }
  if (!Array.isArray(sections) || sections.length !== 4) {
    throw new TypeError(
      `Cannot encode ${subject}: "sections" is not an array of 4 numbers, expected [s0, s1, s2, s3]`,
    );
  }
  for (const s of sections) {
    if (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s > 0xffff) {
      throw new RangeError(
        `Cannot encode ${subject}: "sections" is [${sections}], expected 4 integers from 0 to 65535`,
      );
    }
  }
  const [s0, s1, s2] = sections as number[];
  const total = (sections as number[]).reduce((a, b) => a + b, 0);
  if (total === 0) {
    throw new RangeError(
      `Cannot encode ${subject}: "sections" is [${sections}], expected at least one non-zero section`,
    );
  }
  const axes = new Uint32Array(Math.max(1, nPairs));
  for (let p = 0; p < nPairs; p++) {
    const sector = p % total;
    if (mode === "mrope") {
      axes[p] = sector < s0 ? 0 : sector < s0 + s1 ? 1 : sector < s0 + s1 + s2 ? 2 : 3;
    } else {
      const lane = sector % 3;
      axes[p] = lane === 0 && sector < 3 * s0
        ? 0
        : lane === 1 && sector < 3 * s1
        ? 1
        : lane === 2 && sector < 3 * s2
        ? 2
        : 3;
    }
  }
  return axes;
}

function ropeMultiPlan(options: RopeMultiOptions): KernelPlan {
  checkRegistry("ropeMulti", options.registry);
  const kernel = pickKernel("ropeMulti", ROPE_MULTI_KERNELS, "dtype", options.dtype);
  const seqLen = checkCount(kernel, "seqLen", options.seqLen);
  const nHeads = checkCount(kernel, "nHeads", options.nHeads ?? 1);
  const headDim = checkCount(kernel, "headDim", options.headDim);
  const layout = ropeLayout(kernel, headDim, true, options);
  const axes = ropeMultiAxes(kernel, options.mode, options.sections, layout.nPairs);
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
    4 * seqLen * 4,
    sizeDetail([["axes", 4], ["seqLen", seqLen]], 4),
  );
  // struct RopeMultiParams { uint head_dim, n_heads, seq_len, n_pairs, pair_offset, copy_start, copy_gap; }
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
    args: [options.input, options.output, params, options.positions, table, axes],
    usesBfloat16: options.dtype === "bf16",
    geometry: (pipeline) => blockDims(pipeline, grid),
  };
}

/**
 * Encodes multi-section RoPE (`rope_multi_<dtype>`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, mode, sections and frequencies.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or `mode`, sections that are not four
 * numbers, a missing `partialRotary` on a partial RoPE, or a missing buffer or registry.
 * @throws {RangeError} For bad sizes (odd `headDim`, `ropeDim` above `headDim` or 512),
 * negative or all-zero sections, a non-positive base, or a buffer too small for its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ropeMulti } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // headDim 4, sections [1, 1, 0, 0] (MRoPE): pair 0 uses the time axis (position 0, no turn),
 * // pair 1 the height axis (position 1: a turn by base^(−1/2) = 0.01 rad).
 * using x = device.newBuffer(new Float32Array([1, 1, 0, 0]));
 * using positions = device.newBuffer(new Uint32Array([0, 1, 0, 0]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await ropeMulti(encoder, {
 *   registry, input: x, output: x, positions, dtype: "f32", mode: "mrope",
 *   sections: [1, 1, 0, 0], seqLen: 1, headDim: 4, base: 1e4,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const y = new Float32Array(x.contents);
 * assert.deepStrictEqual([y[0], y[2]], [1, 0]);
 * assert.ok(Math.abs(y[3] - Math.sin(0.01)) < 1e-6);
 * ```
 */
export async function ropeMulti(encoder: ComputeEncoder, options: RopeMultiOptions): Promise<void> {
  await encodePlan(encoder, ropeMultiPlan(options));
}

/**
 * {@linkcode ropeMulti}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, shape, mode, sections and frequencies.
 * @throws {TypeError} For an unsupported `dtype` or `mode`, or a missing buffer or registry.
 * @throws {RangeError} For bad sizes or sections, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, ropeMultiSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using x = device.newBuffer(new Float32Array([1, 0]));
 * using positions = device.newBuffer(new Uint32Array([1, 0, 0, 0])); // axis 0 only
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * ropeMultiSync(encoder, {
 *   registry, input: x, output: x, positions, dtype: "f32", mode: "imrope",
 *   sections: [1, 0, 0, 0], seqLen: 1, headDim: 2, base: 1e7,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * const y = new Float32Array(x.contents); // a turn by 1 rad
 * assert.ok(Math.abs(y[0] - Math.cos(1)) < 1e-6 && Math.abs(y[1] - Math.sin(1)) < 1e-6);
 * ```
 */
export function ropeMultiSync(encoder: ComputeEncoder, options: RopeMultiOptions): void {
  encodePlanSync(encoder, ropeMultiPlan(options));
}
