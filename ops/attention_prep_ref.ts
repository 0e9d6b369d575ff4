// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `ops/attention_prep.ts`: per-head RMSNorm + NeoX RoPE, and the
 * scale-mask-softmax of attention scores, in plain loops.
 *
 * @example Usage
 * ```ts
 * import { scaleMaskSoftmaxRef } from "./attention_prep_ref.ts";
 * import assert from "node:assert";
 *
 * // 1 head, 2 queries, 2 keys, causal mask.
 * const p = scaleMaskSoftmaxRef([1, 2, 3, 3], [0, -Infinity, 0, 0], { rows: 2, seqQ: 2, seqK: 2, scale: 1 });
 * assert.deepStrictEqual([...p], [1, 0, 0.5, 0.5]);
 * ```
 *
 * @module
 */
import { ropePairs, ropeRef, type RopeRefOptions } from "./rope_ref.ts";

/** Options of {@linkcode headNormRopeRef}. */
export interface HeadNormRopeRefOptions
  extends Omit<RopeRefOptions, "mode" | "base" | "positions"> {
  /** Frequency base (with `positions`; not used with `cosSin`). */
  base?: number;
  /** Position of each token (with `base`; not used with `cosSin`). */
  positions?: ArrayLike<number>;
  /**
   * `[seqLen, ropeDim / 2, 2]` values `(cos θ, sin θ)` per token and rotated pair, in place of
   * positions and frequencies (the kernels' cos/sin table option).
   */
  cosSin?: ArrayLike<number>;
  /** Heads per token. */
  nHeads: number;
  /** RMSNorm epsilon. */
  eps: number;
}

/**
 * Per-head RMSNorm then NeoX RoPE in f64: `n = x / sqrt(mean(x²) + eps) · weight` for each
 * `[headDim]` row of `[seqLen, nHeads, headDim]`, then {@linkcode ropeRef} in `"neox"` mode,
 * or with `cosSin` the same pairs rotated by the given cosines and sines.
 *
 * @param input The rows (already rounded to the kernel's dtype).
 * @param weight `[headDim]` norm weight, or undefined for none.
 * @param options Shape, eps, positions and RoPE frequencies.
 * @returns The normalised, rotated rows.
 *
 * @example Usage
 * ```ts
 * import { headNormRopeRef } from "./attention_prep_ref.ts";
 * import assert from "node:assert";
 *
 * // Position 0: a plain RMSNorm. mean((3, 4)²) = 12.5.
 * const y = headNormRopeRef([3, 4], undefined, { seqLen: 1, nHeads: 1, headDim: 2, eps: 0,
 *   positions: [0], base: 1e4 });
 * assert.deepStrictEqual([...y], [3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)]);
 * // A cos/sin table: a quarter turn maps (a, b) to (−b, a).
 * const z = headNormRopeRef([3, 4], undefined, { seqLen: 1, nHeads: 1, headDim: 2, eps: 0,
 *   cosSin: [0, 1] });
 * assert.deepStrictEqual([...z], [-4 / Math.sqrt(12.5), 3 / Math.sqrt(12.5)]);
 * ```
 */
export function headNormRopeRef(
  input: ArrayLike<number>,
  weight: ArrayLike<number> | undefined,
  options: HeadNormRopeRefOptions,
): Float64Array {
  const { seqLen, nHeads, headDim, eps } = options;
  const normed = new Float64Array(seqLen * nHeads * headDim);
  for (let row = 0; row < seqLen * nHeads; row++) {
    let ss = 0;
    for (let j = 0; j < headDim; j++) ss += input[row * headDim + j] ** 2;
    const r = 1 / Math.sqrt(ss / headDim + eps);
    for (let j = 0; j < headDim; j++) {
      normed[row * headDim + j] = input[row * headDim + j] * r * (weight ? weight[j] : 1);
    }
  }
  const { cosSin } = options;
  if (cosSin === undefined) {
    if (options.base === undefined || options.positions === undefined) {
      throw new TypeError(
        "Cannot compute headNormRopeRef: give base and positions, or cosSin",
      );
    }
    return ropeRef(normed, {
      ...options,
      base: options.base,
      positions: options.positions,
      mode: "neox",
    });
  }
  const pairs = ropePairs({ ...options, base: 1, positions: [], mode: "neox" });
  if (cosSin.length < seqLen * pairs.length * 2) {
    throw new RangeError(
      `Cannot compute headNormRopeRef: cosSin holds ${cosSin.length} values, expected ${
        seqLen * pairs.length * 2
      }`,
    );
  }
  const out = Float64Array.from(normed);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nHeads; h++) {
      const row = (t * nHeads + h) * headDim;
      pairs.forEach(([i0, i1], p) => {
        const c = cosSin[2 * (t * pairs.length + p)];
        const s = cosSin[2 * (t * pairs.length + p) + 1];
        out[row + i0] = normed[row + i0] * c - normed[row + i1] * s;
        out[row + i1] = normed[row + i0] * s + normed[row + i1] * c;
      });
    }
  }
  return out;
}

/** Options of {@linkcode scaleMaskSoftmaxRef}. */
export interface ScaleMaskSoftmaxRefOptions {
  /** Rows: heads × seqQ. */
  rows: number;
  /** Query rows per head (mask rows). */
  seqQ: number;
  /** Keys (softmax axis). */
  seqK: number;
  /** Multiplies the scores. */
  scale: number;
}

/**
 * `p[r][k] = softmax_k(input[r][k]·scale + mask[r mod seqQ][k])` in f64; a fully masked row
 * gives zeros.
 *
 * @param input `[rows, seqK]` scores.
 * @param mask `[seqQ, seqK]` additive mask, or undefined for none.
 * @param options Sizes and scale.
 * @returns The probabilities.
 *
 * @example Usage
 * ```ts
 * import { scaleMaskSoftmaxRef } from "./attention_prep_ref.ts";
 * import assert from "node:assert";
 *
 * const p = scaleMaskSoftmaxRef([0, 0], undefined, { rows: 1, seqQ: 1, seqK: 2, scale: 3 });
 * assert.deepStrictEqual([...p], [0.5, 0.5]);
 * ```
 */
export function scaleMaskSoftmaxRef(
  input: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  options: ScaleMaskSoftmaxRefOptions,
): Float64Array {
  const { rows, seqQ, seqK, scale } = options;
  const out = new Float64Array(rows * seqK);
  const t = new Float64Array(seqK);
  for (let r = 0; r < rows; r++) {
    const q = r % seqQ;
    let max = -Infinity;
    for (let k = 0; k < seqK; k++) {
      t[k] = input[r * seqK + k] * scale + (mask ? mask[q * seqK + k] : 0);
      max = Math.max(max, t[k]);
    }
    if (max === -Infinity) continue;
    let sum = 0;
    for (let k = 0; k < seqK; k++) sum += Math.exp(t[k] - max);
    for (let k = 0; k < seqK; k++) out[r * seqK + k] = Math.exp(t[k] - max) / sum;
  }
  return out;
}
