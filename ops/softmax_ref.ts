// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `softmax.metal`: the row softmax in plain loops, to compare kernel
 * output against within a per-dtype tolerance.
 *
 * @example Usage
 * ```ts
 * import { softmaxRef } from "./softmax_ref.ts";
 * import assert from "node:assert";
 *
 * const p = softmaxRef([0, 0, -Infinity, 0], 1, 4);
 * assert.deepStrictEqual([...p], [1 / 3, 1 / 3, 0, 1 / 3]);
 * ```
 *
 * @module
 */

/**
 * Softmax over each row of a row-major `[rows, cols]` matrix, in f64:
 * `p[r][j] = exp(x[r][j] - m_r) / Σ_k exp(x[r][k] - m_r)` with `m_r` the row maximum.
 * `-Infinity` entries get 0; a row of only `-Infinity` gives zeros (as the kernels do).
 *
 * @param input The logits (already rounded to the kernel's input dtype).
 * @param rows Number of rows.
 * @param cols Row length.
 * @returns The probabilities, `rows × cols` values.
 * @throws {RangeError} When `input` holds fewer than `rows × cols` values.
 *
 * @example Usage
 * ```ts
 * import { softmaxRef } from "./softmax_ref.ts";
 * import assert from "node:assert";
 *
 * const p = softmaxRef([1, 1, -Infinity, -Infinity], 2, 2);
 * assert.deepStrictEqual([...p], [0.5, 0.5, 0, 0]);
 * ```
 */
export function softmaxRef(input: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (input.length < rows * cols) {
    throw new RangeError(
      `Cannot compute softmaxRef: input holds ${input.length} values, expected ${rows * cols}`,
    );
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, input[base + j]);
    if (max === -Infinity) continue; // all masked: zeros
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(input[base + j] - max);
    for (let j = 0; j < cols; j++) out[base + j] = Math.exp(input[base + j] - max) / sum;
  }
  return out;
}
