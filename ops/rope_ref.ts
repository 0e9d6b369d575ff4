// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `rope.metal` (and the RoPE step of the fused head-norm kernels): RoPE
 * over `[seqLen, nHeads, headDim]` rows in plain loops, angles in f64. Written from the
 * definitions, independently of the kernels' frequency tables.
 *
 * @example Usage
 * ```ts
 * import { ropeRef } from "./rope_ref.ts";
 * import assert from "node:assert";
 *
 * // One token at position 1, one head of 2: a rotation by 1 radian.
 * const y = ropeRef([1, 0], { seqLen: 1, headDim: 2, positions: [1], mode: "neox", base: 10000 });
 * assert.ok(Math.abs(y[0] - Math.cos(1)) < 1e-15 && Math.abs(y[1] - Math.sin(1)) < 1e-15);
 * ```
 *
 * @module
 */

/** Options of {@linkcode ropeRef}: the same meaning as in `ops/rope.ts`. */
export interface RopeRefOptions {
  /** Tokens. */
  seqLen: number;
  /** Heads per token. @default 1 */
  nHeads?: number;
  /** Elements per head (even). */
  headDim: number;
  /** Position of each token. */
  positions: ArrayLike<number>;
  /** `"normal"`: pairs `(2p, 2p+1)`; `"neox"`: pairs `(p, p + half)`. */
  mode: "normal" | "neox";
  /** Frequency base. */
  base: number;
  /** Rotated elements per head. @default headDim */
  ropeDim?: number;
  /** Partial layout (see `PartialRotary` in `ops/rope.ts`). @default "truncated" */
  partialRotary?: "truncated" | "proportional";
  /** Multiplies every frequency. @default 1 */
  freqScale?: number;
  /** Per-pair divisors of the frequencies. */
  freqFactors?: ArrayLike<number>;
}

/**
 * The rotated element pairs of one head and the frequency of each, radians per position.
 *
 * @param options Shape and frequency options.
 * @returns `pairs[p] = [i0, i1, ω_p]`.
 *
 * @example Usage
 * ```ts
 * import { ropePairs } from "./rope_ref.ts";
 * import assert from "node:assert";
 *
 * const pairs = ropePairs({ seqLen: 1, headDim: 8, ropeDim: 4, positions: [0], mode: "neox",
 *   base: 100, partialRotary: "proportional" });
 * assert.deepStrictEqual(pairs.map(([i0, i1]) => [i0, i1]), [[0, 4], [1, 5]]);
 * assert.strictEqual(pairs[1][2], 100 ** (-2 / 8));
 * ```
 */
export function ropePairs(options: RopeRefOptions): [number, number, number][] {
  const { headDim, mode, base } = options;
  const ropeDim = options.ropeDim ?? headDim;
  const proportional = options.partialRotary === "proportional";
  const freqDim = proportional ? headDim : ropeDim;
  const partner = mode === "normal" ? 1 : proportional ? headDim / 2 : ropeDim / 2;
  const pairs: [number, number, number][] = [];
  for (let p = 0; p < ropeDim / 2; p++) {
    const i0 = mode === "normal" ? 2 * p : p;
    let omega = (options.freqScale ?? 1) * Math.pow(base, (-2 * p) / freqDim);
    if (options.freqFactors) omega /= options.freqFactors[p];
    pairs.push([i0, i0 + partner, omega]);
  }
  return pairs;
}

/**
 * RoPE in f64: for token `t` and each pair `(i0, i1, ω)` of {@linkcode ropePairs},
 * `y[i0] = x[i0]·cos θ − x[i1]·sin θ`, `y[i1] = x[i0]·sin θ + x[i1]·cos θ`,
 * `θ = positions[t]·ω`; other elements are copied.
 *
 * @param input `[seqLen, nHeads, headDim]` values (already rounded to the kernel's dtype).
 * @param options Shape, positions and frequencies.
 * @returns The rotated rows.
 * @throws {RangeError} When `input` or `positions` is too short.
 *
 * @example Usage
 * ```ts
 * import { ropeRef } from "./rope_ref.ts";
 * import assert from "node:assert";
 *
 * // Position 0 is the identity.
 * const y = ropeRef([1, 2, 3, 4], { seqLen: 1, headDim: 4, positions: [0], mode: "normal", base: 1e4 });
 * assert.deepStrictEqual([...y], [1, 2, 3, 4]);
 * ```
 */
export function ropeRef(input: ArrayLike<number>, options: RopeRefOptions): Float64Array {
  const { seqLen, headDim, positions } = options;
  const nHeads = options.nHeads ?? 1;
  if (input.length < seqLen * nHeads * headDim || positions.length < seqLen) {
    throw new RangeError(
      `Cannot compute ropeRef: input holds ${input.length} values and positions ${positions.length}, expected ${
        seqLen * nHeads * headDim
      } and ${seqLen}`,
    );
  }
  const pairs = ropePairs(options);
  const out = Float64Array.from({ length: seqLen * nHeads * headDim }, (_, i) => input[i]);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nHeads; h++) {
      const row = (t * nHeads + h) * headDim;
      for (const [i0, i1, omega] of pairs) {
        const theta = positions[t] * omega;
        const c = Math.cos(theta);
        const s = Math.sin(theta);
        const x0 = input[row + i0];
        const x1 = input[row + i1];
        out[row + i0] = x0 * c - x1 * s;
        out[row + i1] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}
