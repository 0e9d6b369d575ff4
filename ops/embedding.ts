// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/embedding.metal`: token embeddings looked up in a table stored in
 * MLX's affine format (4 or 6-bit codes, a bf16 scale and bias per group; `formats/affine.ts`
 * packs it, and an MLX model's quantized `embed_tokens` binds as it is), dequantized to f32.
 * The f64 reference is `ops/embedding_ref.ts`.
 *
 * A large vocabulary (151,936 or 262,144 rows) binds in one of two ways: the whole table as
 * one buffer (on the CPU backend a large buffer is zero pages until written, so a program
 * can fill only the rows it uses), or a shard of consecutive rows with `rowBase`, the id of
 * its first row. Ids are read on the device; an id outside the bound rows gives a row of
 * zeros, never a read out of bounds.
 *
 * Bindings: `buffer(0)` table (packed rows), `buffer(1)` scales, `buffer(2)` biases (bf16 bits,
 * `[rows, embedDim / groupSize]`), `buffer(3)` ids `uint[tokens]`, `buffer(4)` output
 * `float[tokens, embedDim]`, `buffer(5)` `constant EmbeddingParams { uint embed_dim,
 * group_size, packed_row_stride, n_groups_per_row, row_base, row_count; }`.
 * Grid: `(embedDim / 16, tokens)` threads.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, quantizeAffine } from "../mod.ts";
 * import { embeddingGatherAffine } from "./embedding.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Three rows of 64: row r is all r.
 * const t = quantizeAffine(
 *   Float32Array.from({ length: 192 }, (_, i) => Math.floor(i / 64)),
 *   { rows: 3, cols: 64, bits: 4, groupSize: 64 },
 * );
 * using table = device.newBuffer(t.weights);
 * using scales = device.newBuffer(t.scales);
 * using biases = device.newBuffer(t.biases);
 * using ids = device.newBuffer(new Uint32Array([2, 1]));
 * using output = device.newBuffer(2 * 64 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await embeddingGatherAffine(encoder, {
 *   registry, table, scales, biases, ids, output,
 *   tokens: 2, rows: 3, embedDim: 64, bits: 4, groupSize: 64,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const out = new Float32Array(output.contents);
 * assert.strictEqual(out[0], 2);
 * assert.strictEqual(out[64], 1);
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import { AFFINE_GROUP_SIZES, type AffineGroupSize } from "../formats/affine.ts";
import type { KernelRegistry } from "../registry.ts";
import { blockDims, encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, sizeDetail, U32_MAX } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { EMBEDDING_KERNELS } from "../shaders/embedding.ts";

/** The catalogue names of `embedding.metal` (its table: `shaders/embedding.ts`). */
export { EMBEDDING_KERNELS };

/** Every kernel name of `embedding.metal`. */
export type EmbeddingKernelName = TableNames<typeof EMBEDDING_KERNELS>;

/** Values each thread of the embedding kernels dequantizes (`EMBEDDING_VALUES_PER_THREAD`). */
export const EMBEDDING_VALUES_PER_THREAD = 16;

/** Options of {@linkcode embeddingGatherAffine}. */
export interface EmbeddingGatherAffineOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** The packed table: `rows` rows of `embedDim · bits / 8` bytes (MLX's layout). */
  table: DeviceBuffer;
  /** `[rows, embedDim / groupSize]` bf16 scales. */
  scales: DeviceBuffer;
  /** `[rows, embedDim / groupSize]` bf16 biases. */
  biases: DeviceBuffer;
  /** `uint[tokens]` token ids. */
  ids: DeviceBuffer;
  /** `float[tokens, embedDim]` embeddings. */
  output: DeviceBuffer;
  /** Tokens to look up. */
  tokens: number;
  /** Rows in the bound table (the vocabulary size, or a shard's row count). */
  rows: number;
  /** Values per row; a multiple of `groupSize`. */
  embedDim: number;
  /** Bits per code: 4 or 6. */
  bits: 4 | 6;
  /** Values per scale/bias pair. */
  groupSize: AffineGroupSize;
  /**
   * The id of the table's first row, for a shard of a larger vocabulary; ids outside
   * `[rowBase, rowBase + rows)` read zeros.
   *
   * @default {0}
   */
  rowBase?: number;
}

const F32 = bytesPerElement("f32");
const U32 = bytesPerElement("u32");
// Scales and biases: bf16 bit patterns.
const BF16 = bytesPerElement("bf16");

function embeddingPlan(options: EmbeddingGatherAffineOptions): KernelPlan {
  checkRegistry("embeddingGatherAffine", options.registry);
  const bits = options.bits;
  if (bits !== 4 && bits !== 6) {
    throw new RangeError(
      `Cannot encode embeddingGatherAffine: "bits" is ${bits}, expected 4 or 6 (embedding_gather_4bit, embedding_gather_6bit)`,
    );
  }
  const kernel = EMBEDDING_KERNELS[bits];
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const rows = checkCount(kernel, "rows", options.rows);
  const embedDim = checkCount(kernel, "embedDim", options.embedDim);
  const { groupSize } = options;
  if (!AFFINE_GROUP_SIZES.includes(groupSize)) {
    throw new RangeError(
      `Cannot encode ${kernel}: "groupSize" is ${groupSize}, expected 32, 64 or 128`,
    );
  }
  if (embedDim % groupSize !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "embedDim" is ${embedDim}, expected a multiple of the group size ${groupSize}`,
    );
  }
  const rowBase = options.rowBase ?? 0;
  if (!Number.isInteger(rowBase) || rowBase < 0 || rowBase + rows > U32_MAX + 1) {
    throw new RangeError(
      `Cannot encode ${kernel}: "rowBase" is ${rowBase}, expected an integer from 0 with rowBase + rows ${rows} up to 2^32`,
    );
  }
  const rowBytes = embedDim * bits / 8;
  const groups = embedDim / groupSize;
  if (tokens * embedDim > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: tokens ${tokens} × embedDim ${embedDim} exceeds the kernel's 32-bit indices`,
    );
  }
  checkBuffer(
    kernel,
    "table",
    options.table,
    rows * rowBytes,
    `rows ${rows} × embedDim ${embedDim} × ${bits} bits / 8`,
  );
  const groupDetail = sizeDetail([["rows", rows], ["embedDim / groupSize", groups]], BF16);
  checkBuffer(kernel, "scales", options.scales, rows * groups * BF16, groupDetail);
  checkBuffer(kernel, "biases", options.biases, rows * groups * BF16, groupDetail);
  checkBuffer(kernel, "ids", options.ids, tokens * U32, sizeDetail([["tokens", tokens]], U32));
  checkBuffer(
    kernel,
    "output",
    options.output,
    tokens * embedDim * F32,
    sizeDetail([["tokens", tokens], ["embedDim", embedDim]], F32),
  );
  // struct EmbeddingParams { uint embed_dim, group_size, packed_row_stride, n_groups_per_row, row_base, row_count; }
  const params = packParams([
    ["u32", embedDim],
    ["u32", groupSize],
    ["u32", rowBytes],
    ["u32", groups],
    ["u32", rowBase],
    ["u32", rows],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.table, options.scales, options.biases, options.ids, options.output, params],
    geometry: (pipeline) =>
      blockDims(pipeline, [embedDim / EMBEDDING_VALUES_PER_THREAD, tokens, 1]),
  };
}

/**
 * Encodes `output[t] = dequantize(table row ids[t] − rowBase)`, in f32
 * (`embedding_gather_4bit` or `embedding_gather_6bit`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, counts, format and row base.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bits other than 4 or 6, bad counts or group size, `embedDim` not a multiple of the group
 * size, a bad `rowBase`, or a buffer too small for its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherAffine, KernelRegistry, quantizeAffine } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // A shard holding ids 1000 and 1001 of a larger vocabulary.
 * const t = quantizeAffine(
 *   Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 0.5 : -2)),
 *   { rows: 2, cols: 32, bits: 6, groupSize: 32 },
 * );
 * using table = device.newBuffer(t.weights);
 * using scales = device.newBuffer(t.scales);
 * using biases = device.newBuffer(t.biases);
 * using ids = device.newBuffer(new Uint32Array([1001, 5]));
 * using output = device.newBuffer(2 * 32 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await embeddingGatherAffine(encoder, {
 *   registry, table, scales, biases, ids, output,
 *   tokens: 2, rows: 2, embedDim: 32, bits: 6, groupSize: 32, rowBase: 1000,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const out = new Float32Array(output.contents);
 * assert.strictEqual(out[0], -2); // id 1001
 * assert.strictEqual(out[32], 0); // id 5 is not in the shard
 * ```
 */
export async function embeddingGatherAffine(
  encoder: ComputeEncoder,
  options: EmbeddingGatherAffineOptions,
): Promise<void> {
  await encodePlan(encoder, embeddingPlan(options));
}

/**
 * {@linkcode embeddingGatherAffine}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, counts, format and row base.
 * @throws {TypeError | RangeError} As {@linkcode embeddingGatherAffine}.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherAffineSync, KernelRegistry, quantizeAffine } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const t = quantizeAffine(new Float32Array(32).fill(3), { rows: 1, cols: 32, bits: 4, groupSize: 32 });
 * using table = device.newBuffer(t.weights);
 * using scales = device.newBuffer(t.scales);
 * using biases = device.newBuffer(t.biases);
 * using ids = device.newBuffer(new Uint32Array([0]));
 * using output = device.newBuffer(32 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * embeddingGatherAffineSync(encoder, {
 *   registry, table, scales, biases, ids, output,
 *   tokens: 1, rows: 1, embedDim: 32, bits: 4, groupSize: 32,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(new Float32Array(output.contents).every((v) => v === 3));
 * ```
 */
export function embeddingGatherAffineSync(
  encoder: ComputeEncoder,
  options: EmbeddingGatherAffineOptions,
): void {
  encodePlanSync(encoder, embeddingPlan(options));
}
