// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * RoPE frequency tables and pair layouts shared by `ops/rope.ts` and `ops/attention_prep.ts`
 * (private). The host computes every pair's angular frequency in f64 and hands the kernels
 * a table from which they reduce `θ = pos · ω` modulo one turn exactly (see the header of
 * `shaders/rope.metal`), so RoPE stays accurate to ~1e-6 rad at any position below 2^24.
 *
 * @module
 */
import { checkCount, checkFinite } from "./_validate.ts";
import { MAX_SET_BYTES_LENGTH } from "../device.ts";

/**
 * How a partial RoPE (`ropeDim < headDim`) picks its pairs and frequencies. Irrelevant,
 * and optional, when `ropeDim === headDim`.
 *
 * - `"truncated"`: rotate the leading `ropeDim` elements as a RoPE of dimension `ropeDim`:
 *   `θ_p = pos · base^(−2p/ropeDim)`, NeoX pairs `(p, p + ropeDim/2)`, normal pairs
 *   `(2p, 2p+1)`; elements from `ropeDim` on are copied. llama.cpp's `n_dims`, Hugging Face
 *   `partial_rotary_factor` (Phi, StableLM, GPT-NeoX).
 * - `"proportional"`: frequencies over the whole head, `θ_p = pos · base^(−2p/headDim)`, for
 *   `p < ropeDim/2` only; NeoX pairs `(p, p + headDim/2)`, normal pairs `(2p, 2p+1)`; the
 *   other elements are copied. mlx-native's `rope_neox_*` and fused head-norm kernels
 *   (Gemma 4 "proportional" RoPE).
 */
export type PartialRotary = "truncated" | "proportional";

/** Frequency options shared by every RoPE helper. */
export interface RopeFrequencyOptions {
  /** Frequency base θ₀ (Llama 2: 10000, Llama 3: 500000, Qwen 2/3: 1000000). */
  base: number;
  /** Elements rotated per head (even, ≤ headDim). @default headDim */
  ropeDim?: number;
  /** Partial RoPE layout; required when `ropeDim < headDim`. */
  partialRotary?: PartialRotary;
  /**
   * Linear position scaling (position interpolation): `ω_p` is multiplied by it.
   * @default 1
   */
  freqScale?: number;
  /**
   * Per-pair divisors of `ω_p` (`ropeDim / 2` positive values; Llama 3.x `rope_freqs`,
   * LongRoPE factors; `Infinity` leaves a pair unrotated). Folded into the table on the host.
   */
  freqFactors?: ArrayLike<number>;
}

/** The pair layout of one RoPE dispatch, as the kernels' params structs spell it. */
export interface RopeLayout {
  /** Rotated pairs, `ropeDim / 2`. */
  nPairs: number;
  /** Distance from a rotated element to its partner. */
  pairOffset: number;
  /** First copied element. */
  copyStart: number;
  /** Distance between the two copied elements of a slot. */
  copyGap: number;
  /** The denominator of the frequency exponent. */
  freqDim: number;
}

/** Bytes per table entry (`float4`). */
const ENTRY_BYTES = 16;

/** The most rotated pairs a table can carry in one `setBytes` (256, `ropeDim` 512). */
export const ROPE_MAX_PAIRS: number = MAX_SET_BYTES_LENGTH / ENTRY_BYTES;

/**
 * Validates the frequency options and derives the pair layout.
 *
 * @param subject The kernel, for messages.
 * @param headDim The head dimension (already checked positive).
 * @param neox NeoX (split) pairs rather than adjacent ones.
 * @param options The frequency options.
 * @returns The layout.
 * @throws {TypeError} For a missing `partialRotary` on a partial RoPE, or non-numbers.
 * @throws {RangeError} For odd sizes, a `ropeDim` above `headDim` or 512, a non-positive base,
 * scale or factor, or a wrong number of factors.
 */
export function ropeLayout(
  subject: string,
  headDim: number,
  neox: boolean,
  options: RopeFrequencyOptions,
): RopeLayout {
  if (headDim % 2 !== 0) {
    throw new RangeError(
      `Cannot encode ${subject}: "headDim" is ${headDim}, expected an even number`,
    );
  }
  const ropeDim = options.ropeDim === undefined
    ? headDim
    : checkCount(subject, "ropeDim", options.ropeDim);
  if (ropeDim % 2 !== 0 || ropeDim > headDim) {
    throw new RangeError(
      `Cannot encode ${subject}: "ropeDim" is ${ropeDim}, expected an even number up to headDim ${headDim}`,
    );
  }
  const nPairs = ropeDim / 2;
  if (nPairs > ROPE_MAX_PAIRS) {
    throw new RangeError(
      `Cannot encode ${subject}: "ropeDim" is ${ropeDim}, expected at most ${2 * ROPE_MAX_PAIRS}`,
    );
  }
  const base = checkFinite(subject, "base", options.base);
  if (base <= 0) {
    throw new RangeError(`Cannot encode ${subject}: "base" is ${base}, expected a positive number`);
  }
  const scale = checkFinite(subject, "freqScale", options.freqScale ?? 1);
  if (scale <= 0) {
    throw new RangeError(
      `Cannot encode ${subject}: "freqScale" is ${scale}, expected a positive number`,
    );
  }
  let partial = options.partialRotary;
  if (ropeDim === headDim) {
    partial ??= "truncated"; // both layouts coincide
  } else if (partial !== "truncated" && partial !== "proportional") {
    throw new TypeError(
      `Cannot encode ${subject}: "partialRotary" is ${
        partial === undefined ? "undefined" : JSON.stringify(partial)
      }, expected "truncated" or "proportional" when ropeDim ${ropeDim} < headDim ${headDim}`,
    );
  }
  const half = headDim / 2;
  if (partial === "proportional") {
    return {
      nPairs,
      pairOffset: neox ? half : 1,
      copyStart: neox ? nPairs : ropeDim,
      copyGap: neox ? half : half - nPairs,
      freqDim: headDim,
    };
  }
  return {
    nPairs,
    pairOffset: neox ? nPairs : 1,
    copyStart: ropeDim,
    copyGap: half - nPairs,
    freqDim: ropeDim,
  };
}

/**
 * The angular frequency of each rotated pair in f64, radians per position:
 * `ω_p = freqScale · base^(−2p/freqDim) / freqFactors[p]`.
 *
 * @param subject The kernel, for messages.
 * @param layout From {@linkcode ropeLayout}.
 * @param options The frequency options.
 * @returns `nPairs` frequencies.
 * @throws {RangeError} For a wrong number of factors or a factor that is not positive.
 */
export function ropeOmegas(
  subject: string,
  layout: RopeLayout,
  options: RopeFrequencyOptions,
): Float64Array {
  const factors = options.freqFactors;
  if (factors !== undefined) {
    if (typeof factors !== "object" || factors === null || typeof factors.length !== "number") {
      throw new TypeError(
        `Cannot encode ${subject}: "freqFactors" is not an array, expected ${layout.nPairs} numbers`,
      );
    }
    if (factors.length !== layout.nPairs) {
      throw new RangeError(
        `Cannot encode ${subject}: "freqFactors" holds ${factors.length} values, expected ${layout.nPairs} (ropeDim / 2)`,
      );
    }
  }
  const scale = options.freqScale ?? 1;
  const out = new Float64Array(layout.nPairs);
  for (let p = 0; p < layout.nPairs; p++) {
    let omega = scale * Math.pow(options.base, (-2 * p) / layout.freqDim);
    if (factors !== undefined) {
      const f = factors[p];
      if (!(f > 0)) {
        throw new RangeError(
          `Cannot encode ${subject}: "freqFactors[${p}]" is ${f}, expected a positive number`,
        );
      }
      omega /= f;
    }
    out[p] = omega;
  }
  return out;
}

/** `x` rounded to 12 significant bits (so products with 12-bit integers are exact in f32). */
function head12(x: number): number {
  if (x < 2 ** -100) return 0;
  const quantum = 2 ** (Math.floor(Math.log2(x)) - 11);
  return Math.round(x / quantum) * quantum;
}

/**
 * The kernels' frequency table: per pair `(g_head, g_tail, f_head, f_tail)` as f32, with
 * `f = ω/2π` turns per position and `g = frac(4096·f)`, each split into a 12-bit head and
 * a tail (see `shaders/rope.metal`, "Angles").
 *
 * @param omegas From {@linkcode ropeOmegas}.
 * @returns `4 · omegas.length` floats, ready for `setBytes`.
 */
export function ropeFreqTable(omegas: Float64Array): Float32Array {
  const table = new Float32Array(Math.max(1, omegas.length) * 4);
  omegas.forEach((omega, p) => {
    const f = omega / (2 * Math.PI);
    const scaled = 4096 * f;
    const g = scaled - Math.floor(scaled);
    const gHead = head12(g);
    const fHead = head12(f);
    table[4 * p] = gHead;
    table[4 * p + 1] = g - gHead;
    table[4 * p + 2] = fHead;
    table[4 * p + 3] = f - fHead;
  });
  return table;
}
