// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * What the GGML op helpers (`quantized_matmul_ggml.ts`, `quantized_matmul_ggml_id.ts`) share
 * (private): the shaders' geometry numbers, mirrored from the `.metal` files (a test compares
 * them), the grids built from them, and the checks of a block type, a K and the operands.
 *
 * @module
 */
import { GGML_BLOCKS, type GgmlType } from "../formats/ggml.ts";
import type { DeviceBuffer } from "../buffer.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import type { Dispatch } from "./_dispatch.ts";
import { checkCount, checkDistinct } from "./_validate.ts";

/** SIMD-groups per mat-vec threadgroup (`GGML_MV_SIMDGROUPS` in the mat-vec shaders). */
export const GGML_MV_SIMDGROUPS = 2;

/**
 * Weight rows per mat-vec SIMD-group, by block type (the `ROWS` template argument of each
 * `host_name` instantiation in the mat-vec shaders).
 */
export const GGML_MV_ROWS: Readonly<Record<GgmlType, number>> = {
  "q4_0": 4,
  "q8_0": 4,
  "q5_K": 2,
  "q6_K": 2,
};

/** Rows of x per mat-mat threadgroup tile (`GGML_MM_TILE_M`). */
export const GGML_MM_TILE_M = 32;

/** Weight rows (output columns) per mat-mat threadgroup tile (`GGML_MM_TILE_N`). */
export const GGML_MM_TILE_N = 64;

/** Threads per mat-mat threadgroup: four SIMD-groups (`GGML_MM_THREADS`). */
export const GGML_MM_THREADS = 128;

/**
 * Checks K for a block type: a positive multiple of the block's values.
 *
 * @param kernel The kernel, for messages.
 * @param type The block type.
 * @param k The value given.
 * @returns K.
 * @throws {RangeError} When K is not a positive multiple of the block size.
 */
export function checkBlockK(kernel: string, type: GgmlType, k: unknown): number {
  const value = checkCount(kernel, "k", k);
  const block = GGML_BLOCKS[type].values;
  if (value % block !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "k" is ${value}, expected a multiple of ${block} (one ${type} block holds ${block} values)`,
    );
  }
  return value;
}

/**
 * The grid of a mat-vec: a threadgroup of `GGML_MV_SIMDGROUPS` SIMD-groups per
 * `GGML_MV_SIMDGROUPS × GGML_MV_ROWS[type]` weight rows, for each of `vectors` input rows.
 *
 * @param type The block type.
 * @param n Weight rows (outputs per vector).
 * @param vectors Input vectors (tokens, or tokens × experts per token).
 * @returns The dispatch.
 */
export function ggmlMatvecDispatch(type: GgmlType, n: number, vectors: number): Dispatch {
  const rows = GGML_MV_SIMDGROUPS * GGML_MV_ROWS[type];
  return {
    kind: "threadgroups",
    grid: [Math.ceil(n / rows), vectors, 1],
    threadgroup: [SIMD_WIDTH * GGML_MV_SIMDGROUPS, 1, 1],
  };
}

/**
 * The grid of a mat-mat: one threadgroup per `GGML_MM_TILE_M × GGML_MM_TILE_N` tile of the
 * output, for each of `matrices` weight matrices (experts).
 *
 * @param m Rows of the input (tokens).
 * @param n Weight rows (output columns).
 * @param matrices Weight matrices.
 * @returns The dispatch.
 */
export function ggmlMatmulDispatch(m: number, n: number, matrices = 1): Dispatch {
  return {
    kind: "threadgroups",
    grid: [Math.ceil(m / GGML_MM_TILE_M), Math.ceil(n / GGML_MM_TILE_N), matrices],
    threadgroup: [GGML_MM_THREADS, 1, 1],
  };
}

/**
 * Refuses an output that is also the input or the weight: the kernels read both while
 * writing it.
 *
 * @param kernel The kernel, for messages.
 * @param operands The buffers given.
 * @throws {RangeError} When the output is the input or the weight.
 */
export function checkGgmlOutput(
  kernel: string,
  operands: { input: DeviceBuffer; weight: DeviceBuffer; output: DeviceBuffer },
): void {
  const why = "the kernel reads it while writing the output";
  checkDistinct(kernel, ["input", "output"], operands.input, operands.output, why);
  checkDistinct(kernel, ["weight", "output"], operands.weight, operands.output, why);
}

/** Tokens whose expert ids the token-list pass stages at a time (`GGML_MAP_CHUNK`). */
export const GGML_MAP_CHUNK = 256;

/** The most experts the token-list pass collects: one thread each in one threadgroup. */
export const GGML_MAP_MAX_EXPERTS = 1024;
