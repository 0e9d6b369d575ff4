// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `kv_cache_copy.metal`: the cache after an append, in plain loops. A
 * dtype conversion on the way (f32 → f16) is the caller's rounding of the result.
 *
 * @example Usage
 * ```ts
 * import { kvCacheCopySeqRef } from "./kv_cache_ref.ts";
 * import assert from "node:assert";
 *
 * // 1 head of 2, capacity 2: two tokens starting at slot 1 wrap to slot 0.
 * const cache = kvCacheCopySeqRef([0, 0, 0, 0], [1, 2, 3, 4], {
 *   nHeads: 1, headDim: 2, capacity: 2, seqPosStart: 1, nTokens: 2,
 * });
 * assert.deepStrictEqual([...cache], [3, 4, 1, 2]);
 * ```
 *
 * @module
 */

/** Options of {@linkcode kvCacheCopyRef} (flat `[capacity, rowSize]` cache). */
export interface KvCacheCopyRefOptions {
  /** Slot of the first row (taken modulo `capacity` when `sliding`). */
  writePos: number;
  /** Elements per row. */
  rowSize: number;
  /** Rows to write. */
  nNew: number;
  /** Slots in the cache. */
  capacity: number;
  /** Ring buffer. @default false */
  sliding?: boolean;
}

/** Options of {@linkcode kvCacheCopySeqRef} (head-major `[nHeads, capacity, headDim]` cache). */
export interface KvCacheCopySeqRefOptions {
  /** Heads. */
  nHeads: number;
  /** Elements per head. */
  headDim: number;
  /** Slots per head. */
  capacity: number;
  /** Slot of the first copied token (taken modulo `capacity`). */
  seqPosStart: number;
  /** Tokens to copy. */
  nTokens: number;
  /** First source token. @default 0 */
  sourceTokenOffset?: number;
}

/**
 * A flat cache after `cache[slot(t)][e] = source[t][e]`, `slot(t) = (writePos + t) mod
 * capacity` when sliding, else `writePos + t`.
 *
 * @param cache The cache before the copy, `capacity × rowSize` values.
 * @param source The new rows, `nNew × rowSize` values.
 * @param options Sizes and position.
 * @returns The cache after the copy (a new array).
 * @throws {RangeError} When a non-sliding write runs past the end.
 *
 * @example Usage
 * ```ts
 * import { kvCacheCopyRef } from "./kv_cache_ref.ts";
 * import assert from "node:assert";
 *
 * const cache = kvCacheCopyRef([0, 0, 0], [7], { writePos: 4, rowSize: 1, nNew: 1, capacity: 3, sliding: true });
 * assert.deepStrictEqual([...cache], [0, 7, 0]);
 * ```
 */
export function kvCacheCopyRef(
  cache: ArrayLike<number>,
  source: ArrayLike<number>,
  options: KvCacheCopyRefOptions,
): Float64Array {
  const { writePos, rowSize, nNew, capacity } = options;
  const out = Float64Array.from(cache);
  for (let t = 0; t < nNew; t++) {
    const slot = options.sliding ? (writePos + t) % capacity : writePos + t;
    if (slot >= capacity) {
      throw new RangeError(
        `Cannot compute kvCacheCopyRef: slot ${slot} is past capacity ${capacity}`,
      );
    }
    for (let e = 0; e < rowSize; e++) out[slot * rowSize + e] = source[t * rowSize + e];
  }
  return out;
}

/**
 * A head-major cache after
 * `cache[h][(seqPosStart + t) mod capacity][e] = source[sourceTokenOffset + t][h][e]`
 * (also the one-token batch copy: `nTokens = 1`, `seqPosStart = seqPos`).
 *
 * @param cache The cache before the copy, `nHeads × capacity × headDim` values.
 * @param source `[T, nHeads, headDim]` values.
 * @param options Sizes and positions.
 * @returns The cache after the copy (a new array).
 *
 * @example Usage
 * ```ts
 * import { kvCacheCopySeqRef } from "./kv_cache_ref.ts";
 * import assert from "node:assert";
 *
 * // 2 heads of 1, one token into slot 1 of 2.
 * const cache = kvCacheCopySeqRef([0, 0, 0, 0], [5, 6], {
 *   nHeads: 2, headDim: 1, capacity: 2, seqPosStart: 1, nTokens: 1,
 * });
 * assert.deepStrictEqual([...cache], [0, 5, 0, 6]);
 * ```
 */
export function kvCacheCopySeqRef(
  cache: ArrayLike<number>,
  source: ArrayLike<number>,
  options: KvCacheCopySeqRefOptions,
): Float64Array {
  const { nHeads, headDim, capacity, seqPosStart, nTokens } = options;
  const offset = options.sourceTokenOffset ?? 0;
  const out = Float64Array.from(cache);
  for (let t = 0; t < nTokens; t++) {
    const slot = (seqPosStart + t) % capacity;
    for (let h = 0; h < nHeads; h++) {
      for (let e = 0; e < headDim; e++) {
        out[(h * capacity + slot) * headDim + e] =
          source[((offset + t) * nHeads + h) * headDim + e];
      }
    }
  }
  return out;
}
