// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * References for `copy.metal` and `gather.metal`, in plain loops (copies are exact, so the
 * kernels must match these bit for bit).
 *
 * @example Usage
 * ```ts
 * import { gatherRef } from "./copy_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...gatherRef([1, 2, 3, 4], [1, 0, 7], 2)], [3, 4, 1, 2, 0, 0]);
 * ```
 *
 * @module
 */

/**
 * The strided view `out[r·cols + c] = input[offset + r·rowStride + c·colStride]`.
 *
 * @param input The source values.
 * @param rows Rows of the view.
 * @param cols Columns of the view.
 * @param rowStride Elements between source rows.
 * @param colStride Elements between source columns.
 * @param offset Index of the view's `[0, 0]`.
 * @returns The `[rows, cols]` contiguous copy.
 *
 * @example Usage
 * ```ts
 * import { stridedCopyRef } from "./copy_ref.ts";
 * import assert from "node:assert";
 *
 * // Transpose of [[1, 2, 3], [4, 5, 6]].
 * assert.deepStrictEqual([...stridedCopyRef([1, 2, 3, 4, 5, 6], 3, 2, 1, 3)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export function stridedCopyRef(
  input: ArrayLike<number>,
  rows: number,
  cols: number,
  rowStride: number,
  colStride = 1,
  offset = 0,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = input[offset + r * rowStride + c * colStride];
    }
  }
  return out;
}

/**
 * The range copy `out[outputOffset + i] = input[inputOffset + i]`, `i < count`, into a copy
 * of `output`.
 *
 * @param input The source values.
 * @param output The destination's values before the copy.
 * @param count Elements to copy.
 * @param inputOffset First source element.
 * @param outputOffset First destination element.
 * @returns The destination after the copy.
 *
 * @example Usage
 * ```ts
 * import { offsetCopyRef } from "./copy_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...offsetCopyRef([1, 2, 3], [0, 0, 0, 0], 2, 1, 2)], [0, 0, 2, 3]);
 * ```
 */
export function offsetCopyRef(
  input: ArrayLike<number>,
  output: ArrayLike<number>,
  count: number,
  inputOffset = 0,
  outputOffset = 0,
): Float64Array {
  const out = Float64Array.from(output);
  for (let i = 0; i < count; i++) out[outputOffset + i] = input[inputOffset + i];
  return out;
}

/**
 * The row gather `out[i][:] = input[ids[i]][:]`; an id past the last row gives zeros.
 *
 * @param input `[rows, width]` values.
 * @param ids Row ids.
 * @param width Row length.
 * @returns `[ids.length, width]` values.
 *
 * @example Usage
 * ```ts
 * import { gatherRef } from "./copy_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...gatherRef([5, 6], [1, 1, 0], 1)], [6, 6, 5]);
 * ```
 */
export function gatherRef(
  input: ArrayLike<number>,
  ids: ArrayLike<number>,
  width: number,
): Float64Array {
  const rows = Math.floor(input.length / width);
  const out = new Float64Array(ids.length * width);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= rows) continue;
    for (let c = 0; c < width; c++) out[i * width + c] = input[ids[i] * width + c];
  }
  return out;
}
