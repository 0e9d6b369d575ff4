// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `placeholder.metal`.
 *
 * @example Usage
 * ```ts
 * import { placeholderRef } from "./placeholder_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...placeholderRef(3, { step: 2 })], [0, 2, 4]);
 * ```
 *
 * @module
 */

/**
 * The ramp the `placeholder` kernel writes: `(negate ? -1 : 1) · i · step` for `i < length`.
 *
 * @param length Number of elements.
 * @param constants The specialisation; omitted values take the kernel's defaults
 * (`step` 1, `negate` false).
 * @returns The expected output.
 *
 * @example Usage
 * ```ts
 * import { placeholderRef } from "./placeholder_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...placeholderRef(3, { step: 4, negate: true })], [-0, -4, -8]);
 * ```
 */
export function placeholderRef(
  length: number,
  constants: { step?: number; negate?: boolean } = {},
): Float64Array {
  const step = constants.step ?? 1;
  const sign = constants.negate ? -1 : 1;
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = sign * i * step;
  return out;
}
