// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `moe_softmax_topk.metal`: a softmax over all experts, the top k, and the
 * optional renormalisation of the kept probabilities.
 *
 * @example Usage
 * ```ts
 * import { moeSoftmaxTopkRef } from "./moe_softmax_topk_ref.ts";
 * import assert from "node:assert";
 *
 * const { ids, weights } = moeSoftmaxTopkRef({ logits: [0, 0, 0, 0], nExperts: 4, topK: 2, renormalize: false });
 * assert.deepStrictEqual(ids, [0, 1]);
 * assert.deepStrictEqual([...weights], [0.25, 0.25]);
 * ```
 *
 * @module
 */
import { topKIndicesRef } from "./moe_gate_ref.ts";

/** Inputs of {@linkcode moeSoftmaxTopkRef}. */
export interface MoeSoftmaxTopkRefOptions {
  /** Logits `[tokens, nExperts]`. */
  logits: ArrayLike<number>;
  /** Experts. */
  nExperts: number;
  /** Experts kept. */
  topK: number;
  /** Rescale the kept probabilities to sum to 1 (if that sum exceeds 1e-9). @default true */
  renormalize?: boolean;
}

/**
 * Per token: `p = softmax(ℓ)` over all experts, the `topK` largest (ties to the lower index),
 * optionally divided by their sum.
 *
 * @param options The inputs; the token count is `logits.length / nExperts`.
 * @returns `ids` and `weights`, `tokens · topK` each.
 *
 * @example Usage
 * ```ts
 * import { moeSoftmaxTopkRef } from "./moe_softmax_topk_ref.ts";
 * import assert from "node:assert";
 *
 * const { weights } = moeSoftmaxTopkRef({ logits: [0, Math.log(3), -50], nExperts: 3, topK: 2 });
 * assert.ok(Math.abs(weights[0] - 0.75) < 1e-15 && Math.abs(weights[1] - 0.25) < 1e-15);
 * ```
 */
export function moeSoftmaxTopkRef(
  options: MoeSoftmaxTopkRefOptions,
): { ids: number[]; weights: Float64Array } {
  const { logits, nExperts, topK, renormalize = true } = options;
  const tokens = logits.length / nExperts;
  const ids: number[] = [];
  const weights = new Float64Array(tokens * topK);
  for (let t = 0; t < tokens; t++) {
    const row = Array.from({ length: nExperts }, (_, e) => logits[t * nExperts + e]);
    const high = Math.max(...row);
    const sum = row.reduce((a, v) => a + Math.exp(v - high), 0);
    const chosen = topKIndicesRef(row, topK);
    const p = chosen.map((e) => Math.exp(row[e] - high) / sum);
    const kept = p.reduce((a, b) => a + b, 0);
    const factor = renormalize && kept > 1e-9 ? 1 / kept : 1;
    chosen.forEach((e, j) => {
      ids.push(e);
      weights[t * topK + j] = p[j] * factor;
    });
  }
  return { ids, weights };
}
