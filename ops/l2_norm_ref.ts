// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `l2_norm.metal`: the row L2 norm in plain loops, to compare kernel output
 * against within a per-dtype tolerance.
 *
 * @example Usage
 * ```ts
 * import { l2NormRef } from "./l2_norm_ref.ts";
 * import assert from "node:assert";
 *
 * const y = l2NormRef([3, 4], 1, 2, 0);
 * assert.deepStrictEqual([...y], [0.6, 0.8]);
 * ```
 *
 * @module
 */

/**
 * L2 normalisation of each row of a row-major `[rows, dim]` matrix, in f64:
 * `y[r][j] = x[r][j] / sqrt(Σ_k x[r][k]² + eps)` (the sum of squares, not the mean).
 *
 * @param input The rows (already rounded to the kernel's input dtype).
 * @param rows Number of rows.
 * @param dim Row length.
 * @param eps Added to the sum of squares inside the square root.
 * @returns The normalised rows, `rows × dim` values.
 * @throws {RangeError} When `input` holds fewer than `rows × dim` values.
 *
 * @example Usage
 * ```ts
 * import { l2NormRef } from "./l2_norm_ref.ts";
 * import assert from "node:assert";
 *
 * const y = l2NormRef([1, 0, 0, 2], 2, 2, 0);
 * assert.deepStrictEqual([...y], [1, 0, 0, 1]);
 * ```
 */
export function l2NormRef(
  input: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
): Float64Array {
  if (input.length < rows * dim) {
    throw new RangeError(
      `Cannot compute l2NormRef: input holds ${input.length} values, expected ${rows * dim}`,
    );
  }
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += input[base + j] * input[base + j];
    const norm = Math.sqrt(sum + eps);
    for (let j = 0; j < dim; j++) out[base + j] = input[base + j] / norm;
  }
  return out;
}
