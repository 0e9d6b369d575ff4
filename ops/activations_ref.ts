// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for the activation kernels (`gelu.metal`, `softcap.metal`,
 * `sigmoid_mul.metal`, `silu_mul.metal`), in plain loops.
 *
 * @example Usage
 * ```ts
 * import { siluMulRef } from "./activations_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...siluMulRef([0, 0], [5, -5])], [0, -0]); // 0 · -5
 * ```
 *
 * @module
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function checkLengths(name: string, ...inputs: ArrayLike<number>[]): number {
  const n = inputs[0].length;
  for (const input of inputs) {
    if (input.length !== n) {
      throw new RangeError(
        `Cannot compute ${name}: inputs hold ${input.length} and ${n} values, expected equal lengths`,
      );
    }
  }
  return n;
}

/**
 * GELU, tanh approximation, in f64:
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (computed as the equal `x·σ(2u)`).
 *
 * @param input The values (already rounded to the kernel's dtype).
 * @returns One value per input.
 *
 * @example Usage
 * ```ts
 * import { geluRef } from "./activations_ref.ts";
 * import assert from "node:assert";
 *
 * const [a, b] = geluRef([0, 1]);
 * assert.strictEqual(a, 0);
 * assert.ok(Math.abs(b - 0.8411919906082768) < 1e-15);
 * ```
 */
export function geluRef(input: ArrayLike<number>): Float64Array {
  const out = new Float64Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const x = input[i];
    const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
    out[i] = x * sigmoid(2 * u);
  }
  return out;
}

/**
 * Soft-capping in f64: `cap·tanh(x / cap)`.
 *
 * @param input The values.
 * @param cap The cap (> 0; the kernel receives it rounded to f32, pass that value).
 * @returns One value per input.
 *
 * @example Usage
 * ```ts
 * import { softcapRef } from "./activations_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...softcapRef([0, Infinity, -Infinity], 30)], [0, 30, -30]);
 * ```
 */
export function softcapRef(input: ArrayLike<number>, cap: number): Float64Array {
  const out = new Float64Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = cap * Math.tanh(input[i] / cap);
  return out;
}

/**
 * The sigmoid gate in f64: `x·σ(gate)`.
 *
 * @param x The values.
 * @param gate The gate logits, as many as `x`.
 * @returns One value per element.
 * @throws {RangeError} When the lengths differ.
 *
 * @example Usage
 * ```ts
 * import { sigmoidMulRef } from "./activations_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...sigmoidMulRef([4, 4], [0, -Infinity])], [2, 0]);
 * ```
 */
export function sigmoidMulRef(x: ArrayLike<number>, gate: ArrayLike<number>): Float64Array {
  const n = checkLengths("sigmoidMulRef", x, gate);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i] * sigmoid(gate[i]);
  return out;
}

/**
 * The SwiGLU combine in f64: `gate·σ(gate)·up`.
 *
 * @param gate The gate projection.
 * @param up The up projection, as many as `gate`.
 * @returns One value per element.
 * @throws {RangeError} When the lengths differ.
 *
 * @example Usage
 * ```ts
 * import { siluMulRef } from "./activations_ref.ts";
 * import assert from "node:assert";
 *
 * assert.ok(Math.abs(siluMulRef([1], [2])[0] - 2 / (1 + Math.exp(-1))) < 1e-15);
 * ```
 */
export function siluMulRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  const n = checkLengths("siluMulRef", gate, up);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
  return out;
}
