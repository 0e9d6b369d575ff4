// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for the 20 kernels of `shaders/elementwise.metal`: add and multiply, dtype
 * casts, scalar scaling, embedding row gathers and layout permutations. Each helper
 * validates its options (throwing before any native call), gets the pipeline from the
 * registry, binds and dispatches on the given encoder. `*Sync` twins block while a
 * pipeline compiles instead of awaiting it.
 *
 * Buffers are bound from offset 0; f16/bf16 math runs in f32 and rounds once on store.
 * References in f64 live in `ops/elementwise_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { elementwiseAdd } from "./elementwise.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([1, 2, 3]));
 * using b = device.newBuffer(new Float32Array([10, 20, 30]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await elementwiseAdd(encoder, { registry, a, b, output, dtype: "f32", length: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(output.contents)); // Float32Array(3) [11, 22, 33]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import type { KernelName } from "../shaders/catalog.ts";
import { ELEMENTWISE_N_READS } from "./_defines.ts";
import {
  blockDims,
  encodePlan,
  encodePlanSync,
  type KernelArgument,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkFinite,
  checkIndex,
  checkRegistry,
  pickKernel,
  sizeDetail,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { ELEMENTWISE_KERNELS } from "../shaders/elementwise.ts";

/** The catalogue names of `elementwise.metal` (its table: `shaders/elementwise.ts`). */
export { ELEMENTWISE_KERNELS };

/** Every kernel name of `elementwise.metal`. */
export type ElementwiseKernelName = TableNames<typeof ELEMENTWISE_KERNELS>;

/** Dtypes of {@linkcode elementwiseAdd} and {@linkcode elementwiseMul}. */
export type ElementwiseBinaryDType = keyof typeof ELEMENTWISE_KERNELS.add;

/** Source dtypes of {@linkcode cast}. */
export type CastFromDType = keyof typeof ELEMENTWISE_KERNELS.cast;

/** Target dtypes of {@linkcode cast} for a source dtype `F`. */
export type CastToDType<F extends CastFromDType> = keyof typeof ELEMENTWISE_KERNELS.cast[F];

/** Dtypes of {@linkcode scalarMul}. */
export type ScalarMulDType = keyof typeof ELEMENTWISE_KERNELS.scalarMul;

/** Input dtypes of {@linkcode permute021}. */
export type Permute021DType = keyof typeof ELEMENTWISE_KERNELS.permute021;

/** Dtypes of {@linkcode transposeLast2}. */
export type TransposeLast2DType = keyof typeof ELEMENTWISE_KERNELS.transposeLast2;

/** Dtypes of {@linkcode transpose2d}. */
export type Transpose2dDType = keyof typeof ELEMENTWISE_KERNELS.transpose2d;

/** Options shared by every helper of this module. */
export interface OpBaseOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
}

/** Options of {@linkcode elementwiseAdd} and {@linkcode elementwiseMul}. */
export interface ElementwiseBinaryOptions extends OpBaseOptions {
  /** First operand, `length` elements of `dtype`. */
  a: DeviceBuffer;
  /** Second operand, `length` elements of `dtype`. */
  b: DeviceBuffer;
  /** Result, `length` elements of `dtype`; may be `a` or `b` (in place). */
  output: DeviceBuffer;
  /** Element type of all three buffers. */
  dtype: ElementwiseBinaryDType;
  /** Number of elements. */
  length: number;
}

/** A supported `(from, to)` pair of {@linkcode cast}. */
export type CastDTypes = {
  [F in CastFromDType]: {
    /** Source dtype. */
    from: F;
    /** Target dtype: `f32` from `f16`/`bf16`; `f16` or `bf16` from `f32`. */
    to: CastToDType<F>;
  };
}[CastFromDType];

/** Buffers and length of {@linkcode cast}. */
export interface CastBuffers extends OpBaseOptions {
  /** `length` elements of `from`. */
  input: DeviceBuffer;
  /** `length` elements of `to`; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Number of elements. */
  length: number;
}

/** Options of {@linkcode cast}. */
export type CastOptions = CastBuffers & CastDTypes;

/** Options of {@linkcode scalarMul}. */
export interface ScalarMulOptions extends OpBaseOptions {
  /** `length` elements of `dtype`. */
  input: DeviceBuffer;
  /** `length` elements of `dtype`; may be `input` (in place). */
  output: DeviceBuffer;
  /** Element type of both buffers. */
  dtype: ScalarMulDType;
  /** The factor; passed to the kernel as f32. */
  scalar: number;
  /** Number of elements. */
  length: number;
}

/** Options of {@linkcode embeddingGatherScale}. */
export interface EmbeddingGatherScaleOptions extends OpBaseOptions {
  /** f32 `[vocabSize, hiddenSize]` embedding table. */
  table: DeviceBuffer;
  /** f32 `[hiddenSize]` result row. */
  output: DeviceBuffer;
  /** Rows of the table. */
  vocabSize: number;
  /** Row length. */
  hiddenSize: number;
  /** The row to gather, `0 ≤ tokenId < vocabSize`. */
  tokenId: number;
  /**
   * Factor applied to the row (e.g. `sqrt(hiddenSize)` for Gemma).
   *
   * @default {1}
   */
  scale?: number;
}

/** Options of {@linkcode embeddingGatherScaleBatch}. */
export interface EmbeddingGatherScaleBatchOptions extends OpBaseOptions {
  /** f32 `[vocabSize, hiddenSize]` embedding table. */
  table: DeviceBuffer;
  /** u32 `[tokens]` row ids; an id `≥ vocabSize` yields a row of zeros. */
  ids: DeviceBuffer;
  /** f32 `[tokens, hiddenSize]` result. */
  output: DeviceBuffer;
  /** Rows of the table. */
  vocabSize: number;
  /** Row length. */
  hiddenSize: number;
  /** Number of ids. */
  tokens: number;
  /**
   * Factor applied to every row.
   *
   * @default {1}
   */
  scale?: number;
}

/** A supported input/output dtype choice of {@linkcode permute021}. */
export type Permute021DTypes = {
  [D in Permute021DType]: {
    /** Input element type. */
    dtype: D;
    /**
     * Output element type: `dtype`, or `f32` from `bf16` (widening while permuting).
     *
     * @default {dtype}
     */
    outputDType?: keyof typeof ELEMENTWISE_KERNELS.permute021[D];
  };
}[Permute021DType];

/** Buffers and shape of {@linkcode permute021}. */
export interface Permute021Buffers extends OpBaseOptions {
  /** `[A, B, C]` elements of `dtype`. */
  input: DeviceBuffer;
  /** `[B, A, C]` elements of `outputDType`; a different buffer from `input`. */
  output: DeviceBuffer;
  /** The input shape `[A, B, C]`. */
  shape: readonly [number, number, number];
}

/** Options of {@linkcode permute021}. */
export type Permute021Options = Permute021Buffers & Permute021DTypes;

/** Options of {@linkcode transposeLast2}. */
export interface TransposeLast2Options extends OpBaseOptions {
  /** `[A, B, C]` elements of `dtype`. */
  input: DeviceBuffer;
  /** `[A, C, B]` elements of `dtype`; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Element type. */
  dtype: TransposeLast2DType;
  /** The input shape `[A, B, C]`. */
  shape: readonly [number, number, number];
}

/** Options of {@linkcode transpose2d}. */
export interface Transpose2dOptions extends OpBaseOptions {
  /** `[rows, cols]` elements of `dtype`. */
  input: DeviceBuffer;
  /** `[cols, rows]` elements of `dtype`; a different buffer from `input`. */
  output: DeviceBuffer;
  /** Element type. */
  dtype: Transpose2dDType;
  /** Rows of the input. */
  rows: number;
  /** Columns of the input. */
  cols: number;
}

// ---- Plans: validation, kernel choice, arguments, geometry (one per kernel shape) --------

function flatPlan(
  registry: KernelRegistry,
  kernel: KernelName,
  args: readonly KernelArgument[],
  length: number,
  usesBfloat16: boolean,
): KernelPlan {
  const threads = Math.ceil(length / ELEMENTWISE_N_READS);
  return {
    registry,
    kernel,
    args,
    usesBfloat16,
    geometry: (pipeline) => linearSplit(pipeline, threads),
  };
}

function binaryPlan(op: "add" | "mul", options: ElementwiseBinaryOptions): KernelPlan {
  const subject = op === "add" ? "elementwiseAdd" : "elementwiseMul";
  checkRegistry(subject, options.registry);
  const kernel = pickKernel(subject, ELEMENTWISE_KERNELS[op], "dtype", options.dtype);
  const length = checkCount(kernel, "length", options.length);
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["length", length]], size);
  checkBuffer(kernel, "a", options.a, length * size, detail);
  checkBuffer(kernel, "b", options.b, length * size, detail);
  checkBuffer(kernel, "output", options.output, length * size, detail);
  // struct ElementwiseParams { uint n; }
  const params = packParams([["u32", length]]);
  return flatPlan(
    options.registry,
    kernel,
    [
      options.a,
      options.b,
      options.output,
      params,
    ],
    length,
    options.dtype === "bf16",
  );
}

function castPlan(options: CastOptions): KernelPlan {
  checkRegistry("cast", options.registry);
  const targets = pickKernel("cast", ELEMENTWISE_KERNELS.cast, "from", options.from);
  const kernel = pickKernel(`cast from ${options.from}`, targets, "to", options.to);
  const length = checkCount(kernel, "length", options.length);
  const inSize = bytesPerElement(options.from);
  const outSize = bytesPerElement(options.to as CastFromDType);
  checkBuffer(
    kernel,
    "input",
    options.input,
    length * inSize,
    sizeDetail([["length", length]], inSize),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    length * outSize,
    sizeDetail([["length", length]], outSize),
  );
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "but a cast changes the element size and cannot run in place",
  );
  // struct ElementwiseParams { uint n; }
  const params = packParams([["u32", length]]);
  const bf16 = options.from === "bf16" || options.to === "bf16";
  return flatPlan(options.registry, kernel, [options.input, options.output, params], length, bf16);
}

function scalarMulPlan(options: ScalarMulOptions): KernelPlan {
  checkRegistry("scalarMul", options.registry);
  const kernel = pickKernel("scalarMul", ELEMENTWISE_KERNELS.scalarMul, "dtype", options.dtype);
  const length = checkCount(kernel, "length", options.length);
  const scalar = checkFinite(kernel, "scalar", options.scalar);
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["length", length]], size);
  checkBuffer(kernel, "input", options.input, length * size, detail);
  checkBuffer(kernel, "output", options.output, length * size, detail);
  // struct ScalarMulParams { float scalar; uint n; }
  const params = packParams([["f32", scalar], ["u32", length]]);
  const args = [options.input, options.output, params];
  return flatPlan(options.registry, kernel, args, length, options.dtype === "bf16");
}

function embeddingPlan(options: EmbeddingGatherScaleOptions): KernelPlan {
  checkRegistry("embeddingGatherScale", options.registry);
  const kernel = ELEMENTWISE_KERNELS.embeddingGatherScale.f32;
  const vocab = checkCount(kernel, "vocabSize", options.vocabSize);
  const hidden = checkCount(kernel, "hiddenSize", options.hiddenSize);
  const tokenId = checkIndex(kernel, "tokenId", options.tokenId, vocab, `vocabSize ${vocab}`);
  const scale = checkFinite(kernel, "scale", options.scale ?? 1);
  checkBuffer(
    kernel,
    "table",
    options.table,
    vocab * hidden * 4,
    sizeDetail([["vocabSize", vocab], ["hiddenSize", hidden]], 4),
  );
  checkBuffer(
    kernel,
    "output",
    options.output,
    hidden * 4,
    sizeDetail([["hiddenSize", hidden]], 4),
  );
  // struct EmbeddingGatherParams { float scale; uint hidden; uint vocab; uint token_id; }
  const params = packParams([["f32", scale], ["u32", hidden], ["u32", vocab], ["u32", tokenId]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.table, options.output, params],
    geometry: (pipeline) => linearSplit(pipeline, hidden),
  };
}

function embeddingBatchPlan(options: EmbeddingGatherScaleBatchOptions): KernelPlan {
  checkRegistry("embeddingGatherScaleBatch", options.registry);
  const kernel = ELEMENTWISE_KERNELS.embeddingGatherScaleBatch.f32;
  const vocab = checkCount(kernel, "vocabSize", options.vocabSize);
  const hidden = checkCount(kernel, "hiddenSize", options.hiddenSize);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const scale = checkFinite(kernel, "scale", options.scale ?? 1);
  checkBuffer(
    kernel,
    "table",
    options.table,
    vocab * hidden * 4,
    sizeDetail([["vocabSize", vocab], ["hiddenSize", hidden]], 4),
  );
  checkBuffer(kernel, "ids", options.ids, tokens * 4, sizeDetail([["tokens", tokens]], 4));
  checkBuffer(
    kernel,
    "output",
    options.output,
    tokens * hidden * 4,
    sizeDetail([["tokens", tokens], ["hiddenSize", hidden]], 4),
  );
  // struct EmbeddingGatherBatchParams { float scale; uint hidden; uint vocab; uint tokens; }
  const params = packParams([["f32", scale], ["u32", hidden], ["u32", vocab], ["u32", tokens]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.table, options.ids, options.output, params],
    geometry: (pipeline) => blockDims(pipeline, [hidden, tokens, 1]),
  };
}

function checkShape3(kernel: string, shape: unknown): readonly [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new TypeError(
      `Cannot encode ${kernel}: "shape" is ${
        Array.isArray(shape) ? `an array of ${shape.length}` : String(shape)
      }, expected [A, B, C]`,
    );
  }
  return [
    checkCount(kernel, "shape[0]", shape[0]),
    checkCount(kernel, "shape[1]", shape[1]),
    checkCount(kernel, "shape[2]", shape[2]),
  ];
}

function permutePlan(
  subject: "permute021" | "transposeLast2",
  kernel: KernelName,
  options: {
    registry: KernelRegistry;
    input: DeviceBuffer;
    output: DeviceBuffer;
    shape: readonly [number, number, number];
  },
  inSize: number,
  outSize: number,
  usesBfloat16: boolean,
): KernelPlan {
  const [a, b, c] = checkShape3(kernel, options.shape);
  const factors = [["A", a], ["B", b], ["C", c]] as const;
  checkBuffer(kernel, "input", options.input, a * b * c * inSize, sizeDetail(factors, inSize));
  checkBuffer(kernel, "output", options.output, a * b * c * outSize, sizeDetail(factors, outSize));
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    `but ${subject} cannot run in place`,
  );
  // struct Shape3Params { uint a, b, c; }
  const params = packParams([["u32", a], ["u32", b], ["u32", c]]);
  // permute_021: x along C (reads and writes contiguous); transpose_last2: x along B.
  const grid = subject === "permute021" ? [c, b, a] as const : [b, c, a] as const;
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    usesBfloat16,
    geometry: (pipeline) => blockDims(pipeline, grid),
  };
}

function permute021Plan(options: Permute021Options): KernelPlan {
  checkRegistry("permute021", options.registry);
  const outputs = pickKernel("permute021", ELEMENTWISE_KERNELS.permute021, "dtype", options.dtype);
  const outputDType = options.outputDType ?? options.dtype;
  const kernel = pickKernel(
    `permute021 from ${options.dtype}`,
    outputs,
    "outputDType",
    outputDType,
  );
  return permutePlan(
    "permute021",
    kernel,
    options,
    bytesPerElement(options.dtype),
    bytesPerElement(outputDType),
    options.dtype === "bf16",
  );
}

function transposeLast2Plan(options: TransposeLast2Options): KernelPlan {
  checkRegistry("transposeLast2", options.registry);
  const kernel = pickKernel(
    "transposeLast2",
    ELEMENTWISE_KERNELS.transposeLast2,
    "dtype",
    options.dtype,
  );
  const size = bytesPerElement(options.dtype);
  return permutePlan("transposeLast2", kernel, options, size, size, options.dtype === "bf16");
}

function transpose2dPlan(options: Transpose2dOptions): KernelPlan {
  checkRegistry("transpose2d", options.registry);
  const kernel = pickKernel("transpose2d", ELEMENTWISE_KERNELS.transpose2d, "dtype", options.dtype);
  const rows = checkCount(kernel, "rows", options.rows);
  const cols = checkCount(kernel, "cols", options.cols);
  const size = bytesPerElement(options.dtype);
  const detail = sizeDetail([["rows", rows], ["cols", cols]], size);
  checkBuffer(kernel, "input", options.input, rows * cols * size, detail);
  checkBuffer(kernel, "output", options.output, rows * cols * size, detail);
  checkDistinct(
    kernel,
    ["input", "output"],
    options.input,
    options.output,
    "but transpose2d cannot run in place",
  );
  // struct Transpose2dParams { uint rows, cols; }
  const params = packParams([["u32", rows], ["u32", cols]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.input, options.output, params],
    geometry: (pipeline) => blockDims(pipeline, [cols, rows, 1]),
  };
}

// ---- Public helpers ------------------------------------------------------------------------

/**
 * Encodes `output[i] = a[i] + b[i]` for `i < length` (`elementwise_add_<dtype>`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a `length` that is not a positive integer, or a buffer smaller
 * than `length` elements.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, elementwiseAdd, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([1, 2, 3]));
 * using b = device.newBuffer(new Float32Array([10, 20, 30]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await elementwiseAdd(encoder, { registry, a, b, output, dtype: "f32", length: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [11, 22, 33]);
 * ```
 */
export async function elementwiseAdd(
  encoder: ComputeEncoder,
  options: ElementwiseBinaryOptions,
): Promise<void> {
  await encodePlan(encoder, binaryPlan("add", options));
}

/**
 * {@linkcode elementwiseAdd}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, elementwiseAddSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([1.5]));
 * using b = device.newBuffer(new Float32Array([2]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * elementwiseAddSync(encoder, { registry, a, b, output: a, dtype: "f32", length: 1 }); // in place
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(a.contents)], [3.5]);
 * ```
 */
export function elementwiseAddSync(
  encoder: ComputeEncoder,
  options: ElementwiseBinaryOptions,
): void {
  encodePlanSync(encoder, binaryPlan("add", options));
}

/**
 * Encodes `output[i] = a[i] * b[i]` for `i < length` (`elementwise_mul_<dtype>`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, elementwiseMul, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([1, 2, 3]));
 * using b = device.newBuffer(new Float32Array([2, 2, -1]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await elementwiseMul(encoder, { registry, a, b, output, dtype: "f32", length: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [2, 4, -3]);
 * ```
 */
export async function elementwiseMul(
  encoder: ComputeEncoder,
  options: ElementwiseBinaryOptions,
): Promise<void> {
  await encodePlan(encoder, binaryPlan("mul", options));
}

/**
 * {@linkcode elementwiseMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and length.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, elementwiseMulSync, fromDTypeBytes, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(toDTypeArray("f16", [1.5, -2]));
 * using b = device.newBuffer(toDTypeArray("f16", [2, 3]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * elementwiseMulSync(encoder, { registry, a, b, output, dtype: "f16", length: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", output.contents, 2)], [3, -6]);
 * ```
 */
export function elementwiseMulSync(
  encoder: ComputeEncoder,
  options: ElementwiseBinaryOptions,
): void {
  encodePlanSync(encoder, binaryPlan("mul", options));
}

/**
 * Encodes a dtype conversion `output[i] = to(input[i])` (`cast_<from>_to_<to>`): widening
 * is exact, narrowing rounds to nearest even without clamping (beyond ±65504, f16 gets ±∞).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, `from`, `to` and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `from`/`to` pair or a missing buffer or registry.
 * @throws {RangeError} For a bad `length`, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { bf16BitsToF32, cast, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 0.1]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await cast(encoder, { registry, input, output, from: "f32", to: "bf16", length: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const bits = new Uint16Array(output.contents);
 * assert.strictEqual(bf16BitsToF32(bits[0]), 1);
 * assert.ok(Math.abs(bf16BitsToF32(bits[1]) - 0.1) < 1e-3);
 * ```
 */
export async function cast(encoder: ComputeEncoder, options: CastOptions): Promise<void> {
  await encodePlan(encoder, castPlan(options));
}

/**
 * {@linkcode cast}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, `from`, `to` and length.
 * @throws {TypeError} For an unsupported `from`/`to` pair or a missing buffer or registry.
 * @throws {RangeError} For a bad `length`, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { castSync, Device, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(toDTypeArray("f16", [0.5, -2]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * castSync(encoder, { registry, input, output, from: "f16", to: "f32", length: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [0.5, -2]);
 * ```
 */
export function castSync(encoder: ComputeEncoder, options: CastOptions): void {
  encodePlanSync(encoder, castPlan(options));
}

/**
 * Encodes `output[i] = input[i] * scalar` (`scalar_mul_<dtype>`), the scalar as f32.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, scalar and length.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length`, a non-finite `scalar` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, scalarMul } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, -2, 3]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await scalarMul(encoder, { registry, input, output: input, dtype: "f32", scalar: 0.5, length: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(input.contents)], [0.5, -1, 1.5]);
 * ```
 */
export async function scalarMul(encoder: ComputeEncoder, options: ScalarMulOptions): Promise<void> {
  await encodePlan(encoder, scalarMulPlan(options));
}

/**
 * {@linkcode scalarMul}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, scalar and length.
 * @throws {TypeError} For an unsupported `dtype` or a missing buffer or registry.
 * @throws {RangeError} For a bad `length`, a non-finite `scalar` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, scalarMulSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([2]));
 * using output = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * scalarMulSync(encoder, { registry, input, output, dtype: "f32", scalar: 64, length: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [128]);
 * ```
 */
export function scalarMulSync(encoder: ComputeEncoder, options: ScalarMulOptions): void {
  encodePlanSync(encoder, scalarMulPlan(options));
}

/**
 * Encodes the gather of one embedding row, scaled:
 * `output[i] = table[tokenId][i] * scale` (`embedding_gather_scale_f32`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, table, output, sizes, token id and scale.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, a `tokenId` outside the vocabulary, a non-finite
 * `scale` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherScale, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // Token 2 of a 3-token vocabulary, hidden size 2, scaled by 10.
 * using table = device.newBuffer(new Float32Array([0, 1, 2, 3, 4, 5]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await embeddingGatherScale(encoder, {
 *   registry, table, output, vocabSize: 3, hiddenSize: 2, tokenId: 2, scale: 10,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [40, 50]);
 * ```
 */
export async function embeddingGatherScale(
  encoder: ComputeEncoder,
  options: EmbeddingGatherScaleOptions,
): Promise<void> {
  await encodePlan(encoder, embeddingPlan(options));
}

/**
 * {@linkcode embeddingGatherScale}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, table, output, sizes, token id and scale.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size or token id, a non-finite `scale` or a small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherScaleSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using table = device.newBuffer(new Float32Array([0, 1, 2, 3]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * embeddingGatherScaleSync(encoder, {
 *   registry, table, output, vocabSize: 2, hiddenSize: 2, tokenId: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [2, 3]);
 * ```
 */
export function embeddingGatherScaleSync(
  encoder: ComputeEncoder,
  options: EmbeddingGatherScaleOptions,
): void {
  encodePlanSync(encoder, embeddingPlan(options));
}

/**
 * Encodes the gather of `tokens` embedding rows, scaled:
 * `output[t][i] = table[ids[t]][i] * scale` (`embedding_gather_scale_batch_f32`). The ids
 * are read on the device; an id `≥ vocabSize` gives a row of zeros, never an
 * out-of-bounds read.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, table, ids, output, sizes and scale.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, a non-finite `scale` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherScaleBatch, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using table = device.newBuffer(new Float32Array([0, 1, 2, 3, 4, 5]));
 * using ids = device.newBuffer(new Uint32Array([2, 0]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await embeddingGatherScaleBatch(encoder, {
 *   registry, table, ids, output, vocabSize: 3, hiddenSize: 2, tokens: 2,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [4, 5, 0, 1]);
 * ```
 */
export async function embeddingGatherScaleBatch(
  encoder: ComputeEncoder,
  options: EmbeddingGatherScaleBatchOptions,
): Promise<void> {
  await encodePlan(encoder, embeddingBatchPlan(options));
}

/**
 * {@linkcode embeddingGatherScaleBatch}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, table, ids, output, sizes and scale.
 * @throws {TypeError} For a missing buffer or registry, or a non-number size.
 * @throws {RangeError} For a bad size, a non-finite `scale` or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, embeddingGatherScaleBatchSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using table = device.newBuffer(new Float32Array([0, 1, 2, 3]));
 * using ids = device.newBuffer(new Uint32Array([1, 1]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * embeddingGatherScaleBatchSync(encoder, {
 *   registry, table, ids, output, vocabSize: 2, hiddenSize: 2, tokens: 2, scale: 2,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [4, 6, 4, 6]);
 * ```
 */
export function embeddingGatherScaleBatchSync(
  encoder: ComputeEncoder,
  options: EmbeddingGatherScaleBatchOptions,
): void {
  encodePlanSync(encoder, embeddingBatchPlan(options));
}

/**
 * Encodes `[A, B, C] → [B, A, C]` (`permute_021_<dtype>`, or `permute_021_bf16_to_f32`
 * with `outputDType: "f32"`), e.g. `[heads, seq, dim] → [seq, heads, dim]`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtypes and the input shape.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported dtype pair, a malformed shape or a missing buffer.
 * @throws {RangeError} For a bad dimension, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, permute021 } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // [a, b, c] = [2, 2, 1] -> [b, a, c].
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4]));
 * using output = device.newBuffer(16);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await permute021(encoder, { registry, input, output, dtype: "f32", shape: [2, 2, 1] });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [1, 3, 2, 4]);
 * ```
 */
export async function permute021(
  encoder: ComputeEncoder,
  options: Permute021Options,
): Promise<void> {
  await encodePlan(encoder, permute021Plan(options));
}

/**
 * {@linkcode permute021}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtypes and the input shape.
 * @throws {TypeError} For an unsupported dtype pair, a malformed shape or a missing buffer.
 * @throws {RangeError} For a bad dimension, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, permute021Sync, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(toDTypeArray("bf16", [1, 2, 3, 4, 5, 6]));
 * using output = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * permute021Sync(encoder, {
 *   registry, input, output, dtype: "bf16", outputDType: "f32", shape: [2, 3, 1],
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export function permute021Sync(encoder: ComputeEncoder, options: Permute021Options): void {
  encodePlanSync(encoder, permute021Plan(options));
}

/**
 * Encodes `[A, B, C] → [A, C, B]` (`transpose_last2_bf16`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and the input shape.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported dtype, a malformed shape or a missing buffer.
 * @throws {RangeError} For a bad dimension, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, toDTypeArray, transposeLast2 } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // One [2, 3] matrix of bf16, transposed to [3, 2].
 * using input = device.newBuffer(toDTypeArray("bf16", [1, 2, 3, 4, 5, 6]));
 * using output = device.newBuffer(12);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await transposeLast2(encoder, { registry, input, output, dtype: "bf16", shape: [1, 2, 3] });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...fromDTypeBytes("bf16", output.contents, 6)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export async function transposeLast2(
  encoder: ComputeEncoder,
  options: TransposeLast2Options,
): Promise<void> {
  await encodePlan(encoder, transposeLast2Plan(options));
}

/**
 * {@linkcode transposeLast2}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype and the input shape.
 * @throws {TypeError} For an unsupported dtype, a malformed shape or a missing buffer.
 * @throws {RangeError} For a bad dimension, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, toDTypeArray, transposeLast2Sync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(toDTypeArray("bf16", [1, 2, 3, 4]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * transposeLast2Sync(encoder, { registry, input, output, dtype: "bf16", shape: [2, 1, 2] });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("bf16", output.contents, 4)], [1, 2, 3, 4]);
 * ```
 */
export function transposeLast2Sync(encoder: ComputeEncoder, options: TransposeLast2Options): void {
  encodePlanSync(encoder, transposeLast2Plan(options));
}

/**
 * Encodes the matrix transpose `[rows, cols] → [cols, rows]` (`transpose_2d_<dtype>`).
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and cols.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For an unsupported dtype or a missing buffer or registry.
 * @throws {RangeError} For a bad size, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, transpose2d } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(new Float32Array([1, 2, 3, 4, 5, 6]));
 * using output = device.newBuffer(24);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await transpose2d(encoder, { registry, input, output, dtype: "f32", rows: 2, cols: 3 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(output.contents)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export async function transpose2d(
  encoder: ComputeEncoder,
  options: Transpose2dOptions,
): Promise<void> {
  await encodePlan(encoder, transpose2dPlan(options));
}

/**
 * {@linkcode transpose2d}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, rows and cols.
 * @throws {TypeError} For an unsupported dtype or a missing buffer or registry.
 * @throws {RangeError} For a bad size, a too small buffer, or `output === input`.
 *
 * @example Usage
 * ```ts
 * import { Device, fromDTypeBytes, KernelRegistry, toDTypeArray, transpose2dSync } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using input = device.newBuffer(toDTypeArray("f16", [1, 2, 3, 4]));
 * using output = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * transpose2dSync(encoder, { registry, input, output, dtype: "f16", rows: 2, cols: 2 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.deepStrictEqual([...fromDTypeBytes("f16", output.contents, 4)], [1, 3, 2, 4]);
 * ```
 */
export function transpose2dSync(encoder: ComputeEncoder, options: Transpose2dOptions): void {
  encodePlanSync(encoder, transpose2dPlan(options));
}
