// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for the GGML quantized matmuls (`quantized_matmul_ggml.metal`,
 * `quantized_matmul_mm.metal` and their expert-routed twins): the weights are dequantised by
 * the format tables (`formats/ggml.ts`), exactly, then multiplied in plain loops in double
 * precision. `halfWeights` reproduces the mat-mat kernels' staging: each dequantised weight is
 * rounded to f32 (the kernel's arithmetic) and then to half before it is used; `halfInputs`
 * adds the tensor-API kernels' staging of the inputs (each rounded to half).
 *
 * @example Usage
 * ```ts
 * import { quantizedMatmulGgmlRef } from "./quantized_matmul_ggml_ref.ts";
 * import { quantizeGgml } from "../formats/ggml.ts";
 * import assert from "node:assert";
 *
 * const weight = quantizeGgml(new Float32Array(32).fill(1), "q8_0");
 * const out = quantizedMatmulGgmlRef({
 *   type: "q8_0", weight, input: new Float32Array(32).fill(2), m: 1, n: 1, k: 32,
 * });
 * assert.ok(Math.abs(out[0] - 64) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 *
 * @module
 */
import { dequantizeGgml, ggmlRowBytes, type GgmlType } from "../formats/ggml.ts";

/** Inputs of {@linkcode quantizedMatmulGgmlRef}. */
export interface QuantizedMatmulGgmlRefOptions {
  /** The block type of the weights. */
  type: GgmlType;
  /** `[n, k]` weights as GGML blocks (rows of `k / values` blocks). */
  weight: Uint8Array;
  /** `[m, k]` input values. */
  input: ArrayLike<number>;
  /** Rows of input. */
  m: number;
  /** Rows of weights (output features). */
  n: number;
  /** Values per row. */
  k: number;
  /** Round each weight to half first (the mat-mat kernels' staging). Default false. */
  halfWeights?: boolean;
  /** Round each input to half first (the tensor-API kernels' staging). Default false. */
  halfInputs?: boolean;
}

/** The `[n, k]` weights of `bytes` (from byte `offset`) as f64, optionally rounded to half. */
function weightsOf(
  type: GgmlType,
  bytes: Uint8Array,
  offset: number,
  n: number,
  k: number,
  halfWeights: boolean,
): Float64Array {
  const length = n * ggmlRowBytes(type, k);
  if (bytes.length < offset + length) {
    throw new RangeError(
      `Cannot compute the GGML reference: the weights hold ${bytes.length} bytes, expected at least ${
        offset + length
      } (n ${n} rows of k ${k} in ${type} from byte ${offset})`,
    );
  }
  const w = dequantizeGgml(bytes.subarray(offset, offset + length), type, new Float64Array(n * k));
  if (halfWeights) { for (let i = 0; i < w.length; i++) w[i] = Math.f16round(Math.fround(w[i])); }
  return w;
}

/** `input`, or a copy with each value rounded to half when `halfInputs`. */
function inputsOf(input: ArrayLike<number>, halfInputs: boolean | undefined): ArrayLike<number> {
  return halfInputs ? Float64Array.from(input, (v) => Math.f16round(v)) : input;
}

function dot(w: Float64Array, row: number, x: ArrayLike<number>, xRow: number, k: number): number {
  let sum = 0;
  for (let j = 0; j < k; j++) sum += w[row * k + j] * x[xRow * k + j];
  return sum;
}

/**
 * `out[i][j] = Σ_k W[j][k] · input[i][k]` with W dequantised from GGML blocks, in f64.
 *
 * @param options The inputs.
 * @returns `m × n` values.
 * @throws {RangeError} When an array is shorter than its shape or `k` is not a multiple of
 * the block.
 *
 * @example Usage
 * ```ts
 * import { quantizedMatmulGgmlRef } from "./quantized_matmul_ggml_ref.ts";
 * import { quantizeGgml } from "../formats/ggml.ts";
 * import assert from "node:assert";
 *
 * // Q4_0 with d = 1: the row is -8 .. 7 twice; against ones it sums to -16.
 * const row = Array.from({ length: 32 }, (_, i) => (i % 16) - 8);
 * const out = quantizedMatmulGgmlRef({
 *   type: "q4_0", weight: quantizeGgml(row, "q4_0"), input: new Array(32).fill(1), m: 1, n: 1, k: 32,
 * });
 * assert.strictEqual(out[0], -16);
 * ```
 */
export function quantizedMatmulGgmlRef(options: QuantizedMatmulGgmlRefOptions): Float64Array {
  const { type, weight, m, n, k } = options;
  const input = inputsOf(options.input, options.halfInputs);
  const w = weightsOf(type, weight, 0, n, k, options.halfWeights ?? false);
  if (input.length < m * k) {
    throw new RangeError(
      `Cannot compute quantizedMatmulGgmlRef: the input holds ${input.length} values, expected ${
        m * k
      }`,
    );
  }
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = dot(w, j, input, i, k);
  }
  return out;
}

/** Inputs of {@linkcode quantizedMatmulGgmlIdRef}. */
export interface QuantizedMatmulGgmlIdRefOptions {
  /** The block type of the weights. */
  type: GgmlType;
  /** Every expert's `[n, k]` weights as GGML blocks, expert `e` from byte `e · expertStride`. */
  weight: Uint8Array;
  /** `[tokens, k]` input values: one row per token, shared by its `topK` slots. */
  input: ArrayLike<number>;
  /** `[tokens, topK]` expert ids. */
  ids: ArrayLike<number>;
  /** Tokens (rows of input). */
  tokens: number;
  /** Experts per token. */
  topK: number;
  /** Experts in `weight`. */
  experts: number;
  /** Rows of each expert's weights (output features). */
  n: number;
  /** Values per row. */
  k: number;
  /** Bytes from one expert's weights to the next; default `n` rows. */
  expertStride?: number;
  /** Round each weight to half first (the mat-mat kernels' staging). Default false. */
  halfWeights?: boolean;
  /** Round each input to half first (the tensor-API kernels' staging). Default false. */
  halfInputs?: boolean;
}

/**
 * The expert-routed product: for token `t` and slot `s` with expert `e = ids[t·topK + s]`,
 * `out[t][s][j] = Σ_k W_e[j][k] · input[t][k]`, in f64. A slot whose id is not an expert
 * (`e ≥ experts`) is skipped by the kernels (its row is not written): here its row is 0.
 *
 * @param options The inputs.
 * @returns `tokens × topK × n` values.
 * @throws {RangeError} When an array is shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { quantizedMatmulGgmlIdRef } from "./quantized_matmul_ggml_ref.ts";
 * import { quantizeGgml } from "../formats/ggml.ts";
 * import assert from "node:assert";
 *
 * // Two experts of one row: all ones and all twos; one token routed to expert 1.
 * const weight = quantizeGgml([...new Array(32).fill(1), ...new Array(32).fill(2)], "q8_0");
 * const out = quantizedMatmulGgmlIdRef({
 *   type: "q8_0", weight, input: new Array(32).fill(1), ids: [1],
 *   tokens: 1, topK: 1, experts: 2, n: 1, k: 32,
 * });
 * assert.ok(Math.abs(out[0] - 64) < 0.1); // Q8_0 keeps 8 bits a value
 * ```
 */
export function quantizedMatmulGgmlIdRef(options: QuantizedMatmulGgmlIdRefOptions): Float64Array {
  const { type, weight, ids, tokens, topK, experts, n, k } = options;
  const input = inputsOf(options.input, options.halfInputs);
  const stride = options.expertStride ?? n * ggmlRowBytes(type, k);
  if (input.length < tokens * k || ids.length < tokens * topK) {
    throw new RangeError(
      `Cannot compute quantizedMatmulGgmlIdRef: input ${input.length} values, ids ${ids.length}, expected ${
        tokens * k
      } and ${tokens * topK}`,
    );
  }
  const experts64 = new Map<number, Float64Array>();
  const out = new Float64Array(tokens * topK * n);
  for (let t = 0; t < tokens; t++) {
    for (let s = 0; s < topK; s++) {
      const e = ids[t * topK + s];
      if (!(e >= 0 && e < experts)) continue;
      let w = experts64.get(e);
      if (w === undefined) {
        w = weightsOf(type, weight, e * stride, n, k, options.halfWeights ?? false);
        experts64.set(e, w);
      }
      const row = t * topK + s;
      for (let j = 0; j < n; j++) out[row * n + j] = dot(w, j, input, t, k);
    }
  }
  return out;
}

/** Inputs of {@linkcode quantizedMatmulGgmlPerm021Ref}. */
export interface QuantizedMatmulGgmlPerm021RefOptions {
  /** The block type of the weights. */
  type: GgmlType;
  /** `[n, heads · headDim]` weights as GGML blocks. */
  weight: Uint8Array;
  /** `[heads, m, headDim]` input values (the bf16 values, widened). */
  input: ArrayLike<number>;
  /** Heads. */
  heads: number;
  /** Tokens (rows of output). */
  m: number;
  /** Values per head. */
  headDim: number;
  /** Rows of weights (output features). */
  n: number;
}

/**
 * The reference of the perm021 tensor kernels: the input `[heads, m, headDim]` permuted to
 * `[m, heads · headDim]`, then {@linkcode quantizedMatmulGgmlRef} with the kernels' staging
 * (weights and inputs rounded to half).
 *
 * @param options The inputs.
 * @returns `m × n` values.
 * @throws {RangeError} When an array is shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { quantizedMatmulGgmlPerm021Ref } from "./quantized_matmul_ggml_ref.ts";
 * import { quantizeGgml } from "../formats/ggml.ts";
 * import assert from "node:assert";
 *
 * // 2 heads of 32, 2 tokens; the weight row is 1 on head 0 and 0 on head 1.
 * const weight = quantizeGgml([...new Array(32).fill(1), ...new Array(32).fill(0)], "q4_0");
 * const input = [...new Array(32).fill(1), ...new Array(32).fill(2), ...new Array(64).fill(5)];
 * const out = quantizedMatmulGgmlPerm021Ref({
 *   type: "q4_0", weight, input, heads: 2, m: 2, headDim: 32, n: 1,
 * });
 * assert.deepStrictEqual([...out], [32, 64]); // token 0 and token 1 of head 0
 * ```
 */
export function quantizedMatmulGgmlPerm021Ref(
  options: QuantizedMatmulGgmlPerm021RefOptions,
): Float64Array {
  const { type, weight, input, heads, m, headDim, n } = options;
  const k = heads * headDim;
  if (input.length < m * k) {
    throw new RangeError(
      `Cannot compute quantizedMatmulGgmlPerm021Ref: the input holds ${input.length} values, expected ${
        m * k
      } (heads ${heads} × m ${m} × headDim ${headDim})`,
    );
  }
  const rows = new Float64Array(m * k);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < m; t++) {
      for (let f = 0; f < headDim; f++) {
        rows[t * k + h * headDim + f] = input[(h * m + t) * headDim + f];
      }
    }
  }
  return quantizedMatmulGgmlRef({
    type,
    weight,
    input: rows,
    m,
    n,
    k,
    halfWeights: true,
    halfInputs: true,
  });
}
