// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `quantized_matmul_id.metal`: each routed row (token `t`, slot `s`) is the
 * token's activations times the weights of expert `ids[t · topK + s]`, dequantized from the
 * stacked MLX affine matrix (`ops/quantized_matmul_ref.ts` per expert).
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { quantizedMatmulIdRef } from "./quantized_matmul_id_ref.ts";
 * import assert from "node:assert";
 *
 * // Two experts of one row of 32: expert 0 all 1, expert 1 all 2.
 * const weights = quantizeAffine(
 *   Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 2)),
 *   { rows: 2, cols: 32, bits: 4, groupSize: 32 },
 * );
 * const out = quantizedMatmulIdRef({
 *   x: new Float32Array(32).fill(1), weights, experts: 2, ids: [1, 0], m: 1, topK: 2,
 * });
 * assert.deepStrictEqual([...out], [64, 32]);
 * ```
 *
 * @module
 */
import type { AffineMatrix } from "../formats/affine.ts";
import { affineLayout } from "../formats/affine.ts";
import { quantizedMatmulRef } from "./quantized_matmul_ref.ts";

/** Inputs of {@linkcode quantizedMatmulIdRef}. */
export interface QuantizedMatmulIdRefOptions {
  /** `[m, k]` activations (one row per token). */
  x: ArrayLike<number>;
  /** All experts' weights stacked: `experts · n` rows of `k`. */
  weights: AffineMatrix;
  /** Experts in `weights`. */
  experts: number;
  /** `[m, topK]` expert ids. */
  ids: ArrayLike<number>;
  /** Tokens. */
  m: number;
  /** Routed rows per token. */
  topK: number;
  /**
   * Round each activation to bf16 first, as the kernel does.
   *
   * @default {"bf16"}
   */
  inputRounding?: "bf16" | "none";
  /** Sum `(|s · q| + |b|) · |x|` instead (the scale of the f32 accumulation error). */
  absolute?: boolean;
}

/**
 * `out[t][s][j] = Σ_l w_e[j][l] · x[t][l]` with `e = ids[t · topK + s]`, in f64. A row whose
 * id is not below `experts` is NaN: the kernel leaves it unwritten.
 *
 * @param options The inputs.
 * @returns `m × topK × n` values.
 * @throws {RangeError} When the stacked rows are not a multiple of `experts`, or an array is
 * shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { quantizedMatmulIdRef } from "./quantized_matmul_id_ref.ts";
 * import assert from "node:assert";
 *
 * const weights = quantizeAffine(new Float32Array(32).fill(1), { rows: 1, cols: 32, bits: 8, groupSize: 32 });
 * const out = quantizedMatmulIdRef({ x: new Float32Array(32).fill(1), weights, experts: 1, ids: [7], m: 1, topK: 1 });
 * assert.ok(Number.isNaN(out[0])); // id 7 is not an expert
 * ```
 */
export function quantizedMatmulIdRef(options: QuantizedMatmulIdRefOptions): Float64Array {
  const { x, weights, experts, ids, m, topK } = options;
  const { rowBytes, groupsPerRow } = affineLayout(weights);
  if (weights.rows % experts !== 0 || ids.length < m * topK || x.length < m * weights.cols) {
    throw new RangeError(
      `Cannot compute quantizedMatmulIdRef: ${weights.rows} weight rows for ${experts} experts, ${ids.length} ids for m ${m} × topK ${topK}, ${x.length} activations for m × k ${weights.cols}`,
    );
  }
  const n = weights.rows / experts;
  const k = weights.cols;
  const out = new Float64Array(m * topK * n).fill(NaN);
  for (let t = 0; t < m; t++) {
    for (let s = 0; s < topK; s++) {
      const e = ids[t * topK + s];
      if (!(e >= 0 && e < experts)) continue;
      const expert: AffineMatrix = {
        ...weights,
        rows: n,
        weights: weights.weights.subarray(e * n * rowBytes, (e + 1) * n * rowBytes),
        scales: weights.scales.subarray(e * n * groupsPerRow, (e + 1) * n * groupsPerRow),
        biases: weights.biases.subarray(e * n * groupsPerRow, (e + 1) * n * groupsPerRow),
      };
      const row = quantizedMatmulRef({
        x: Array.from({ length: k }, (_, l) => x[t * k + l]),
        weights: expert,
        m: 1,
        inputRounding: options.inputRounding ?? "bf16",
        absolute: options.absolute,
      });
      out.set(row, (t * topK + s) * n);
    }
  }
  return out;
}
