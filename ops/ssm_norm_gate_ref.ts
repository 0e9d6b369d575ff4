// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `ssm_norm_gate.metal`: the gated RMS norm of a Gated DeltaNet read-out,
 * in plain loops.
 *
 * @example Usage
 * ```ts
 * import { ssmNormGateRef } from "./ssm_norm_gate_ref.ts";
 * import assert from "node:assert";
 *
 * // x = [1, 1]: RMS 1; w = 2; silu(0) = 0 and silu(large) ≈ large.
 * const out = ssmNormGateRef({ x: [1, 1], weight: [2, 2], z: [0, 50], rows: 1, dim: 2, eps: 0 });
 * assert.strictEqual(out[0], 0);
 * assert.ok(Math.abs(out[1] - 100) < 1e-12);
 * ```
 *
 * @module
 */

/** Inputs of {@linkcode ssmNormGateRef}. */
export interface SsmNormGateRefOptions {
  /** `[rows, dim]` values to normalise. */
  x: ArrayLike<number>;
  /** `[dim]` weight. */
  weight: ArrayLike<number>;
  /** `[rows, dim]` gate. */
  z: ArrayLike<number>;
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Added to the mean of squares inside the square root. */
  eps: number;
}

/**
 * `out[r][j] = x[r][j] / sqrt(mean_k x[r][k]² + eps) · weight[j] · silu(z[r][j])`, with
 * `silu(z) = z / (1 + e^−z)`, in f64.
 *
 * @param options The inputs.
 * @returns `rows × dim` values.
 * @throws {RangeError} When an array is shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { ssmNormGateRef } from "./ssm_norm_gate_ref.ts";
 * import assert from "node:assert";
 *
 * const out = ssmNormGateRef({ x: [3, -3], weight: [1, 1], z: [0, 0], rows: 1, dim: 2, eps: 0 });
 * assert.deepStrictEqual([...out], [0, -0]);
 * ```
 */
export function ssmNormGateRef(options: SsmNormGateRefOptions): Float64Array {
  const { x, weight, z, rows, dim, eps } = options;
  if (x.length < rows * dim || z.length < rows * dim || weight.length < dim) {
    throw new RangeError(
      `Cannot compute ssmNormGateRef: x ${x.length}, z ${z.length}, weight ${weight.length} values, expected ${
        rows * dim
      }, ${rows * dim}, ${dim}`,
    );
  }
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += x[base + j] * x[base + j];
    const scale = 1 / Math.sqrt(sum / dim + eps);
    for (let j = 0; j < dim; j++) {
      const gate = z[base + j];
      out[base + j] = x[base + j] * scale * weight[j] * (gate / (1 + Math.exp(-gate)));
    }
  }
  return out;
}
