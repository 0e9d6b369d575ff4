// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `moe_weighted_reduce.metal`: the routing-weighted sum of expert outputs,
 * with an optional sigmoid-gated shared expert and an optional residual.
 *
 * @example Usage
 * ```ts
 * import { moeWeightedReduceRef } from "./moe_weighted_reduce_ref.ts";
 * import assert from "node:assert";
 *
 * const out = moeWeightedReduceRef({ weights: [0.5, 0.5], y: [2, 4], topK: 2, hidden: 1 });
 * assert.deepStrictEqual([...out], [3]);
 * ```
 *
 * @module
 */

/** Inputs of {@linkcode moeWeightedReduceRef}. */
export interface MoeWeightedReduceRefOptions {
  /** Routing weights `[tokens, topK]`. */
  weights: ArrayLike<number>;
  /** Expert outputs `[tokens, topK, hidden]`. */
  y: ArrayLike<number>;
  /** Experts per token. */
  topK: number;
  /** Row length. */
  hidden: number;
  /** Shared expert: output `[tokens, hidden]` and raw gate logits `[tokens]`. */
  shared?: { y: ArrayLike<number>; gate: ArrayLike<number> };
  /** Residual `[tokens, hidden]`. */
  residual?: ArrayLike<number>;
}

/**
 * `out[t][h] = Σ_k w[t][k]·y[t][k][h] + σ(gate[t])·shared.y[t][h] + residual[t][h]`, in f64.
 *
 * @param options The inputs; the token count is `weights.length / topK`.
 * @returns `[tokens, hidden]` values.
 *
 * @example Usage
 * ```ts
 * import { moeWeightedReduceRef } from "./moe_weighted_reduce_ref.ts";
 * import assert from "node:assert";
 *
 * const out = moeWeightedReduceRef({
 *   weights: [1], y: [1], topK: 1, hidden: 1, shared: { y: [4], gate: [0] }, residual: [10],
 * });
 * assert.deepStrictEqual([...out], [13]);
 * ```
 */
export function moeWeightedReduceRef(options: MoeWeightedReduceRefOptions): Float64Array {
  const { weights, y, topK, hidden, shared, residual } = options;
  const tokens = weights.length / topK;
  const out = new Float64Array(tokens * hidden);
  for (let t = 0; t < tokens; t++) {
    const gate = shared ? 1 / (1 + Math.exp(-shared.gate[t])) : 0;
    for (let h = 0; h < hidden; h++) {
      let acc = 0;
      for (let k = 0; k < topK; k++) acc += weights[t * topK + k] * y[(t * topK + k) * hidden + h];
      if (shared) acc += gate * shared.y[t * hidden + h];
      if (residual) acc += residual[t * hidden + h];
      out[t * hidden + h] = acc;
    }
  }
  return out;
}
