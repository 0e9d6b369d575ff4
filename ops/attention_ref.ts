// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for every attention kernel of the catalogue (`sdpa*`, `sdpa_decode`,
 * `flash_attn_vec*`, `steel_attention_*`, and the TurboQuant decode kernel):
 * `O = softmax(scale · Q·Kᵀ + mask) · V`, in plain loops, with each convention those kernels
 * have spelled out as an option instead of being baked in.
 *
 * **Layouts.** Q and O are `[batch, nHeads, qLen, headDim]`; K and V are
 * `[batch, nKvHeads, kvCapacity, headDim]` (a KV cache of fixed capacity of which `kvLen`
 * positions are valid), row-major.
 *
 * **Which keys a query sees.** Keys have a *logical* index `ℓ` in `[0, kvLen)`, the token's
 * position in the sequence. Query row `i` sits at position `p_i = queryOffset + i`, by default
 * `kvLen − qLen + i`: the queries are the last `qLen` tokens of the cache ("right-aligned"), so
 * a one-token decode sees every key and a prefill with `qLen = kvLen` is the usual lower
 * triangle. Key `ℓ` is attended when all of these hold:
 * - `causal`: `ℓ ≤ p_i`;
 * - `window` of size `W`: `ℓ ≥ p_i − W + 1` (the last `W` keys up to the query: the
 *   `flash_attn_vec*` and prefill convention), or with `windowKeys: "size+1"`, `ℓ ≥ p_i − W`
 *   (`W + 1` keys: the `sdpa_sliding` convention);
 * - a boolean `mask`: its entry is true (nonzero);
 * - an additive `mask`: its entry is added to the score (`−Infinity` excludes the key).
 *
 * A row that attends to no key at all (everything masked, or a query before the first key)
 * is all zeros, as every kernel writes it.
 *
 * **GQA.** Query head `h` reads KV head `⌊h · nKvHeads / nHeads⌋`. When `nHeads` is a
 * multiple of `nKvHeads` (every op requires it) this is `⌊h / (nHeads / nKvHeads)⌋`, the
 * grouping of `sdpa`, `flash_attn_vec*` and prefill; `sdpa_decode`'s `h · H_kv / H` is the
 * same number.
 *
 * **Ring buffer.** With `ringStart`, logical key `ℓ` is stored at physical slot
 * `(ringStart + ℓ) mod kvCapacity` (a sliding-window cache that has wrapped: the oldest key
 * at `ringStart`). Without it, key `ℓ` is slot `ℓ`.
 *
 * **Staging roundings.** The kernels keep some intermediate values in a narrower type than
 * f32; the reference reproduces that rounding so the remaining error is the f32 arithmetic:
 * - `roundQuery: "f16"`: Q is rounded to f16 before the dot products (the decode kernels hold
 *   the query as `half` in threadgroup memory); scores are `scale · (round(q) · k)`.
 * - `roundScaledQuery: T`: the prefill kernels multiply Q by `scale · log2 e` and store the
 *   product as the I/O dtype `T`, then take the softmax in base 2; the reference rounds
 *   `q · scale · log2 e` to `T` and divides the dot product by `log2 e` again (`exp2(x) =
 *   exp(x / log2 e)`, so no other difference remains).
 *
 * Inputs are the values the kernel read (already rounded to the buffer dtype); the output is
 * f64, not rounded to the output dtype.
 *
 * @example Usage
 * ```ts
 * import { attentionRef } from "./attention_ref.ts";
 * import assert from "node:assert";
 *
 * // One head, D = 1, two keys with equal scores: the output is the mean of the values.
 * const out = attentionRef({
 *   q: [1], k: [0, 0], v: [2, 4],
 *   nHeads: 1, nKvHeads: 1, headDim: 1, qLen: 1, kvLen: 2, scale: 1,
 * });
 * assert.deepStrictEqual([...out], [3]);
 * ```
 *
 * @module
 */
import { type FloatDType, roundToDType } from "../dtype.ts";

/** An attention mask over `(query row, key)`, read at `strides` (see {@linkcode AttentionRefOptions.mask}). */
export interface AttentionMaskRef {
  /** `"additive"`: the entry is added to the score; `"boolean"`: nonzero keeps the key. */
  kind: "additive" | "boolean";
  /** The entries; `−Infinity` in an additive mask excludes the key. */
  values: ArrayLike<number>;
  /**
   * Element strides of (batch, head, query row); the key index has stride 1. A stride of 0
   * broadcasts. Default `[0, 0, kvLen]`: one `[qLen, kvLen]` plane for every batch and head.
   */
  strides?: readonly [number, number, number];
}

/** Inputs of {@linkcode attentionRef}. */
export interface AttentionRefOptions {
  /** Queries `[batch, nHeads, qLen, headDim]`. */
  q: ArrayLike<number>;
  /** Keys `[batch, nKvHeads, kvCapacity, headDim]`. */
  k: ArrayLike<number>;
  /** Values, laid out as `k`. */
  v: ArrayLike<number>;
  /** Batch size. @default {1} */
  batch?: number;
  /** Query heads. */
  nHeads: number;
  /** Key/value heads; at most `nHeads`. */
  nKvHeads: number;
  /** Head dimension of Q, K and V. */
  headDim: number;
  /** Query rows per head. */
  qLen: number;
  /** Valid keys per head (logical indices `0 … kvLen − 1`). */
  kvLen: number;
  /** Positions per KV head in `k`/`v`; at least `kvLen`. @default {kvLen} */
  kvCapacity?: number;
  /** Multiplies `q · k` (not forced to `1/√headDim`). */
  scale: number;
  /** Position of query row 0. @default {kvLen − qLen} (right-aligned to the cache) */
  queryOffset?: number;
  /** Exclude keys after the query's position. @default {false} */
  causal?: boolean;
  /** Sliding window size `W` (a positive integer); see `windowKeys`. */
  window?: number;
  /**
   * `"size"`: the window holds `W` keys, `p − W < ℓ ≤ p`; `"size+1"`: `W + 1` keys,
   * `p − W ≤ ℓ ≤ p` (`sdpa_sliding`). @default {"size"}
   */
  windowKeys?: "size" | "size+1";
  /** An additive or boolean mask over (query row, logical key). */
  mask?: AttentionMaskRef;
  /** Physical slot of logical key 0 in a wrapped ring buffer. @default {0} */
  ringStart?: number;
  /** Round Q to this dtype before the dot products (vec/decode kernels: `"f16"`). */
  roundQuery?: FloatDType;
  /** Round `q · scale · log2 e` to this dtype (the prefill kernels' I/O dtype). */
  roundScaledQuery?: FloatDType;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot compute attentionRef: "${name}" is ${value}, expected a positive integer`,
    );
  }
}

function atLeast(name: string, values: ArrayLike<number>, length: number): void {
  if (values.length < length) {
    throw new RangeError(
      `Cannot compute attentionRef: "${name}" holds ${values.length} values, expected at least ${length}`,
    );
  }
}

/**
 * Whether query position `position` attends to logical key `key` under the causal and
 * window rules of `options` (the mask is applied separately).
 *
 * @param options The attention's conventions.
 * @param position The query's position (`queryOffset + row`).
 * @param key The key's logical index.
 * @returns True when the key is attended.
 *
 * @example Usage
 * ```ts
 * import { attentionKeyVisible } from "./attention_ref.ts";
 * import assert from "node:assert";
 *
 * // sdpa_sliding: window 2 means keys p−2 … p (three keys).
 * const sliding = { causal: true, window: 2, windowKeys: "size+1" } as const;
 * assert.deepStrictEqual([5, 6, 7, 8].map((k) => attentionKeyVisible(sliding, 7, k)), [true, true, true, false]);
 * // flash_attn_vec: window 2 means keys p−1 … p.
 * assert.strictEqual(attentionKeyVisible({ causal: true, window: 2 }, 7, 5), false);
 * ```
 */
export function attentionKeyVisible(
  options: Pick<AttentionRefOptions, "causal" | "window" | "windowKeys">,
  position: number,
  key: number,
): boolean {
  if (options.causal && key > position) return false;
  if (options.window !== undefined) {
    const first = position - options.window + (options.windowKeys === "size+1" ? 0 : 1);
    if (key < first) return false;
  }
  return true;
}

/**
 * `O = softmax(scale · Q·Kᵀ + mask) · V` per batch, query head and query row, in f64, with
 * the conventions described in the module documentation (right-aligned causal masking,
 * window sizes, boolean or additive masks, GQA, ring buffers, staging roundings). Rows that
 * see no key are zeros.
 *
 * @param options The inputs and conventions.
 * @returns `[batch, nHeads, qLen, headDim]` values.
 * @throws {RangeError} For sizes that are not positive integers, `nHeads < nKvHeads`,
 * `kvCapacity < kvLen`, a bad window or ring start, both staging roundings at once, or an
 * array shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { attentionRef } from "./attention_ref.ts";
 * import assert from "node:assert";
 *
 * // Causal prefill of two tokens: row 0 sees key 0 only, row 1 sees both (equal scores).
 * const out = attentionRef({
 *   q: [0, 0], k: [1, 1], v: [10, 20],
 *   nHeads: 1, nKvHeads: 1, headDim: 1, qLen: 2, kvLen: 2, scale: 1, causal: true,
 * });
 * assert.deepStrictEqual([...out], [10, 15]);
 * ```
 */
export function attentionRef(options: AttentionRefOptions): Float64Array {
  const {
    q,
    k,
    v,
    batch = 1,
    nHeads,
    nKvHeads,
    headDim,
    qLen,
    kvLen,
    kvCapacity = options.kvLen,
    scale,
    mask,
    ringStart = 0,
  } = options;
  const queryOffset = options.queryOffset ?? kvLen - qLen;
  for (
    const [name, value] of [
      ["batch", batch],
      ["nHeads", nHeads],
      ["nKvHeads", nKvHeads],
      ["headDim", headDim],
      ["qLen", qLen],
      ["kvLen", kvLen],
      ["kvCapacity", kvCapacity],
    ] as const
  ) positiveInteger(name, value);
  if (nKvHeads > nHeads) {
    throw new RangeError(
      `Cannot compute attentionRef: "nKvHeads" is ${nKvHeads}, expected at most nHeads ${nHeads}`,
    );
  }
  if (kvCapacity < kvLen) {
    throw new RangeError(
      `Cannot compute attentionRef: "kvCapacity" is ${kvCapacity}, expected at least kvLen ${kvLen}`,
    );
  }
  if (options.window !== undefined) positiveInteger("window", options.window);
  if (!Number.isInteger(ringStart) || ringStart < 0 || ringStart >= kvCapacity) {
    throw new RangeError(
      `Cannot compute attentionRef: "ringStart" is ${ringStart}, expected an integer from 0 to ${
        kvCapacity - 1
      }`,
    );
  }
  if (!Number.isInteger(queryOffset)) {
    throw new RangeError(
      `Cannot compute attentionRef: "queryOffset" is ${queryOffset}, expected an integer`,
    );
  }
  if (options.roundQuery !== undefined && options.roundScaledQuery !== undefined) {
    throw new RangeError(
      `Cannot compute attentionRef: "roundQuery" and "roundScaledQuery" are both set, expected at most one`,
    );
  }
  atLeast("q", q, batch * nHeads * qLen * headDim);
  atLeast("k", k, batch * nKvHeads * kvCapacity * headDim);
  atLeast("v", v, batch * nKvHeads * kvCapacity * headDim);
  const maskStrides = mask?.strides ?? [0, 0, kvLen];
  if (mask) {
    const last = (batch - 1) * maskStrides[0] + (nHeads - 1) * maskStrides[1] +
      (qLen - 1) * maskStrides[2] + kvLen;
    atLeast("mask.values", mask.values, last);
  }

  const log2e = Math.LOG2E;
  const out = new Float64Array(batch * nHeads * qLen * headDim);
  const query = new Float64Array(headDim);
  const scores = new Float64Array(kvLen);
  const slots = new Int32Array(kvLen);
  for (let l = 0; l < kvLen; l++) slots[l] = (ringStart + l) % kvCapacity;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kvHead = Math.floor(h * nKvHeads / nHeads);
      const kvBase = (b * nKvHeads + kvHead) * kvCapacity * headDim;
      for (let i = 0; i < qLen; i++) {
        const qBase = ((b * nHeads + h) * qLen + i) * headDim;
        for (let d = 0; d < headDim; d++) {
          const x = q[qBase + d];
          query[d] = options.roundQuery !== undefined
            ? roundToDType(options.roundQuery, x)
            : options.roundScaledQuery !== undefined
            ? roundToDType(options.roundScaledQuery, x * scale * log2e)
            : x;
        }
        const position = queryOffset + i;
        const maskRow = b * maskStrides[0] + h * maskStrides[1] + i * maskStrides[2];
        let max = -Infinity;
        for (let l = 0; l < kvLen; l++) {
          let s = -Infinity;
          const keep = attentionKeyVisible(options, position, l) &&
            !(mask?.kind === "boolean" && !mask.values[maskRow + l]);
          if (keep) {
            const kBase = kvBase + slots[l] * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += query[d] * k[kBase + d];
            s = options.roundScaledQuery !== undefined ? dot / log2e : dot * scale;
            if (mask?.kind === "additive") s += mask.values[maskRow + l];
          }
          scores[l] = s;
          if (s > max) max = s;
        }
        if (max === -Infinity) continue; // no key attended: the row stays zero
        let sum = 0;
        for (let l = 0; l < kvLen; l++) {
          const p = scores[l] === -Infinity ? 0 : Math.exp(scores[l] - max);
          scores[l] = p;
          sum += p;
        }
        for (let l = 0; l < kvLen; l++) {
          const p = scores[l] / sum;
          if (p === 0) continue;
          const vBase = kvBase + slots[l] * headDim;
          for (let d = 0; d < headDim; d++) out[qBase + d] += p * v[vBase + d];
        }
      }
    }
  }
  return out;
}

/** Inputs of {@linkcode splitKMergeRef}: the partial results of `splits` key ranges per row. */
export interface SplitKMergeRefOptions {
  /** `[rows, splits, headDim]` unnormalised partial outputs `Σ_j e^{s_j − m} v_j`. */
  partials: ArrayLike<number>;
  /** `[rows, splits]` partial denominators `Σ_j e^{s_j − m}` (0 for an empty split). */
  sums: ArrayLike<number>;
  /** `[rows, splits]` partial maxima `m` (any value for an empty split). */
  maxima: ArrayLike<number>;
  /** Rows (heads). */
  rows: number;
  /** Partial results per row. */
  splits: number;
  /** Output length per row. */
  headDim: number;
}

/**
 * The log-sum-exp merge of split-K attention partials, in f64: with `M = max_w m_w` over the
 * splits whose sum is nonzero, `out = Σ_w e^{m_w − M} o_w / Σ_w e^{m_w − M} S_w`, or zeros
 * when every split is empty. This is what the `flash_attn_vec_reduce_*` kernels compute.
 *
 * @param options The partials.
 * @returns `[rows, headDim]` values.
 * @throws {RangeError} When an array is shorter than its shape.
 *
 * @example Usage
 * ```ts
 * import { splitKMergeRef } from "./attention_ref.ts";
 * import assert from "node:assert";
 *
 * // Two splits of one key each, equal scores: the mean of the two values.
 * const out = splitKMergeRef({
 *   partials: [2, 4], sums: [1, 1], maxima: [0.5, 0.5], rows: 1, splits: 2, headDim: 1,
 * });
 * assert.deepStrictEqual([...out], [3]);
 * ```
 */
export function splitKMergeRef(options: SplitKMergeRefOptions): Float64Array {
  const { partials, sums, maxima, rows, splits, headDim } = options;
  if (
    partials.length < rows * splits * headDim || sums.length < rows * splits ||
    maxima.length < rows * splits
  ) {
    throw new RangeError(
      `Cannot compute splitKMergeRef: partials ${partials.length}, sums ${sums.length}, maxima ${maxima.length} values, expected ${
        rows * splits * headDim
      }, ${rows * splits}, ${rows * splits}`,
    );
  }
  const out = new Float64Array(rows * headDim);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let w = 0; w < splits; w++) {
      if (sums[r * splits + w] !== 0) max = Math.max(max, maxima[r * splits + w]);
    }
    if (max === -Infinity) continue;
    let total = 0;
    for (let w = 0; w < splits; w++) {
      const s = sums[r * splits + w];
      if (s === 0) continue;
      const factor = Math.exp(maxima[r * splits + w] - max);
      total += s * factor;
      const base = (r * splits + w) * headDim;
      for (let d = 0; d < headDim; d++) out[r * headDim + d] += factor * partials[base + d];
    }
    for (let d = 0; d < headDim; d++) out[r * headDim + d] /= total;
  }
  return out;
}
