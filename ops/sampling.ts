// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the sampling kernels: `shaders/argmax.metal` (greedy pick),
 * `shaders/argsort.metal` (full descending argsort), `shaders/top_k.metal` (the k largest,
 * sorted) and `shaders/softmax_sample.metal` (a draw from softmax(logits / T), optionally
 * within the top-p nucleus). All work on f32 rows of a row-major `[rows, cols]` matrix, one
 * threadgroup per row. The f64 references are `ops/sampling_ref.ts`.
 *
 * **Order and ties.** `argmax`, `argsort` and `topK` share one strict order: larger value
 * first; equal values by **ascending index** (the lowest index wins a tie); NaN counts as
 * larger than `+Infinity` (as in `torch.sort` / `torch.argmax`, so a broken row shows up as
 * a NaN value rather than a plausible token); `-0` equals `+0`. Results never depend on the
 * threadgroup width or the device.
 *
 * **Randomness.** No generator runs on the device: {@linkcode softmaxSample} takes one
 * uniform number in `[0, 1)` per row from the caller, so a seeded host generator makes a
 * whole generation reproducible.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { argmax } from "./sampling.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0.5, 3, 3, -1]));
 * using indices = device.newBuffer(4);
 * using values = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await argmax(encoder, { registry, input, indices, values, rows: 1, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Uint32Array(indices.contents)[0]); // 1 (ties go to the lowest index)
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  ARGMAX_MAX_SIMDGROUPS,
  ARGSORT_TG_ELEMENTS,
  SAMPLE_MAX_SIMDGROUPS,
  SAMPLING_COLS_PER_THREAD,
  SIMD_WIDTH,
  TOP_K_MAX,
} from "./_defines.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  packParams,
  rowPerThreadgroup,
} from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, sizeDetail } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { ARGMAX_KERNELS } from "../shaders/argmax.ts";
import { ARGSORT_KERNELS } from "../shaders/argsort.ts";
import { SOFTMAX_SAMPLE_KERNELS } from "../shaders/softmax_sample.ts";
import { TOP_K_KERNELS } from "../shaders/top_k.ts";

/**
 * The catalogue names of the sampling shaders (`argmax.metal`, `argsort.metal`, `top_k.metal`,
 * `softmax_sample.metal`), by helper, from their tables.
 */
export const SAMPLING_KERNELS: {
  readonly argmax: typeof ARGMAX_KERNELS.f32;
  readonly argsort: typeof ARGSORT_KERNELS.f32;
  readonly topK: typeof TOP_K_KERNELS.f32;
  readonly softmaxSample: typeof SOFTMAX_SAMPLE_KERNELS.f32;
} = {
  argmax: ARGMAX_KERNELS.f32,
  argsort: ARGSORT_KERNELS.f32,
  topK: TOP_K_KERNELS.f32,
  softmaxSample: SOFTMAX_SAMPLE_KERNELS.f32,
};

/** Every kernel name of the sampling shaders. */
export type SamplingKernelName = TableNames<typeof SAMPLING_KERNELS>;

/** The largest number of rows one {@linkcode softmaxSample} call takes (uniforms go by setBytes). */
export const SOFTMAX_SAMPLE_MAX_ROWS = 1024;

/** Options of {@linkcode argmax}. */
export interface ArgmaxOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[rows, cols]`, row-major. */
  input: DeviceBuffer;
  /** u32 `[rows]`: the index of each row's largest entry. */
  indices: DeviceBuffer;
  /** f32 `[rows]`: that entry's value (NaN when the row holds a NaN). */
  values: DeviceBuffer;
  /**
   * Number of rows (one threadgroup each).
   *
   * @default {1}
   */
  rows?: number;
  /** Row length (e.g. the vocabulary size). */
  cols: number;
}

/** Options of {@linkcode argsort}. */
export interface ArgsortOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[rows, cols]`, row-major. */
  input: DeviceBuffer;
  /** u32 `[rows, cols]`: each row's indices, largest value first. */
  output: DeviceBuffer;
  /**
   * Device scratch of {@linkcode argsortScratchBytes}`(rows, cols)` bytes, needed only when
   * that is more than 0 (rows longer than 2048 entries).
   */
  scratch?: DeviceBuffer;
  /**
   * Number of rows (one threadgroup each).
   *
   * @default {1}
   */
  rows?: number;
  /** Row length. */
  cols: number;
}

/** Options of {@linkcode topK}. */
export interface TopKOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[rows, cols]`, row-major. */
  input: DeviceBuffer;
  /** u32 `[rows, k]`: the indices of the k largest entries, largest first. */
  indices: DeviceBuffer;
  /** f32 `[rows, k]`: their values, in the same order. */
  values: DeviceBuffer;
  /**
   * Number of rows (one threadgroup each).
   *
   * @default {1}
   */
  rows?: number;
  /** Row length (e.g. the vocabulary size). */
  cols: number;
  /** Entries to keep, `1 ≤ k ≤ min(cols, 1024)`. */
  k: number;
}

/** Options of {@linkcode softmaxSample}. */
export interface SoftmaxSampleOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[rows, cols]` logits; finite, or `-Infinity` for masked entries. */
  logits: DeviceBuffer;
  /** f32 `[rows, cols]`: receives softmax(logits / temperature). */
  probs: DeviceBuffer;
  /** u32 `[rows]`: the drawn token of each row. */
  tokens: DeviceBuffer;
  /** f32 `[rows]`: ln p(token) under softmax(logits / temperature). */
  logprobs: DeviceBuffer;
  /**
   * Number of rows (one threadgroup each), at most {@linkcode SOFTMAX_SAMPLE_MAX_ROWS}.
   *
   * @default {1}
   */
  rows?: number;
  /** Row length. */
  cols: number;
  /** The temperature, finite and `> 0` (for temperature 0 use {@linkcode argmax}). */
  temperature: number;
  /**
   * Nucleus mass in `(0, 1]`. Below 1 the logits of each row must be sorted in descending
   * order, as the `values` of {@linkcode topK} are: the draw is then limited to the shortest
   * prefix whose probability reaches `topP`.
   *
   * @default {1}
   */
  topP?: number;
  /** One uniform number in `[0, 1)` per row (from a seeded generator for reproducibility). */
  uniforms: ArrayLike<number>;
}

function nextPow2(n: number): number {
  return n <= 2 ? 2 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * The device scratch {@linkcode argsort} needs: 0 for rows of at most 2048 entries, else
 * `rows × nextPow2(cols) × 8` bytes.
 *
 * @param rows Number of rows.
 * @param cols Row length.
 * @returns Bytes of scratch (0 when none is needed).
 *
 * @example Usage
 * ```ts
 * import { argsortScratchBytes } from "./sampling.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(argsortScratchBytes(8, 128), 0);
 * assert.strictEqual(argsortScratchBytes(1, 32000), 32768 * 8);
 * ```
 */
export function argsortScratchBytes(rows: number, cols: number): number {
  const padded = nextPow2(cols);
  return padded > ARGSORT_TG_ELEMENTS ? rows * padded * 8 : 0;
}

function rowGeometry(rows: number, cols: number, maxSimdgroups: number) {
  return (pipeline: Parameters<KernelPlan["geometry"]>[0]) =>
    rowPerThreadgroup(pipeline, rows, cols, SAMPLING_COLS_PER_THREAD, SIMD_WIDTH * maxSimdgroups);
}

function argmaxPlan(options: ArgmaxOptions): KernelPlan {
  checkRegistry("argmax", options.registry);
  const kernel = SAMPLING_KERNELS.argmax;
  const rows = checkCount(kernel, "rows", options.rows ?? 1);
  const cols = checkCount(kernel, "cols", options.cols);
  checkBuffer(
    kernel,
    "input",
    options.input,
    rows * cols * 4,
    sizeDetail([["rows", rows], ["cols", cols]], 4),
  );
  checkBuffer(kernel, "indices", options.indices, rows * 4, sizeDetail([["rows", rows]], 4));
  checkBuffer(kernel, "values", options.values, rows * 4, sizeDetail([["rows", rows]], 4));
  // struct ArgmaxParams { uint n; }
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.indices, options.values, packParams([["u32", cols]])],
    geometry: rowGeometry(rows, cols, ARGMAX_MAX_SIMDGROUPS),
  };
}

function argsortPlan(options: ArgsortOptions): KernelPlan {
  checkRegistry("argsort", options.registry);
  const kernel = SAMPLING_KERNELS.argsort;
  const rows = checkCount(kernel, "rows", options.rows ?? 1);
  const cols = checkCount(kernel, "cols", options.cols);
  const detail = sizeDetail([["rows", rows], ["cols", cols]], 4);
  checkBuffer(kernel, "input", options.input, rows * cols * 4, detail);
  checkBuffer(kernel, "output", options.output, rows * cols * 4, detail);
  const padded = nextPow2(cols);
  const scratchBytes = argsortScratchBytes(rows, cols);
  if (scratchBytes > 0) {
    checkBuffer(
      kernel,
      "scratch",
      options.scratch,
      scratchBytes,
      `rows ${rows} × nextPow2(cols ${cols}) ${padded} × 8 bytes, for rows longer than ${ARGSORT_TG_ELEMENTS}`,
    );
  }
  // struct ArgsortParams { uint n; uint padded; }
  const params = packParams([["u32", cols], ["u32", padded]]);
  return {
    registry: options.registry,
    kernel,
    // Without scratch the kernel never touches binding 2: bind the output there.
    args: [
      options.input,
      options.output,
      scratchBytes > 0 ? options.scratch! : options.output,
      params,
    ],
    geometry: (pipeline) =>
      rowPerThreadgroup(pipeline, rows, Math.min(padded, ARGSORT_TG_ELEMENTS), 2, 1024),
  };
}

function topKPlan(options: TopKOptions): KernelPlan {
  checkRegistry("topK", options.registry);
  const kernel = SAMPLING_KERNELS.topK;
  const rows = checkCount(kernel, "rows", options.rows ?? 1);
  const cols = checkCount(kernel, "cols", options.cols);
  const k = checkCount(kernel, "k", options.k);
  if (k > cols || k > TOP_K_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: "k" is ${k}, expected at most ${
        Math.min(cols, TOP_K_MAX)
      } (min of cols ${cols} and ${TOP_K_MAX})`,
    );
  }
  checkBuffer(
    kernel,
    "input",
    options.input,
    rows * cols * 4,
    sizeDetail([["rows", rows], ["cols", cols]], 4),
  );
  const detail = sizeDetail([["rows", rows], ["k", k]], 4);
  checkBuffer(kernel, "indices", options.indices, rows * k * 4, detail);
  checkBuffer(kernel, "values", options.values, rows * k * 4, detail);
  // struct TopKParams { uint n; uint k; uint k_padded; }
  const params = packParams([["u32", cols], ["u32", k], ["u32", nextPow2(k)]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.indices, options.values, params],
    geometry: rowGeometry(rows, cols, 32),
  };
}

function softmaxSamplePlan(options: SoftmaxSampleOptions): KernelPlan {
  checkRegistry("softmaxSample", options.registry);
  const kernel = SAMPLING_KERNELS.softmaxSample;
  const rows = checkCount(kernel, "rows", options.rows ?? 1);
  const cols = checkCount(kernel, "cols", options.cols);
  if (rows > SOFTMAX_SAMPLE_MAX_ROWS) {
    throw new RangeError(
      `Cannot encode ${kernel}: "rows" is ${rows}, expected at most ${SOFTMAX_SAMPLE_MAX_ROWS}`,
    );
  }
  const { temperature } = options;
  if (typeof temperature !== "number") {
    throw new TypeError(
      `Cannot encode ${kernel}: "temperature" is ${typeof temperature}, expected a finite number greater than 0`,
    );
  }
  if (
    !(Number.isFinite(temperature) && temperature > 0 &&
      Number.isFinite(Math.fround(1 / temperature)))
  ) {
    throw new RangeError(
      `Cannot encode ${kernel}: "temperature" is ${temperature}, expected a finite number greater than 0`,
    );
  }
  const topP = options.topP ?? 1;
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) {
    throw new RangeError(`Cannot encode ${kernel}: "topP" is ${topP}, expected a number in (0, 1]`);
  }
  const uniforms = options.uniforms;
  if (uniforms == null || typeof uniforms.length !== "number") {
    throw new TypeError(
      `Cannot encode ${kernel}: "uniforms" is ${uniforms}, expected ${rows} numbers in [0, 1)`,
    );
  }
  if (uniforms.length < rows) {
    throw new RangeError(
      `Cannot encode ${kernel}: "uniforms" holds ${uniforms.length} numbers, expected ${rows} (one per row)`,
    );
  }
  const u = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const value = uniforms[r];
    if (!(typeof value === "number" && value >= 0 && value < 1)) {
      throw new RangeError(
        `Cannot encode ${kernel}: "uniforms[${r}]" is ${value}, expected a number in [0, 1)`,
      );
    }
    u[r] = Math.min(value, 0.99999994); // f32 rounding must not reach 1
  }
  const detail = sizeDetail([["rows", rows], ["cols", cols]], 4);
  checkBuffer(kernel, "logits", options.logits, rows * cols * 4, detail);
  checkBuffer(kernel, "probs", options.probs, rows * cols * 4, detail);
  checkBuffer(kernel, "tokens", options.tokens, rows * 4, sizeDetail([["rows", rows]], 4));
  checkBuffer(kernel, "logprobs", options.logprobs, rows * 4, sizeDetail([["rows", rows]], 4));
  // struct SampleParams { uint n; float inv_temperature; float top_p; }
  const params = packParams([["u32", cols], ["f32", 1 / temperature], ["f32", topP]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.logits, options.probs, options.tokens, options.logprobs, params, u],
    geometry: rowGeometry(rows, cols, SAMPLE_MAX_SIMDGROUPS),
  };
}

/**
 * Encodes a per-row argmax (`argmax_f32`): `indices[r]` = the index of the largest entry
 * of row `r`, `values[r]` = that entry. Ties go to the lowest index; NaN beats everything
 * (the first NaN is returned, with value NaN).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows and cols.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { argmax, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 5, 3, 9, 2, 9]));
 * using indices = device.newBuffer(8);
 * using values = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await argmax(encoder, { registry, input: logits, indices, values, rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(indices.contents)], [1, 0]); // ties: lowest index
 * assert.deepStrictEqual([...new Float32Array(values.contents)], [5, 9]);
 * ```
 */
export async function argmax(encoder: ComputeEncoder, options: ArgmaxOptions): Promise<void> {
  await encodePlan(encoder, argmaxPlan(options));
}

/**
 * {@linkcode argmax}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows and cols.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { argmaxSync, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([-1, -0.5, -2]));
 * using indices = device.newBuffer(4);
 * using values = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * argmaxSync(encoder, { registry, input: logits, indices, values, cols: 3 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Uint32Array(indices.contents)[0], 1);
 * ```
 */
export function argmaxSync(encoder: ComputeEncoder, options: ArgmaxOptions): void {
  encodePlanSync(encoder, argmaxPlan(options));
}

/**
 * Encodes a per-row descending argsort (`argsort_desc_f32`): `output[r]` = the indices of
 * row `r`, largest value first, equal values by ascending index, NaN first. Rows longer
 * than 2048 entries need `scratch` ({@linkcode argsortScratchBytes}).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows and cols.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry (or scratch when needed).
 * @throws {RangeError} For a bad size or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { argsort, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using scores = device.newBuffer(new Float32Array([1, 5, 3, 2]));
 * using order = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await argsort(encoder, { registry, input: scores, output: order, cols: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(order.contents)], [1, 2, 3, 0]);
 * ```
 */
export async function argsort(encoder: ComputeEncoder, options: ArgsortOptions): Promise<void> {
  await encodePlan(encoder, argsortPlan(options));
}

/**
 * {@linkcode argsort}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows and cols.
 * @throws {TypeError} For a missing buffer or registry (or scratch when needed).
 * @throws {RangeError} For a bad size or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { argsortScratchBytes, argsortSync, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Rows longer than one threadgroup sorts need scratch memory (none for these).
 * using input = device.newBuffer(new Float32Array([3, 1, 2, 0, 1, 2]));
 * using output = device.newBuffer(24);
 * using scratch = device.newBuffer(Math.max(4, argsortScratchBytes(2, 3)));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * argsortSync(encoder, { registry, input, output, scratch, rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(output.contents)], [0, 2, 1, 2, 1, 0]);
 * ```
 */
export function argsortSync(encoder: ComputeEncoder, options: ArgsortOptions): void {
  encodePlanSync(encoder, argsortPlan(options));
}

/**
 * Encodes a per-row top-k (`top_k_f32`): the `k` largest entries of each row, sorted
 * largest first (equal values by ascending index, so ties keep the lowest indices; NaN
 * first), as indices and values.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, cols and k.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, `k > min(cols, 1024)`, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, topK } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using logits = device.newBuffer(new Float32Array([1, 5, 3, 4]));
 * using indices = device.newBuffer(8);
 * using values = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await topK(encoder, { registry, input: logits, indices, values, cols: 4, k: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Uint32Array(indices.contents)], [1, 3]);
 * assert.deepStrictEqual([...new Float32Array(values.contents)], [5, 4]);
 * ```
 */
export async function topK(encoder: ComputeEncoder, options: TopKOptions): Promise<void> {
  await encodePlan(encoder, topKPlan(options));
}

/**
 * {@linkcode topK}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, rows, cols and k.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size or k, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, topKSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // The top 1 expert of each of two tokens over 3 experts.
 * using routerLogits = device.newBuffer(new Float32Array([0.1, 0.7, 0.2, 0.9, 0.05, 0.05]));
 * using indices = device.newBuffer(8);
 * using values = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * topKSync(encoder, { registry, input: routerLogits, indices, values, rows: 2, cols: 3, k: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(indices.contents)], [1, 0]);
 * ```
 */
export function topKSync(encoder: ComputeEncoder, options: TopKOptions): void {
  encodePlanSync(encoder, topKPlan(options));
}

/**
 * Encodes a draw of one token per row from `softmax(logits / temperature)`
 * (`softmax_sample_f32`), given one uniform `u ∈ [0, 1)` per row: the token is the first
 * index of nonzero probability whose cumulative probability exceeds `u` (times the nucleus
 * mass when `topP < 1`, which requires rows sorted by descending logit, e.g. the values of
 * {@linkcode topK}; map the drawn position back through its indices). Also writes the
 * tempered probabilities and `ln p(token)`. A `-Infinity` logit is never drawn.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes, temperature, topP and the uniforms.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer, registry or uniforms, or a non-number size or
 * temperature.
 * @throws {RangeError} For a bad size, more than 1024 rows, a temperature that is not
 * finite and positive, `topP` outside `(0, 1]`, a uniform outside `[0, 1)`, or a too small
 * buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softmaxSample } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One row of logits where token 1 holds nearly all the probability.
 * using logits = device.newBuffer(new Float32Array([0, 10, 0]));
 * using probs = device.newBuffer(12);
 * using tokens = device.newBuffer(4);
 * using logprobs = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await softmaxSample(encoder, {
 *   registry, logits, probs, tokens, logprobs, cols: 3, temperature: 1, topP: 0.95, uniforms: [0.5],
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.strictEqual(new Uint32Array(tokens.contents)[0], 1);
 * assert.ok(new Float32Array(logprobs.contents)[0] > -0.001);
 * ```
 */
export async function softmaxSample(
  encoder: ComputeEncoder,
  options: SoftmaxSampleOptions,
): Promise<void> {
  await encodePlan(encoder, softmaxSamplePlan(options));
}

/**
 * {@linkcode softmaxSample}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, sizes, temperature, topP and the uniforms.
 * @throws {TypeError} For a missing buffer, registry or uniforms.
 * @throws {RangeError} For a bad size, temperature, topP or uniform, or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, softmaxSampleSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Two equally likely tokens: a uniform below 0.5 picks the first, above it the second.
 * using logits = device.newBuffer(new Float32Array([0, 0, 0, 0]));
 * using probs = device.newBuffer(16);
 * using tokens = device.newBuffer(8);
 * using logprobs = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * softmaxSampleSync(encoder, {
 *   registry, logits, probs, tokens, logprobs, rows: 2, cols: 2, temperature: 1, uniforms: [0.25, 0.75],
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Uint32Array(tokens.contents)], [0, 1]);
 * assert.ok(Math.abs(new Float32Array(logprobs.contents)[0] - Math.log(0.5)) < 1e-5);
 * ```
 */
export function softmaxSampleSync(encoder: ComputeEncoder, options: SoftmaxSampleOptions): void {
  encodePlanSync(encoder, softmaxSamplePlan(options));
}
