// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for `fused_norm_add_bf16.metal` and `fused_norm_add_f32.metal`: the fused
 * RMSNorm + residual kernels and MoE routing in plain loops, to compare kernel output
 * against within a per-dtype tolerance. Inputs should be the exact values the kernel read
 * (already rounded to its dtype), and `eps` the f32 value it used (`Math.fround(eps)`).
 *
 * `rms(v) = 1 / sqrt(mean(v²) + eps)` over each row of `dim` values.
 *
 * @example Usage
 * ```ts
 * import { fusedNormAddRef } from "./fused_norm_add_ref.ts";
 * import assert from "node:assert";
 *
 * const out = fusedNormAddRef({
 *   residual: [1, 1, 1, 1], input: [3, -3, 3, -3], weight: [1, 1, 2, 2], rows: 1, dim: 4, eps: 0,
 * });
 * assert.deepStrictEqual([...out], [2, 0, 3, -1]);
 * ```
 *
 * @module
 */

function need(name: string, values: ArrayLike<number>, length: number): void {
  if (values.length < length) {
    throw new RangeError(
      `Cannot compute the fused-norm reference: "${name}" holds ${values.length} values, expected ${length}`,
    );
  }
}

/** `1 / sqrt(mean(v²) + eps)` of `v[base .. base + dim)`. */
function rms(v: ArrayLike<number>, base: number, dim: number, eps: number): number {
  let ss = 0;
  for (let j = 0; j < dim; j++) ss += v[base + j] * v[base + j];
  return 1 / Math.sqrt(ss / dim + eps);
}

/** The scale of column `j`: `scalar[0]`, or `scalar[j]` when per element. */
function scaleAt(scalar: ArrayLike<number> | undefined, perElement: boolean, j: number): number {
  if (scalar === undefined) return 1;
  return perElement ? scalar[j] : scalar[0];
}

/** Inputs of {@linkcode fusedNormAddRef}. */
export interface FusedNormAddRefInput {
  /** `[rows, dim]` residual. */
  residual: ArrayLike<number>;
  /** `[rows, dim]` value normalised. */
  input: ArrayLike<number>;
  /** `[dim]` weight; omitted for the no-weight kernel. */
  weight?: ArrayLike<number>;
  /** Rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Epsilon (the f32 value the kernel used). */
  eps: number;
  /** Optional scale `c` applied to the sum (`fused_norm_add_scalar_f32`). */
  scalar?: ArrayLike<number>;
  /** `scalar` holds one value per column. @default {false} */
  perElementScalar?: boolean;
}

/**
 * `out = (residual + input · rms(input) · weight) · c` per row: `fused_norm_add_{f32,bf16}`
 * (no `scalar`, `c = 1`), `fused_norm_add_no_weight_bf16` (no `weight`) and
 * `fused_norm_add_scalar_f32`.
 *
 * @param args Buffers, sizes and eps.
 * @returns `rows × dim` values.
 * @throws {RangeError} When a buffer holds fewer values than its shape.
 *
 * @example Usage
 * ```ts
 * import { fusedNormAddRef } from "./fused_norm_add_ref.ts";
 * import assert from "node:assert";
 *
 * const out = fusedNormAddRef({
 *   residual: [0, 1], input: [2, 2], rows: 1, dim: 2, eps: 0, scalar: [10],
 * });
 * assert.deepStrictEqual([...out], [10, 20]);
 * ```
 */
export function fusedNormAddRef(args: FusedNormAddRefInput): Float64Array {
  const { residual, input, weight, rows, dim, eps, scalar } = args;
  const perElement = args.perElementScalar ?? false;
  need("residual", residual, rows * dim);
  need("input", input, rows * dim);
  if (weight) need("weight", weight, dim);
  if (scalar) need("scalar", scalar, perElement ? dim : 1);
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const inv = rms(input, base, dim, eps);
    for (let j = 0; j < dim; j++) {
      const normed = input[base + j] * inv * (weight ? weight[j] : 1);
      out[base + j] = (residual[base + j] + normed) * scaleAt(scalar, perElement, j);
    }
  }
  return out;
}

/** Inputs of {@linkcode fusedResidualNormRef}. */
export interface FusedResidualNormRefInput {
  /** `[rows, dim]` residual. */
  residual: ArrayLike<number>;
  /** `[rows, dim]` added to the residual. */
  input: ArrayLike<number>;
  /** `[dim]` weight. */
  weight: ArrayLike<number>;
  /** Rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Epsilon (the f32 value the kernel used). */
  eps: number;
  /** Optional scale `c` of the normalised sum (`fused_residual_norm_scalar_f32`). */
  scalar?: ArrayLike<number>;
  /** `scalar` holds one value per column. @default {false} */
  perElementScalar?: boolean;
}

/**
 * `s = residual + input`, `out = s · rms(s) · weight · c` per row: `fused_residual_norm_f32`
 * (`c = 1`) and `fused_residual_norm_scalar_f32`.
 *
 * @param args Buffers, sizes and eps.
 * @returns `out` and `sum` (`s`), `rows × dim` values each.
 * @throws {RangeError} When a buffer holds fewer values than its shape.
 *
 * @example Usage
 * ```ts
 * import { fusedResidualNormRef } from "./fused_norm_add_ref.ts";
 * import assert from "node:assert";
 *
 * const { out, sum } = fusedResidualNormRef({
 *   residual: [1, -1], input: [2, -2], weight: [1, 0.5], rows: 1, dim: 2, eps: 0,
 * });
 * assert.deepStrictEqual([...sum], [3, -3]);
 * assert.deepStrictEqual([...out], [1, -0.5]);
 * ```
 */
export function fusedResidualNormRef(
  args: FusedResidualNormRefInput,
): { out: Float64Array; sum: Float64Array } {
  const { residual, input, weight, rows, dim, eps, scalar } = args;
  const perElement = args.perElementScalar ?? false;
  need("residual", residual, rows * dim);
  need("input", input, rows * dim);
  need("weight", weight, dim);
  if (scalar) need("scalar", scalar, perElement ? dim : 1);
  const sum = new Float64Array(rows * dim);
  for (let i = 0; i < rows * dim; i++) sum[i] = residual[i] + input[i];
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const inv = rms(sum, base, dim, eps);
    for (let j = 0; j < dim; j++) {
      out[base + j] = sum[base + j] * inv * weight[j] * scaleAt(scalar, perElement, j);
    }
  }
  return { out, sum };
}

/** Inputs of {@linkcode fusedMoeWsumNormAddRef}. */
export interface FusedMoeWsumRefInput {
  /** `[rows, topK, dim]` expert outputs. */
  expertOutputs: ArrayLike<number>;
  /** `[rows, topK]` routing weights. */
  expertWeights: ArrayLike<number>;
  /** `[rows, dim]` residual (normalised too by the dnorm variant). */
  residual: ArrayLike<number>;
  /** `[dim]` weight of the norm of the weighted sum. */
  moeWeight: ArrayLike<number>;
  /** `[dim]` weight of the norm of the residual: given, the dnorm variant. */
  residualWeight?: ArrayLike<number>;
  /** Rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Experts per row. */
  topK: number;
  /** Epsilon (the f32 value the kernel used). */
  eps: number;
}

/**
 * `s = Σ_k expertWeights[r][k] · expertOutputs[r][k]` per row, then
 * `out = residual + s · rms(s) · moeWeight` (`fused_moe_wsum_norm_add_f32`), or with
 * `residualWeight`, `out = residual · rms(residual) · residualWeight + s · rms(s) · moeWeight`
 * (`fused_moe_wsum_dnorm_add_f32`).
 *
 * @param args Buffers, sizes and eps.
 * @returns `rows × dim` values.
 * @throws {RangeError} When a buffer holds fewer values than its shape.
 *
 * @example Usage
 * ```ts
 * import { fusedMoeWsumNormAddRef } from "./fused_norm_add_ref.ts";
 * import assert from "node:assert";
 *
 * const out = fusedMoeWsumNormAddRef({
 *   expertOutputs: [1, 1, 3, 3], expertWeights: [0.5, 0.5], residual: [1, 2],
 *   moeWeight: [1, 1], rows: 1, dim: 2, topK: 2, eps: 0,
 * });
 * assert.deepStrictEqual([...out], [2, 3]);
 * ```
 */
export function fusedMoeWsumNormAddRef(args: FusedMoeWsumRefInput): Float64Array {
  const { expertOutputs, expertWeights, residual, moeWeight, residualWeight } = args;
  const { rows, dim, topK, eps } = args;
  need("expertOutputs", expertOutputs, rows * topK * dim);
  need("expertWeights", expertWeights, rows * topK);
  need("residual", residual, rows * dim);
  need("moeWeight", moeWeight, dim);
  if (residualWeight) need("residualWeight", residualWeight, dim);
  const out = new Float64Array(rows * dim);
  const s = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    s.fill(0);
    for (let k = 0; k < topK; k++) {
      const w = expertWeights[r * topK + k];
      const base = (r * topK + k) * dim;
      for (let j = 0; j < dim; j++) s[j] += w * expertOutputs[base + j];
    }
    const invS = rms(s, 0, dim, eps);
    const base = r * dim;
    const invR = residualWeight ? rms(residual, base, dim, eps) : 1;
    for (let j = 0; j < dim; j++) {
      const res = residualWeight
        ? residual[base + j] * invR * residualWeight[j]
        : residual[base + j];
      out[base + j] = res + s[j] * invS * moeWeight[j];
    }
  }
  return out;
}

/**
 * MoE routing per token, as mlx-native specifies: `p = softmax(logits)` over the experts;
 * `topK` times, pick the largest remaining `p` (strict `>` scan, so the lowest index wins
 * ties); weights are the picked `p` divided by their sum, times `expertScale[id]`. A token
 * whose logits are all `-Infinity` gets ids `0 .. topK-1` and weights 0.
 *
 * @param logits `[tokens, numExperts]` logits (f32 values).
 * @param expertScale `[numExperts]` per-expert scale.
 * @param sizes Tokens, experts and k.
 * @returns `ids` and `weights`, `tokens × topK` each, in selection order.
 * @throws {RangeError} When a buffer holds fewer values than its shape.
 *
 * @example Usage
 * ```ts
 * import { fusedMoeRoutingRef } from "./fused_norm_add_ref.ts";
 * import assert from "node:assert";
 *
 * const { ids, weights } = fusedMoeRoutingRef([0, 2, 2, 1], [1, 1, 0.5, 1], {
 *   tokens: 1, numExperts: 4, topK: 2,
 * });
 * assert.deepStrictEqual([...ids], [1, 2]); // tie: expert 1 before expert 2
 * assert.deepStrictEqual([...weights], [0.5, 0.25]);
 * ```
 */
export function fusedMoeRoutingRef(
  logits: ArrayLike<number>,
  expertScale: ArrayLike<number>,
  sizes: { tokens: number; numExperts: number; topK: number },
): { ids: Uint32Array; weights: Float64Array } {
  const { tokens, numExperts, topK } = sizes;
  need("logits", logits, tokens * numExperts);
  need("expertScale", expertScale, numExperts);
  const ids = new Uint32Array(tokens * topK);
  const weights = new Float64Array(tokens * topK);
  const p = new Float64Array(numExperts);
  for (let t = 0; t < tokens; t++) {
    const base = t * numExperts;
    let max = -Infinity;
    for (let e = 0; e < numExperts; e++) max = Math.max(max, logits[base + e]);
    let sum = 0;
    for (let e = 0; e < numExperts; e++) {
      p[e] = max === -Infinity ? 0 : Math.exp(logits[base + e] - max);
      sum += p[e];
    }
    for (let e = 0; e < numExperts; e++) p[e] = sum > 0 ? p[e] / sum : 0;
    const picked = new Uint8Array(numExperts);
    let total = 0;
    for (let k = 0; k < topK; k++) {
      let best = -1;
      for (let e = 0; e < numExperts; e++) {
        if (!picked[e] && (best < 0 || p[e] > p[best])) best = e;
      }
      picked[best] = 1;
      ids[t * topK + k] = best;
      weights[t * topK + k] = p[best];
      total += p[best];
    }
    for (let k = 0; k < topK; k++) {
      const i = t * topK + k;
      weights[i] = total > 0 ? weights[i] / total * expertScale[ids[i]] : 0;
    }
  }
  return { ids, weights };
}
