// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `elementwise.metal`, in plain loops. Inputs are the values the
 * kernel reads (already rounded to its input dtype, e.g. with `fromDTypeBytes`); outputs
 * are exact f64 results, except {@linkcode castRef}, whose result *is* the rounding.
 *
 * @example Usage
 * ```ts
 * import { elementwiseAddRef, transpose2dRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...elementwiseAddRef([1, 2], [10, 20])], [11, 22]);
 * assert.deepStrictEqual([...transpose2dRef([1, 2, 3, 4, 5, 6], 2, 3)], [1, 4, 2, 5, 3, 6]);
 * ```
 *
 * @module
 */
import { type FloatDType, roundToDType } from "../dtype.ts";

function checkLength(name: string, values: ArrayLike<number>, expected: number): void {
  if (values.length < expected) {
    throw new RangeError(
      `Cannot compute ${name}: input holds ${values.length} values, expected ${expected}`,
    );
  }
}

/**
 * `a[i] + b[i]` for `i < length`.
 *
 * @param a First operand.
 * @param b Second operand.
 * @param length Elements to compute.
 * @returns The sums.
 * @throws {RangeError} When an operand is shorter than `length`.
 *
 * @example Usage
 * ```ts
 * import { elementwiseAddRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...elementwiseAddRef([1], [2])], [3]);
 * ```
 */
export function elementwiseAddRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  length: number = a.length,
): Float64Array {
  checkLength("elementwiseAddRef", a, length);
  checkLength("elementwiseAddRef", b, length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = a[i] + b[i];
  return out;
}

/**
 * `a[i] · b[i]` for `i < length`.
 *
 * @param a First operand.
 * @param b Second operand.
 * @param length Elements to compute.
 * @returns The products.
 * @throws {RangeError} When an operand is shorter than `length`.
 *
 * @example Usage
 * ```ts
 * import { elementwiseMulRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...elementwiseMulRef([3], [-2])], [-6]);
 * ```
 */
export function elementwiseMulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  length: number = a.length,
): Float64Array {
  checkLength("elementwiseMulRef", a, length);
  checkLength("elementwiseMulRef", b, length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = a[i] * b[i];
  return out;
}

/**
 * Each value converted to `to` (round to nearest even, no clamping; widening is exact).
 *
 * @param values The source values.
 * @param to The target dtype.
 * @returns The converted values.
 *
 * @example Usage
 * ```ts
 * import { castRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...castRef([1 / 3, 1e6], "f16")], [0.333251953125, Infinity]);
 * ```
 */
export function castRef(values: ArrayLike<number>, to: FloatDType): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = roundToDType(to, values[i]);
  return out;
}

/**
 * `values[i] · scalar`.
 *
 * @param values The input.
 * @param scalar The factor.
 * @returns The products.
 *
 * @example Usage
 * ```ts
 * import { scalarMulRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...scalarMulRef([1, 2], 0.5)], [0.5, 1]);
 * ```
 */
export function scalarMulRef(values: ArrayLike<number>, scalar: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * scalar;
  return out;
}

/**
 * Row `tokenId` of a `[vocab, hidden]` table, times `scale`.
 *
 * @param table The table, row-major.
 * @param hidden Row length.
 * @param tokenId The row.
 * @param scale The factor.
 * @returns `hidden` values.
 * @throws {RangeError} When the table has no row `tokenId`.
 *
 * @example Usage
 * ```ts
 * import { embeddingGatherScaleRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...embeddingGatherScaleRef([1, 2, 3, 4], 2, 1, 10)], [30, 40]);
 * ```
 */
export function embeddingGatherScaleRef(
  table: ArrayLike<number>,
  hidden: number,
  tokenId: number,
  scale: number,
): Float64Array {
  checkLength("embeddingGatherScaleRef", table, (tokenId + 1) * hidden);
  const out = new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) out[i] = table[tokenId * hidden + i] * scale;
  return out;
}

/**
 * Rows `ids[t]` of a `[vocab, hidden]` table, times `scale`; an id `≥ vocab` gives zeros
 * (as the kernel does), with `vocab = floor(table.length / hidden)`.
 *
 * @param table The table, row-major.
 * @param hidden Row length.
 * @param ids Row per output row.
 * @param scale The factor.
 * @returns `ids.length × hidden` values.
 *
 * @example Usage
 * ```ts
 * import { embeddingGatherScaleBatchRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...embeddingGatherScaleBatchRef([1, 2, 3, 4], 2, [1, 0, 9], 2)], [6, 8, 2, 4, 0, 0]);
 * ```
 */
export function embeddingGatherScaleBatchRef(
  table: ArrayLike<number>,
  hidden: number,
  ids: ArrayLike<number>,
  scale: number,
): Float64Array {
  const vocab = Math.floor(table.length / hidden);
  const out = new Float64Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id >= vocab) continue;
    for (let i = 0; i < hidden; i++) out[t * hidden + i] = table[id * hidden + i] * scale;
  }
  return out;
}

/**
 * `[A, B, C] → [B, A, C]`.
 *
 * @param input Row-major `[A, B, C]` values.
 * @param shape `[A, B, C]`.
 * @returns Row-major `[B, A, C]` values.
 * @throws {RangeError} When `input` holds fewer than `A·B·C` values.
 *
 * @example Usage
 * ```ts
 * import { permute021Ref } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * // [2, 2, 1]: (a, b) -> (b, a)
 * assert.deepStrictEqual([...permute021Ref([1, 2, 3, 4], [2, 2, 1])], [1, 3, 2, 4]);
 * ```
 */
export function permute021Ref(
  input: ArrayLike<number>,
  shape: readonly [number, number, number],
): Float64Array {
  const [A, B, C] = shape;
  checkLength("permute021Ref", input, A * B * C);
  const out = new Float64Array(A * B * C);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) out[(b * A + a) * C + c] = input[(a * B + b) * C + c];
    }
  }
  return out;
}

/**
 * `[A, B, C] → [A, C, B]`.
 *
 * @param input Row-major `[A, B, C]` values.
 * @param shape `[A, B, C]`.
 * @returns Row-major `[A, C, B]` values.
 * @throws {RangeError} When `input` holds fewer than `A·B·C` values.
 *
 * @example Usage
 * ```ts
 * import { transposeLast2Ref } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...transposeLast2Ref([1, 2, 3, 4, 5, 6], [1, 2, 3])], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export function transposeLast2Ref(
  input: ArrayLike<number>,
  shape: readonly [number, number, number],
): Float64Array {
  const [A, B, C] = shape;
  checkLength("transposeLast2Ref", input, A * B * C);
  const out = new Float64Array(A * B * C);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) out[(a * C + c) * B + b] = input[(a * B + b) * C + c];
    }
  }
  return out;
}

/**
 * `[rows, cols] → [cols, rows]`.
 *
 * @param input Row-major `[rows, cols]` values.
 * @param rows Rows of the input.
 * @param cols Columns of the input.
 * @returns Row-major `[cols, rows]` values.
 * @throws {RangeError} When `input` holds fewer than `rows·cols` values.
 *
 * @example Usage
 * ```ts
 * import { transpose2dRef } from "./elementwise_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...transpose2dRef([1, 2, 3, 4], 2, 2)], [1, 3, 2, 4]);
 * ```
 */
export function transpose2dRef(input: ArrayLike<number>, rows: number, cols: number): Float64Array {
  return transposeLast2Ref(input, [1, rows, cols]);
}
