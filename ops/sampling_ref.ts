// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * References for the sampling kernels (`argmax.metal`, `argsort.metal`, `top_k.metal`,
 * `softmax_sample.metal`), in plain loops and f64. They follow the kernels' order: larger
 * value first, equal values by ascending index, NaN above `+Infinity`, `-0` equal to `+0`.
 *
 * @example Usage
 * ```ts
 * import { argsortRef } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...argsortRef([1, 3, 3, NaN], 1, 4)], [3, 1, 2, 0]);
 * ```
 *
 * @module
 */

/**
 * True when entry `(a, i)` comes before `(b, j)` in the kernels' order.
 *
 * @param a First value.
 * @param i Its index.
 * @param b Second value.
 * @param j Its index.
 * @returns Whether `(a, i)` sorts first.
 *
 * @example Usage
 * ```ts
 * import { before } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.ok(before(NaN, 5, Infinity, 0));
 * assert.ok(before(-0, 1, 0, 2));
 * ```
 */
export function before(a: number, i: number, b: number, j: number): boolean {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an !== bn) return an;
  if (!an && a !== b) return a > b;
  return i < j;
}

/** Indices and values of one result per row (or per row and rank). */
export interface IndexedValues {
  /** The chosen indices. */
  indices: Uint32Array;
  /** The values at those indices. */
  values: Float64Array;
}

/**
 * Per-row argmax with the kernels' tie and NaN rules.
 *
 * @param input `[rows, cols]` values.
 * @param rows Number of rows.
 * @param cols Row length.
 * @returns One index and value per row.
 *
 * @example Usage
 * ```ts
 * import { argmaxRef } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...argmaxRef([2, 7, 7, 1, 1, 1], 2, 3).indices], [1, 0]);
 * ```
 */
export function argmaxRef(input: ArrayLike<number>, rows: number, cols: number): IndexedValues {
  const indices = new Uint32Array(rows);
  const values = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) {
      if (before(input[r * cols + j], j, input[r * cols + best], best)) best = j;
    }
    indices[r] = best;
    values[r] = input[r * cols + best];
  }
  return { indices, values };
}

/**
 * Per-row descending argsort with the kernels' order.
 *
 * @param input `[rows, cols]` values.
 * @param rows Number of rows.
 * @param cols Row length.
 * @returns `[rows, cols]` indices.
 *
 * @example Usage
 * ```ts
 * import { argsortRef } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...argsortRef([0, 0, 1], 1, 3)], [2, 0, 1]);
 * ```
 */
export function argsortRef(input: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const out = new Uint32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: cols }, (_, j) => j);
    const v = (j: number) => input[r * cols + j];
    order.sort((i, j) => before(v(i), i, v(j), j) ? -1 : before(v(j), j, v(i), i) ? 1 : 0);
    out.set(order, r * cols);
  }
  return out;
}

/**
 * Per-row top-k, sorted, with the kernels' order.
 *
 * @param input `[rows, cols]` values.
 * @param rows Number of rows.
 * @param cols Row length.
 * @param k Entries to keep per row.
 * @returns `[rows, k]` indices and values.
 *
 * @example Usage
 * ```ts
 * import { topKRef } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...topKRef([5, 9, 9, 1], 1, 4, 2).indices], [1, 2]);
 * ```
 */
export function topKRef(
  input: ArrayLike<number>,
  rows: number,
  cols: number,
  k: number,
): IndexedValues {
  const sorted = argsortRef(input, rows, cols);
  const indices = new Uint32Array(rows * k);
  const values = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      indices[r * k + i] = sorted[r * cols + i];
      values[r * k + i] = input[r * cols + sorted[r * cols + i]];
    }
  }
  return { indices, values };
}

/** One row's result of {@linkcode softmaxSampleRef}. */
export interface SampleResult {
  /** The drawn index. */
  token: number;
  /** ln p(token) under softmax(logits / temperature). */
  logprob: number;
  /** softmax(logits / temperature). */
  probs: Float64Array;
  /** Cumulative probabilities, `cdf[j] = Σ_{i ≤ j} probs[i]`. */
  cdf: Float64Array;
  /** The target the draw compared against, `u ×` nucleus mass (in probability units). */
  target: number;
  /** Last index of the nucleus. */
  last: number;
}

/**
 * One row's draw as `softmax_sample_f32` makes it, in f64: nucleus (for `topP < 1`, on a
 * row sorted by descending logit) = the prefix up to the first cumulative probability
 * `≥ topP`; token = the first index of nonzero probability whose cumulative probability
 * exceeds `u ×` the nucleus mass.
 *
 * @param logits One row of logits.
 * @param invTemperature `1 / T` (pass the f32-rounded value the kernel receives).
 * @param topP Nucleus mass, `(0, 1]`.
 * @param u The uniform number, `[0, 1)`.
 * @returns The token, its log-probability, the distribution and the draw's target.
 *
 * @example Usage
 * ```ts
 * import { softmaxSampleRef } from "./sampling_ref.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(softmaxSampleRef([0, 0, -Infinity, 0], 1, 1, 0.5).token, 1);
 * assert.strictEqual(softmaxSampleRef([0, 0, -Infinity, 0], 1, 1, 0.9).token, 3);
 * ```
 */
export function softmaxSampleRef(
  logits: ArrayLike<number>,
  invTemperature: number,
  topP: number,
  u: number,
): SampleResult {
  const n = logits.length;
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, logits[j]);
  const probs = new Float64Array(n);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    probs[j] = Math.exp((logits[j] - max) * invTemperature);
    sum += probs[j];
  }
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let j = 0; j < n; j++) {
    probs[j] /= sum;
    acc += probs[j];
    cdf[j] = acc;
  }
  let last = n - 1;
  if (topP < 1) {
    last = cdf.findIndex((c, j) => probs[j] > 0 && c >= topP);
    if (last < 0) last = n - 1;
  }
  const target = u * cdf[last];
  let token = -1;
  for (let j = 0; j <= last && token < 0; j++) if (probs[j] > 0 && cdf[j] > target) token = j;
  if (token < 0) { for (let j = last; j >= 0 && token < 0; j--) if (probs[j] > 0) token = j; }
  return { token, logprob: Math.log(probs[token]), probs, cdf, target, last };
}
