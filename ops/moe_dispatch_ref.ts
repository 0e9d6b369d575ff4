// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `moe_dispatch.metal`: GeGLU over rows of concatenated gate/up
 * projections (what the `moe_swiglu_*` names compute), weighted sums of expert outputs, a
 * mat-vec and the gathering of top-k routing weights.
 *
 * @example Usage
 * ```ts
 * import { gegluRowsRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * const out = gegluRowsRef([0, 5], 1); // one row: gate 0, up 5
 * assert.deepStrictEqual([...out], [0]);
 * ```
 *
 * @module
 */
import { geluRef } from "./activations_ref.ts";

/**
 * GeGLU, `gelu(gate[i])·up[i]` (GELU with the tanh approximation), in f64.
 *
 * @param gate Gate projections.
 * @param up Up projections (as many).
 * @returns One value per element.
 *
 * @example Usage
 * ```ts
 * import { gegluRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * assert.ok(Math.abs(gegluRef([1], [2])[0] - 2 * 0.8411919906082768) < 1e-15);
 * ```
 */
export function gegluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  const g = geluRef(gate);
  return g.map((v, i) => v * up[i]);
}

/**
 * GeGLU of rows `[rows, 2·inter]` (each: `inter` gate values, then `inter` up values) →
 * `[rows, inter]`.
 *
 * @param input The rows.
 * @param inter The intermediate size.
 * @returns `rows · inter` values.
 *
 * @example Usage
 * ```ts
 * import { gegluRowsRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...gegluRowsRef([0, 0, 1, 1, 0, 0, 2, 2], 2)], [0, 0, 0, 0]);
 * ```
 */
export function gegluRowsRef(input: ArrayLike<number>, inter: number): Float64Array {
  const rows = input.length / (2 * inter);
  const gate = new Float64Array(rows * inter);
  const up = new Float64Array(rows * inter);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inter; i++) {
      gate[r * inter + i] = input[r * 2 * inter + i];
      up[r * inter + i] = input[r * 2 * inter + inter + i];
    }
  }
  return gegluRef(gate, up);
}

/**
 * `out[t][d] = Σ_k y[t][k][d]·w[t][k]`, in f64.
 *
 * @param y Expert outputs `[tokens, topK, hidden]`.
 * @param w Weights `[tokens, topK]`.
 * @param topK Experts per token.
 * @param hidden Row length.
 * @returns `[tokens, hidden]` values.
 *
 * @example Usage
 * ```ts
 * import { weightedSumRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...weightedSumRef([1, 2, 3, 4], [1, 2], 2, 2)], [7, 10]);
 * ```
 */
export function weightedSumRef(
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  topK: number,
  hidden: number,
): Float64Array {
  const tokens = w.length / topK;
  const out = new Float64Array(tokens * hidden);
  for (let t = 0; t < tokens; t++) {
    for (let d = 0; d < hidden; d++) {
      let acc = 0;
      for (let k = 0; k < topK; k++) acc += y[(t * topK + k) * hidden + d] * w[t * topK + k];
      out[t * hidden + d] = acc;
    }
  }
  return out;
}

/**
 * `out[r] = Σ_c w[r][c]·x[c]`, in f64.
 *
 * @param w Matrix `[rows, cols]`.
 * @param x Vector `[cols]`.
 * @returns `rows` values.
 *
 * @example Usage
 * ```ts
 * import { matvecRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...matvecRef([1, 2, 3, 4], [1, 1])], [3, 7]);
 * ```
 */
export function matvecRef(w: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const cols = x.length;
  const rows = w.length / cols;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += w[r * cols + c] * x[c];
    out[r] = acc;
  }
  return out;
}

/**
 * `ids[j] = sorted[j]`, `w[j] = probs[ids[j]] / Σ_j' probs[ids[j']] · scale[ids[j]]` for
 * `j < topK` (a zero sum gives zero weights), in f64.
 *
 * @param probs Expert probabilities.
 * @param sorted Expert indices, best first.
 * @param scale Per-expert scales.
 * @param topK Entries gathered.
 * @returns `ids` and `weights`.
 *
 * @example Usage
 * ```ts
 * import { gatherTopkWeightsRef } from "./moe_dispatch_ref.ts";
 * import assert from "node:assert";
 *
 * const { ids, weights } = gatherTopkWeightsRef([0.25, 0.75, 0], [1, 0, 2], [1, 1, 1], 2);
 * assert.deepStrictEqual(ids, [1, 0]);
 * assert.deepStrictEqual([...weights], [0.75, 0.25]);
 * ```
 */
export function gatherTopkWeightsRef(
  probs: ArrayLike<number>,
  sorted: ArrayLike<number>,
  scale: ArrayLike<number>,
  topK: number,
): { ids: number[]; weights: Float64Array } {
  const ids = Array.from({ length: topK }, (_, j) => sorted[j]);
  const total = ids.reduce((a, e) => a + probs[e], 0);
  const weights = Float64Array.from(ids, (e) => total !== 0 ? (probs[e] / total) * scale[e] : 0);
  return { ids, weights };
}
