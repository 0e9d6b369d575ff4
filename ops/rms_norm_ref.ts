// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `rms_norm.metal`: RMS normalisation of each row of a `[rows, dim]`
 * matrix, `y = x · rsqrt(mean(x²) + eps) · w`, its fused product with a second matrix, and
 * the fused post-attention residual + three norms, in plain loops, to compare kernel output
 * against within a per-dtype tolerance.
 *
 * @example Usage
 * ```ts
 * import { rmsNormRef } from "./rms_norm_ref.ts";
 * import assert from "node:assert";
 *
 * // mean(x²) = (9 + 16) / 2 = 12.5
 * const y = rmsNormRef([3, 4], { rows: 1, dim: 2, eps: 0 });
 * assert.ok(Math.abs(y[0] - 3 / Math.sqrt(12.5)) < 1e-15);
 * ```
 *
 * @module
 */

/** Options of {@linkcode rmsNormRef}. */
export interface RmsNormRefOptions {
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Added to the mean of squares inside the square root. */
  eps: number;
  /** `[dim]` per-column scale; omitted: no scale (`rms_norm_no_scale_*`). */
  weight?: ArrayLike<number>;
  /** `[rows, dim]` element-wise multiplier applied after the weight (`rms_norm_mul_*`). */
  multiplier?: ArrayLike<number>;
}

function checkLength(name: string, values: ArrayLike<number>, expected: number): void {
  if (values.length < expected) {
    throw new RangeError(
      `Cannot compute rmsNormRef: ${name} holds ${values.length} values, expected ${expected}`,
    );
  }
}

/**
 * `1 / sqrt(mean(x²) + eps)` of each row, in f64.
 *
 * @param input The `[rows, dim]` values (already rounded to the kernel's input dtype).
 * @param options Rows, dim and eps.
 * @returns One factor per row.
 * @throws {RangeError} When `input` holds fewer than `rows × dim` values.
 *
 * @example Usage
 * ```ts
 * import { inverseRmsRef } from "./rms_norm_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...inverseRmsRef([2, 2, 1, 1], { rows: 2, dim: 2, eps: 0 })], [0.5, 1]);
 * ```
 */
export function inverseRmsRef(
  input: ArrayLike<number>,
  options: Pick<RmsNormRefOptions, "rows" | "dim" | "eps">,
): Float64Array {
  const { rows, dim, eps } = options;
  checkLength("input", input, rows * dim);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += input[r * dim + j] ** 2;
    out[r] = 1 / Math.sqrt(sum / dim + eps);
  }
  return out;
}

/**
 * RMS normalisation of each row in f64:
 * `y[r][j] = x[r][j] · rsqrt(mean_j(x[r][j]²) + eps) · w[j] · m[r][j]`, where the weight `w`
 * and the multiplier `m` are each 1 when omitted.
 *
 * @param input The `[rows, dim]` values (already rounded to the kernel's input dtype).
 * @param options Rows, dim, eps, and the optional weight and multiplier.
 * @returns The normalised rows, `rows × dim` values.
 * @throws {RangeError} When a buffer holds fewer values than the shape needs.
 *
 * @example Usage
 * ```ts
 * import { rmsNormRef } from "./rms_norm_ref.ts";
 * import assert from "node:assert";
 *
 * const y = rmsNormRef([1, -1, 1, -1], { rows: 1, dim: 4, eps: 0, weight: [1, 2, 3, 4] });
 * assert.deepStrictEqual([...y], [1, -2, 3, -4]);
 * ```
 */
export function rmsNormRef(input: ArrayLike<number>, options: RmsNormRefOptions): Float64Array {
  const { rows, dim, weight, multiplier } = options;
  if (weight) checkLength("weight", weight, dim);
  if (multiplier) checkLength("multiplier", multiplier, rows * dim);
  const factors = inverseRmsRef(input, options);
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      out[i] = input[i] * factors[r] * (weight ? weight[j] : 1) * (multiplier ? multiplier[i] : 1);
    }
  }
  return out;
}

/** Options of {@linkcode fusedPostAttnTripleNormRef}. */
export interface FusedPostAttnTripleNormRefOptions {
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Added to the mean of squares inside both square roots. */
  eps: number;
  /** `[dim]` weight of the norm of the attention output. */
  postWeight: ArrayLike<number>;
  /** The three `[dim]` weights of the norms of the residual. */
  weights: readonly [ArrayLike<number>, ArrayLike<number>, ArrayLike<number>];
}

/** Result of {@linkcode fusedPostAttnTripleNormRef}. */
export interface FusedPostAttnTripleNormRefResult {
  /** `h + rmsnorm(a) · postWeight`, `rows × dim` values. */
  residual: Float64Array;
  /** `rmsnorm(residual) · weights[k]` for k = 0, 1, 2. */
  outputs: [Float64Array, Float64Array, Float64Array];
}

/**
 * The fused post-attention step of a Gemma-style block, in f64:
 * `res = h + a · rsqrt(mean(a²) + eps) · postWeight`, then
 * `out_k = res · rsqrt(mean(res²) + eps) · weights[k]` for three weights.
 *
 * @param hidden The `[rows, dim]` residual stream `h`.
 * @param attention The `[rows, dim]` attention output `a`.
 * @param options Rows, dim, eps, the post-attention weight and the three weights.
 * @returns The residual and the three outputs.
 * @throws {RangeError} When a buffer holds fewer values than the shape needs.
 *
 * @example Usage
 * ```ts
 * import { fusedPostAttnTripleNormRef } from "./rms_norm_ref.ts";
 * import assert from "node:assert";
 *
 * const { residual, outputs } = fusedPostAttnTripleNormRef([1, 1], [3, -3], {
 *   rows: 1,
 *   dim: 2,
 *   eps: 0,
 *   postWeight: [1, 1],
 *   weights: [[1, 1], [2, 2], [0, 1]],
 * });
 * assert.deepStrictEqual([...residual], [2, 0]); // 1 + 3/3, 1 - 3/3
 * // rms(residual) = sqrt(2): outputs[1] = [2 / sqrt(2) · 2, 0]
 * assert.ok(Math.abs(outputs[1][0] - 2 * Math.SQRT2) < 1e-12 && outputs[1][1] === 0);
 * ```
 */
export function fusedPostAttnTripleNormRef(
  hidden: ArrayLike<number>,
  attention: ArrayLike<number>,
  options: FusedPostAttnTripleNormRefOptions,
): FusedPostAttnTripleNormRefResult {
  const { rows, dim, eps, postWeight, weights } = options;
  checkLength("hidden", hidden, rows * dim);
  const normed = rmsNormRef(attention, { rows, dim, eps, weight: postWeight });
  const residual = normed.map((v, i) => hidden[i] + v);
  const outputs = weights.map((weight) => rmsNormRef(residual, { rows, dim, eps, weight }));
  return { residual, outputs: outputs as [Float64Array, Float64Array, Float64Array] };
}
