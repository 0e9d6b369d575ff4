// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `tri_solve.metal`: batched forward substitution with a unit lower
 * triangular matrix, in plain loops.
 *
 * @example Usage
 * ```ts
 * import { triSolveLowerUnitRef } from "./tri_solve_ref.ts";
 * import assert from "node:assert";
 *
 * // L = [[1, 0], [2, 1]] (unit diagonal implied), B = [1, 5]: X = [1, 3].
 * const x = triSolveLowerUnitRef({ l: [9, 9, 2, 9], b: [1, 5], n: 2, m: 1, batch: 1 });
 * assert.deepStrictEqual([...x], [1, 3]);
 * ```
 *
 * @module
 */

/** Inputs of {@linkcode triSolveLowerUnitRef}. */
export interface TriSolveRefOptions {
  /** `[batch, n, n]` matrices; only the strict lower triangle is read. */
  l: ArrayLike<number>;
  /** `[batch, n, m]` right-hand sides. */
  b: ArrayLike<number>;
  /** Size of each system. */
  n: number;
  /** Right-hand sides per system. */
  m: number;
  /** Independent systems. */
  batch: number;
  /**
   * Rounds each solved entry before later rows use it, to model a kernel that stores `X` in
   * a narrower dtype and reads it back (bf16). Default: no rounding (the exact f64 solve).
   */
  roundStored?: (value: number) => number;
}

/**
 * Solves `L·X = B` per batch with an implicit unit diagonal:
 * `X[i] = B[i] − Σ_{j<i} L[i][j]·X[j]`, in f64.
 *
 * @param options The systems.
 * @returns `X`, `batch × n × m` values.
 * @throws {RangeError} When `l` or `b` is shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { triSolveLowerUnitRef } from "./tri_solve_ref.ts";
 * import assert from "node:assert";
 *
 * const x = triSolveLowerUnitRef({ l: [0, 0, -1, 0], b: [1, 1, 2, 2], n: 2, m: 2, batch: 1 });
 * assert.deepStrictEqual([...x], [1, 1, 3, 3]);
 * ```
 */
export function triSolveLowerUnitRef(options: TriSolveRefOptions): Float64Array {
  const { l, b, n, m, batch, roundStored = (v: number) => v } = options;
  if (l.length < batch * n * n || b.length < batch * n * m) {
    throw new RangeError(
      `Cannot compute triSolveLowerUnitRef: l ${l.length} and b ${b.length} values, expected ${
        batch * n * n
      } and ${batch * n * m}`,
    );
  }
  const x = new Float64Array(batch * n * m);
  for (let s = 0; s < batch; s++) {
    const lBase = s * n * n;
    const xBase = s * n * m;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < m; c++) {
        let acc = b[xBase + i * m + c];
        for (let j = 0; j < i; j++) acc -= l[lBase + i * n + j] * x[xBase + j * m + c];
        x[xBase + i * m + c] = roundStored(acc);
      }
    }
  }
  return x;
}
