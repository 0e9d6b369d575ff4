// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/copy.metal` (a strided 2-D view made contiguous; a flat range
 * copied between element offsets) and `shaders/gather.metal` (rows gathered by device-side
 * ids). All f32; offsets and strides count elements, not bytes. The f64 references are
 * `ops/copy_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { stridedCopy } from "./copy.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4, 5, 6])); // [2, 3]
 * using output = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * // The transpose [3, 2]: row stride 1, column stride 3.
 * await stridedCopy(encoder, { registry, input, output, rows: 3, cols: 2, rowStride: 1, colStride: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // [1, 4, 2, 5, 3, 6]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import { COPY_N_READS, GATHER_N_READS } from "./_defines.ts";
import {
  blockDims,
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { COPY_METAL_KERNELS } from "../shaders/copy.ts";
import { GATHER_KERNELS } from "../shaders/gather.ts";

/** The catalogue names of `copy.metal` and `gather.metal`, by helper (from their tables). */
export const COPY_KERNELS: {
  readonly stridedCopy: typeof COPY_METAL_KERNELS.stridedCopy;
  readonly offsetCopy: typeof COPY_METAL_KERNELS.offsetCopy;
  readonly gather: typeof GATHER_KERNELS.f32;
} = {
  stridedCopy: COPY_METAL_KERNELS.stridedCopy,
  offsetCopy: COPY_METAL_KERNELS.offsetCopy,
  gather: GATHER_KERNELS.f32,
};

/** Every kernel name of `copy.metal` and `gather.metal`. */
export type CopyKernelName = TableNames<typeof COPY_KERNELS>;

/** Options of {@linkcode stridedCopy}. */
export interface StridedCopyOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 source holding the view (see `rowStride`, `colStride`, `offset`). */
  input: DeviceBuffer;
  /** f32 `[rows, cols]` contiguous result; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Rows of the view. */
  rows: number;
  /** Columns of the view. */
  cols: number;
  /** Elements between consecutive source rows (0 broadcasts one row). */
  rowStride: number;
  /**
   * Elements between consecutive source columns (0 broadcasts one column).
   *
   * @default {1}
   */
  colStride?: number;
  /**
   * Element index in `input` of the view's `[0, 0]`.
   *
   * @default {0}
   */
  offset?: number;
}

/** Options of {@linkcode offsetCopy}. */
export interface OffsetCopyOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 source, at least `inputOffset + count` elements. */
  input: DeviceBuffer;
  /**
   * f32 destination, at least `outputOffset + count` elements; may be `input` when the two
   * ranges do not overlap.
   */
  output: DeviceBuffer;
  /** Elements to copy. */
  count: number;
  /**
   * First source element.
   *
   * @default {0}
   */
  inputOffset?: number;
  /**
   * First destination element.
   *
   * @default {0}
   */
  outputOffset?: number;
}

/** Options of {@linkcode gather}. */
export interface GatherOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** f32 `[inputRows, width]` rows to gather from. */
  input: DeviceBuffer;
  /** u32 `[count]` row ids; an id `≥ inputRows` yields a row of zeros. */
  ids: DeviceBuffer;
  /** f32 `[count, width]` result; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Rows of `input`. */
  inputRows: number;
  /** Row length. */
  width: number;
  /** Number of ids (rows of `output`). */
  count: number;
}

function checkElementIndex(kernel: string, name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot encode ${kernel}: "${name}" is ${typeof value}, expected a non-negative integer`,
    );
  }
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: "${name}" is ${value}, expected a non-negative integer up to ${U32_MAX}`,
    );
  }
  return value;
}

function stridedCopyPlan(options: StridedCopyOptions): KernelPlan {
  checkRegistry("stridedCopy", options.registry);
  const kernel = COPY_METAL_KERNELS.stridedCopy;
  const rows = checkCount(kernel, "rows", options.rows);
  const cols = checkCount(kernel, "cols", options.cols);
  const rowStride = checkElementIndex(kernel, "rowStride", options.rowStride);
  const colStride = checkElementIndex(kernel, "colStride", options.colStride ?? 1);
  const offset = checkElementIndex(kernel, "offset", options.offset ?? 0);
  const last = offset + (rows - 1) * rowStride + (cols - 1) * colStride;
  checkBuffer(
    kernel,
    "input",
    options.input,
    (last + 1) * 4,
    `(offset ${offset} + (rows ${rows} - 1) × rowStride ${rowStride} + (cols ${cols} - 1) × colStride ${colStride} + 1) × 4 bytes`,
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    rows * cols * 4,
    sizeDetail([["rows", rows], ["cols", cols]], 4),
  );
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "but stridedCopy cannot run in place",
  );
  // struct StridedCopyParams { uint rows, cols, row_stride, col_stride, src_offset; }
  const params = packParams([
    ["u32", rows],
    ["u32", cols],
    ["u32", rowStride],
    ["u32", colStride],
    ["u32", offset],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    geometry: (pipeline) => blockDims(pipeline, [cols, rows, 1]),
  };
}

function offsetCopyPlan(options: OffsetCopyOptions): KernelPlan {
  checkRegistry("offsetCopy", options.registry);
  const kernel = COPY_METAL_KERNELS.offsetCopy;
  const count = checkCount(kernel, "count", options.count);
  const inputOffset = checkElementIndex(kernel, "inputOffset", options.inputOffset ?? 0);
  const outputOffset = checkElementIndex(kernel, "outputOffset", options.outputOffset ?? 0);
  checkBuffer(
    kernel,
    "input",
    options.input,
    (inputOffset + count) * 4,
    `(inputOffset ${inputOffset} + count ${count}) × 4 bytes`,
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    (outputOffset + count) * 4,
    `(outputOffset ${outputOffset} + count ${count}) × 4 bytes`,
  );
  if (
    options.input === options.output && inputOffset !== outputOffset &&
    inputOffset < outputOffset + count && outputOffset < inputOffset + count
  ) {
    throw new RangeError(
      `Cannot encode ${kernel}: the ranges [${inputOffset}, ${
        inputOffset + count
      }) and [${outputOffset}, ${
        outputOffset + count
      }) of one buffer overlap, expected disjoint ranges`,
    );
  }
  // struct OffsetCopyParams { uint src_offset, dst_offset, count; }
  const params = packParams([["u32", inputOffset], ["u32", outputOffset], ["u32", count]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    geometry: (pipeline) => linearSplit(pipeline, Math.ceil(count / COPY_N_READS)),
  };
}

function gatherPlan(options: GatherOptions): KernelPlan {
  checkRegistry("gather", options.registry);
  const kernel = COPY_KERNELS.gather;
  const inputRows = checkCount(kernel, "inputRows", options.inputRows);
  const width = checkCount(kernel, "width", options.width);
  const count = checkCount(kernel, "count", options.count);
  checkBuffer(
    kernel,
    "input",
    options.input,
    inputRows * width * 4,
    sizeDetail([["inputRows", inputRows], ["width", width]], 4),
  );
  checkBuffer(kernel, "ids", options.ids, count * 4, sizeDetail([["count", count]], 4));
  checkBuffer(
    kernel,
    "output",
    options.output,
    count * width * 4,
    sizeDetail([["count", count], ["width", width]], 4),
  );
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "but gather cannot run in place",
  );
  // struct GatherParams { uint width, n_idx, src_rows; }
  const params = packParams([["u32", width], ["u32", count], ["u32", inputRows]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.ids, options.output, params],
    geometry: (pipeline) => blockDims(pipeline, [Math.ceil(width / GATHER_N_READS), count, 1]),
  };
}

/**
 * Encodes the copy of a strided 2-D view into a contiguous `[rows, cols]` matrix,
 * `output[r·cols + c] = input[offset + r·rowStride + c·colStride]` (`strided_copy_f32`):
 * transposes, column slices, broadcasts (stride 0), and making a permuted view contiguous.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, the view's shape, strides and offset.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, stride or offset, a too small buffer, or
 * `output === input`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, stridedCopy } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Columns 1..2 of a [2, 4] matrix.
 * using input = device.newBuffer(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await stridedCopy(encoder, { registry, input, output, rows: 2, cols: 2, rowStride: 4, offset: 1 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [1, 2, 5, 6]);
 * ```
 */
export async function stridedCopy(
  encoder: ComputeEncoder,
  options: StridedCopyOptions,
): Promise<void> {
  await encodePlan(encoder, stridedCopyPlan(options));
}

/**
 * {@linkcode stridedCopy}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, the view's shape, strides and offset.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, stride or offset, a too small buffer, or
 * `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, stridedCopySync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // A [2, 3] matrix read column by column: its transpose.
 * using input = device.newBuffer(new Float32Array([0, 1, 2, 3, 4, 5]));
 * using output = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * stridedCopySync(encoder, { registry, input, output, rows: 3, cols: 2, rowStride: 1, colStride: 3 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [0, 3, 1, 4, 2, 5]);
 * ```
 */
export function stridedCopySync(encoder: ComputeEncoder, options: StridedCopyOptions): void {
  encodePlanSync(encoder, stridedCopyPlan(options));
}

/**
 * Encodes `output[outputOffset + i] = input[inputOffset + i]` for `i < count`
 * (`offset_copy_f32`), e.g. appending a token's rows to a cache or slicing a batch.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, count and offsets.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad count or offset, a too small buffer, or overlapping ranges
 * of one buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, offsetCopy } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using row = device.newBuffer(new Float32Array([7, 8]));
 * using cache = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await offsetCopy(encoder, { registry, input: row, output: cache, count: 2, outputOffset: 4 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(cache.contents)], [0, 0, 0, 0, 7, 8]);
 * ```
 */
export async function offsetCopy(
  encoder: ComputeEncoder,
  options: OffsetCopyOptions,
): Promise<void> {
  await encodePlan(encoder, offsetCopyPlan(options));
}

/**
 * {@linkcode offsetCopy}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, count and offsets.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad count or offset, a too small buffer, or overlapping ranges.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, offsetCopySync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * offsetCopySync(encoder, { registry, input, output, count: 2, inputOffset: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [3, 4]);
 * ```
 */
export function offsetCopySync(encoder: ComputeEncoder, options: OffsetCopyOptions): void {
  encodePlanSync(encoder, offsetCopyPlan(options));
}

/**
 * Encodes the row gather `output[i][:] = input[ids[i]][:]` (`gather_f32`). The ids are
 * read on the device; an id `≥ inputRows` gives a row of zeros, never an out-of-bounds read.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, a too small buffer, or `output === input`.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, gather, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Rows 2 and 0 of a [3, 2] table.
 * using table = device.newBuffer(new Float32Array([0, 1, 10, 11, 20, 21]));
 * using ids = device.newBuffer(new Uint32Array([2, 0]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await gather(encoder, { registry, input: table, ids, output, inputRows: 3, width: 2, count: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [20, 21, 0, 1]);
 * ```
 */
export async function gather(encoder: ComputeEncoder, options: GatherOptions): Promise<void> {
  await encodePlan(encoder, gatherPlan(options));
}

/**
 * {@linkcode gather}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, gatherSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([0, 1, 10, 11]));
 * using ids = device.newBuffer(new Uint32Array([1]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * gatherSync(encoder, { registry, input, ids, output, inputRows: 2, width: 2, count: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [10, 11]);
 * ```
 */
export function gatherSync(encoder: ComputeEncoder, options: GatherOptions): void {
  encodePlanSync(encoder, gatherPlan(options));
}
