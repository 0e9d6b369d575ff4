// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `rope_multi.metal`: multi-section NeoX RoPE (MRoPE / IMRoPE) in plain
 * loops, angles in f64, the axis of each pair chosen from the sections by definition.
 *
 * @example Usage
 * ```ts
 * import { ropeMultiRef } from "./rope_multi_ref.ts";
 * import assert from "node:assert";
 *
 * // One pair on the height axis (sections [0, 1, 0, 0]) at height position 1: 1 rad.
 * const y = ropeMultiRef([1, 0], {
 *   seqLen: 1, headDim: 2, positions: [9, 1, 9, 9], mode: "mrope", sections: [0, 1, 0, 0], base: 1e4,
 * });
 * assert.ok(Math.abs(y[0] - Math.cos(1)) < 1e-15);
 * ```
 *
 * @module
 */
import { ropePairs, type RopeRefOptions } from "./rope_ref.ts";

/** Options of {@linkcode ropeMultiRef}: the same meaning as in `ops/rope_multi.ts`. */
export interface RopeMultiRefOptions extends Omit<RopeRefOptions, "mode"> {
  /** Axis-major positions `[4, seqLen]`. */
  positions: ArrayLike<number>;
  /** `"mrope"` (contiguous sections) or `"imrope"` (interleaved). */
  mode: "mrope" | "imrope";
  /** Pairs per axis section. */
  sections: readonly [number, number, number, number];
}

/**
 * The position axis of rotated pair `p`.
 *
 * @param p The pair index.
 * @param mode The section layout.
 * @param sections The four section sizes.
 * @returns 0 (time), 1 (height), 2 (width) or 3 (extra).
 *
 * @example Usage
 * ```ts
 * import { ropeMultiAxisRef } from "./rope_multi_ref.ts";
 * import assert from "node:assert";
 *
 * const sections = [11, 11, 10, 0] as const;
 * assert.deepStrictEqual([0, 1, 2, 3, 31].map((p) => ropeMultiAxisRef(p, "imrope", sections)), [0, 1, 2, 0, 1]);
 * assert.deepStrictEqual([0, 10, 11, 22, 31].map((p) => ropeMultiAxisRef(p, "mrope", sections)), [0, 0, 1, 2, 2]);
 * ```
 */
export function ropeMultiAxisRef(
  p: number,
  mode: "mrope" | "imrope",
  sections: readonly [number, number, number, number],
): number {
  const sector = p % sections.reduce((a, b) => a + b, 0);
  if (mode === "imrope") {
    // Axis a owns the sectors ≡ a (mod 3) below 3·s_a.
    for (let axis = 0; axis < 3; axis++) {
      if (sector % 3 === axis && sector < 3 * sections[axis]) return axis;
    }
    return 3;
  }
  let end = 0;
  for (let axis = 0; axis < 3; axis++) {
    end += sections[axis];
    if (sector < end) return axis;
  }
  return 3;
}

/**
 * Multi-section RoPE in f64: pair `(i0, i1, ω)` of token `t` turns by
 * `θ = positions[axis · seqLen + t] · ω`, `axis` from {@linkcode ropeMultiAxisRef}.
 *
 * @param input `[seqLen, nHeads, headDim]` values (already rounded to the kernel's dtype).
 * @param options Shape, positions, mode, sections and frequencies.
 * @returns The rotated rows.
 * @throws {RangeError} When `input` or `positions` is too short.
 *
 * @example Usage
 * ```ts
 * import { ropeMultiRef } from "./rope_multi_ref.ts";
 * import assert from "node:assert";
 *
 * const y = ropeMultiRef([1, 2, 3, 4], {
 *   seqLen: 1, headDim: 4, positions: [0, 0, 0, 0], mode: "imrope", sections: [1, 1, 0, 0], base: 1e7,
 * });
 * assert.deepStrictEqual([...y], [1, 2, 3, 4]);
 * ```
 */
export function ropeMultiRef(input: ArrayLike<number>, options: RopeMultiRefOptions): Float64Array {
  const { seqLen, headDim, positions, mode, sections } = options;
  const nHeads = options.nHeads ?? 1;
  if (input.length < seqLen * nHeads * headDim || positions.length < 4 * seqLen) {
    throw new RangeError(
      `Cannot compute ropeMultiRef: input holds ${input.length} values and positions ${positions.length}, expected ${
        seqLen * nHeads * headDim
      } and ${4 * seqLen}`,
    );
  }
  const pairs = ropePairs({ ...options, mode: "neox", positions: [] });
  const out = Float64Array.from({ length: seqLen * nHeads * headDim }, (_, i) => input[i]);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nHeads; h++) {
      const row = (t * nHeads + h) * headDim;
      pairs.forEach(([i0, i1, omega], p) => {
        const theta = positions[ropeMultiAxisRef(p, mode, sections) * seqLen + t] * omega;
        const c = Math.cos(theta);
        const s = Math.sin(theta);
        const x0 = input[row + i0];
        const x1 = input[row + i1];
        out[row + i0] = x0 * c - x1 * s;
        out[row + i1] = x0 * s + x1 * c;
      });
    }
  }
  return out;
}
