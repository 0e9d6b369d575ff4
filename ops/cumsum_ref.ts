// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `cumsum.metal`: the inclusive prefix sum of each row in a plain loop.
 *
 * @example Usage
 * ```ts
 * import { cumsumRef } from "./cumsum_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...cumsumRef([1, 2, 3, 4], 1, 4)], [1, 3, 6, 10]);
 * ```
 *
 * @module
 */

/**
 * Inclusive prefix sum along each row of a row-major `[rows, dim]` matrix, in f64:
 * `y[r][j] = Σ_{k ≤ j} x[r][k]`.
 *
 * @param input The rows (already rounded to the kernel's input dtype).
 * @param rows Number of rows.
 * @param dim Row length.
 * @returns The prefix sums, `rows × dim` values.
 * @throws {RangeError} When `input` holds fewer than `rows × dim` values.
 *
 * @example Usage
 * ```ts
 * import { cumsumRef } from "./cumsum_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...cumsumRef([1, 1, 5, -5], 2, 2)], [1, 2, 5, 0]);
 * ```
 */
export function cumsumRef(input: ArrayLike<number>, rows: number, dim: number): Float64Array {
  if (input.length < rows * dim) {
    throw new RangeError(
      `Cannot compute cumsumRef: input holds ${input.length} values, expected ${rows * dim}`,
    );
  }
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) out[j] = sum += input[j];
  }
  return out;
}
