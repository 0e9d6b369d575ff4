// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `compute_g_beta.metal`: the Gated DeltaNet decay rate `g` and write
 * strength `beta` per token and head, with the models' clamped softplus.
 *
 * @example Usage
 * ```ts
 * import { computeGBetaRef } from "./compute_g_beta_ref.ts";
 * import assert from "node:assert";
 *
 * const { g, beta } = computeGBetaRef({ a: [0], b: [0], dtBias: [0], ssmA: [-1], heads: 1 });
 * assert.ok(Math.abs(g[0] - Math.LN2) < 1e-15);
 * assert.strictEqual(beta[0], 0.5);
 * ```
 *
 * @module
 */

/**
 * `softplus(x) = log(1 + eˣ)`, clamped as the models clamp it: `x` above 20, `0` below −20.
 *
 * @param x The argument.
 * @returns The clamped softplus, in f64.
 *
 * @example Usage
 * ```ts
 * import { clampedSoftplusRef } from "./compute_g_beta_ref.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(clampedSoftplusRef(25), 25);
 * assert.strictEqual(clampedSoftplusRef(-25), 0);
 * assert.strictEqual(clampedSoftplusRef(0), Math.LN2);
 * ```
 */
export function clampedSoftplusRef(x: number): number {
  if (x > 20) return x;
  if (x < -20) return 0;
  return Math.log1p(Math.exp(x));
}

/** Inputs of {@linkcode computeGBetaRef} (token-major `[tokens, heads]` arrays). */
export interface ComputeGBetaRefOptions {
  /** Decay logits `[tokens, heads]`. */
  a: ArrayLike<number>;
  /** Write-strength logits `[tokens, heads]`. */
  b: ArrayLike<number>;
  /** Per-head bias added to `a`, `[heads]`. */
  dtBias: ArrayLike<number>;
  /** Per-head `−exp(A_log)` (negative), `[heads]`. */
  ssmA: ArrayLike<number>;
  /** Heads per token. */
  heads: number;
}

/**
 * `g[t][h] = softplus(a[t][h] + dtBias[h]) · (−ssmA[h])` and `beta[t][h] = σ(b[t][h])`, in f64.
 *
 * @param options The inputs; the token count is `a.length / heads`.
 * @returns `g` and `beta`, each `a.length` values.
 * @throws {RangeError} When the arrays do not match `heads`.
 *
 * @example Usage
 * ```ts
 * import { computeGBetaRef } from "./compute_g_beta_ref.ts";
 * import assert from "node:assert";
 *
 * const { g } = computeGBetaRef({ a: [30, -30], b: [0, 0], dtBias: [0, 0], ssmA: [-2, -2], heads: 2 });
 * assert.deepStrictEqual([...g], [60, 0]);
 * ```
 */
export function computeGBetaRef(
  options: ComputeGBetaRefOptions,
): { g: Float64Array; beta: Float64Array } {
  const { a, b, dtBias, ssmA, heads } = options;
  if (
    a.length % heads !== 0 || b.length !== a.length || dtBias.length < heads ||
    ssmA.length < heads
  ) {
    throw new RangeError(
      `Cannot compute computeGBetaRef: a ${a.length}, b ${b.length}, dtBias ${dtBias.length}, ssmA ${ssmA.length} values do not fit ${heads} heads`,
    );
  }
  const g = new Float64Array(a.length);
  const beta = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const h = i % heads;
    g[i] = clampedSoftplusRef(a[i] + dtBias[h]) * -ssmA[h];
    beta[i] = 1 / (1 + Math.exp(-b[i]));
  }
  return { g, beta };
}
