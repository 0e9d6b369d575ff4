// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 references for the TurboQuant KV cache (`fwht_standalone.metal`,
 * `hadamard_quantize_kv_fast.metal`, `tq_dequantize_kv.metal`): the sign table, the
 * randomised Hadamard rotation, the Lloyd–Max codebooks computed from their definition, the
 * per-vector scaling, encode and decode, and the byte layout of the cache.
 *
 * The scheme. A head vector `x` of length `D ∈ {256, 512}` is rotated by
 * `T(x) = H·(s ⊙ x)/√D`, with `H` the Sylvester–Hadamard matrix (`H[i][j] = (−1)^popcount(i & j)`)
 * and `s` a fixed ±1 vector. `H/√D` is orthogonal and symmetric, so `T` is orthogonal:
 * `T(q)·T(k) = q·k`, and `T⁻¹(y) = s ⊙ (H·y)/√D`. After the rotation every coordinate is a
 * ±-weighted mean of all of `x`, close to Gaussian with variance `‖x‖²/D` whatever the shape of
 * `x`; so each coordinate, divided by that scale, is quantised with one scalar codebook made for
 * N(0, 1). Attention then runs in the rotated domain on the dequantised values: only the query is
 * rotated on the way in and the output rotated back (`fwht` `"premultiply"` / `"undo"`).
 *
 * @example Usage
 * ```ts
 * import { fwhtRef } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const x = Array.from({ length: 256 }, (_, i) => Math.sin(i));
 * const back = fwhtRef(fwhtRef(x, { headDim: 256, signs: "premultiply" }), {
 *   headDim: 256,
 *   signs: "undo",
 * });
 * assert.ok(back.every((v, i) => Math.abs(v - x[i]) < 1e-12));
 * ```
 *
 * @module
 */

/** The head dimensions TurboQuant serves. */
export type TurboquantHeadDim = 256 | 512;

/** Codebook sizes in bits: 4 (nibble-packed cache) and 5, 6, 8 (one byte per coordinate). */
export type TurboquantBits = 4 | 5 | 6 | 8;

/** Where the ±1 signs go in a Hadamard transform. */
export type FwhtSigns = "none" | "premultiply" | "undo";

/**
 * The sign vector of the TurboQuant cache format, as 64 bytes: coordinate `j` has sign −1 when
 * bit `j & 7` of byte `j >> 3` is set. D = 256 uses the first 32 bytes, D = 512 all 64. Any
 * fixed ±1 vector keeps `T` orthogonal; this one is the vector of the published TurboQuant
 * format (AmesianX's CUDA implementation, also used by mlx-native), kept so that rotated
 * vectors and caches agree with other implementations of the format. SHA-256 of the 32-byte
 * prefix: `3ef1038e…`, of all 64 bytes: `44f13ce9…` (checked by the tests).
 */
export const TURBOQUANT_SIGN_BYTES: Readonly<Uint8Array<ArrayBuffer>> = Uint8Array.of(
  0xa7,
  0x3b,
  0x91,
  0xf4,
  0x6d,
  0xc2,
  0x58,
  0x0e,
  0xb3,
  0x7f,
  0x24,
  0xd6,
  0x89,
  0x45,
  0xea,
  0x1c,
  0x63,
  0xaf,
  0xd8,
  0x52,
  0x97,
  0x0b,
  0xe1,
  0x3d,
  0x76,
  0xc4,
  0x19,
  0xfe,
  0x4a,
  0x85,
  0x2c,
  0xdb,
  0xd3,
  0x4e,
  0xa8,
  0x17,
  0x9c,
  0x5b,
  0xe6,
  0x31,
  0x72,
  0xb9,
  0x0d,
  0xf5,
  0x43,
  0x8a,
  0x6e,
  0xc7,
  0x58,
  0x2f,
  0x94,
  0xe1,
  0xb6,
  0x3d,
  0x0a,
  0x7c,
  0xc5,
  0x61,
  0xd8,
  0x4f,
  0xa3,
  0x97,
  0x1e,
  0x85,
);

/**
 * The ±1 signs of a head dimension.
 *
 * @param headDim 256 or 512.
 * @returns `headDim` values, each 1 or −1.
 *
 * @example Usage
 * ```ts
 * import { turboquantSigns } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * // Byte 0 is 0xa7 = 0b10100111: coordinates 0, 1, 2, 5, 7 are negated.
 * assert.deepStrictEqual([...turboquantSigns(256).slice(0, 8)], [-1, -1, -1, 1, 1, -1, 1, -1]);
 * ```
 */
export function turboquantSigns(headDim: TurboquantHeadDim): Int8Array {
  checkHeadDim("turboquantSigns", headDim);
  const signs = new Int8Array(headDim);
  for (let j = 0; j < headDim; j++) {
    signs[j] = (TURBOQUANT_SIGN_BYTES[j >> 3] >> (j & 7)) & 1 ? -1 : 1;
  }
  return signs;
}

/** Options of {@linkcode fwhtRef}. */
export interface FwhtRefOptions {
  /** Vector length, a power of two (the kernels serve 256 and 512). */
  headDim: number;
  /** `"none"`: `H·x/√D`; `"premultiply"`: `H·(s ⊙ x)/√D`; `"undo"`: `s ⊙ (H·x/√D)`. */
  signs: FwhtSigns;
}

/**
 * The orthonormal Walsh–Hadamard transform of each `headDim`-long row of `x`, in f64, with
 * the TurboQuant signs before (`"premultiply"`, the rotation `T`), after (`"undo"`, `T⁻¹`) or
 * not at all. Signs need `headDim` 256 or 512.
 *
 * @param x Rows of `headDim` values (any number of rows).
 * @param options Length and sign placement.
 * @returns The transformed rows.
 * @throws {RangeError} For a length that is not a power of two or not a multiple of it.
 *
 * @example Usage
 * ```ts
 * import { fwhtRef } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * // H·e0/√4 = [1, 1, 1, 1]/2.
 * assert.deepStrictEqual([...fwhtRef([1, 0, 0, 0], { headDim: 4, signs: "none" })], [0.5, 0.5, 0.5, 0.5]);
 * ```
 */
export function fwhtRef(x: ArrayLike<number>, options: FwhtRefOptions): Float64Array {
  const { headDim, signs } = options;
  if (!Number.isInteger(Math.log2(headDim)) || x.length % headDim !== 0) {
    throw new RangeError(
      `Cannot compute fwhtRef: headDim ${headDim} must be a power of two dividing the ${x.length} values`,
    );
  }
  const sign = signs === "none" ? undefined : turboquantSigns(headDim as TurboquantHeadDim);
  const out = Float64Array.from(x);
  const norm = 1 / Math.sqrt(headDim);
  for (let base = 0; base < out.length; base += headDim) {
    if (signs === "premultiply") { for (let j = 0; j < headDim; j++) out[base + j] *= sign![j]; }
    for (let h = 1; h < headDim; h *= 2) {
      for (let i = 0; i < headDim; i += 2 * h) {
        for (let j = base + i; j < base + i + h; j++) {
          const a = out[j];
          const b = out[j + h];
          out[j] = a + b;
          out[j + h] = a - b;
        }
      }
    }
    for (let j = 0; j < headDim; j++) {
      out[base + j] *= signs === "undo" ? norm * sign![j] : norm;
    }
  }
  return out;
}

// ---- Lloyd–Max codebooks --------------------------------------------------------------------

const SQRT_PI = Math.sqrt(Math.PI);

/** erfc in f64 with relative accuracy to ~1e-15 over the whole range the codebooks reach. */
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): positive terms, no cancellation.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / SQRT_PI) * Math.exp(-x * x) * sum;
  }
  // The continued fraction erfc(x) = e^(−x²)/√π / (x + ½/(x + 1/(x + (3/2)/(x + …)))) (Lentz).
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    d = 1 / (x + (n / 2) * d);
    c = x + n / 2 / c;
    f *= c * d;
    if (Math.abs(c * d - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / SQRT_PI / f;
}

/** P(X > x) for X ~ N(0, 1). */
function upperTail(x: number): number {
  return x === Infinity ? 0 : x === -Infinity ? 1 : 0.5 * erfc(x / Math.SQRT2);
}

/** The N(0, 1) density (0 at ±∞). */
function density(x: number): number {
  return Number.isFinite(x) ? Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) : 0;
}

/** P(lo < X < hi), computed from the tail that keeps its relative accuracy. */
function cellMass(lo: number, hi: number): number {
  if (lo >= 0) return upperTail(lo) - upperTail(hi);
  if (hi <= 0) return upperTail(-hi) - upperTail(-lo);
  return 1 - upperTail(hi) - upperTail(-lo);
}

function midpoints(centroids: ArrayLike<number>): number[] {
  const bounds = [-Infinity];
  for (let i = 1; i < centroids.length; i++) bounds.push((centroids[i - 1] + centroids[i]) / 2);
  bounds.push(Infinity);
  return bounds;
}

const CODEBOOKS = new Map<TurboquantBits, Float64Array>();

/**
 * The Lloyd–Max quantiser of N(0, 1) with `2^bits` levels, in f64: the centroids `c` with
 * each `c[i] = E[X | b[i−1] < X < b[i]]` where the boundaries are the midpoints of adjacent
 * centroids (the two optimality conditions of Lloyd and Max). For the Gaussian (log-concave)
 * the solution is unique, so it is found by Newton's method on those conditions (a
 * tridiagonal system), started from the Panter–Dite point density (spacing ∝ φ^(−1/3));
 * residuals end below 1e-10. The 4-bit book is Max's classical table (±0.1284 … ±2.7326).
 *
 * (mlx-native ships 6- and 8-bit tables that stop short of this fixed point: extreme centroids
 * ±3.6996 and ±5.0653 where the optimum has ±3.7441 and ±4.6035; their mean squared errors on
 * N(0, 1) are 6.49e-4 and 6.27e-5 against the optimum's 6.44e-4 and 4.12e-5.)
 *
 * @param bits 4, 5, 6 or 8.
 * @returns `2^bits` increasing centroids, symmetric about 0 (memoised; do not modify).
 * @throws {RangeError} For another size.
 *
 * @example Usage
 * ```ts
 * import { lloydMaxCodebook } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const c = lloydMaxCodebook(4);
 * assert.ok(Math.abs(c[15] - 2.7326) < 1e-4 && Math.abs(c[8] - 0.1284) < 1e-4);
 * ```
 */
export function lloydMaxCodebook(bits: TurboquantBits): Float64Array {
  checkBits("lloydMaxCodebook", bits);
  const cached = CODEBOOKS.get(bits);
  if (cached) return cached;
  const n = 2 ** bits;
  // Panter–Dite start: the optimal point density of many levels is ∝ φ(x)^(1/3), the N(0, 3)
  // density, so place level i at the N(0, 3) quantile (i + ½)/n.
  let c = Array.from({ length: n }, (_, i) => Math.sqrt(3) * inverseUpperTail(1 - (i + 0.5) / n));
  for (let iteration = 0; iteration < 60; iteration++) {
    const b = midpoints(c);
    const residual: number[] = [];
    const lower: number[] = [];
    const diagonal: number[] = [];
    const upper: number[] = [];
    for (let i = 0; i < n; i++) {
      const lo = b[i];
      const hi = b[i + 1];
      const mass = cellMass(lo, hi);
      const mean = (density(lo) - density(hi)) / mass;
      residual.push(mean - c[i]);
      // ∂mean/∂lo = φ(lo)(mean − lo)/mass, ∂mean/∂hi = φ(hi)(hi − mean)/mass; each boundary
      // moves by half of each neighbouring centroid's move.
      const dLo = Number.isFinite(lo) ? density(lo) * (mean - lo) / mass : 0;
      const dHi = Number.isFinite(hi) ? density(hi) * (hi - mean) / mass : 0;
      lower.push(dLo / 2);
      upper.push(dHi / 2);
      diagonal.push((dLo + dHi) / 2 - 1);
    }
    if (Math.max(...residual.map(Math.abs)) < 1e-13) break;
    const step = solveTridiagonal(lower, diagonal, upper, residual.map((r) => -r));
    // Halve the step until the centroids stay in order (only the first steps need it).
    for (let t = 1;; t /= 2) {
      const next = c.map((v, i) => v + t * step[i]);
      if (next.every((v, i) => i === 0 || v > next[i - 1])) {
        c = next;
        break;
      }
    }
  }
  // Exact symmetry: average each centroid with its mirror image.
  const book = new Float64Array(n);
  for (let i = 0; i < n; i++) book[i] = (c[i] - c[n - 1 - i]) / 2;
  CODEBOOKS.set(bits, book);
  return book;
}

function inverseUpperTail(p: number): number {
  let lo = -40;
  let hi = 40;
  for (let k = 0; k < 100; k++) {
    const mid = (lo + hi) / 2;
    if (upperTail(mid) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function solveTridiagonal(
  lower: number[],
  diagonal: number[],
  upper: number[],
  rhs: number[],
): number[] {
  const n = rhs.length;
  const c = new Array<number>(n);
  const d = new Array<number>(n);
  c[0] = upper[0] / diagonal[0];
  d[0] = rhs[0] / diagonal[0];
  for (let i = 1; i < n; i++) {
    const den = diagonal[i] - lower[i] * c[i - 1];
    c[i] = upper[i] / den;
    d[i] = (rhs[i] - lower[i] * d[i - 1]) / den;
  }
  const x = new Array<number>(n);
  x[n - 1] = d[n - 1];
  for (let i = n - 2; i >= 0; i--) x[i] = d[i] - c[i] * x[i + 1];
  return x;
}

/** A codebook as the kernels hold it (f32). */
export interface TurboquantCodebook {
  /** `2^bits` centroids, the f64 Lloyd–Max values rounded to f32. */
  centroids: Float32Array;
  /** `2^bits − 1` decision boundaries: midpoints of adjacent f32 centroids, rounded to f32. */
  boundaries: Float32Array;
}

/**
 * The f32 codebook and decision boundaries the kernels embed (generated from
 * {@linkcode lloydMaxCodebook}; a test checks each `.metal` file's tables against this).
 *
 * @param bits 4, 5, 6 or 8.
 * @returns Centroids and boundaries.
 *
 * @example Usage
 * ```ts
 * import { turboquantCodebook } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const { centroids, boundaries } = turboquantCodebook(5);
 * assert.strictEqual(centroids.length, 32);
 * assert.strictEqual(boundaries[15], 0);
 * ```
 */
export function turboquantCodebook(bits: TurboquantBits): TurboquantCodebook {
  const centroids = Float32Array.from(lloydMaxCodebook(bits));
  const boundaries = new Float32Array(centroids.length - 1);
  for (let i = 0; i < boundaries.length; i++) {
    boundaries[i] = (centroids[i] + centroids[i + 1]) / 2;
  }
  return { centroids, boundaries };
}

/**
 * The quantiser's index of `u`: how many boundaries lie strictly below it (so a value on a
 * boundary takes the lower level, and NaN level 0).
 *
 * @param u The scaled coordinate.
 * @param boundaries Increasing decision boundaries.
 * @returns The index, `0 … boundaries.length`.
 *
 * @example Usage
 * ```ts
 * import { quantizeIndex, turboquantCodebook } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const { boundaries } = turboquantCodebook(4);
 * assert.strictEqual(quantizeIndex(0, boundaries), 7);
 * assert.strictEqual(quantizeIndex(1e-9, boundaries), 8);
 * assert.strictEqual(quantizeIndex(99, boundaries), 15);
 * ```
 */
export function quantizeIndex(u: number, boundaries: ArrayLike<number>): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (boundaries[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- Encode / decode --------------------------------------------------------------------------

/** Norms stored per cache position: one for D = 256, one per 256-coordinate block for D = 512. */
export function turboquantNormsPerPosition(headDim: TurboquantHeadDim): 1 | 2 {
  return headDim === 256 ? 1 : 2;
}

/** Options of {@linkcode turboquantEncodeRef}. */
export interface TurboquantEncodeRefOptions {
  /** `[vectors, headDim]` values to encode (one token's K or V rows, say). */
  x: ArrayLike<number>;
  /** 256 or 512. */
  headDim: TurboquantHeadDim;
  /** Codebook size. */
  bits: TurboquantBits;
  /**
   * D = 512 only: the per-block RMS is mapped to this value before quantising (default 1,
   * so each block enters the codebook with unit RMS).
   */
  scaleFactor?: number;
}

/** The result of {@linkcode turboquantEncodeRef}. */
export interface TurboquantEncoded {
  /** `[vectors, headDim]` codebook indices. */
  indices: Uint8Array;
  /** `[vectors, normsPerPosition]`: D = 256 the L2 norm of `T(x)` (= of `x`); D = 512 each block's RMS. */
  norms: Float64Array;
  /** `[vectors, headDim]` the quantiser's inputs `u` (the kernels' optional probe output). */
  scaled: Float64Array;
}

/**
 * Encodes vectors as the cache does, in f64: `y = T(x)`; D = 256: `n = ‖y‖`,
 * `u = y·16/n`; D = 512: per 256-block `n_b = √(Σ y²/256)`, `u = y·f/n_b`; `u = 0` when
 * the norm is at most 1e-10; index = {@linkcode quantizeIndex} of `u` on the f32 boundaries.
 *
 * @param options Vectors, head dimension, bits and scale factor.
 * @returns Indices, norms and the quantiser inputs.
 *
 * @example Usage
 * ```ts
 * import { turboquantDecodeRef, turboquantEncodeRef } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const x = Array.from({ length: 256 }, (_, i) => Math.cos(i * 0.1));
 * const encoded = turboquantEncodeRef({ x, headDim: 256, bits: 8 });
 * const y = turboquantDecodeRef({ ...encoded, headDim: 256, bits: 8 });
 * assert.strictEqual(y.length, 256); // ≈ T(x), within the codebook's error
 * ```
 */
export function turboquantEncodeRef(options: TurboquantEncodeRefOptions): TurboquantEncoded {
  const { x, headDim, bits, scaleFactor = 1 } = options;
  checkHeadDim("turboquantEncodeRef", headDim);
  const { boundaries } = turboquantCodebook(bits);
  const y = fwhtRef(x, { headDim, signs: "premultiply" });
  const vectors = y.length / headDim;
  const perPosition = turboquantNormsPerPosition(headDim);
  const norms = new Float64Array(vectors * perPosition);
  const scaled = new Float64Array(y.length);
  const indices = new Uint8Array(y.length);
  const block = headDim / perPosition;
  for (let v = 0; v < vectors; v++) {
    for (let b = 0; b < perPosition; b++) {
      const start = v * headDim + b * block;
      let squares = 0;
      for (let j = start; j < start + block; j++) squares += y[j] * y[j];
      const norm = headDim === 256 ? Math.sqrt(squares) : Math.sqrt(squares / 256);
      norms[v * perPosition + b] = norm;
      const scale = norm > 1e-10 ? (headDim === 256 ? 16 / norm : scaleFactor / norm) : 0;
      for (let j = start; j < start + block; j++) {
        scaled[j] = y[j] * scale;
        indices[j] = quantizeIndex(scaled[j], boundaries);
      }
    }
  }
  return { indices, norms, scaled };
}

/** Options of {@linkcode turboquantDecodeRef}. */
export interface TurboquantDecodeRefOptions {
  /** `[vectors, headDim]` codebook indices. */
  indices: ArrayLike<number>;
  /** `[vectors, normsPerPosition]` norms. */
  norms: ArrayLike<number>;
  /** 256 or 512. */
  headDim: TurboquantHeadDim;
  /** Codebook size. */
  bits: TurboquantBits;
  /** D = 512 only: the encoder's scale factor (default 1). */
  scaleFactor?: number;
}

/**
 * Dequantises to the rotated domain, in f64 from the f32 centroids the kernels hold:
 * D = 256 `ŷ = c[i]·n/16`; D = 512 `ŷ = c[i]·n_b/f`. (`T⁻¹(ŷ)` approximates `x`.)
 *
 * @param options Indices, norms, head dimension, bits and scale factor.
 * @returns `[vectors, headDim]` values.
 *
 * @example Usage
 * ```ts
 * import { turboquantDecodeRef } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * const y = turboquantDecodeRef({ indices: new Uint8Array(256).fill(15), norms: [16], headDim: 256, bits: 4 });
 * assert.ok(Math.abs(y[0] - 2.7326) < 1e-4);
 * ```
 */
export function turboquantDecodeRef(options: TurboquantDecodeRefOptions): Float64Array {
  const { indices, norms, headDim, bits, scaleFactor = 1 } = options;
  checkHeadDim("turboquantDecodeRef", headDim);
  const { centroids } = turboquantCodebook(bits);
  const perPosition = turboquantNormsPerPosition(headDim);
  const out = new Float64Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const v = Math.floor(j / headDim);
    const norm = norms[v * perPosition + Math.floor((j % headDim) / 256)];
    out[j] = centroids[indices[j]] * (headDim === 256 ? norm / 16 : norm / scaleFactor);
  }
  return out;
}

/**
 * Packs indices into one cache row's bytes: 4-bit two per byte (coordinate `2b` in the low
 * nibble of byte `b`, `2b + 1` in the high one), wider codebooks one per byte.
 *
 * @param indices Codebook indices, one per coordinate.
 * @param bits Codebook size.
 * @returns The bytes.
 *
 * @example Usage
 * ```ts
 * import { packTurboquantIndices } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...packTurboquantIndices([1, 2, 15, 0], 4)], [0x21, 0x0f]);
 * ```
 */
export function packTurboquantIndices(
  indices: ArrayLike<number>,
  bits: TurboquantBits,
): Uint8Array {
  if (bits !== 4) return Uint8Array.from(indices);
  const out = new Uint8Array(Math.ceil(indices.length / 2));
  for (let j = 0; j < indices.length; j++) out[j >> 1] |= (indices[j] & 15) << ((j & 1) * 4);
  return out;
}

/**
 * Unpacks cache bytes into indices (the inverse of {@linkcode packTurboquantIndices}; wider
 * codebooks keep only their low `bits` bits, as the kernels read them).
 *
 * @param bytes Packed bytes.
 * @param bits Codebook size.
 * @returns One index per coordinate.
 *
 * @example Usage
 * ```ts
 * import { unpackTurboquantIndices } from "./turboquant_ref.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual([...unpackTurboquantIndices(Uint8Array.of(0x21), 4)], [1, 2]);
 * assert.deepStrictEqual([...unpackTurboquantIndices(Uint8Array.of(0xff), 5)], [31]);
 * ```
 */
export function unpackTurboquantIndices(bytes: Uint8Array, bits: TurboquantBits): Uint8Array {
  if (bits !== 4) return bytes.map((b) => b & (2 ** bits - 1));
  const out = new Uint8Array(bytes.length * 2);
  for (let j = 0; j < out.length; j++) out[j] = (bytes[j >> 1] >> ((j & 1) * 4)) & 15;
  return out;
}

function checkHeadDim(subject: string, headDim: number): void {
  if (headDim !== 256 && headDim !== 512) {
    throw new RangeError(`Cannot compute ${subject}: headDim ${headDim}, expected 256 or 512`);
  }
}

function checkBits(subject: string, bits: number): void {
  if (bits !== 4 && bits !== 5 && bits !== 6 && bits !== 8) {
    throw new RangeError(`Cannot compute ${subject}: bits ${bits}, expected 4, 5, 6 or 8`);
  }
}
