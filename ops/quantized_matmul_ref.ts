// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `quantized_matmul.metal`: `out = x · Wᵀ` with `W` in MLX affine format,
 * dequantized by the format's rule, with the staging roundings of each kernel path as
 * options.
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { quantizedMatmulRef } from "./quantized_matmul_ref.ts";
 * import assert from "node:assert";
 *
 * const w = quantizeAffine(new Float32Array(32).fill(2), { rows: 1, cols: 32, bits: 4, groupSize: 32 });
 * const out = quantizedMatmulRef({ x: new Float32Array(32).fill(1), weights: w, m: 1 });
 * assert.strictEqual(out[0], 64);
 * ```
 *
 * @module
 */
import { affineCodes, affineLayout, type AffineMatrix } from "../formats/affine.ts";
import { bf16BitsToF32, bf16Round } from "../dtype.ts";

/** Inputs of {@linkcode quantizedMatmulRef}. */
export interface QuantizedMatmulRefOptions {
  /** `[m, weights.cols]` activations. */
  x: ArrayLike<number>;
  /** The `[n, k]` affine matrix (`rows` = n, `cols` = k). */
  weights: AffineMatrix;
  /** Rows of `x`. */
  m: number;
  /**
   * Round each dequantized weight `s · q + b` to bf16 (`"bf16"`, the scalar kernel and MLX's
   * dequantize of a bf16 model) or keep it exact (`"none"`, the SIMD kernels).
   *
   * @default {"none"}
   */
  weightRounding?: "bf16" | "none";
  /**
   * Round each activation to bf16 first (`"bf16"`, what the f32 kernels do) or use it as
   * given (`"none"`, for bf16 activations, already exact).
   *
   * @default {"none"}
   */
  inputRounding?: "bf16" | "none";
  /**
   * Sum `(|s · q| + |b|) · |x|` instead of `w · x`: the scale of the f32 accumulation error
   * of either kernel order (whole weights, or `s · Σ q·x + b · Σ x`), for tolerances.
   */
  absolute?: boolean;
}

/**
 * `out[i][j] = Σ_l w[j][l] · x[i][l]` in f64, `w` dequantized from the affine matrix.
 *
 * @param options The inputs and roundings.
 * @returns `m × n` values.
 * @throws {RangeError} When `x` is shorter than `m × k`, or the matrix is malformed.
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { quantizedMatmulRef } from "./quantized_matmul_ref.ts";
 * import assert from "node:assert";
 *
 * const w = quantizeAffine(new Float32Array(64).fill(-1), { rows: 2, cols: 32, bits: 8, groupSize: 32 });
 * const out = quantizedMatmulRef({ x: new Float32Array(32).fill(1.001), weights: w, m: 1, inputRounding: "bf16" });
 * assert.deepStrictEqual([...out], [-32, -32]); // 1.001 rounds to bf16 1
 * ```
 */
export function quantizedMatmulRef(options: QuantizedMatmulRefOptions): Float64Array {
  const { x, weights, m } = options;
  const { groupsPerRow } = affineLayout(weights);
  const { rows: n, cols: k, groupSize } = weights;
  if (x.length < m * k) {
    throw new RangeError(
      `Cannot compute quantizedMatmulRef: x has ${x.length} values, expected ${
        m * k
      } (m ${m} × k ${k})`,
    );
  }
  const codes = affineCodes(weights);
  const w = new Float64Array(n * k);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l++) {
      const g = j * groupsPerRow + Math.floor(l / groupSize);
      const sq = bf16BitsToF32(weights.scales[g]) * codes[j * k + l];
      const b = bf16BitsToF32(weights.biases[g]);
      if (options.absolute) w[j * k + l] = Math.abs(sq) + Math.abs(b);
      else w[j * k + l] = options.weightRounding === "bf16" ? bf16Round(sq + b) : sq + b;
    }
  }
  const xs = Float64Array.from(
    { length: m * k },
    (_, i) => options.inputRounding === "bf16" ? bf16Round(x[i]) : x[i],
  );
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let l = 0; l < k; l++) {
        const p = w[j * k + l] * xs[i * k + l];
        sum += options.absolute ? Math.abs(p) : p;
      }
      out[i * n + j] = sum;
    }
  }
  return out;
}
