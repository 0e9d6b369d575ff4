// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `moe_gate.metal`: the fused MoE router (RMS norm, router logits, top-k,
 * softmax over the selected k, per-expert scale, renormalisation), and the top-k selection it
 * shares with `ops/moe_softmax_topk_ref.ts`.
 *
 * @example Usage
 * ```ts
 * import { moeGateRef } from "./moe_gate_ref.ts";
 * import assert from "node:assert";
 *
 * const { ids, weights } = moeGateRef({
 *   hidden: [1], router: [1, 2, 3], normWeight: [1], expertScale: [1, 1, 1],
 *   hiddenDim: 1, nExperts: 3, topK: 1, eps: 0,
 * });
 * assert.deepStrictEqual([...ids], [2]);
 * assert.deepStrictEqual([...weights], [1]);
 * ```
 *
 * @module
 */

/**
 * The indices of the `k` largest of `values`, largest first, ties to the lower index.
 *
 * @param values The scores.
 * @param k How many to keep (≤ `values.length`).
 * @returns `k` indices.
 *
 * @example Usage
 * ```ts
 * import { topKIndicesRef } from "./moe_gate_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(topKIndicesRef([1, 3, 3, 2], 3), [1, 2, 3]);
 * ```
 */
export function topKIndicesRef(values: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, k);
}

/** Inputs of {@linkcode moeGateRef} (layouts as in `ops/moe_gate.ts`). */
export interface MoeGateRefOptions {
  /** Hidden states `[tokens, hiddenDim]` (the bf16 values the kernel reads). */
  hidden: ArrayLike<number>;
  /** Router `[nExperts, hiddenDim]`. */
  router: ArrayLike<number>;
  /** Norm weights `[hiddenDim]`. */
  normWeight: ArrayLike<number>;
  /** Per-expert scales `[nExperts]`. */
  expertScale: ArrayLike<number>;
  /** Hidden size. */
  hiddenDim: number;
  /** Experts. */
  nExperts: number;
  /** Experts kept. */
  topK: number;
  /** Added to the mean of squares. */
  eps: number;
}

/**
 * Per token: `h = x·rsqrt(mean(x²) + eps)·normWeight`, `ℓ = router·h`, the `topK` largest,
 * `p = softmax` over them, `w = p·scale / Σ p·scale` (left unnormalised if that sum is 0).
 *
 * @param options The inputs; the token count is `hidden.length / hiddenDim`.
 * @returns `ids` and `weights` (`tokens · topK` each) and the f64 `logits` `[tokens, nExperts]`.
 *
 * @example Usage
 * ```ts
 * import { moeGateRef } from "./moe_gate_ref.ts";
 * import assert from "node:assert";
 *
 * // Equal logits, scales 3 and 1: weights 3/4 and 1/4.
 * const { weights } = moeGateRef({
 *   hidden: [1], router: [1, 1], normWeight: [1], expertScale: [3, 1],
 *   hiddenDim: 1, nExperts: 2, topK: 2, eps: 0,
 * });
 * assert.deepStrictEqual([...weights], [0.75, 0.25]);
 * ```
 */
export function moeGateRef(
  options: MoeGateRefOptions,
): { ids: number[]; weights: Float64Array; logits: Float64Array } {
  const { hidden, router, normWeight, expertScale, hiddenDim, nExperts, topK, eps } = options;
  const tokens = hidden.length / hiddenDim;
  const ids: number[] = [];
  const weights = new Float64Array(tokens * topK);
  const logits = new Float64Array(tokens * nExperts);
  for (let t = 0; t < tokens; t++) {
    let squares = 0;
    for (let d = 0; d < hiddenDim; d++) squares += hidden[t * hiddenDim + d] ** 2;
    const r = 1 / Math.sqrt(squares / hiddenDim + eps);
    const row = logits.subarray(t * nExperts, (t + 1) * nExperts);
    for (let e = 0; e < nExperts; e++) {
      let acc = 0;
      for (let d = 0; d < hiddenDim; d++) {
        acc += hidden[t * hiddenDim + d] * r * normWeight[d] * router[e * hiddenDim + d];
      }
      row[e] = acc;
    }
    const chosen = topKIndicesRef(row, topK);
    const first = row[chosen[0]];
    const p = chosen.map((e) => Math.exp(row[e] - first));
    const sum = p.reduce((a, b) => a + b, 0);
    const scaled = chosen.map((e, j) => (p[j] / sum) * expertScale[e]);
    const total = scaled.reduce((a, b) => a + b, 0);
    chosen.forEach((e, j) => {
      ids.push(e);
      weights[t * topK + j] = total !== 0 ? scaled[j] / total : scaled[j];
    });
  }
  return { ids, weights, logits };
}
