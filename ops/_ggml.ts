// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * What the GGML op helpers (`quantized_matmul_ggml.ts`, `quantized_matmul_ggml_id.ts`) share
 * (private): the shaders' geometry numbers, mirrored from the `.metal` files (a test compares
 * them), and the checks of a block type and a K.
 *
 * @module
 */
import { GGML_BLOCKS, type GgmlType } from "../formats/ggml.ts";
import { checkCount } from "./_validate.ts";

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

/** Tokens whose expert ids the token-list pass stages at a time (`GGML_MAP_CHUNK`). */
export const GGML_MAP_CHUNK = 256;

/** The most experts the token-list pass collects: one thread each in one threadgroup. */
export const GGML_MAP_MAX_EXPERTS = 1024;
